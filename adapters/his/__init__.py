"""HIS adapters: each translates one HIS protocol to the domain request and back (translation only)."""
