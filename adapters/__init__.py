"""HIS adapters, one per protocol."""
