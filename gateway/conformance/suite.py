"""Suites as data: reading conformance/<suite>/manifest.json into `Suite` and `Case`.

A manifest is checked against schemas/conformance-suite.schema.json when it is read, so a typo in
a case is a clear error naming the suite and the field, never a case that silently tests
nothing.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from gateway.resources import home, schemas_dir

SUITES = (
    "lps-intake",
    "lsp-xrpt01",
    "miba-xrpt05",
    "fhir-message",
    "receipts",
    "transport-dgws",
    "transport-fhir",
)


@dataclass(frozen=True, slots=True)
class Case:
    suite: str
    id: str
    title: str
    requirement: str
    source: str
    precondition: str
    expect: dict[str, Any]
    records: Path | None = None  # LPS records in (intake, translation)
    message: Path | None = None  # a finished message in (validation)
    receipt: Path | None = None  # a receipt in
    mutation: str | None = None  # transport: what is done to a freshly signed message
    signer: str | None = None  # transport: a test-PKI certificate to sign with
    live: dict[str, Any] = field(default_factory=dict)  # --target URL: what to send, expect

    @property
    def full_id(self) -> str:
        return f"{self.suite}::{self.id}"

    @property
    def positive(self) -> bool:
        """A case whose input is meant to be right (a vendor must supply it in a folder)."""
        return bool(self.expect.get("valid", False))

    @property
    def inputs(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.records, self.message, self.receipt) if p is not None)


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    version: str
    title: str
    kind: str  # intake | translate | receipt | dgws | jws
    description: str
    folder: Path
    now: datetime
    format: str | None  # translate: xml or fhir
    namespaces: dict[str, str]
    cases: tuple[Case, ...]
    payload: Path | None = None  # transport: the records whose message every case signs

    def select(self, patterns: tuple[str, ...]) -> tuple[Case, ...]:
        """Cases whose id, `suite::id` or title matches any -k pattern (glob or substring)."""
        if not patterns:
            return self.cases
        return tuple(c for c in self.cases if any(_matches(c, p) for p in patterns))


def _matches(case: Case, pattern: str) -> bool:
    names = (case.id, case.full_id, case.title)
    if any(ch in pattern for ch in "*?["):
        return any(fnmatch.fnmatchcase(name, pattern) for name in names)
    return any(pattern.lower() in name.lower() for name in names)


def suites_dir() -> Path:
    return home() / "conformance"


@cache
def _schema_validator() -> Any:
    import jsonschema  # only where manifests are read

    schema = json.loads((schemas_dir() / "conformance-suite.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def load_suite(name: str, root: Path | None = None) -> Suite:
    """One suite by name.

    Raises:
        ConfigError: no such suite, or its manifest does not fit the schema.
    """
    folder = (root or suites_dir()) / name
    path = folder / "manifest.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"conformance suite {name!r}: cannot read {path}: {exc}") from exc
    errors = sorted(_schema_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        raise ConfigError(f"{path}: {where}: {errors[0].message}")
    cases = tuple(_case(name, folder, entry) for entry in data["cases"])
    ids = [case.id for case in cases]
    if len(set(ids)) != len(ids):
        raise ConfigError(
            f"{path}: case ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}"
        )
    for case in cases:
        for file in case.inputs:
            if not file.is_file():
                raise ConfigError(f"{path}: case {case.id}: no input file {file}")
    return Suite(
        name,
        data["version"],
        data["title"],
        data["kind"],
        data["description"],
        folder,
        datetime.fromisoformat(data["now"]),
        data.get("format"),
        data.get("namespaces", {}),
        cases,
        folder / data["payload"] if "payload" in data else None,
    )


def _case(suite: str, folder: Path, entry: dict[str, Any]) -> Case:
    def path(key: str) -> Path | None:
        return folder / entry[key] if key in entry else None

    return Case(
        suite,
        entry["id"],
        entry["title"],
        entry["requirement"],
        entry["source"],
        entry.get("precondition", ""),
        entry["expect"],
        path("records"),
        path("message"),
        path("receipt"),
        entry.get("mutation"),
        entry.get("signer"),
        entry.get("live", {}),
    )


def load_suites(names: tuple[str, ...], root: Path | None = None) -> list[Suite]:
    """`all` or names; unknown names are a ConfigError listing the known ones."""
    wanted = list(SUITES) if not names or "all" in names else list(names)
    unknown = [n for n in wanted if n not in SUITES]
    if unknown:
        raise ConfigError(
            f"no conformance suite {', '.join(unknown)}; there are {', '.join(SUITES)}"
        )
    return [load_suite(name, root) for name in wanted]
