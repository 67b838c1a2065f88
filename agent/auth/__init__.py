"""Authentication of HIS clients on every transport (`[auth]`): per-client bearer tokens or mTLS client
certificates on gRPC, HTTP and MLLP, and per-workstation keys for the clinicians' pop-up page.

`tokens` (the hashed token file), `page_keys` (workstation keys), `tls` (the listeners' TLS), `gate` (the per-call
decision and the record of refusals), one module per transport (`grpc_auth`, `http_auth`, `mllp_auth`), `wiring`
(what the composition root calls) and `commands` (`fundguard auth …`). The drop folder has no credentials: it is a
local folder, and its filesystem permissions (the service user and the HIS's writer account) are its
authentication.

Nothing is imported here, so `fundguard auth …` and `fundguard check` stay light: import the modules.
"""
