"""The pure pipeline: intake batch in, messages and per-record outcomes out (DESIGN §1).

mapping → routing → grouping into letters → rendering → validation. Every record of the batch
ends as accepted (in a message, or held for a destination whose renderer is not there yet),
rejected (with Issues) or filtered (not shareable, or a version already handled: a duplicate, a
stale one), so the counts add up. Versions of one recordId are taken in rounds (gateway.versions).
Nothing here reads a file, a socket or the wall clock: the clock and the id factory are passed in.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from lxml import etree

from gateway.clock import Clock, IdFactory, derived_id
from gateway.config import GatewayConfig
from gateway.coverage import FieldUse
from gateway.errors import ConfigError
from gateway.fhir_message.render import message_id as fhir_message_id
from gateway.formats import FORMATS, MessageFormat
from gateway.intake import Intake, IntakeBatch
from gateway.issues import Issue, IssueType, Severity
from gateway.letters import LetterPlan, letter_key
from gateway.lifecycle import Delivered, History, rendered_status
from gateway.mapping.resolve import Mapped, map_record
from gateway.mapping.tables import Mappings
from gateway.model import LabRecord
from gateway.routing import Destination, Routing, plan_routes, route
from gateway.versions import plan, remember, rounds
from gateway.xml.validate import XmlValidator

# One record in a letter: its outcome index, the mapped record (with the status its message
# states), its Issues, and what its destination received of an earlier version.
Member = tuple[int, Mapped, tuple[Issue, ...], Delivered | None]


class MessageValidator(Protocol):
    def iter_issues(self, data: bytes, source: str | None = None) -> Iterator[Issue]: ...


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FILTERED = "filtered"


# A version decided without translating (gateway.versions): a duplicate or a stale version is
# not sent (filtered), a conflicting one is refused.
_AS_OUTCOME = {
    "duplicate": Outcome.FILTERED,
    "stale": Outcome.FILTERED,
    "rejected": Outcome.REJECTED,
}


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
    previous: str | None = None  # the message it replaces (LetterPlan.previous_message_id)

    @property
    def filename(self) -> str:
        suffix = ".json" if self.kind == "FHIR" else ".xml"
        return f"{self.destination.value}-{self.kind.lower()}-{self.message_id}{suffix}"


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    label: str
    outcome: Outcome
    issues: tuple[Issue, ...] = ()
    destination: Destination | None = None
    message_id: str | None = None
    held: bool = False  # routed, but no renderer for the destination yet
    # Further destinations of the same record (a correction to a destination that received an
    # earlier version, a notifiable finding to MiBa), each with its message id once rendered.
    copies: tuple[tuple[Destination, str | None], ...] = ()

    @property
    def deliveries(self) -> tuple[tuple[Destination, str | None], ...]:
        """Every destination with its message id, the first destination first."""
        first = ((self.destination, self.message_id),) if self.destination else ()
        return (*first, *self.copies)

    def delivered(self, destination: Destination, message_id: str) -> RecordOutcome:
        """The same outcome with the message for `destination` filled in."""
        if destination is self.destination:
            return replace(self, message_id=message_id)
        copies = tuple((d, message_id if d is destination else m) for d, m in self.copies)
        return replace(self, copies=copies)


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
    fhir_validator: MessageValidator | None = None

    def translate(
        self, batch: IntakeBatch, progress: Callable[[int], None] | None = None
    ) -> Translation:
        """Map, route, render and validate every record of the batch, with no outbox: what
        `POST /records` would send for it into an empty outbox.

        Versions of one recordId are taken one round at a time, in input order, each decided
        against the rounds before it (gateway.versions, as the service does): a later version
        of a record sent in this input is a correction to the destinations that got it,
        pointing at that message; the same version again is a duplicate (filtered,
        LPS-VERSION-DUPLICATE), with other content a conflict (rejected,
        LPS-VERSION-CONFLICT); an older version after a newer one is stale (filtered,
        LPS-VERSION-STALE). Outcomes are in input order; messages round by round.

        Args:
            batch: the intake result.
            progress: called with the number of records done since the last call.
        """
        out = Translation(file_issues=list(batch.file_issues))
        outcomes: dict[int, RecordOutcome] = {}
        histories: dict[str, History] = {}
        taken_in_rounds = rounds(batch.items)
        again = {item.record.record_id for r in taken_in_rounds[1:] for _, item in r if item.record}
        for taken in taken_in_rounds:
            decided = plan(taken, histories)
            translation = self.translate_round(
                decided.batch(), decided.replaces, progress, decided.known
            )
            for (position, _), outcome in zip(decided.fresh, translation.outcomes, strict=True):
                outcomes[position] = outcome
            for version in decided.decided:
                outcomes[version.position] = RecordOutcome(
                    version.label, _AS_OUTCOME[version.outcome], version.issues
                )
            if progress is not None and decided.decided:
                progress(len(decided.decided))
            out.messages.extend(translation.messages)
            remember(histories, decided.settle(translation), again)
        out.outcomes = [outcomes[position] for position in range(len(batch.items))]
        return out

    def translate_round(
        self,
        batch: IntakeBatch,
        replaces: Mapping[str, Mapping[Destination, Delivered]] | None = None,
        progress: Callable[[int], None] | None = None,
        known: Collection[str] = (),
    ) -> Translation:
        """Map, route, render and validate every record of one round: at most one version of
        each recordId, every one already decided to be sent (gateway.versions.plan).

        Args:
            batch: the round's records.
            replaces: by record key, what each destination received of an earlier version
                (from the outbox, or from the rounds before): the record is a correction, sent
                to those destinations too, pointing at those messages.
            progress: called with the number of records done since the last call.
            known: recordIds whose earlier versions are known (the outbox, the rounds before).
                A later version with nothing in `replaces` points at nothing when its recordId
                is known (the receiver never got an earlier version: v1 was filtered or
                rejected), and at the id its version before would have had when it is not
                (ids are derived from record keys, so the guess names what labgw sent).
        """
        replaces = replaces or {}
        ids = [item.record.record_id for item in batch.items if item.record is not None]
        if len(set(ids)) != len(ids):
            raise ValueError("a round holds one version of each recordId (versions.rounds)")
        out = Translation(file_issues=list(batch.file_issues))
        letters: dict[tuple[str, ...], list[Member]] = {}
        for done, item in enumerate(batch.items, start=1):
            if progress is not None and done % 500 == 0:
                progress(500)
            record = item.record
            if record is None:
                out.outcomes.append(RecordOutcome(item.label, Outcome.REJECTED, item.issues))
                continue
            mapping = map_record(record, self.mappings)
            issues = item.issues + _placed(mapping.issues, item)
            if mapping.mapped is None:
                out.outcomes.append(RecordOutcome(record.key, Outcome.REJECTED, issues))
                continue
            earlier = replaces.get(record.key, {})
            routing = plan_routes(mapping.mapped, self.mappings)
            issues += _routing_issues(routing, mapping.filtered, record.key)
            if not routing.destinations and not earlier:
                out.outcomes.append(
                    RecordOutcome(
                        record.key, Outcome.FILTERED, issues, route(mapping.mapped, self.mappings)
                    )
                )
                continue
            if routing.notifiable is not None and mapping.filtered:
                # Sent after all: a notifiable finding reaches MiBa (notes §0 rule 10).
                issues = tuple(i for i in issues if i.rule != "MAP-NOT-SHAREABLE")
            destinations = _destinations(routing.destinations, earlier)
            destination = destinations[0]
            fmt = FORMATS.get(self.config.receiver(destination).format)
            if fmt is not None:
                for target in destinations:
                    target_fmt = FORMATS[self.config.receiver(target).format]
                    mapped = _as_sent(mapping.mapped, earlier.get(target))
                    key = (
                        target.value,
                        *letter_key(mapped.record, per_status=target_fmt.per_status),
                    )
                    entry = (len(out.outcomes), mapped, issues, earlier.get(target))
                    letters.setdefault(key, []).append(entry)
                copies = tuple((target, None) for target in destinations[1:])
                out.outcomes.append(
                    RecordOutcome(record.key, Outcome.ACCEPTED, issues, destination, copies=copies)
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
            destination = Destination(key[0])
            fmt = FORMATS[self.config.receiver(destination).format]
            for part, start in enumerate(range(0, len(members), fmt.max_results)):
                chunk = members[start : start + fmt.max_results]
                self._emit(out, destination, fmt, key, part, chunk, batch.items, known)
        return out

    def _emit(
        self,
        out: Translation,
        destination: Destination,
        fmt: MessageFormat,
        key: tuple[str, ...],
        part: int,
        chunk: list[Member],
        items: list[Intake],
        known: Collection[str],
    ) -> None:
        letter = tuple(member[1] for member in chunk)
        fit = []
        for member in chunk:
            index, mapped, issues, _ = member
            unfit = fmt.problems(mapped, letter)
            if unfit:
                # Outcomes are appended one per intake item, so the index names the item too.
                placed = _placed(unfit, items[index])
                out.outcomes[index] = RecordOutcome(
                    mapped.record.key, Outcome.REJECTED, issues + placed, destination
                )
            else:
                fit.append(member)
        if not fit:
            return
        records = tuple(member[1].record for member in fit)
        letter_id = _letter_id(fmt, key, part, records)
        plan = LetterPlan(
            letter_id,
            tuple(member[1] for member in fit),
            _previous_id(fmt, key, fit, guess=fit[0][1].record.record_id not in known),
        )
        envelope_id = self.ids.envelope_id()
        rendered = fmt.render(
            plan,
            self.config.receiver(destination),
            self.config.producer_code,
            self.clock.now(),
            envelope_id,
        )
        found = tuple(self._check(fmt, rendered.content, letter_id))
        if any(issue.blocking for issue in found):
            for index, mapped, issues, _ in fit:
                out.outcomes[index] = RecordOutcome(
                    mapped.record.key, Outcome.REJECTED, issues + found, destination
                )
            return
        out.messages.append(
            Message(
                letter_id,
                envelope_id,
                destination,
                fmt.kind,
                rendered.content,
                _keys(records),
                rendered.coverage,
                found,
                plan.previous_message_id,
            )
        )
        for index, _, _, _ in fit:
            if out.outcomes[index].outcome is Outcome.ACCEPTED:
                out.outcomes[index] = out.outcomes[index].delivered(destination, letter_id)

    def _check(self, fmt: MessageFormat, content: bytes, letter_id: str) -> list[Issue]:
        """Validate the exact bytes that would be sent."""
        if fmt.syntax == "json":
            if self.fhir_validator is None:
                raise ConfigError("a destination receives FHIR but no FHIR validator is set")
            return list(self.fhir_validator.iter_issues(content, letter_id))
        return list(self.validator.iter_tree_issues(etree.fromstring(content), source=letter_id))


def _letter_id(
    fmt: MessageFormat, key: tuple[str, ...], part: int, records: tuple[LabRecord, ...]
) -> str:
    """The letter id from its business key and the record versions it carries.

    The records are part of it because one sample's results may arrive in several requests:
    each request's letter is then a message of its own, and re-posting the same record versions
    gives the same id again (a replay after a crash, an idempotent retry; DESIGN §4).
    """
    return derived_id(fmt.kind, *key, str(part), *(record.key for record in records))


def _previous_id(
    fmt: MessageFormat, key: tuple[str, ...], fit: list[Member], guess: bool
) -> str | None:
    """The id the receiver knows the message this one replaces by (Letter/Identifier, or
    MessageHeader.id for FHIR): from the outbox when it told us; else, with nothing known
    (`guess`), the id the letter of the version before would have had (the same key and
    records, one version lower)."""
    _, first, _, replaced = fit[0]
    if replaced is not None:
        return replaced.message_id
    if first.record.version <= 1 or not guess:
        return None
    earlier = list(key)
    earlier[_VERSION_AT] = str(first.record.version - 1)
    before = tuple(
        replace(member[1].record, version=member[1].record.version - 1) for member in fit
    )
    would_have_been = _letter_id(fmt, tuple(earlier), 0, before)
    return fhir_message_id(would_have_been) if fmt.kind == "FHIR" else would_have_been


def _destinations(
    routed: tuple[Destination, ...], earlier: Mapping[Destination, Delivered]
) -> tuple[Destination, ...]:
    """Where a record goes: its routes, and every destination that received an earlier version
    (notes/danish-domain.md §0 rule 16: corrections go to the same destinations)."""
    return (*routed, *(d for d in earlier if d not in routed))


def _routing_issues(routing: Routing, filtered: bool, record: str) -> tuple[Issue, ...]:
    """What routing adds to a record's Issues: a notifiable finding (always to MiBa), or a
    routing rule that keeps the result here (mapping already said so for unshared analyses)."""
    found = []
    if routing.notifiable is not None:
        notifiable = routing.notifiable
        found.append(
            Issue(
                Severity.INFORMATION,
                IssueType.INFORMATIONAL,
                "ROUTE-NOTIFIABLE",
                f"notifiable finding ({notifiable.disease}, list {notifiable.list}, "
                f"{notifiable.status}): sent to MiBa whatever the consent and routing",
                location="result.value",
                record=record,
            )
        )
    if routing.filtered and not filtered:
        found.append(
            Issue(
                Severity.INFORMATION,
                IssueType.INFORMATIONAL,
                "ROUTE-NOT-SENT",
                f"not sent: {routing.filtered}",
                location="analysis.code",
                record=record,
            )
        )
    return tuple(found)


def _as_sent(mapped: Mapped, replaced: Delivered | None) -> Mapped:
    """The record with the status its message states (lifecycle.rendered_status)."""
    status = rendered_status(mapped.record, replaced)
    if status is mapped.record.status:
        return mapped
    return replace(mapped, record=replace(mapped.record, status=status))


def _keys(records: tuple[LabRecord, ...]) -> tuple[str, ...]:
    return tuple(record.key for record in records)


def _placed(issues: tuple[Issue, ...], item: Intake) -> tuple[Issue, ...]:
    """Issues found after intake, pointed at the input file and line of their record."""
    return tuple(replace(issue, source=item.source, line=item.line) for issue in issues)


_VERSION_AT = 4  # position of the version in (destination, *letter_key(...))
