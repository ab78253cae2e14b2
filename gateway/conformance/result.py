"""What a target showed for a case (`Observation`) and the verdict on it (`CaseResult`).

Every target (labgw itself, a vendor's folder, a live endpoint) produces the same Observation,
so one judge (`gateway.conformance.judge`) and one set of reports serve them all.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from gateway.conformance.suite import Case
from gateway.issues import Issue


class Status(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # the case does not apply to this target
    ERROR = "error"  # the case could not be run (missing input, unreachable endpoint)


@dataclass(slots=True)
class Observation:
    issues: tuple[Issue, ...] = ()
    outcome: str | None = None  # records: accepted/rejected/filtered; receipts: positive/…
    destinations: tuple[str, ...] = ()
    messages: int | None = None
    inputs: dict[str, bytes] = field(default_factory=dict)  # what was read or sent, by name
    # What was produced or received, by file name; the first is what assertions look at.
    outputs: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    live: bool = False  # from a receiver under test: judged by the case's `live` expectation
    facts: dict[str, Any] = field(default_factory=dict)  # what labgw read (a receipt's ids …)
    # One finished message from a vendor's folder: what the pipeline did with records
    # (outcome, destinations, message count) is not there to judge.
    one_message: bool = False

    @property
    def output(self) -> bytes | None:
        return next(iter(self.outputs.values()), None)

    @property
    def blocking(self) -> tuple[Issue, ...]:
        return tuple(issue for issue in self.issues if issue.blocking)


@dataclass(slots=True)
class CaseResult:
    case: Case
    status: Status
    problems: list[str]  # how the observation differs from the expectation
    observation: Observation
    seconds: float
    target: str

    def excerpt(self, limit: int = 1200) -> str:
        """The start of the output, for reports (inputs are made-up test patients)."""
        data = self.observation.output
        if not data:
            return ""
        text = data[:limit].decode("utf-8", "replace")
        return text + ("\n…" if len(data) > limit else "")

    def to_dict(self) -> dict[str, Any]:
        case = self.case
        return {
            "suite": case.suite,
            "id": case.id,
            "title": case.title,
            "requirement": case.requirement,
            "source": case.source,
            "precondition": case.precondition,
            "target": self.target,
            "status": self.status.value,
            "seconds": round(self.seconds, 4),
            "expected": case.expect,
            "actual": {
                "outcome": self.observation.outcome,
                "destinations": list(self.observation.destinations),
                "messages": self.observation.messages,
                "issues": [issue.to_dict() for issue in self.observation.issues],
                "notes": self.observation.notes,
                "read": self.observation.facts,
            },
            "problems": self.problems,
        }
