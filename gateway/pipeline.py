"""The pure pipeline: intake batch in, messages and per-record outcomes out (DESIGN §1).

mapping → routing → grouping into letters → rendering → validation. Every record of the batch
ends as accepted (in a message, or held for a destination whose renderer is not there yet),
rejected (with Issues) or filtered (not shareable, or an exact duplicate), so the counts add up.
Nothing here reads a file, a socket or the wall clock: the clock and the id factory are passed in.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from lxml import etree

from gateway.clock import Clock, IdFactory, derived_id
from gateway.config import GatewayConfig
from gateway.coverage import FieldUse
from gateway.intake import Intake, IntakeBatch
from gateway.issues import Issue, IssueType, Severity
from gateway.mapping.resolve import Mapped, map_record
from gateway.mapping.tables import Mappings
from gateway.model import LabRecord
from gateway.routing import Destination, route
from gateway.xml import ns
from gateway.xml.validate import XmlValidator
from gateway.xml.xrpt01 import LetterPlan, record_problems, render_xrpt01


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FILTERED = "filtered"


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered, validated message, as bytes ready to sign and send."""

    message_id: str  # the letter id: kept on technical resend
    envelope_id: str  # new per send attempt
    destination: Destination
    kind: str
    content: bytes
    records: tuple[str, ...]
    coverage: tuple[FieldUse, ...]
    issues: tuple[Issue, ...]

    @property
    def filename(self) -> str:
        return f"{self.destination.value}-{self.kind.lower()}-{self.message_id}.xml"


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    label: str
    outcome: Outcome
    issues: tuple[Issue, ...] = ()
    destination: Destination | None = None
    message_id: str | None = None
    held: bool = False  # routed, but no renderer for the destination yet


@dataclass(slots=True)
class Translation:
    outcomes: list[RecordOutcome] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    file_issues: list[Issue] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        tally = Counter(outcome.outcome.value for outcome in self.outcomes)
        out = {kind.value: tally.get(kind.value, 0) for kind in Outcome}
        out["input"] = len(self.outcomes)
        out["held"] = sum(1 for outcome in self.outcomes if outcome.held)
        out["messages"] = len(self.messages)
        return out

    @property
    def issues(self) -> list[Issue]:
        found = list(self.file_issues)
        for outcome in self.outcomes:
            found.extend(outcome.issues)
        for message in self.messages:
            found.extend(message.issues)
        return found


