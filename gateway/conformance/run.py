"""Running suites against a target: labgw itself, a vendor's folder, or a live endpoint.

A case that cannot be run (a missing file, a refused connection) is an ERROR with the reason,
never an exception out of the runner: one broken case must not hide the verdict on the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gateway.conformance.judge import judge
from gateway.conformance.observe import Validators, observe_folder, observe_self
from gateway.conformance.result import CaseResult, Observation, Status
from gateway.conformance.suite import Case, Suite
from gateway.pki import TestPki

if TYPE_CHECKING:
    from gateway.conformance.transport import Kit


class NotApplicable(Exception):
    """The case does not apply to this target (it is reported as skipped, with the reason)."""


class Target(Protocol):
    @property
    def name(self) -> str: ...

    def observe(self, suite: Suite, case: Case) -> Observation: ...


@dataclass
class SelfTarget:
    """labgw's own pipeline, validators, receipt reader and signature checks."""

    name: str = "self"
    validators: Validators = field(default_factory=Validators)
    pki: TestPki | None = None  # transport cases: signed with it; made on first need if None

    @cached_property
    def kit(self) -> Kit:
        from gateway.conformance import transport

        return transport.pki_kit(self.pki or transport.own_pki())

    def observe(self, suite: Suite, case: Case) -> Observation:
        if suite.kind in ("dgws", "jws"):
            from gateway.conformance.transport import observe_transport

            return observe_transport(suite, case, self.kit, self.validators)
        return observe_self(suite, case, self.validators)


@dataclass
class FolderTarget:
    """A vendor's folder: `<case id>.<ext>` per case, looked for in `<folder>/<suite>/` first."""

    folder: Path
    validators: Validators = field(default_factory=Validators)

    @property
    def name(self) -> str:
        return str(self.folder)

    def observe(self, suite: Suite, case: Case) -> Observation:
        folder = self.folder / suite.name if (self.folder / suite.name).is_dir() else self.folder
        if suite.kind in ("dgws", "jws"):
            raise NotApplicable("transport cases are judged live (--target URL) or on self")
        try:
            return observe_folder(suite, case, folder, self.validators)
        except FileNotFoundError as exc:
            if not case.positive:
                raise NotApplicable(
                    f"{exc}: a negative case, for a vendor whose validator must refuse it"
                ) from None
            if _sends_nothing(case):
                raise NotApplicable(f"{exc}: the case sends no message") from None
            raise


def _sends_nothing(case: Case) -> bool:
    return case.expect.get("messages") == 0 or case.expect.get("outcome") == "filtered"


def run_case(suite: Suite, case: Case, target: Target) -> CaseResult:
    started = time.perf_counter()
    try:
        seen = target.observe(suite, case)
    except NotApplicable as exc:
        return CaseResult(case, Status.SKIPPED, [str(exc)], Observation(), 0.0, target.name)
    except Exception as exc:  # reported per case: the run goes on
        seconds = time.perf_counter() - started
        problem = f"{type(exc).__name__}: {exc}"
        return CaseResult(case, Status.ERROR, [problem], Observation(), seconds, target.name)
    try:
        problems = judge(suite, case, seen)
    except Exception as exc:  # a defect in judging one case must not end the run
        problem = f"judging failed: {type(exc).__name__}: {exc}"
        return CaseResult(case, Status.ERROR, [problem], seen, 0.0, target.name)
    status = Status.FAILED if problems else Status.PASSED
    return CaseResult(case, status, problems, seen, time.perf_counter() - started, target.name)


def run_suites(
    suites: list[Suite], target: Target, patterns: tuple[str, ...] = ()
) -> list[CaseResult]:
    return [run_case(suite, case, target) for suite in suites for case in suite.select(patterns)]


def passed(results: list[CaseResult]) -> bool:
    """Skipped cases do not fail a run; failed and errored ones do."""
    return all(r.status in (Status.PASSED, Status.SKIPPED) for r in results)
