"""What every labgw validator offers: a generator of Issues, and the two questions built on it.

As in xmlschema: `iter_issues` is the one code path; `validate` raises on the blocking Issues and
`is_valid` checks there are none, so strict and lax use is one switch, not two implementations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from gateway.errors import InvalidMessageError
from gateway.issues import Issue


class Validator(ABC):
    @abstractmethod
    def iter_issues(self, data: bytes, source: str | None = None) -> Iterator[Issue]:
        """Every Issue of one message given as bytes."""

    def validate(self, data: bytes, source: str | None = None) -> None:
        """Raise InvalidMessageError with all blocking Issues, if there are any."""
        blocking = tuple(issue for issue in self.iter_issues(data, source) if issue.blocking)
        if blocking:
            raise InvalidMessageError(str(blocking[0]), blocking)

    def is_valid(self, data: bytes, source: str | None = None) -> bool:
        return not any(issue.blocking for issue in self.iter_issues(data, source))
