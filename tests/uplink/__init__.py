"""Tests of the agent uplink (outbox, uploader, events)."""
