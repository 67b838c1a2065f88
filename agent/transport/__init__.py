"""Transports: each translates its wire format to the domain request and calls CheckService."""
