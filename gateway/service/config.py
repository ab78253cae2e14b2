"""The service's TOML file: where it listens, its store, its keys, its receivers, its limits.

Relative paths are read relative to the file, so a configuration and the PKI beside it move
together. Secrets (the signing key's password) come from a file or the environment, never from
the command line. Every setting but the signing identity has a default that serves the demo.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.config import GatewayConfig, default_config, load_config
from gateway.delivery.sender import TransportConfig
from gateway.errors import ConfigError
from gateway.outbox.states import RetryPolicy
from gateway.privacy import KeySource
from gateway.routing import Destination
from gateway.security.permissions import check_secret_files
from gateway.service.access import (
    OPERATOR_BY_TOKEN,
    AccessPolicy,
    Client,
    Role,
    token_digest,
)
from gateway.service.limits import Limits


@dataclass(frozen=True, slots=True)
class ServerTls:
    cert: Path
    key: Path
    client_ca: Path | None = None  # verify client certificates against this bundle
    client_cert_required: bool = False


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    gateway: GatewayConfig  # receivers, formats and endpoints
    identity: Path  # PKCS#12 or PEM chain of the signing certificate
    identity_key: Path | None = None
    password: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8443
    store: str = "sqlite:///labgw-outbox.db"
    name: str = "labgw"  # this worker in the transition log
    tls: ServerTls | None = None
    transport: TransportConfig = field(default_factory=TransportConfig)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    workers: bool = True  # False: API only (another process delivers)
    privacy: KeySource = field(default_factory=KeySource)  # the patient pseudonym key
    access: AccessPolicy = field(default_factory=AccessPolicy)  # nobody but /health without it
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.retry.lease.total_seconds() <= self.transport.timeout:
            raise ConfigError(
                "retry.lease_seconds must be longer than transport.timeout_seconds: "
                "a claim must outlive the request it covers, or two workers could send at once"
            )

    @property
    def endpoints(self) -> dict[str, str]:
        return {d.value: r.endpoint for d, r in self.gateway.destinations.items()}


def _path(base: Path, value: object, name: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name} must be a path")
    path = Path(value)
    return path if path.is_absolute() else base / path


def _optional_path(base: Path, table: dict[str, Any], key: str, name: str) -> Path | None:
    return _path(base, table[key], f"{name}.{key}") if key in table else None


def _password(base: Path, table: dict[str, Any]) -> str | None:
    """From `password_file` or the variable named by `password_env`; never inline."""
    if "password" in table:
        raise ConfigError("signing.password: put the password in password_file or password_env")
    if "password_file" in table:
        path = _path(base, table["password_file"], "signing.password_file")
        check_secret_files([("signing.password_file", path)])  # before it is read
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if "password_env" in table:
        value = os.environ.get(str(table["password_env"]))
        if value is None:
            raise ConfigError(f"signing.password_env: ${table['password_env']} is not set")
        return value
    return None


def access_policy(base: Path, table: dict[str, Any]) -> AccessPolicy:
    """[access]: `[[access.clients]]` (name, cn or organization_id, roles, practices,
    destinations) and operator bearer tokens from `operator_tokens_file` (one per line) or
    `operator_tokens_env` (comma-separated); never inline."""
    if "operator_tokens" in table:
        raise ConfigError("access.operator_tokens: put them in operator_tokens_file or _env")
    clients = []
    for number, entry in enumerate(table.get("clients", []), start=1):
        where = f"access.clients[{number}]"
        try:
            roles = frozenset(Role(role) for role in entry["roles"])
            client = Client(
                str(entry["name"]),
                roles,
                entry.get("cn"),
                entry.get("organization_id"),
                frozenset(str(p) for p in entry.get("practices", [])),
                frozenset(str(d) for d in entry.get("destinations", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: missing or malformed {exc}") from exc
        if not client.cn and not client.organization_id:
            raise ConfigError(f"{where}: cn or organization_id is required")
        if Role.SENDER in roles and not client.practices:
            raise ConfigError(f"{where}: a sender needs the practices it may send for")
        if Role.RECEIVER in roles and not client.destinations:
            raise ConfigError(f"{where}: a receiver needs its destinations")
        clients.append(client)
    tokens: list[str] = []
    if "operator_tokens_file" in table:
        path = _path(base, table["operator_tokens_file"], "access.operator_tokens_file")
        check_secret_files([("access.operator_tokens_file", path)])  # before it is read
        try:
            tokens = path.read_text(encoding="utf-8").split()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    elif "operator_tokens_env" in table:
        value = os.environ.get(str(table["operator_tokens_env"]))
        if value is None:
            raise ConfigError(
                f"access.operator_tokens_env: ${table['operator_tokens_env']} is not set"
            )
        tokens = [t for t in value.split(",") if t.strip()]
    return AccessPolicy(tuple(clients), {token_digest(t): OPERATOR_BY_TOKEN for t in tokens})


def _privacy(base: Path, table: dict[str, Any]) -> KeySource:
    """Where the pseudonym key is: `key_file` or `key_env`; read when the service starts."""
    if "key" in table:
        raise ConfigError("privacy.key: put the key in key_file or key_env")
    if "key_file" in table and "key_env" in table:
        raise ConfigError("[privacy]: key_file or key_env, not both")
    env = table.get("key_env")
    if env is not None and (not isinstance(env, str) or not env):
        raise ConfigError("privacy.key_env must name an environment variable")
    return KeySource(_optional_path(base, table, "key_file", "privacy"), env)


def _seconds(table: dict[str, Any], key: str, default: timedelta) -> timedelta:
    value = table.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{key} must be a positive number of seconds, found {value!r}")
    return timedelta(seconds=value)


def _retry(table: dict[str, Any]) -> RetryPolicy:
    base = RetryPolicy()
    try:
        return RetryPolicy(
            base_delay=_seconds(table, "base_delay_seconds", base.base_delay),
            max_delay=_seconds(table, "max_delay_seconds", base.max_delay),
            factor=float(table.get("factor", base.factor)),
            jitter=float(table.get("jitter", base.jitter)),
            max_attempts=int(table.get("max_attempts", base.max_attempts)),
            max_age=_seconds(table, "max_age_seconds", base.max_age),
            receipt_timeout=_seconds(table, "receipt_timeout_seconds", base.receipt_timeout),
            max_resends=int(table.get("max_resends", base.max_resends)),
            lease=_seconds(table, "lease_seconds", base.lease),
            reseal_after=_seconds(table, "reseal_after_seconds", base.reseal_after),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[retry]: {exc}") from exc


def _transport(base: Path, table: dict[str, Any]) -> TransportConfig:
    try:
        return TransportConfig(
            trust=_optional_path(base, table, "trust", "transport"),
            client_cert=_optional_path(base, table, "client_cert", "transport"),
            client_key=_optional_path(base, table, "client_key", "transport"),
            timeout=float(table.get("timeout_seconds", 30.0)),
            connect_timeout=float(table.get("connect_timeout_seconds", 10.0)),
            concurrency=int(table.get("concurrency", 8)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[transport]: {exc}") from exc


def _gateway(base: Path, data: dict[str, Any]) -> GatewayConfig:
    """The receivers file (default: the packaged one), with [endpoints] and [formats] applied."""
    settings = (
        load_config(_path(base, data["receivers"], "receivers"))
        if "receivers" in data
        else default_config()
    )
    destinations = dict(settings.destinations)
    for table in ("endpoints", "formats"):
        for name, value in data.get(table, {}).items():
            try:
                destination = Destination(name)
                receiver = destinations[destination]
            except (ValueError, KeyError):
                raise ConfigError(f"[{table}]: no destination {name!r}") from None
            field_name = "endpoint" if table == "endpoints" else "format"
            destinations[destination] = replace(receiver, **{field_name: str(value)})
    return replace(settings, destinations=destinations)


def load_service_config(path: Path) -> ServiceConfig:
    """Read the service's TOML file.

    Raises:
        ConfigError: the file is unreadable, or a setting is missing or malformed.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from exc
    base = path.resolve().parent
    service = data.get("service", {})
    signing = data.get("signing")
    if not isinstance(signing, dict) or "identity" not in signing:
        raise ConfigError(f"{path.name}: [signing] identity is required")
    tls_table = service.get("tls")
    tls = None
    if tls_table is not None:
        tls = ServerTls(
            _path(base, tls_table.get("cert"), "service.tls.cert"),
            _path(base, tls_table.get("key"), "service.tls.key"),
            _optional_path(base, tls_table, "client_ca", "service.tls"),
            bool(tls_table.get("client_cert_required", False)),
        )
    store = str(service.get("store", "sqlite:///labgw-outbox.db"))
    if store.startswith("sqlite:///") and not store.startswith("sqlite:////"):
        store = f"sqlite:///{base / store.removeprefix('sqlite:///')}"
    return ServiceConfig(
        gateway=_gateway(base, data),
        identity=_path(base, signing["identity"], "signing.identity"),
        identity_key=_optional_path(base, signing, "key", "signing"),
        password=_password(base, signing),
        host=str(service.get("host", "127.0.0.1")),
        port=int(service.get("port", 8443)),
        store=store,
        name=str(service.get("name", "labgw")),
        tls=tls,
        transport=_transport(base, data.get("transport", {})),
        retry=_retry(data.get("retry", {})),
        workers=bool(service.get("workers", True)),
        privacy=_privacy(base, data.get("privacy", {})),
        access=access_policy(base, data.get("access", {})),
        limits=Limits.from_table(data.get("limits", {})),
    )
