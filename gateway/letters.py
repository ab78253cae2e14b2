"""What every message format renders from and to: a planned letter in, bytes and coverage out."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.coverage import FieldUse
from gateway.mapping.resolve import Mapped
from gateway.model import LabRecord


@dataclass(frozen=True, slots=True)
class LetterPlan:
    """One letter: results of one patient and sample in one version (and consent)."""

    letter_id: str
    results: tuple[Mapped, ...]
    # The message this one replaces, by the id its receiver knows it by (XML Letter/Identifier,
    # FHIR MessageHeader.id): for corrections and cancellations.
    previous_message_id: str | None = None

    @property
    def first(self) -> LabRecord:
        return self.results[0].record


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered message: the exact bytes to validate, sign and send, and its coverage."""

    content: bytes
    coverage: tuple[FieldUse, ...]


def letter_key(record: LabRecord, *, per_status: bool) -> tuple[str, ...]:
    """One letter per (patient, sample, version); consent too, so each flag stays exact.

    XRPT05 letters carry one result status (`per_status`), so they are split by status as well.
    """
    key = (
        record.practice.gln,
        record.patient.key,
        record.sample.id,
        str(record.version),
        record.consent.value,
    )
    return (*key, record.status.value) if per_status else key
