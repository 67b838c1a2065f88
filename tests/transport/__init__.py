"""Tests of agent/transport: the proto codec and the gRPC server."""
