"""Gateway configuration: who the receivers are and how labgw names itself (one TOML file).

Every setting has a default that serves the demo (`mappings/destinations.toml`); an operator
passes their own file. Loading fails loudly on a missing or malformed setting.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from gateway.resources import mappings_dir
from gateway.routing import Destination

# The MedCom XML letter each databank takes (DESIGN §4).
XML_FORMATS = {Destination.LSP: "xrpt01", Destination.MIBA: "xrpt05"}
_IDENTIFIER_CODES = {
    "sygehusafdelingsnummer",
    "ydernummer",
    "lokationsnummer",
    "kommunenummer",
    "sorkode",
}  # MedCom IdentifierCode (ValueLists, 2014/10/08)


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    format: str
    gln: str
    identifier: str
    identifier_code: str
    sor: str
    endpoint: str


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    producer_code: str
    destinations: dict[Destination, Receiver]
    version: str

    def with_format(self, syntax: str) -> GatewayConfig:
        """The same configuration with every destination receiving FHIR (`fhir`) or its MedCom
        XML letter (`xml`: XRPT01 for LSP, XRPT05 for MiBa)."""
        return replace(
            self,
            destinations={
                name: replace(receiver, format=syntax if syntax == "fhir" else XML_FORMATS[name])
                for name, receiver in self.destinations.items()
            },
        )

    def receiver(self, destination: Destination) -> Receiver:
        try:
            return self.destinations[destination]
        except KeyError:
            raise ConfigError(f"no receiver configured for destination {destination}") from None


def load_config(path: Path | None = None) -> GatewayConfig:
    """Read a configuration file (default: mappings/destinations.toml)."""
    path = path or mappings_dir() / "destinations.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from exc
    try:
        code = str(data["producer"]["code"])
        destinations = {
            Destination(name): _receiver(name, entry)
            for name, entry in data["destinations"].items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path.name}: missing or malformed setting {exc}") from exc
    if not 1 <= len(code) <= 3:
        raise ConfigError(f"{path.name}: producer.code must be 1-3 characters, found {code!r}")
    return GatewayConfig(code, destinations, str(data.get("version", "")))


def _receiver(name: str, entry: dict[str, Any]) -> Receiver:
    receiver = Receiver(**{key: str(entry[key]) for key in Receiver.__dataclass_fields__})
    if receiver.identifier_code not in _IDENTIFIER_CODES:
        raise ValueError(f"destinations.{name}.identifier_code {receiver.identifier_code!r}")
    return receiver


@cache
def default_config() -> GatewayConfig:
    return load_config()
