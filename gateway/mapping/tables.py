"""Loads the code tables in `mappings/`: data files, each with a source, a version and a header.

A table starts with `# key: value` lines (at least `source` and `version`), then a CSV header row.
Loading checks the tables against each other (a local code, a routing override or a notifiable
finding must name a known NPU code), so a broken table stops the gateway at start-up instead of
misrouting results later; a malformed row is reported as `file:line`, the line an editor shows.
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from gateway.errors import ConfigError
from gateway.resources import mappings_dir

K = TypeVar("K")
V = TypeVar("V")
E = TypeVar("E", bound=enum.StrEnum)


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


class Destination(enum.StrEnum):
    """A databank labgw sends to; defined here because routing.csv names them (gateway.routing)."""

    LSP = "lsp"  # Laboratoriesvarportalen (clinical biochemistry and immunology)
    MIBA = "miba"  # the Danish Microbiology Database at SSI


class NotifiableList(enum.StrEnum):
    """The list of a notifiable disease, which sets who notifies whom (notes §3.1)."""

    L1A = "1a"  # BEK 1260/2023 Bilag 1: phone to STPS, written to STPS and SSI, laboratory
    L1B = "1b"  # written to STPS and SSI, laboratory
    L1C = "1c"  # written to SSI, laboratory
    L2 = "2"  # laboratory notification to SSI only (via MiBa)
    COVID_19 = "covid-19"  # not in BEK 1260/2023: covid-19 has its own order, BEK 2477/2021


class NotifiableStatus(enum.StrEnum):
    """Whether a notifiable.csv row is verified, so pending rows can be listed for SSI."""

    CONFIRMED = "confirmed"  # verified in the notes (a [V] source)
    PENDING = "pending"  # labgw inference: confirm with SSI before production


@dataclass(frozen=True, slots=True)
class Notifiable:
    """Why a finding must reach SSI (a row of notifiable.csv, without its key)."""

    disease: str
    list: NotifiableList
    status: NotifiableStatus
    source: str  # the notes section and URL the row rests on


@dataclass(frozen=True, slots=True)
class RouteOverride:
    """A row of routing.csv: where one analysis goes instead of its domain's databank."""

    destination: Destination | None  # None: sent nowhere
    reason: str
    source: str


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
    notifiable: dict[tuple[str, str], Notifiable]  # (NPU code, finding_key(result)) → why
    routes: dict[str, RouteOverride]  # NPU code → where it goes instead of its domain default
    tables: tuple[TableInfo, ...]

    def notifiable_finding(self, npu_code: str, result_text: str) -> Notifiable | None:
        """Whether this result of this analysis is notifiable; the only notifiability lookup."""
        return self.notifiable.get((npu_code, finding_key(result_text)))

    def ucum_for(self, spelling: str) -> str | None:
        """UCUM code for a unit as written; exact spelling first, then ignoring case."""
        found = self.units.get(spelling.strip())
        if found is None:
            found = self._folded_units().get(spelling.strip().casefold())
        return found

    def _folded_units(self) -> dict[str, str]:
        return _fold(tuple(self.units.items()))


def finding_key(text: str) -> str:
    """A result text as notifiable.csv is matched: case and runs of blanks do not count, since
    practice systems write `Positiv`, `POSITIV ` or `positiv` for the same finding."""
    return " ".join(text.split()).casefold()


