"""Interoperability: clients in other languages, generated only from proto/, call the agent unmodified."""
