"""Time and identifiers, injected so the core stays pure and its output reproducible.

The pipeline never calls `datetime.now()` or a random generator itself: it asks a `Clock` and an
`IdFactory`. Production uses `SystemClock` and `RandomIds`; tests and golden files use
`FixedClock` and `SequentialIds`, which make every rendered byte reproducible.

Identifiers that must survive a replay (letter id, message id) are not drawn from a factory at
all: `derived_id` computes them from the business key, so a crash and a replay give the same id.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that always says the same instant (tests, golden files, reproducible demos)."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._instant = instant

    def now(self) -> datetime:
        return self._instant


class IdFactory(Protocol):
    def envelope_id(self) -> str:
        """A new transport envelope id: at most 14 characters, digits only (MedCom Envelope)."""
        ...


class RandomIds:
    """Envelope ids from the OS random source: 14 decimal digits."""

    def envelope_id(self) -> str:
        return f"{secrets.randbelow(10**14):014d}"


class SequentialIds:
    """Envelope ids 00000000000001, 00000000000002, … (tests and demos)."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)

    def envelope_id(self) -> str:
        return f"{next(self._counter):014d}"


def derived_id(*parts: str, length: int = 14) -> str:
    """A decimal id of `length` digits derived from the business key `parts`.

    Digits only, because MedCom letter and envelope identifiers historically are numeric
    (EDIFACT UNH/UNB references); 14 digits is the XML maximum (Letter/Identifier S1_14).
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return f"{int.from_bytes(digest[:16], 'big') % 10**length:0{length}d}"
