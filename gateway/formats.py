"""The message formats labgw renders, by the name a receiver's configuration uses.

Each format says how results are grouped into letters, how many fit one letter, what keeps a
record out of a letter, and how to render one. The pipeline looks formats up here, so a new
format is one entry plus its renderer, and either databank can be switched by configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gateway.config import Receiver
from gateway.fhir_message import render as fhir
from gateway.issues import Issue
from gateway.letters import LetterPlan, Rendered
from gateway.mapping.resolve import Mapped
from gateway.xml import ns, xrpt01, xrpt05

Render = Callable[[LetterPlan, Receiver, str, datetime, str], Rendered]
Problems = Callable[[Mapped, tuple[Mapped, ...]], tuple[Issue, ...]]


@dataclass(frozen=True, slots=True)
class MessageFormat:
    kind: str  # the MedCom type code, or FHIR
    syntax: str  # "xml" or "json": which validator reads it
    max_results: int  # per letter
    per_status: bool  # True when a letter carries one result status (XRPT05)
    render: Render
    problems: Problems

    @property
    def extension(self) -> str:
        return f".{self.syntax}"


FORMATS: dict[str, MessageFormat] = {
    "xrpt01": MessageFormat(
        ns.XRPT01_TYPE,
        "xml",
        ns.XRPT01_MAX_RESULTS,
        False,
        xrpt01.render_xrpt01,
        lambda mapped, _letter: xrpt01.record_problems(mapped),
    ),
    "xrpt05": MessageFormat(
        ns.XRPT05_TYPE,
        "xml",
        ns.XRPT05_MAX_INVESTIGATIONS,
        True,
        xrpt05.render_xrpt05,
        xrpt05.record_problems,
    ),
    "fhir": MessageFormat(
        fhir.FHIR_KIND,
        "json",
        ns.XRPT01_MAX_RESULTS,
        False,
        fhir.render_fhir,
        fhir.record_problems,
    ),
}
