"""The canonical lab record: one analysis result of one sample, as the practice recorded it.

This is the contract of DESIGN §2 in typed, frozen form. Intake builds it from JSON, NDJSON and
CSV; everything downstream (mapping, routing, rendering) reads only this. A record that reached
this shape has passed every intake check; it may still be unknown to the mapping tables.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from gateway.values import ResultValue


class Status(enum.StrEnum):
    PRELIMINARY = "preliminary"
    FINAL = "final"
    CORRECTED = "corrected"
    CANCELLED = "cancelled"


class Consent(enum.StrEnum):
    """Consent to share, from the practice journal (Sundhedsloven §42).

    Missing means UNKNOWN, never REFUSED (DESIGN §2); REFUSED is a flag on the message, never a
    reason to drop a result (DESIGN §3).
    """

    GIVEN = "given"
    REFUSED = "refused"
    UNKNOWN = "unknown"


class Abnormal(enum.StrEnum):
    NORMAL = "normal"
    HIGH = "high"
    LOW = "low"
    ABNORMAL = "abnormal"


class CodeSystem(enum.StrEnum):
    NPU = "NPU"  # NPUnnnnn or DNKnnnnn, the national code itself
    LOCAL = "LOCAL"  # the practice's own code, mapped through mappings/local-codes.csv
    FEE = "FEE"  # fee-table service number, mapped through mappings/fee-codes.csv


@dataclass(frozen=True, slots=True)
class Practice:
    gln: str
    name: str
    sor: str | None = None
    ydernummer: str | None = None


@dataclass(frozen=True, slots=True)
class Patient:
    """Exactly one of `cpr` and `replacement_id` is set."""

    family: str
    cpr: str | None = None
    replacement_id: str | None = None
    given: str | None = None

    @property
    def key(self) -> str:
        """The identifier letters are grouped by (never logged: it may be a CPR number)."""
        return self.cpr or f"R:{self.replacement_id}"


@dataclass(frozen=True, slots=True)
class Sample:
    id: str
    collected_at: datetime
    material: str | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    system: CodeSystem
    code: str
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    value: ResultValue
    unit: str | None = None
    reference_low: str | None = None
    reference_high: str | None = None
    abnormal: Abnormal | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class LpsInfo:
    vendor: str
    version: str | None = None


@dataclass(frozen=True, slots=True)
class LabRecord:
    record_id: str
    version: int
    status: Status
    practice: Practice
    patient: Patient
    consent: Consent
    sample: Sample
    analysis: Analysis
    result: Result
    performed_at: datetime
    lps: LpsInfo

    @property
    def key(self) -> str:
        """`recordId` + `version` identify one record version (DESIGN §2)."""
        return f"{self.record_id}/v{self.version}"
