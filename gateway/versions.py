"""Versions of one recordId in one input, taken one round at a time (docs/lifecycle.md).

Pure and synchronous. `POST /records` (gateway.service.accept) and `labgw translate`
(`Translator.translate`) take an input the same way:

1. `rounds` splits it: the n-th version of a recordId in the input is in round n, so each
   version is decided against the ones before it, in input order;
2. `plan` decides every version of a round against its recordId's `History`
   (lifecycle.decide: new, duplicate, conflict, stale, correction) and says what each
   correction replaces;
3. the round's fresh versions are translated (`Translator.translate_round`);
4. `Round.settle` says how every version of the round ends, and which are kept.

They differ only in where a History comes from: the service reads it from the outbox, which
holds what the rounds before committed (`history_of`); the offline path keeps it in memory
(`remember`). Both build it with `received`, so a destination's newest delivery is the same
whichever path made it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.fhir_message.render import message_id as fhir_message_id
from gateway.intake import Intake, IntakeBatch
from gateway.issues import Issue
from gateway.lifecycle import Delivered, Fate, History, decide
from gateway.model import LabRecord, Status
from gateway.routing import Destination

if TYPE_CHECKING:
    from gateway.pipeline import Translation

# What a version decided without translating ends as (the service's answer words).
_DECIDED = {Fate.DUPLICATE: "duplicate", Fate.CONFLICT: "rejected", Fate.STALE: "stale"}
# Versions that are kept (in the outbox, or in memory): sent, filtered or stale. A duplicate
# is kept already; a rejected version never is.
_KEPT = frozenset({"accepted", "filtered", "stale"})


def record_body(record: LabRecord) -> bytes:
    """The record as canonical JSON: sorted keys, no spaces; the digest is taken over it."""
    plain = dataclasses.asdict(record)
    return json.dumps(
        plain, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False
    ).encode()


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def outbox_id(kind: str, letter_id: str) -> str:
    """The id a receiver knows a message by, which the outbox keys it by: MedCom XML receipts
    name the Letter/Identifier; FHIR acknowledgements the MessageHeader.id."""
    return fhir_message_id(letter_id) if kind == "FHIR" else letter_id


def rounds(items: Sequence[Intake]) -> list[list[tuple[int, Intake]]]:
    """The items with their input positions, in rounds: the n-th version of a recordId in the
    input goes in round n (an item that could not be read, in the first); each round keeps
    input order."""
    out: list[list[tuple[int, Intake]]] = []
    seen: dict[str, int] = {}
    for position, item in enumerate(items):
        at = 0
        if item.record is not None:
            at = seen.get(item.record.record_id, 0)
            seen[item.record.record_id] = at + 1
        if at == len(out):
            out.append([])
        out[at].append((position, item))
    return out


def received(
    history: History,
    version: int,
    version_digest: str,
    status: Status,
    messages: Iterable[tuple[Destination, str]],
) -> History:
    """The history after a version (with its digest and the status the sender gave it) is
    kept, with the messages (destination, outbox id) it went out in: each destination's newest
    delivery is that of the newest version it received."""
    delivered = dict(history.delivered)
    for destination, message_id in messages:
        known = delivered.get(destination)
        if known is None or known.version <= version:
            delivered[destination] = Delivered(destination, message_id, version, status)
    return History({**history.versions, version: version_digest}, delivered)


@dataclass(frozen=True, slots=True)
class Settled:
    """How one version of a round ends: what the sender is told, and whether it is kept."""

    position: int  # in the input
    label: str  # record key, or the input position of a record that could not be read
    outcome: str  # accepted, filtered, rejected, duplicate, stale
    issues: tuple[Issue, ...]
    # Where it went, with the id each receiver knows the message by (outbox_id).
    deliveries: tuple[tuple[Destination, str | None], ...] = ()
    record: LabRecord | None = None
    known_body: bytes | None = None  # record_body(record), when the decision needed it

    @property
    def kept(self) -> bool:
        return self.record is not None and self.outcome in _KEPT

    @property
    def body(self) -> bytes:
        """The record as canonical JSON (record_body)."""
        if self.known_body is not None or self.record is None:
            return self.known_body or b""
        return record_body(self.record)

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(message for _, message in self.deliveries if message)


@dataclass(frozen=True, slots=True)
class Round:
    """One round's versions, decided: those to translate, with what each correction replaces,
    and those settled without translating (duplicates, conflicts, stale versions)."""

    fresh: tuple[tuple[int, Intake], ...]
    replaces: Mapping[str, Mapping[Destination, Delivered]]  # by record key
    decided: tuple[Settled, ...]
    bodies: Mapping[int, bytes] = field(default_factory=dict)  # by input position, if known
    known: frozenset[str] = frozenset()  # recordIds with earlier versions on record

    def batch(self) -> IntakeBatch:
        """What to translate: the fresh versions, in input order."""
        return IntakeBatch([item for _, item in self.fresh], [])

    def settle(self, translation: Translation) -> list[Settled]:
        """Every version of the round as it ends, given the translation of `batch()`: the
        decided ones first, then the translated ones, each in input order."""
        ids = sent_ids(translation)
        out = list(self.decided)
        for (position, item), outcome in zip(self.fresh, translation.outcomes, strict=True):
            deliveries = tuple(
                (destination, ids[letter] if letter else None)
                for destination, letter in outcome.deliveries
            )
            out.append(
                Settled(
                    position,
                    outcome.label,
                    outcome.outcome.value,
                    outcome.issues,
                    deliveries,
                    item.record,
                    self.bodies.get(position),
                )
            )
        return out


def sent_ids(translation: Translation) -> dict[str, str]:
    """The outbox id of every message of a translation, by letter id."""
    return {m.message_id: outbox_id(m.kind, m.message_id) for m in translation.messages}


def plan(taken: Iterable[tuple[int, Intake]], histories: Mapping[str, History]) -> Round:
    """Decide every version of a round (one per recordId) against its recordId's history."""
    fresh: list[tuple[int, Intake]] = []
    replaces: dict[str, Mapping[Destination, Delivered]] = {}
    decided: list[Settled] = []
    bodies: dict[int, bytes] = {}
    known: set[str] = set()
    for position, item in taken:
        record = item.record
        if record is None:
            fresh.append((position, item))
            continue
        history = histories.get(record.record_id)
        if history is None or not history.versions:
            # Nothing known of the recordId: new (lifecycle.decide) without hashing the record.
            fresh.append((position, item))
            continue
        known.add(record.record_id)
        body = bodies[position] = record_body(record)
        decision = decide(record, digest(body), history)
        if decision.fate in _DECIDED:
            issues = item.issues + ((decision.issue,) if decision.issue else ())
            outcome = _DECIDED[decision.fate]
            decided.append(Settled(position, record.key, outcome, issues, (), record, body))
            continue
        fresh.append((position, item))
        if decision.fate is Fate.CORRECTION:
            replaces[record.key] = decision.replaces
    return Round(tuple(fresh), replaces, tuple(decided), bodies, frozenset(known))


def remember(
    histories: dict[str, History], settled: Iterable[Settled], wanted: Container[str]
) -> None:
    """Fold a round's kept versions into in-memory histories, as an outbox would hold them;
    only of the recordIds in `wanted` (those a later round decides again)."""
    for version in settled:
        record = version.record
        if record is None or not version.kept or record.record_id not in wanted:
            continue
        messages = ((d, m) for d, m in version.deliveries if m)
        before = histories.get(record.record_id, History())
        histories[record.record_id] = received(
            before, record.version, digest(version.body), record.status, messages
        )


def status_of(body: bytes) -> Status:
    """The status of a kept version, from its canonical body."""
    return Status(json.loads(body)["status"])
