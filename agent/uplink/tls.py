"""The gRPC channel to the central platform: mutual TLS from the `[uplink]` PEM files, or plaintext for tests.

The agent proves who it is with its client certificate (`cert` + `key`, issued per agent id by the bureau's CA)
and trusts only the central server certificates signed by `ca`. `insecure = true` (refused by the settings unless
the central is on 127.0.0.1/localhost) opens a plaintext channel, for tests only. Both the uploader and the
practitioner-status poller use `channel(settings)`.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from fundguard.agent.config import UplinkSettings

__all__ = ["CHANNEL_OPTIONS", "channel", "credentials", "read_pem"]

CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
)


def read_pem(path: Path | None, key: str) -> bytes:
    """A PEM file's bytes; ValueError naming the settings `key` (e.g. `uplink.ca`, `auth.cert`) when it is not set
    or cannot be read. Also the agent's listeners' TLS (`agent.auth.tls`) reads its files with it."""
    if path is None:
        raise ValueError(f"{key}: a PEM file is required for mutual TLS")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{key}: cannot read {path} ({exc.strerror or exc})") from None


def _read(path: Path | None, key: str) -> bytes:
    return read_pem(path, f"uplink.{key}")


def credentials(settings: UplinkSettings) -> grpc.ChannelCredentials:
    """Mutual-TLS credentials from the CA, client certificate and key files; ValueError naming the key."""
    return grpc.ssl_channel_credentials(
        root_certificates=_read(settings.ca, "ca"),
        private_key=_read(settings.key, "key"),
        certificate_chain=_read(settings.cert, "cert"),
    )


def channel(settings: UplinkSettings) -> grpc.Channel:
    """A channel to `settings.central` (mTLS, or plaintext when `insecure`); ValueError when uplink is off or a
    certificate file cannot be read."""
    if settings.central is None:
        raise ValueError("uplink.central: not set (the uplink is off)")
    if settings.insecure:
        return grpc.insecure_channel(settings.central, options=CHANNEL_OPTIONS)
    return grpc.secure_channel(settings.central, credentials(settings), options=CHANNEL_OPTIONS)
