"""What a reference receiver is told: its role, port, keys, trust, store, receipt mode and faults.

One frozen `ReceiverConfig` per receiver, from Python (tests, the demo) or from a TOML file
(`load_receiver_config`, for `labgw receiver --config`). `Faults` is the one mutable part on
purpose: tests and certification runs switch faults on and off while the receiver runs, and the
receiver reads the same object on every request.
"""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from gateway.config import XML_FORMATS
from gateway.errors import ConfigError
from gateway.routing import Destination

Counter = Literal["fail_5xx", "drop", "drop_after_store"]


class ReceiptMode(enum.StrEnum):
    SYNC = "sync"  # the receipt is the HTTP answer (DGWS: HTTP 200 + the receipt)
    ASYNC = "async"  # 202 Accepted now; the receipt is POSTed to `receipts_to` later


@dataclass(slots=True)
class Faults:
    """Misbehaviour on demand, so the sender's every failure path can be exercised for real.

    Counters (`fail_5xx`, `drop`, `drop_after_store`) apply to the next N requests and count
    down; switches apply until switched off.
    """

    fail_5xx: int = 0  # answer HTTP 500, store nothing
    delay: float = 0.0  # seconds to wait before answering each request
    drop: int = 0  # close the connection without an answer, store nothing
    drop_after_store: int = 0  # store, then close without an answer: the receipt is lost
    negative: bool = False  # a negative receipt for every new message
    duplicate_receipt: bool = False  # async: post every receipt twice
    unknown_receipt: bool = False  # async: also post a receipt for a message nobody sent
    accept_invalid: bool = False  # a positive receipt even for an invalid payload
    vary_duplicate_receipt: bool = False  # a duplicate gets the other outcome (broken)

    def take(self, counter: Counter) -> bool:
        """Use up one of a counter's requests; False when it is at zero."""
        left: int = getattr(self, counter)
        if left <= 0:
            return False
        setattr(self, counter, left - 1)
        return True


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """Everything one receiver needs; paths are read when the receiver starts.

    Attributes:
        role: which databank it plays: LSP takes XRPT01, MiBa XRPT05; both take FHIR.
        tls_cert, tls_key: the server certificate chain (PEM, leaf first) and its key.
        trust: the pinned trust bundle signatures are checked against (PEM).
        db: the receiver's own SQLite file (default: ROLE-received.sqlite in the working folder).
        host, port: where to listen; port 0 takes any free port.
        client_ca: CA bundle for client certificates; without it none is asked for.
        client_cert_required: refuse the TLS handshake without a client certificate
            (otherwise one is optional, and checked when sent).
        crls: CRLs for revocation checks of signers.
        receipts: sync (the receipt is the answer) or async (202, then a POST).
        receipts_to: where async receipts go (https URL).
        receipts_cert, receipts_key: the client certificate for posting receipts; default
            the TLS server certificate (the test PKI's TLS certificates allow clientAuth).
        receipts_ca: CA bundle to check the receipt endpoint's certificate; default the
            system's.
        retry_first, retry_cap: backoff of receipt posts, seconds (doubles up to the cap).
        allow_sha1: accept SHA-1 DGWS signatures (a legacy sender only).
        faults: fault injection, changeable while running.
    """

    role: Destination
    tls_cert: Path
    tls_key: Path
    trust: Path
    db: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    client_ca: Path | None = None
    client_cert_required: bool = False
    crls: tuple[Path, ...] = ()
    receipts: ReceiptMode = ReceiptMode.SYNC
    receipts_to: str | None = None
    receipts_cert: Path | None = None
    receipts_key: Path | None = None
    receipts_ca: Path | None = None
    retry_first: float = 1.0
    retry_cap: float = 60.0
    allow_sha1: bool = False
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        if self.receipts is ReceiptMode.ASYNC and not self.receipts_to:
            raise ConfigError("receipts = 'async' needs receipts_to, the URL receipts go to")
        if self.client_cert_required and self.client_ca is None:
            raise ConfigError("client_cert_required needs client_ca to check certificates with")

    @property
    def db_path(self) -> Path:
        return self.db or Path(f"{self.role}-received.sqlite")

    @property
    def receipts_client(self) -> tuple[Path, Path | None]:
        """The certificate and key receipts are posted with (default: the server's own)."""
        if self.receipts_cert is None:
            return self.tls_cert, self.tls_key
        return self.receipts_cert, self.receipts_key

    def accepts(self, kind: str) -> bool:
        """Whether this databank takes a message kind (XRPT01, XRPT05, FHIR) at all."""
        return kind == "FHIR" or kind.lower() == XML_FORMATS[self.role]


