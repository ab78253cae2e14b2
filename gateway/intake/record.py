"""Builds a `LabRecord` from one decoded record, or says precisely why it cannot.

First the contract (`contract.py`: presence, types, lengths, forms), then the rules a schema cannot
express: a CPR number must state a real date of birth (`gateway.cpr`), a GLN must carry its GS1
check digit, times must parse and come in order, an NPU code must look like one, a reference
interval must not be upside down.
A rejected record gets every Issue found, not just the first, so a vendor fixes all in one round.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.cpr import is_cpr
from gateway.intake.contract import Contract, Violation, default_contract
from gateway.issues import Issue, IssueType, Severity
from gateway.model import (
    Abnormal,
    Analysis,
    CodeSystem,
    Consent,
    LabRecord,
    LpsInfo,
    Patient,
    Practice,
    Result,
    Sample,
    Status,
)
from gateway.privacy import redact
from gateway.values import parse_number, parse_value

DANISH_TIME = ZoneInfo("Europe/Copenhagen")
_NPU_CODE = re.compile(r"^(NPU|DNK)[0-9]{5}$")
_CLOCK_SKEW = timedelta(hours=1)
# Characters XML 1.0 cannot carry (C0 controls except tab/newline/return, lone surrogates,
# U+FFFE/U+FFFF): a value holding one could never be rendered into a MedCom message.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def gln_check_digit_ok(gln: str) -> bool:
    """GS1 mod-10: weights 3 and 1 from the right, excluding the check digit."""
    digits = [int(c) for c in gln]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == digits[-1]


def parse_datetime(text: str) -> datetime:
    """ISO 8601 date and time; a time without an offset is Danish local time (DST aware).

    Raises:
        ValueError: not a date and time.
    """
    if "T" not in text and " " not in text.strip():
        raise ValueError("a time of day is required, not just a date")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=DANISH_TIME)


class RecordBuilder:
    """Turns decoded records into LabRecords; one per batch, so the contract is compiled once."""

    def __init__(self, now: datetime, contract: Contract | None = None) -> None:
        self.contract = contract or default_contract()
        self.now = now

    def build(
        self,
        data: object,
        *,
        source: str | None = None,
        line: int | None = None,
    ) -> tuple[LabRecord | None, list[Issue]]:
        """Check one decoded record; return the record (None if rejected) and all Issues."""
        record_id = _record_id(data)
        violations = self.contract.violations(data, _xml_characters)
        issues = [v.to_issue(record_id, source, line) for v in violations]
        if issues or not isinstance(data, dict):
            return None, issues

        def problem(
            rule: str, location: str, message: str, code: IssueType = IssueType.VALUE
        ) -> None:
            issues.append(
                Issue(
                    Severity.ERROR,
                    code,
                    rule,
                    redact(message),  # it may quote a value: a CPR number in the wrong field
                    location=location,
                    record=record_id,
                    source=source,
                    line=line,
                )
            )

        patient = data["patient"]
        if patient.get("cpr") and not is_cpr(patient["cpr"]):
            problem(
                "LPS-CPR",
                "patient.cpr",
                "not a CPR number: the first six digits must be a date of birth (DDMMYY, "
                "the 7th digit gives the century)",
            )
        practice = data["practice"]
        if not gln_check_digit_ok(practice["gln"]):
            problem("LPS-GLN", "practice.gln", "GS1 check digit does not match")
        collected = self._time(data["sample"]["collectedAt"], "sample.collectedAt", problem)
        performed = self._time(data["performedAt"], "performedAt", problem)
        if collected and performed and performed < collected:
            problem(
                "LPS-DATE-ORDER",
                "performedAt",
                "the analysis is dated before the sample was collected",
            )
        analysis = data["analysis"]
        if analysis["system"] == "NPU" and not _NPU_CODE.match(analysis["code"]):
            problem(
                "LPS-CODE",
                "analysis.code",
                f"an NPU code is NPUnnnnn or DNKnnnnn, found {analysis['code']!r}",
                IssueType.CODE_INVALID,
            )
        result = data["result"]
        low, high = result.get("referenceLow"), result.get("referenceHigh")
        low_n = parse_number(low) if low else None
        high_n = parse_number(high) if high else None
        if low_n is not None and high_n is not None and low_n > high_n:
            problem(
                "LPS-REFERENCE",
                "result.referenceLow",
                f"lower reference limit {low} is above the upper limit {high}",
            )
        if issues or collected is None or performed is None:
            return None, issues
        return _record(data, collected, performed), issues

    def _time(self, text: str, location: str, problem: Any) -> datetime | None:
        try:
            value = parse_datetime(text)
        except ValueError:
            problem(
                "LPS-DATETIME",
                location,
                f"expected an ISO 8601 date and time such as 2025-06-02T09:14:00+02:00, "
                f"found {redact(text)[:40]!r}",
            )
            return None
        if value > self.now + _CLOCK_SKEW:
            problem("LPS-DATE-FUTURE", location, f"{text} lies in the future")
            return None
        return value


def _xml_characters(text: str, path: str) -> Violation | None:
    if _NOT_XML.search(text) is None:
        return None
    return Violation(
        path, "pattern", "LPS-CONTROL-CHAR", "holds a control character that XML cannot carry"
    )


def _record_id(data: object) -> str | None:
    """`recordId/vN` as far as the (maybe broken) record tells it, for naming it in Issues."""
    if not isinstance(data, dict):
        return None
    value, version = data.get("recordId"), data.get("version")
    if not isinstance(value, str) or not value:
        return None
    if isinstance(version, int) and not isinstance(version, bool):
        return f"{value[:64]}/v{version}"
    return value[:64]


def _opt(obj: dict[str, Any], key: str) -> Any:
    """An optional field: absent, null and (from CSV) empty all mean 'not given'."""
    value = obj.get(key)
    return None if value == "" else value


def _record(data: dict[str, Any], collected: datetime, performed: datetime) -> LabRecord:
    practice, patient, sample = data["practice"], data["patient"], data["sample"]
    analysis, result, lps = data["analysis"], data["result"], data["lps"]
    abnormal = _opt(result, "abnormal")
    return LabRecord(
        record_id=data["recordId"],
        version=int(data["version"]),
        status=Status(data["status"]),
        practice=Practice(
            gln=practice["gln"],
            name=practice["name"],
            sor=_opt(practice, "sor"),
            ydernummer=_opt(practice, "ydernummer"),
        ),
        patient=Patient(
            family=patient["family"],
            cpr=_opt(patient, "cpr"),
            replacement_id=_opt(patient, "replacementId"),
            given=_opt(patient, "given"),
        ),
        consent=Consent(_opt(data, "consent") or Consent.UNKNOWN),
        sample=Sample(id=sample["id"], collected_at=collected, material=_opt(sample, "material")),
        analysis=Analysis(
            system=CodeSystem(analysis["system"]),
            code=analysis["code"],
            text=_opt(analysis, "text"),
        ),
        result=Result(
            value=parse_value(result["value"]),
            unit=_opt(result, "unit"),
            reference_low=_opt(result, "referenceLow"),
            reference_high=_opt(result, "referenceHigh"),
            abnormal=Abnormal(abnormal) if abnormal else None,
            comment=_opt(result, "comment"),
        ),
        performed_at=performed,
        lps=LpsInfo(vendor=lps["vendor"], version=_opt(lps, "version")),
    )
