"""Maps one record's analysis code and unit onto an NPU analysis and UCUM (DESIGN §3).

Unknown codes and units are reported with the record, never guessed. An analysis that is not
agreed for sharing is *filtered*: not an error of the practice, but not sent either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.issues import Issue, IssueType, Severity
from gateway.mapping.tables import AnalysisDef, Mappings, ResultType
from gateway.model import CodeSystem, LabRecord
from gateway.values import ResultValue

SUSCEPTIBILITY_VALUES = (
    "S",
    "I",
    "R",
)  # EUCAST categories: susceptible, increased exposure, resistant
Say = Callable[[Severity, IssueType, str, str, str], None]


@dataclass(frozen=True, slots=True)
class Mapped:
    """A record with its NPU analysis; `ucum` is the unit of the value (None: unitless)."""

    record: LabRecord
    analysis: AnalysisDef
    ucum: str | None
    mapped_from: str | None = None  # "LOCAL:CRP" / "FEE:9901" when the code was translated

    @property
    def value(self) -> ResultValue:
        """The value as the analysis reads it: a number only where results are numbers, so a
        stix `1` or a strep A `0` stays text in every message format; a susceptibility category
        as S, I or R whatever case it was typed in (intake takes `s` as `S`)."""
        value = self.record.result.value
        if self.analysis.result_type is ResultType.SUSCEPTIBILITY:
            return ResultValue(raw=value.text.upper())
        if value.number is None or self.analysis.result_type is ResultType.NUMERIC:
            return value
        return ResultValue(raw=value.raw)


@dataclass(frozen=True, slots=True)
class Mapping:
    mapped: Mapped | None
    issues: tuple[Issue, ...]
    filtered: bool = False


def map_record(record: LabRecord, mappings: Mappings) -> Mapping:
    """Find the NPU analysis and check the unit and the kind of value against it."""
    issues: list[Issue] = []

    def say(severity: Severity, code: IssueType, rule: str, location: str, message: str) -> None:
        issues.append(Issue(severity, code, rule, message, location=location, record=record.key))

    npu_code, mapped_from = _npu_code(record, mappings)
    analysis = mappings.analyses.get(npu_code) if npu_code else None
    if analysis is None:
        shown = f"{record.analysis.system.value} code {record.analysis.code!r}"
        if npu_code and npu_code != record.analysis.code:
            shown += f" (mapped to {npu_code})"
        say(
            Severity.ERROR,
            IssueType.CODE_INVALID,
            "MAP-UNKNOWN-CODE",
            "analysis.code",
            f"{shown} is not in the mapping tables; add it to mappings/ or send an agreed code",
        )
        return Mapping(None, tuple(issues))
    ucum = _unit(record, analysis, mappings, say)
    if analysis.result_type is ResultType.NUMERIC and not record.result.value.is_numeric:
        say(
            Severity.ERROR,
            IssueType.VALUE,
            "MAP-VALUE-TYPE",
            "result.value",
            f"{analysis.npu_code} ({analysis.short_name}) has numeric results; "
            f"found text {record.result.value.text[:40]!r}",
        )
    if (
        analysis.result_type is ResultType.SUSCEPTIBILITY
        and record.result.value.text.upper() not in SUSCEPTIBILITY_VALUES
    ):
        say(
            Severity.ERROR,
            IssueType.CODE_INVALID,
            "MAP-VALUE-TYPE",
            "result.value",
            f"{analysis.npu_code} ({analysis.short_name}) is a susceptibility: S, I or R; "
            f"found {record.result.value.text[:40]!r}",
        )
    if any(issue.blocking for issue in issues):
        return Mapping(None, tuple(issues))
    mapped = Mapped(record, analysis, ucum, mapped_from)
    if not analysis.shareable:
        say(
            Severity.INFORMATION,
            IssueType.INFORMATIONAL,
            "MAP-NOT-SHAREABLE",
            "analysis.code",
            f"{analysis.npu_code} ({analysis.short_name}) is not agreed for sharing; not sent",
        )
        return Mapping(mapped, tuple(issues), filtered=True)
    return Mapping(mapped, tuple(issues))


def _npu_code(record: LabRecord, mappings: Mappings) -> tuple[str | None, str | None]:
    system, code = record.analysis.system, record.analysis.code
    found = npu_code_for(system.value, code, record.lps.vendor, mappings)
    return found, None if system is CodeSystem.NPU else f"{system.value}:{code}"


def npu_code_for(system: str, code: str, vendor: str, mappings: Mappings) -> str | None:
    """The NPU code a (system, code) stands for, as sent by this vendor's practice system.

    An NPU code stands for itself even when the tables do not know it; the caller decides
    whether an unknown NPU code is an error.
    """
    if system == CodeSystem.NPU:
        return code
    if system == CodeSystem.LOCAL:
        return mappings.local_codes.get((vendor, code)) or mappings.local_codes.get(("*", code))
    if system == CodeSystem.FEE:
        return mappings.fee_codes.get(code)
    return None


def _unit(record: LabRecord, analysis: AnalysisDef, mappings: Mappings, say: Say) -> str | None:
    unit = record.result.unit
    if not unit:
        if analysis.ucum and analysis.ucum != "1" and record.result.value.is_numeric:
            say(
                Severity.INFORMATION,
                IssueType.INFORMATIONAL,
                "MAP-UNIT-IMPLIED",
                "result.unit",
                f"no unit given; {analysis.npu_code} defines it as {analysis.ucum}",
            )
        return analysis.ucum
    ucum = mappings.ucum_for(unit)
    if ucum is None:
        say(
            Severity.ERROR,
            IssueType.CODE_INVALID,
            "MAP-UNIT-UNKNOWN",
            "result.unit",
            f"unit {unit!r} is not in mappings/units.csv",
        )
        return None
    if analysis.ucum is None:
        say(
            Severity.WARNING,
            IssueType.VALUE,
            "MAP-UNIT-UNEXPECTED",
            "result.unit",
            f"{analysis.npu_code} has no unit; {unit!r} is left out",
        )
        return None
    if ucum != analysis.ucum:
        say(
            Severity.ERROR,
            IssueType.VALUE,
            "MAP-UNIT-MISMATCH",
            "result.unit",
            f"{analysis.npu_code} ({analysis.short_name}) is measured in {analysis.ucum}, "
            f"found {unit!r}",
        )
    return ucum
