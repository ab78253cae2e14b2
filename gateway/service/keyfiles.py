"""Which files of a service configuration hold a secret, for the permission check at start.

`start_service` checks those a `ServiceConfig` names (`configured`); `labgw serve` also checks
those its TOML file names (`named_in`) before the file is loaded, since a `ServiceConfig` keeps
a password and operator tokens as values and no longer knows the files they came from.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
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


def named_in(path: Path) -> list[SecretFile]:
    """`[signing] password_file` and `[access] operator_tokens_file` of a service's TOML file,
    relative paths from its folder as `load_service_config` reads them.

    Raises:
        ConfigError: the file cannot be read or parsed, or one of them is not a string.
    """
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from exc
    base = path.resolve().parent
    files = []
    for table, key in (("signing", "password_file"), ("access", "operator_tokens_file")):
        value = data.get(table, {}).get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{table}.{key} must be a path")
        files.append((f"{table}.{key}", base / value))
    return files