@cache
def _fold(items: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {spelling.casefold(): ucum for spelling, ucum in items}


@dataclass(frozen=True, slots=True)
class Row:
    """One data row of a table, with the file line it starts on for error messages."""

    where: str  # "notifiable.csv:7"
    cells: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.cells[column]


def read_table(path: Path, columns: tuple[str, ...]) -> tuple[TableInfo, list[Row]]:
    """Read one table; its metadata lines, then its rows with cells keyed by `columns`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read mapping table {path}: {exc}") from exc
    meta: dict[str, str] = {}
    body: list[tuple[int, str]] = []  # (file line number, line)
    for number, line in enumerate(text.splitlines(), start=1):
        if not body and line.startswith("#"):
            key, _, value = line[1:].partition(":")
            meta[key.strip()] = value.strip()
        elif line.strip():
            body.append((number, line))
    for key in ("source", "version"):
        if not meta.get(key):
            raise ConfigError(f"{path.name}: the '# {key}:' line is missing")
    reader = csv.DictReader(f"{line}\n" for _, line in body)
    missing = set(columns) - set(reader.fieldnames or ())
    if missing:
        raise ConfigError(f"{path.name}: missing column(s) {sorted(missing)}")
    rows: list[Row] = []
    consumed = reader.line_num  # body lines read so far: the next row starts at body[consumed]
    for row in reader:
        cells = {key: (row.get(key) or "").strip() for key in columns}
        rows.append(Row(f"{path.name}:{body[consumed][0]}", cells))
        consumed = reader.line_num
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
    for row in rows:
        code = row["npu_code"]
        if code in analyses:
            raise ConfigError(f"{row.where}: {code} is listed twice")
        try:
            analyses[code] = AnalysisDef(
                npu_code=code,
                code_type=_one_of(row["code_type"], ("iupac", "lokal"), "code_type"),
                responsible=row["responsible"],
                short_name=row["short_name"],
                name=row["name"],
                domain=_member(Domain, row["domain"], "domain"),
                ucum=row["ucum"] or None,
                medcom_unit=row["medcom_unit"] or None,
                result_type=_member(ResultType, row["result_type"], "result_type"),
                shareable=_yes_no(row["shareable"]),
                notes=row["notes"],
            )
        except ValueError as exc:
            raise ConfigError(f"{row.where} ({code}): {exc}") from exc
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
    info_n, notifiable = _notifiable(folder, analyses)
    info_r, routes = _routes(folder, analyses)
    return Mappings(
        analyses=analyses,
        units=units,
        local_codes=local,
        fee_codes=fee,
        notifiable=notifiable,
        routes=routes,
        tables=(info_a, info_u, info_l, info_f, info_n, info_r),
    )


def _notifiable(
    folder: Path, analyses: dict[str, AnalysisDef]
) -> tuple[TableInfo, dict[tuple[str, str], Notifiable]]:
    """notifiable.csv: one row per (NPU code, finding text) that must reach SSI."""
    info, rows = read_table(
        folder / "notifiable.csv", ("npu_code", "finding", "disease", "list", "status", "source")
    )
    found: dict[tuple[str, str], Notifiable] = {}
    for row in rows:
        key = (row["npu_code"], finding_key(row["finding"]))
        try:
            _known(row["npu_code"], analyses)
            _filled(row, ("finding", "disease", "source"))
            if key in found:
                raise ValueError(f"{key[0]} finding {row['finding']!r} is listed twice")
            found[key] = Notifiable(
                disease=row["disease"],
                list=_member(NotifiableList, row["list"], "list"),
                status=_member(NotifiableStatus, row["status"], "status"),
                source=row["source"],
            )
        except ValueError as exc:
            raise ConfigError(f"{row.where}: {exc}") from exc
    return info, found


def _routes(
    folder: Path, analyses: dict[str, AnalysisDef]
) -> tuple[TableInfo, dict[str, RouteOverride]]:
    """routing.csv: per-analysis exceptions to routing by domain, each with its reason."""
    info, rows = read_table(folder / "routing.csv", ("npu_code", "destination", "reason", "source"))
    found: dict[str, RouteOverride] = {}
    for row in rows:
        code = row["npu_code"]
        try:
            if not _known(code, analyses).shareable:
                raise ValueError(
                    f"{code} is not shareable in analyses.csv, so an override would never apply"
                )
            _filled(row, ("reason", "source"))
            if code in found:
                raise ValueError(f"{code} is listed twice")
            target = _one_of(row["destination"], (*Destination, "none"), "destination")
            destination = None if target == "none" else Destination(target)
            found[code] = RouteOverride(destination, row["reason"], row["source"])
        except ValueError as exc:
            raise ConfigError(f"{row.where}: {exc}") from exc
    return info, found


def _unique(table: str, pairs: Iterable[tuple[K, V]]) -> dict[K, V]:
    """A lookup table; a key listed twice with different targets would misroute results."""
    out: dict[K, V] = {}
    for key, value in pairs:
        if key in out and out[key] != value:
            raise ConfigError(f"{table}: {key!r} maps to both {out[key]!r} and {value!r}")
        out[key] = value
    return out


def _known(code: str, analyses: dict[str, AnalysisDef]) -> AnalysisDef:
    found = analyses.get(code)
    if found is None:
        raise ValueError(f"NPU code {code!r} is not in analyses.csv")
    return found


def _filled(row: Row, columns: tuple[str, ...]) -> None:
    empty = [column for column in columns if not row[column]]
    if empty:
        raise ValueError(f"empty {', '.join(empty)}")


def _member(kind: type[E], text: str, column: str) -> E:
    """An enum member from a cell, or an error that lists what the column allows."""
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValueError(f"{column} must be one of {allowed}, found {text!r}") from None


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
