"""TLS for the receiver: its server context (optionally asking for client certificates) and the
client context it posts receipts with. DESIGN §6: "TLS always; client certificate (mTLS) when
configured." TLS 1.2 is the floor.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from gateway.errors import ConfigError


def server_context(
    cert: Path, key: Path, client_ca: Path | None = None, required: bool = False
) -> ssl.SSLContext:
    """The listening side; with `client_ca`, client certificates are checked against it and,
    when `required`, a handshake without one is refused."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load(context, cert, key, client_ca)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL
    return context


def client_context(cert: Path | None, key: Path | None, ca: Path | None) -> ssl.SSLContext:
    """The calling side: the peer checked against `ca` (or the system's roots), and our own
    certificate offered when `cert` is given."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load(context, cert, key, ca)
    return context


def _load(context: ssl.SSLContext, cert: Path | None, key: Path | None, ca: Path | None) -> None:
    try:
        if cert is not None:
            context.load_cert_chain(cert, key)
        if ca is not None:
            context.load_verify_locations(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS: cannot load {cert or ca}: {exc}") from exc
