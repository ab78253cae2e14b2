"""From a POSTed body to committed records and queued messages (DESIGN §1, §7).

Intake and translation are the pure pipeline; this module adds what a service needs around it:
record versions the outbox already holds are not translated again (the same content is a
duplicate: acknowledged, not resent; other content under the same recordId and version is
refused), and the answer is given only after the store has committed the batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from gateway.fhir_message.render import message_id as fhir_message_id
from gateway.intake import Intake, IntakeBatch
from gateway.issues import Issue, IssueType, Severity
from gateway.model import LabRecord
from gateway.outbox.model import NewMessage, RecordVersion
from gateway.outbox.store import OutboxStore
from gateway.pipeline import Outcome, RecordOutcome, Translation, Translator


def record_body(record: LabRecord) -> bytes:
    """The record as canonical JSON: sorted keys, no spaces; the digest is taken over it."""
    plain = dataclasses.asdict(record)
    return json.dumps(
        plain, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False
    ).encode()


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class RecordAnswer:
    """What the LPS is told about one record of its request."""

    record: str  # record key, or the input position of a record that could not be read
    outcome: str  # accepted, duplicate, rejected, filtered
    destination: str | None = None
    message_id: str | None = None
    issues: tuple[Issue, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"record": self.record, "outcome": self.outcome}
        if self.destination:
            out["destination"] = self.destination
        if self.message_id:
            out["message"] = self.message_id
        if self.issues:
            out["issues"] = [issue.to_dict() for issue in self.issues]
        return out


@dataclass(slots=True)
class Answer:
    records: list[RecordAnswer] = field(default_factory=list)
    file_issues: list[Issue] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"accepted": 0, "duplicate": 0, "rejected": 0, "filtered": 0}
        for answer in self.records:
            out[answer.outcome] += 1
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "counts": self.counts(),
            "messages": self.messages,
            "records": [answer.to_dict() for answer in self.records],
            "issues": [issue.to_dict() for issue in self.file_issues],
        }


def _conflict(key: str) -> Issue:
    return Issue(
        Severity.ERROR,
        IssueType.DUPLICATE,
        "LPS-VERSION-CONFLICT",
        "this recordId and version was accepted earlier with different content; "
        "a change needs a new version",
        location="version",
        record=key,
    )


def _version(outcome: RecordOutcome, record: LabRecord, body: bytes) -> RecordVersion:
    return RecordVersion(
        record.key,
        record.record_id,
        record.version,
        digest(body),
        body,
        outcome.outcome.value,
        outcome.issues,
        (outcome.message_id,) if outcome.message_id else (),
    )


def outbox_id(kind: str, letter_id: str) -> str:
    """The id the outbox keys a message by: the one its receipt names. MedCom XML receipts name
    the Letter/Identifier; FHIR acknowledgements the MessageHeader.id (response.identifier)."""
    return fhir_message_id(letter_id) if kind == "FHIR" else letter_id


def _new_messages(translation: Translation) -> list[NewMessage]:
    return [
        NewMessage(
            outbox_id(m.kind, m.message_id),
            m.destination.value,
            m.kind,
            m.content,
            m.records,
            m.issues,
        )
        for m in translation.messages
    ]


Offload = Callable[[Callable[[IntakeBatch], Translation], IntakeBatch], Awaitable[Translation]]


async def accept_batch(
    store: OutboxStore, translator: Translator, batch: IntakeBatch, now: datetime, offload: Offload
) -> Answer:
    """Translate what is new in the batch and commit it; the answer for every record.

    `offload` runs the translation (CPU work) off the event loop.
    """
    bodies = {id(item): record_body(item.record) for item in batch.items if item.record}
    keys = [item.record.key for item in batch.items if item.record]
    known = await store.known_records(keys) if keys else {}
    answer = Answer(file_issues=list(batch.file_issues))
    fresh: list[Intake] = []
    settled: dict[int, RecordAnswer] = {}
    for position, item in enumerate(batch.items):
        record = item.record
        if record is None or record.key not in known:
            fresh.append(item)
        elif known[record.key] == digest(bodies[id(item)]):
            settled[position] = RecordAnswer(record.key, "duplicate", issues=item.issues)
        else:
            settled[position] = RecordAnswer(
                record.key, "rejected", issues=(*item.issues, _conflict(record.key))
            )
    translation = await offload(translator.translate, IntakeBatch(fresh, []))
    outcomes = iter(translation.outcomes)  # one per fresh item, in order
    kinds = {m.message_id: outbox_id(m.kind, m.message_id) for m in translation.messages}
    versions: list[RecordVersion] = []
    for position, item in enumerate(batch.items):
        if position in settled:
            answer.records.append(settled[position])
            continue
        outcome = next(outcomes)
        if outcome.message_id is not None:
            outcome = dataclasses.replace(outcome, message_id=kinds[outcome.message_id])
        if item.record is not None and outcome.outcome is not Outcome.REJECTED:
            versions.append(_version(outcome, item.record, bodies[id(item)]))
        answer.records.append(_answer(outcome))
    accepted = await store.accept(versions, _new_messages(translation), now)
    _mark_raced(answer, accepted.duplicate_records, accepted.conflicting_records)
    answer.messages = sorted(kinds.values())
    return answer


def _answer(outcome: RecordOutcome) -> RecordAnswer:
    destination = outcome.destination.value if outcome.destination else None
    return RecordAnswer(
        outcome.label, outcome.outcome.value, destination, outcome.message_id, outcome.issues
    )


def _mark_raced(answer: Answer, duplicates: frozenset[str], conflicts: frozenset[str]) -> None:
    """Another request committed the same record version between our check and our commit."""
    for position, record in enumerate(answer.records):
        if record.record in conflicts:
            answer.records[position] = RecordAnswer(
                record.record, "rejected", issues=(_conflict(record.record),)
            )
        elif record.record in duplicates:
            answer.records[position] = dataclasses.replace(record, outcome="duplicate")
