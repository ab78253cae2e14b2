"""From a POSTed body to committed records and queued messages (DESIGN §1, §7).

Intake and translation are the pure pipeline; this module adds what a service needs around it:
record versions the outbox already holds are not translated again (the same content is a
duplicate: acknowledged, not resent; other content under the same recordId and version is
refused), and the answer is given only after the store has committed the batch.

The rounds (versions of one recordId one after the other) and the decisions are
gateway.versions, which `labgw translate` uses too; here each round's histories come from the
outbox, and each round is committed before the next is decided.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from gateway.intake import Intake, IntakeBatch
from gateway.issues import Issue, IssueType, Severity
from gateway.lifecycle import History
from gateway.model import LabRecord
from gateway.outbox.model import NewMessage, RecordVersion
from gateway.outbox.store import OutboxStore
from gateway.pipeline import Translation, Translator
from gateway.routing import Destination
from gateway.versions import (
    Settled,
    digest,
    outbox_id,
    plan,
    received,
    record_body,
    rounds,
    sent_ids,
    status_of,
)

__all__ = [
    "Answer",
    "RecordAnswer",
    "accept_batch",
    "digest",
    "history_of",
    "outbox_id",
    "record_body",
]


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


def _version(settled: Settled, record: LabRecord) -> RecordVersion:
    body = settled.body
    return RecordVersion(
        record.key,
        record.record_id,
        record.version,
        digest(body),
        body,
        settled.outcome,
        settled.issues,
        settled.messages,
    )


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
    history = History()
    for version in await store.record_versions(record_id):  # oldest first
        messages = [
            (Destination(m.destination), m.message_id)
            for m in await store.messages(record=version.key)
        ]
        history = received(
            history, version.version, version.digest, status_of(version.body), messages
        )
    return history


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
    for taken in rounds(batch.items):
        messages = await _round(store, translator, taken, now, offload, results)
        answer.messages.extend(messages)
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
    decided = plan(taken, histories)
    translate = partial(translator.translate_round, replaces=decided.replaces, known=decided.known)
    translation = await offload(translate, decided.batch())
    settled = decided.settle(translation)
    for version in settled:
        results[version.position] = RecordAnswer(
            version.label, version.outcome, version.deliveries, version.issues
        )
    versions = [_version(v, v.record) for v in settled if v.kept and v.record is not None]
    accepted = await store.accept(versions, _new_messages(translation), now)
    _mark_raced(results, accepted.duplicate_records, accepted.conflicting_records)
    return list(sent_ids(translation).values())


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