_PATHS = frozenset(
    {
        "tls_cert",
        "tls_key",
        "trust",
        "db",
        "client_ca",
        "receipts_cert",
        "receipts_key",
        "receipts_ca",
    }
)


def load_receiver_config(path: Path, **overrides: Any) -> ReceiverConfig:
    """A `ReceiverConfig` from a TOML file; relative paths are taken from the file's folder.

    Top-level keys are the `ReceiverConfig` fields (`role`, `port`, `tls_cert`, `crls` …);
    the `[faults]` table holds `Faults` fields. `overrides` (from the command line) win over
    the file; None values in them are ignored.

    Raises:
        ConfigError: unreadable file, an unknown key, or a value of the wrong kind.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read receiver configuration {path}: {exc}") from exc
    base = path.parent
    faults = data.pop("faults", {})
    values: dict[str, Any] = {
        key: _resolve(base, value) if key in _PATHS else value for key, value in data.items()
    }
    if "crls" in values:
        values["crls"] = [_resolve(base, item) for item in values["crls"]]
    values.update({key: value for key, value in overrides.items() if value is not None})
    values["faults"] = faults
    return receiver_config(values, source=path.name)


def receiver_config(
    values: dict[str, Any], source: str = "receiver configuration"
) -> ReceiverConfig:
    """A `ReceiverConfig` from plain values (as TOML gives them), checked field by field."""
    values = dict(values)
    known = {f.name for f in fields(ReceiverConfig)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"{source}: unknown settings {', '.join(sorted(unknown))}")
    missing = [name for name in ("role", "tls_cert", "tls_key", "trust") if name not in values]
    if missing:
        raise ConfigError(f"{source}: missing settings {', '.join(missing)}")
    try:
        faults = values.pop("faults", None)
        typed: dict[str, Any] = {key: _typed(key, value) for key, value in values.items()}
        if isinstance(faults, Faults):
            typed["faults"] = faults
        elif faults:
            typed["faults"] = _faults(dict(faults))
        return ReceiverConfig(**typed)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def _resolve(base: Path, value: Any) -> Path:
    return base / Path(str(value))


def _typed(key: str, value: Any) -> Any:
    if key == "role":
        return Destination(str(value))
    if key == "receipts":
        return ReceiptMode(str(value))
    if key == "crls":
        return tuple(Path(item) for item in value)
    if key in _PATHS:
        return Path(value)
    if key == "port":
        return int(value)
    if key in ("retry_first", "retry_cap"):
        return float(value)
    if key in ("client_cert_required", "allow_sha1"):
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, found {value!r}")
        return value
    return None if value is None else str(value)


def _faults(values: dict[str, Any]) -> Faults:
    defaults = Faults()
    unknown = set(values) - {f.name for f in fields(Faults)}
    if unknown:
        raise ValueError(f"unknown faults {', '.join(sorted(unknown))}")
    converted: dict[str, Any] = {}
    for key, value in values.items():
        kind = type(getattr(defaults, key))
        if kind is bool and not isinstance(value, bool):
            raise ValueError(f"faults.{key} must be true or false, found {value!r}")
        converted[key] = kind(value)
    return Faults(**converted)
