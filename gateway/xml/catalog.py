"""The catalogue of MedCom XML schemas labgw validates against (schemas/medcom/catalog.toml).

A message is identified by its root namespace and its letters' VersionCode; each known pair names
one of our XSDs. Schemas are compiled on first use and kept for the life of the process.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lxml import etree

from gateway.errors import ConfigError
from gateway.resources import schemas_dir


@dataclass(frozen=True, slots=True)
class SchemaEntry:
    namespace: str
    version_code: str
    letter: str
    type_code: str
    file: Path
    title: str


@dataclass(slots=True)
class Catalog:
    entries: tuple[SchemaEntry, ...]
    _compiled: dict[Path, etree.XMLSchema] = field(default_factory=dict)

    def find(self, namespace: str, version_code: str) -> SchemaEntry | None:
        for entry in self.entries:
            if entry.namespace == namespace and entry.version_code == version_code:
                return entry
        return None

    def describe(self) -> str:
        """One line per known message, for 'no schema' messages and `--help`."""
        return "; ".join(f"{e.type_code} {e.version_code}" for e in self.entries)

    def schema(self, entry: SchemaEntry) -> etree.XMLSchema:
        compiled = self._compiled.get(entry.file)
        if compiled is None:
            try:
                doc = etree.parse(
                    str(entry.file), etree.XMLParser(no_network=True, resolve_entities=False)
                )
                compiled = etree.XMLSchema(doc)
            except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
                raise ConfigError(f"cannot compile schema {entry.file}: {exc}") from exc
            self._compiled[entry.file] = compiled
        return compiled


def load_catalog(path: Path | None = None) -> Catalog:
    path = path or schemas_dir() / "medcom" / "catalog.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        entries = tuple(
            SchemaEntry(
                item["namespace"],
                item["version_code"],
                item["letter"],
                item["type_code"],
                path.parent / item["file"],
                item["title"],
            )
            for item in data["schema"]
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read schema catalogue {path}: {exc}") from exc
    return Catalog(entries)


@cache
def default_catalog() -> Catalog:
    return load_catalog()
