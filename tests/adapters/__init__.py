"""Tests of the HIS adapters (one module per adapter)."""
