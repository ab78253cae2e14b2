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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from gateway.fhir_message.render import message_id as fhir_message_id
from gateway.intake import Intake, IntakeBatch
from gateway.issues import Issue, IssueType, Severity
from gateway.lifecycle import Delivered, Fate, History, decide
from gateway.model import LabRecord, Status
from gateway.outbox.model import NewMessage, RecordVersion
from gateway.outbox.store import OutboxStore
from gateway.pipeline import Outcome, Translation, Translator
from gateway.routing import Destination


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
    outcome: str  # accepted, duplicate, stale, rejected, filtered
    deliveries: tuple[tuple[Destination, str | None], ...] = ()  # where it goes, which message
    issues: tuple[Issue, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"record": self.record, "outcome": self.outcome}
        if self.deliveries:
            out["destination"] = self.deliveries[0][0].value
            if self.deliveries[0][1]:
                out["message"] = self.deliveries[0][1]
        if len(self.deliveries) > 1:
            out["deliveries"] = [
                {"destination": d.value, **({"message": m} if m else {})}
                for d, m in self.deliveries
            ]
        if self.issues:
            out["issues"] = [issue.to_dict() for issue in self.issues]
        return out


@dataclass(slots=True)
class Answer:
    records: list[RecordAnswer] = field(default_factory=list)
    file_issues: list[Issue] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"accepted": 0, "duplicate": 0, "stale": 0, "rejected": 0, "filtered": 0}
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


def _version(
    outcome: str,
    record: LabRecord,
    body: bytes,
    issues: tuple[Issue, ...],
    messages: tuple[str, ...],
) -> RecordVersion:
    return RecordVersion(
        record.key, record.record_id, record.version, digest(body), body, outcome, issues, messages
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
            m.previous,
        )
        for m in translation.messages
    ]


T = TypeVar("T")


class Offload(Protocol):
    """Runs CPU work off the event loop (`Service.offload`)."""

    def __call__(self, work: Callable[..., T], *args: Any) -> Awaitable[T]: ...


async def history_of(store: OutboxStore, record_id: str) -> History:
    """What the outbox holds of a recordId: its versions, and the newest message each
    destination got (with the status of the version it carried)."""
    versions = await store.record_versions(record_id)
    delivered: dict[Destination, Delivered] = {}
    for version in versions:  # oldest first: later versions overwrite
        status = Status(json.loads(version.body)["status"])
        for message in await store.messages(record=version.key):
            destination = Destination(message.destination)
            known = delivered.get(destination)
            if known is None or known.version <= version.version:
                delivered[destination] = Delivered(
                    destination, message.message_id, version.version, status
                )
    return History({v.version: v.digest for v in versions}, delivered)


async def accept_batch(
    store: OutboxStore, translator: Translator, batch: IntakeBatch, now: datetime, offload: Offload
) -> Answer:
    """Decide every record version against the outbox, translate what is to be sent, commit;
    the answer for every record. `offload` runs the translation (CPU work) off the event loop.

    Versions of one recordId in one request are taken one per round, in input order, so each
    is decided against the ones before it (a v1 and its correction in the same request).
    """
    answer = Answer(file_issues=list(batch.file_issues))
    results: dict[int, RecordAnswer] = {}
    pending = list(enumerate(batch.items))
    while pending:
        taken: list[tuple[int, Intake]] = []
        later: list[tuple[int, Intake]] = []
        ids: set[str] = set()
        for position, item in pending:
            record_id = item.record.record_id if item.record else None
            (later if record_id in ids else taken).append((position, item))
            if record_id is not None:
                ids.add(record_id)
        messages = await _round(store, translator, taken, now, offload, results)
        answer.messages.extend(messages)
        pending = later
    answer.records = [results[position] for position in range(len(batch.items))]
    answer.messages.sort()
    return answer


async def _round(
    store: OutboxStore,
    translator: Translator,
    taken: list[tuple[int, Intake]],
    now: datetime,
    offload: Offload,
    results: dict[int, RecordAnswer],
) -> list[str]:
    ids = {item.record.record_id for _, item in taken if item.record}
    histories = {record_id: await history_of(store, record_id) for record_id in sorted(ids)}
    fresh: list[tuple[int, Intake]] = []
    replaces: dict[str, Mapping[Destination, Delivered]] = {}
    bodies: dict[int, bytes] = {}
    versions: list[RecordVersion] = []
    for position, item in taken:
        record = item.record
        if record is None:
            fresh.append((position, item))
            continue
        body = bodies[position] = record_body(record)
        decision = decide(record, digest(body), histories.get(record.record_id))
        issues = item.issues + ((decision.issue,) if decision.issue else ())
        if decision.fate is Fate.DUPLICATE:
            results[position] = RecordAnswer(record.key, "duplicate", issues=issues)
        elif decision.fate is Fate.CONFLICT:
            results[position] = RecordAnswer(record.key, "rejected", issues=issues)
        elif decision.fate is Fate.STALE:
            results[position] = RecordAnswer(record.key, "stale", issues=issues)
            versions.append(_version("stale", record, body, issues, ()))
        else:
            fresh.append((position, item))
            if decision.fate is Fate.CORRECTION:
                replaces[record.key] = decision.replaces
    translate = partial(translator.translate, replaces=replaces)
    translation = await offload(translate, IntakeBatch([item for _, item in fresh], []))
    ids_by_letter = {m.message_id: outbox_id(m.kind, m.message_id) for m in translation.messages}
    for (position, item), outcome in zip(fresh, translation.outcomes, strict=True):
        deliveries = tuple(
            (destination, ids_by_letter[letter] if letter else None)
            for destination, letter in outcome.deliveries
        )
        record = item.record
        if record is not None and outcome.outcome is not Outcome.REJECTED:
            messages = tuple(m for _, m in deliveries if m)
            body = bodies[position]
            versions.append(_version(outcome.outcome.value, record, body, outcome.issues, messages))
        results[position] = RecordAnswer(
            outcome.label, outcome.outcome.value, deliveries, outcome.issues
        )
    accepted = await store.accept(versions, _new_messages(translation), now)
    _mark_raced(results, accepted.duplicate_records, accepted.conflicting_records)
    return list(ids_by_letter.values())


def _mark_raced(
    results: dict[int, RecordAnswer], duplicates: frozenset[str], conflicts: frozenset[str]
) -> None:
    """Another request committed the same record version between our check and our commit."""
    for position, answer in results.items():
        if answer.record in conflicts:
            issue = Issue(
                Severity.ERROR,
                IssueType.DUPLICATE,
                "LPS-VERSION-CONFLICT",
                "this recordId and version was accepted meanwhile with different content",
                location="version",
                record=answer.record,
            )
            results[position] = RecordAnswer(answer.record, "rejected", issues=(issue,))
        elif answer.record in duplicates:
            results[position] = dataclasses.replace(answer, outcome="duplicate")