@dataclass(frozen=True, slots=True)
class Translator:
    """The pipeline with its tables, configuration, validator, clock and id factory."""

    config: GatewayConfig
    mappings: Mappings
    validator: XmlValidator
    clock: Clock
    ids: IdFactory

    def translate(
        self, batch: IntakeBatch, progress: Callable[[int], None] | None = None
    ) -> Translation:
        """Map, route, render and validate every record of the batch.

        Args:
            batch: the intake result.
            progress: called with the number of records done since the last call.
        """
        out = Translation(file_issues=list(batch.file_issues))
        letters: dict[tuple[str, ...], list[tuple[int, Mapped, tuple[Issue, ...]]]] = {}
        seen: dict[str, LabRecord] = {}
        for done, item in enumerate(batch.items, start=1):
            if progress is not None and done % 500 == 0:
                progress(500)
            record = item.record
            if record is None:
                out.outcomes.append(RecordOutcome(item.label, Outcome.REJECTED, item.issues))
                continue
            duplicate = _duplicate(record, seen)
            if duplicate is not None:
                out.outcomes.append(duplicate)
                continue
            mapping = map_record(record, self.mappings)
            issues = item.issues + _placed(mapping.issues, item)
            if mapping.mapped is None:
                out.outcomes.append(RecordOutcome(record.key, Outcome.REJECTED, issues))
                continue
            destination = route(mapping.mapped)
            if mapping.filtered:
                out.outcomes.append(
                    RecordOutcome(record.key, Outcome.FILTERED, issues, destination)
                )
            elif destination is Destination.LSP and (unfit := record_problems(mapping.mapped)):
                out.outcomes.append(
                    RecordOutcome(record.key, Outcome.REJECTED, issues + _placed(unfit, item))
                )
            elif destination is Destination.LSP:
                key = _letter_key(record)
                letters.setdefault(key, []).append((len(out.outcomes), mapping.mapped, issues))
                out.outcomes.append(
                    RecordOutcome(record.key, Outcome.ACCEPTED, issues, destination)
                )
            else:
                note = Issue(
                    Severity.INFORMATION,
                    IssueType.INFORMATIONAL,
                    "ROUTE-HELD",
                    f"routed to {destination.value}; held until its message format is available",
                    record=record.key,
                )
                out.outcomes.append(
                    RecordOutcome(
                        record.key, Outcome.ACCEPTED, (*issues, note), destination, held=True
                    )
                )
        if progress is not None:
            progress(len(batch.items) % 500)
        for key, members in letters.items():
            for part, start in enumerate(range(0, len(members), ns.XRPT01_MAX_RESULTS)):
                chunk = members[start : start + ns.XRPT01_MAX_RESULTS]
                self._emit(out, key, part, chunk)
        return out

    def _emit(
        self,
        out: Translation,
        key: tuple[str, ...],
        part: int,
        chunk: list[tuple[int, Mapped, tuple[Issue, ...]]],
    ) -> None:
        letter_id = derived_id(ns.XRPT01_TYPE, Destination.LSP.value, *key, str(part))
        plan = LetterPlan(letter_id, tuple(mapped for _, mapped, _ in chunk))
        envelope_id = self.ids.envelope_id()
        rendered = render_xrpt01(
            plan,
            self.config.receiver(Destination.LSP),
            self.config.producer_code,
            self.clock.now(),
            envelope_id,
        )
        root = etree.fromstring(rendered.content)
        found = tuple(self.validator.iter_tree_issues(root, source=letter_id))
        records = tuple(mapped.record.key for _, mapped, _ in chunk)
        if any(issue.blocking for issue in found):
            for index, mapped, issues in chunk:
                out.outcomes[index] = RecordOutcome(
                    mapped.record.key, Outcome.REJECTED, issues + found, Destination.LSP
                )
            return
        out.messages.append(
            Message(
                letter_id,
                envelope_id,
                Destination.LSP,
                ns.XRPT01_TYPE,
                rendered.content,
                records,
                rendered.coverage,
                found,
            )
        )
        for index, mapped, issues in chunk:
            out.outcomes[index] = RecordOutcome(
                mapped.record.key, Outcome.ACCEPTED, issues, Destination.LSP, letter_id
            )


def _placed(issues: tuple[Issue, ...], item: Intake) -> tuple[Issue, ...]:
    """Issues found after intake, pointed at the input file and line of their record."""
    return tuple(replace(issue, source=item.source, line=item.line) for issue in issues)


def _letter_key(record: LabRecord) -> tuple[str, ...]:
    """One letter per (patient, sample, version); consent too, so each flag stays exact."""
    return (
        record.practice.gln,
        record.patient.key,
        record.sample.id,
        str(record.version),
        record.consent.value,
    )


def _duplicate(record: LabRecord, seen: dict[str, LabRecord]) -> RecordOutcome | None:
    earlier = seen.get(record.key)
    if earlier is None:
        seen[record.key] = record
        return None
    if earlier == record:
        return RecordOutcome(
            record.key,
            Outcome.FILTERED,
            (
                Issue(
                    Severity.INFORMATION,
                    IssueType.DUPLICATE,
                    "LPS-DUPLICATE",
                    "the same record version appears earlier in the input and is handled there",
                    record=record.key,
                ),
            ),
        )
    return RecordOutcome(
        record.key,
        Outcome.REJECTED,
        (
            Issue(
                Severity.ERROR,
                IssueType.DUPLICATE,
                "LPS-DUPLICATE-CONFLICT",
                "the same recordId and version appears earlier with different content; "
                "a change needs a new version",
                record=record.key,
            ),
        ),
    )
