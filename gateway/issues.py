"""The one Issue model that every validator, intake check, rule, CLI and acknowledgement speaks.

An Issue is shaped like a FHIR OperationOutcome.issue (severity, code from the FHIR IssueType value
set, a location, a human message) so that it maps onto MedCom acknowledgement codes without loss.
`rule` is our stable identifier of the check that fired (`LPS-CPR-SHAPE`, `XSD`, …): codes never
change meaning once published, so vendors can key their handling on them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Severity(enum.StrEnum):
    """FHIR issue-severity (http://hl7.org/fhir/issue-severity)."""

    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"

    @property
    def blocking(self) -> bool:
        """Fatal and error issues make a record or message unacceptable."""
        return self in (Severity.FATAL, Severity.ERROR)


class IssueType(enum.StrEnum):
    """The subset of FHIR issue-type (http://hl7.org/fhir/issue-type) that labgw produces."""

    INVALID = "invalid"
    STRUCTURE = "structure"
    REQUIRED = "required"
    VALUE = "value"
    INVARIANT = "invariant"
    SECURITY = "security"
    TOO_LONG = "too-long"
    CODE_INVALID = "code-invalid"
    NOT_SUPPORTED = "not-supported"
    NOT_FOUND = "not-found"
    DUPLICATE = "duplicate"
    TOO_COSTLY = "too-costly"
    THROTTLED = "throttled"
    TIMEOUT = "timeout"
    PROCESSING = "processing"
    INFORMATIONAL = "informational"
    EXCEPTION = "exception"


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding about one place in one input.

    Attributes:
        severity: how bad it is; fatal/error reject the record or message.
        code: FHIR IssueType.
        rule: stable labgw rule identifier (documented in docs/issue-codes.md).
        message: what was expected and what was found.
        location: field path (`patient.cpr`), XPath or FHIRPath of the offending place.
        record: the record (or message) id the issue is about, when known.
        source: the input it came from (file name, `line 3`, HTTP request …).
        line: line number in the source, when known.
    """

    severity: Severity
    code: IssueType
    rule: str
    message: str
    location: str | None = None
    record: str | None = None
    source: str | None = None
    line: int | None = None

    @property
    def blocking(self) -> bool:
        return self.severity.blocking

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able form; None fields are left out."""
        out: dict[str, object] = {
            "severity": self.severity.value,
            "code": self.code.value,
            "rule": self.rule,
            "message": self.message,
        }
        for key in ("location", "record", "source", "line"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Issue:
        """The inverse of `to_dict`, for Issues kept as JSON (the outbox stores them so)."""
        return cls(
            severity=Severity(data["severity"]),
            code=IssueType(data["code"]),
            rule=str(data["rule"]),
            message=str(data["message"]),
            location=data.get("location"),
            record=data.get("record"),
            source=data.get("source"),
            line=data.get("line"),
        )

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (
                f"{self.source}:{self.line}" if self.source and self.line else self.source,
                f"record {self.record}" if self.record else None,
                self.location,
            )
            if part
        )
        return f"{self.severity.value} [{self.rule}] {where}: {self.message}".replace(" :", ":")
