"""Drug traceability codes (药品追溯码): code formats, the on-disk ledger, inbound-code import."""
