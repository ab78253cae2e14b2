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
    previous_letter_id: str | None = None  # the letter of the version before, for corrections

    @property
    def first(self) -> LabRecord:
        return self.results[0].record


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered message: the exact bytes to validate, sign and send, and its coverage."""

    content: bytes
    coverage: tuple[FieldUse, ...]
