"""Which key files of a service configuration hold a secret, for the permission check at start.

`start_service` checks those a `ServiceConfig` names (`configured`) before any key is read. The
password and operator-token files are checked where the configuration file is read
(`gateway.service.config`), since a `ServiceConfig` keeps their values, not the files.
"""

from __future__ import annotations

from gateway.security.permissions import SecretFile, holding_key
from gateway.service.config import ServiceConfig


def configured(config: ServiceConfig) -> list[SecretFile]:
    """The signing key, the TLS keys and the privacy key file of `config`."""
    signing = holding_key(
        ("signing.identity", config.identity), ("signing.key", config.identity_key)
    )
    files = [signing]
    if config.tls is not None:
        files.append(("service.tls.key", config.tls.key))
    transport = config.transport
    if transport.client_cert is not None:
        files.append(
            holding_key(
                ("transport.client_cert", transport.client_cert),
                ("transport.client_key", transport.client_key),
            )
        )
    if config.privacy.file is not None:
        files.append(("privacy.key_file", config.privacy.file))
    return files
