"""Intake: practice-system files in, checked `LabRecord`s and Issues out (DESIGN §2).

`read_records` never raises on bad data. Every record of the input ends as accepted (a
`LabRecord`) or rejected (Issues naming the record, the field and the rule); problems with the
file as a whole are reported once in `IntakeBatch.file_issues`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from gateway.intake.contract import Contract, default_contract
from gateway.intake.readers import (
    FileProblem,
    RawRecord,
    decode,
    detect_format,
    read_csv,
    read_json,
    read_ndjson,
)
from gateway.intake.record import RecordBuilder
from gateway.issues import Issue, IssueType, Severity
from gateway.model import LabRecord

FORMATS = ("json", "ndjson", "csv")


@dataclass(frozen=True, slots=True)
class Intake:
    """One input record after intake: `record` is None when it was rejected."""

    source: str
    index: int
    line: int | None
    record: LabRecord | None
    issues: tuple[Issue, ...]

    @property
    def accepted(self) -> bool:
        return self.record is not None

    @property
    def label(self) -> str:
        """How to name this input record in reports: its record id, else its position."""
        if self.record is not None:
            return self.record.key
        for issue in self.issues:
            if issue.record:
                return issue.record
        return f"{self.source}:{self.line}" if self.line else f"{self.source}[{self.index}]"


@dataclass(slots=True)
class IntakeBatch:
    items: list[Intake] = field(default_factory=list)
    file_issues: list[Issue] = field(default_factory=list)

    @property
    def records(self) -> list[LabRecord]:
        return [item.record for item in self.items if item.record is not None]

    @property
    def rejected(self) -> list[Intake]:
        return [item for item in self.items if item.record is None]

    def extend(self, other: IntakeBatch) -> None:
        self.items.extend(other.items)
        self.file_issues.extend(other.file_issues)


def read_records(
    data: bytes,
    source: str,
    *,
    now: datetime,
    fmt: str | None = None,
    contract: Contract | None = None,
) -> IntakeBatch:
    """Read every record in one input.

    Args:
        data: the file or request body.
        source: its name, used in every Issue (file name, `POST /records` …).
        now: the current time, for the "not in the future" rule.
        fmt: `json`, `ndjson` or `csv`; detected from the name and content when None.
        contract: the record schema; the packaged one when None.
    """
    contract = contract or default_contract()
    batch = IntakeBatch()
    builder = RecordBuilder(now, contract)
    try:
        text, notes = decode(data, source, latin1=fmt != "json" and not source.endswith("json"))
        batch.file_issues.extend(notes)
        kind = fmt or detect_format(source, text)
        if kind == "csv":
            raws = read_csv(text, source, contract.integer_fields())
        elif kind == "ndjson":
            raws = read_ndjson(text, source)
        else:
            raws = read_json(text, source)
        for raw in raws:
            record, found = (None, raw.issues) if raw.issues else _build(builder, raw, source)
            # Lines name NDJSON and CSV records; items of a JSON array are named by position.
            if raw.line is None:
                found = [
                    i if i.record else replace(i, record=f"item {raw.index + 1}") for i in found
                ]
            batch.items.append(Intake(source, raw.index, raw.line, record, tuple(found)))
    except FileProblem as problem:
        batch.file_issues.append(problem.issue)
    if not batch.items and not batch.file_issues:
        batch.file_issues.append(
            Issue(
                Severity.FATAL,
                IssueType.REQUIRED,
                "LPS-EMPTY",
                "the file holds no records",
                source=source,
            )
        )
    return batch


def _build(
    builder: RecordBuilder, raw: RawRecord, source: str
) -> tuple[LabRecord | None, list[Issue]]:
    """Check one record; a defect in a check becomes an Issue of that record, not a crash."""
    try:
        return builder.build(raw.data, source=source, line=raw.line)
    except Exception as exc:  # one record's failure must not sink the batch
        return None, [
            Issue(
                Severity.ERROR,
                IssueType.EXCEPTION,
                "LPS-UNEXPECTED",
                f"labgw could not check this record ({type(exc).__name__}); please report it",
                source=source,
                line=raw.line,
            )
        ]
