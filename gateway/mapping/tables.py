"""Loads the code tables in `mappings/`: data files, each with a source, a version and a header.

A table starts with `# key: value` lines (at least `source` and `version`), then a CSV header row.
Loading checks the tables against each other (a local code must point at a known NPU code), so a
broken table stops the gateway at start-up instead of misrouting results later.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from gateway.errors import ConfigError
from gateway.resources import mappings_dir

K = TypeVar("K")
V = TypeVar("V")


class Domain(enum.StrEnum):
    BIOCHEMISTRY = "biochemistry"
    IMMUNOLOGY = "immunology"
    MICROBIOLOGY = "microbiology"


class ResultType(enum.StrEnum):
    NUMERIC = "numeric"  # a number, maybe with < or >
    ORDINAL = "ordinal"  # semiquantitative text (urine stix: neg, 1+, 2+ …)
    TEXT = "text"
    TAXON = "taxon"  # an organism name or "ingen vækst"
    SUSCEPTIBILITY = "susceptibility"  # S, I or R for the organism cultured from the sample


@dataclass(frozen=True, slots=True)
class AnalysisDef:
    """One NPU analysis as labgw knows it (a row of analyses.csv)."""

    npu_code: str  # NPU/DNK code, or a labgw placeholder where code_type is "lokal"
    code_type: str  # MedCom AnalysisCodeType: iupac (NPU) or lokal
    responsible: str  # MedCom AnalysisCodeResponsible: SST for NPU
    short_name: str
    name: str
    domain: Domain
    ucum: str | None
    medcom_unit: str | None
    result_type: ResultType
    shareable: bool
    notes: str = ""


@dataclass(frozen=True, slots=True)
class TableInfo:
    name: str
    source: str
    version: str


@dataclass(frozen=True, slots=True)
class Mappings:
    analyses: dict[str, AnalysisDef]
    units: dict[str, str]  # spelling → UCUM
    local_codes: dict[tuple[str, str], str]  # (vendor or "*", local code) → NPU code
    fee_codes: dict[str, str]  # fee-table service number → NPU code
    tables: tuple[TableInfo, ...]

    def ucum_for(self, spelling: str) -> str | None:
        """UCUM code for a unit as written; exact spelling first, then ignoring case."""
        found = self.units.get(spelling.strip())
        if found is None:
            found = self._folded_units().get(spelling.strip().casefold())
        return found

    def _folded_units(self) -> dict[str, str]:
        return _fold(tuple(self.units.items()))


@cache
def _fold(items: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {spelling.casefold(): ucum for spelling, ucum in items}


def read_table(path: Path, columns: tuple[str, ...]) -> tuple[TableInfo, list[dict[str, str]]]:
    """Read one table; its metadata lines, then rows as dicts keyed by `columns`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read mapping table {path}: {exc}") from exc
    meta: dict[str, str] = {}
    body: list[str] = []
    for line in text.splitlines():
        if not body and line.startswith("#"):
            key, _, value = line[1:].partition(":")
            meta[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    for key in ("source", "version"):
        if not meta.get(key):
            raise ConfigError(f"{path.name}: the '# {key}:' line is missing")
    reader = csv.DictReader(io.StringIO("\n".join(body)))
    missing = set(columns) - set(reader.fieldnames or ())
    if missing:
        raise ConfigError(f"{path.name}: missing column(s) {sorted(missing)}")
    rows = [{key: (row.get(key) or "").strip() for key in columns} for row in reader]
    return TableInfo(path.name, meta["source"], meta["version"]), rows


def load_mappings(folder: Path | None = None) -> Mappings:
    """Load and cross-check every table in `folder` (default: the packaged mappings/)."""
    folder = folder or mappings_dir()
    info_a, rows = read_table(
        folder / "analyses.csv",
        (
            "npu_code",
            "code_type",
            "responsible",
            "short_name",
            "name",
            "domain",
            "ucum",
            "medcom_unit",
            "result_type",
            "shareable",
            "notes",
        ),
    )
    analyses: dict[str, AnalysisDef] = {}
    for number, row in enumerate(rows, start=1):
        code = row["npu_code"]
        if code in analyses:
            raise ConfigError(f"analyses.csv row {number}: {code} is listed twice")
        try:
            analyses[code] = AnalysisDef(
                npu_code=code,
                code_type=_one_of(row["code_type"], ("iupac", "lokal"), "code_type"),
                responsible=row["responsible"],
                short_name=row["short_name"],
                name=row["name"],
                domain=Domain(row["domain"]),
                ucum=row["ucum"] or None,
                medcom_unit=row["medcom_unit"] or None,
                result_type=ResultType(row["result_type"]),
                shareable=_yes_no(row["shareable"]),
                notes=row["notes"],
            )
        except ValueError as exc:
            raise ConfigError(f"analyses.csv row {number} ({code}): {exc}") from exc
    info_u, unit_rows = read_table(folder / "units.csv", ("spelling", "ucum"))
    units = _unique("units.csv", ((row["spelling"], row["ucum"]) for row in unit_rows))
    info_l, local_rows = read_table(
        folder / "local-codes.csv", ("vendor", "local_code", "npu_code")
    )
    local = _unique(
        "local-codes.csv",
        (((row["vendor"], row["local_code"]), row["npu_code"]) for row in local_rows),
    )
    info_f, fee_rows = read_table(folder / "fee-codes.csv", ("fee_code", "npu_code"))
    fee = _unique("fee-codes.csv", ((row["fee_code"], row["npu_code"]) for row in fee_rows))
    for table, targets in (("local-codes.csv", local.values()), ("fee-codes.csv", fee.values())):
        unknown = sorted(set(targets) - set(analyses))
        if unknown:
            raise ConfigError(f"{table} maps to NPU code(s) not in analyses.csv: {unknown}")
    return Mappings(analyses, units, local, fee, (info_a, info_u, info_l, info_f))


def _unique(table: str, pairs: Iterable[tuple[K, V]]) -> dict[K, V]:
    """A lookup table; a key listed twice with different targets would misroute results."""
    out: dict[K, V] = {}
    for key, value in pairs:
        if key in out and out[key] != value:
            raise ConfigError(f"{table}: {key!r} maps to both {out[key]!r} and {value!r}")
        out[key] = value
    return out


def _one_of(text: str, allowed: tuple[str, ...], column: str) -> str:
    if text not in allowed:
        raise ValueError(f"{column} must be one of {', '.join(allowed)}, found {text!r}")
    return text


def _yes_no(text: str) -> bool:
    if text not in ("yes", "no"):
        raise ValueError(f"shareable must be yes or no, found {text!r}")
    return text == "yes"


@cache
def default_mappings() -> Mappings:
    """The packaged tables, loaded once per process."""
    return load_mappings()
