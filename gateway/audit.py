"""The audit trail of a record (DESIGN §7): what was sent where, when, signed by which
certificate, and what the receiver said, for every version of it.

`record_history` reads the store once into a `History`; `history_text` (for an operator, one
block per version) and `history_json` (for scripts and `GET /records/{id}/history`) render it.
`labgw history`, `labgw outbox show` and `GET /messages/{id}` share the message parts.

What a history holds is what it shows, and no more: never a record body, a payload, signed
bytes or receipt content, since those carry CPR numbers. A patient is named only by a keyed
pseudonym (`gateway.privacy`), and both renderers pass their text through `redact`, because
Issues and transition details quote what receivers and inputs said.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gateway.issues import Issue
from gateway.model import Patient
from gateway.outbox.model import Envelope, OutboxMessage, RecordVersion, StoredReceipt, Transition
from gateway.outbox.states import RECEIPT_EVENTS, Event, State
from gateway.outbox.store import OutboxStore
from gateway.privacy import Pseudonyms, redact, redact_json

# The edges on which the receiver is known to have taken an envelope over HTTP.
_TAKEN = frozenset({Event.DELIVERED, *RECEIPT_EVENTS})


@dataclass(frozen=True, slots=True)
class SentEnvelope:
    """One signed form of a message, without its bytes: when it was signed, by whom, and when
    the receiver took it (None: not known to have arrived)."""

    number: int
    envelope_id: str
    signer: str  # SHA-256 fingerprint and subject of the signing certificate
    size: int
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class MessageTrail:
    """A message with everything that happened to it. `message` comes without its payload and
    `receipts` without their content."""

    message: OutboxMessage
    envelopes: tuple[SentEnvelope, ...]
    transitions: tuple[Transition, ...]
    receipts: tuple[StoredReceipt, ...]


@dataclass(frozen=True, slots=True)
class VersionHistory:
    key: str
    version: int
    status: str | None  # final, corrected …, as the record said
    accepted_at: datetime | None  # when its messages were committed; None: it made none
    outcome: str  # accepted, filtered, stale
    digest: str  # SHA-256 of the record's canonical JSON
    patient: str | None  # keyed pseudonym, `pt:…`
    issues: tuple[Issue, ...]
    messages: tuple[MessageTrail, ...]


@dataclass(frozen=True, slots=True)
class History:
    record_id: str
    versions: tuple[VersionHistory, ...]  # oldest first


async def record_history(
    store: OutboxStore, record_id: str, pseudonyms: Pseudonyms
) -> History | None:
    """Every stored version of `record_id` with its messages' trails; None for an unknown id."""
    versions = await store.record_versions(record_id)
    if not versions:
        return None
    out = []
    for version in versions:
        messages = sorted(
            await store.messages(record=version.key), key=lambda m: (m.created_at, m.message_id)
        )
        trails = tuple([await message_trail(store, message) for message in messages])
        out.append(_version(version, trails, pseudonyms))
    return History(record_id, tuple(out))


async def message_trail(store: OutboxStore, message: OutboxMessage) -> MessageTrail:
    envelopes = await store.envelopes(message.message_id)
    transitions = tuple(await store.transitions(message.message_id))
    receipts = await store.receipts(message.message_id)
    return MessageTrail(
        replace(message, payload=b"", envelope=None),
        _sent(envelopes, transitions),
        transitions,
        tuple(replace(receipt, content=b"") for receipt in receipts),
    )


def _sent(
    envelopes: list[Envelope], transitions: tuple[Transition, ...]
) -> tuple[SentEnvelope, ...]:
    """Each envelope with the first time the receiver took it: a `delivered` or receipt edge out
    of `sending` after it was signed and before the next envelope was."""
    ordered = sorted(envelopes, key=lambda e: e.number)
    out = []
    for envelope, following in zip(ordered, [*ordered[1:], None], strict=True):
        sent = next(
            (
                t.at
                for t in transitions
                if t.source is State.SENDING
                and t.event in _TAKEN
                and t.at >= envelope.created_at
                and (following is None or t.at < following.created_at)
            ),
            None,
        )
        out.append(
            SentEnvelope(
                envelope.number,
                envelope.envelope_id,
                envelope.signer,
                len(envelope.wire),
                envelope.created_at,
                sent,
            )
        )
    return tuple(out)


def _version(
    version: RecordVersion, trails: tuple[MessageTrail, ...], pseudonyms: Pseudonyms
) -> VersionHistory:
    """The facts of one version; of its body only the status and the patient's pseudonym."""
    status, patient = _from_body(version.body)
    return VersionHistory(
        version.key,
        version.version,
        status,
        min((t.message.created_at for t in trails), default=None),
        version.outcome,
        version.digest,
        pseudonyms.patient(patient) if patient else None,
        version.issues,
        trails,
    )


def _from_body(body: bytes) -> tuple[str | None, str | None]:
    """Status and patient key (`Patient.key`) of a stored body, the canonical JSON of a
    `LabRecord`; (None, None) for a body of another shape."""
    try:
        data = json.loads(body)
        return data.get("status"), Patient(**data["patient"]).key
    except (ValueError, TypeError, KeyError, AttributeError):
        return None, None


# ---------------------------------------------------------------- JSON


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def summary_json(message: OutboxMessage) -> dict[str, Any]:
    """A message's row: where it goes and where it is now."""
    return {
        "message": message.message_id,
        "destination": message.destination,
        "kind": message.kind,
        "state": message.state.value,
        "attempts": message.attempts,
        "resends": message.resends,
        "created": message.created_at.isoformat(),
        "updated": message.updated_at.isoformat(),
    }


def message_json(trail: MessageTrail) -> dict[str, Any]:
    """A message with its records, Issues, envelopes, transitions and receipts, each in time
    order (`GET /messages/{id}`, and every message of a history)."""
    return redact_json(_message(trail))


def _message(trail: MessageTrail) -> dict[str, Any]:
    return {
        **summary_json(trail.message),
        "records": list(trail.message.records),
        "issues": [issue.to_dict() for issue in trail.message.issues],
        "envelopes": [
            {
                "number": e.number,
                "envelope": e.envelope_id,
                "signer": e.signer,
                "bytes": e.size,
                "created": e.created_at.isoformat(),
                "sent": _iso(e.sent_at),
            }
            for e in trail.envelopes
        ],
        "transitions": [
            {
                "from": t.source.value,
                "to": t.target.value,
                "event": t.event.value,
                "at": t.at.isoformat(),
                "detail": t.detail,
            }
            for t in trail.transitions
        ],
        "receipts": [
            {
                "receipt": r.receipt_id,
                "kind": r.kind,
                "outcome": r.outcome,
                "channel": r.channel,
                "duplicate": r.duplicate,
                "received": r.received_at.isoformat(),
                "issues": [issue.to_dict() for issue in r.issues],
            }
            for r in trail.receipts
        ],
    }


def history_json(history: History) -> dict[str, Any]:
    return redact_json(
        {
            "recordId": history.record_id,
            "versions": [
                {
                    "record": v.key,
                    "version": v.version,
                    "status": v.status,
                    "accepted": _iso(v.accepted_at),
                    "outcome": v.outcome,
                    "digest": v.digest,
                    "patient": v.patient,
                    "issues": [issue.to_dict() for issue in v.issues],
                    "messages": [_message(trail) for trail in v.messages],
                }
                for v in history.versions
            ],
        }
    )


# ---------------------------------------------------------------- text


def stamp(moment: datetime) -> str:
    """A time for an operator's eyes: UTC to the millisecond."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


_UNDER_STAMP = " " * len("2025-12-01 09:10:45.365")


def message_lines(trail: MessageTrail) -> list[str]:
    """The message, then one line per envelope, receipt and transition, in time order."""
    return [redact(line) for line in _message_lines(trail)]


def _message_lines(trail: MessageTrail) -> list[str]:
    m = trail.message
    lines = [
        f"message {m.message_id} → {m.destination} ({m.kind}): {m.state.value}",
        f"  records: {', '.join(m.records)}",
        *(f"  issue: {issue}" for issue in m.issues),
    ]
    # At one instant: the envelope before what happened to it, a receipt before its transition.
    events: list[tuple[datetime, int, list[str]]] = []
    for e in trail.envelopes:
        sent = f"sent {stamp(e.sent_at)}" if e.sent_at else "not known to have arrived"
        line = f"envelope {e.number}: {e.envelope_id}, {e.size} bytes, {sent}"
        events.append((e.created_at, 0, [line, f"  signed by {e.signer}"]))
    for r in trail.receipts:
        flag = " duplicate" if r.duplicate else ""
        line = f"receipt {r.receipt_id}: {r.kind} {r.outcome} ({r.channel}){flag}"
        events.append((r.received_at, 1, [line, *(f"  issue: {issue}" for issue in r.issues)]))
    for t in trail.transitions:
        line = f"{t.source.value} → {t.target.value} ({t.event.value}) {t.detail}".rstrip()
        events.append((t.at, 2, [line]))
    events.sort(key=lambda event: (event[0], event[1]))
    for moment, _, (first, *more) in events:
        lines.append(f"  {stamp(moment)}  {first}")
        lines += [f"  {_UNDER_STAMP}  {line}" for line in more]
    return lines


def history_text(history: History) -> str:
    """One block per version: its facts, then each message made from it with its timeline."""
    count = len(history.versions)
    lines = [f"record {history.record_id}: {count} version{'s' if count != 1 else ''} (times UTC)"]
    for v in history.versions:
        at = f" at {stamp(v.accepted_at)}" if v.accepted_at else ""
        lines += [
            "",
            f"version {v.version} ({v.key}): {v.status or 'status unknown'}, {v.outcome}{at}",
            f"  patient {v.patient or 'unknown'}, content sha256:{v.digest}",
            *(f"  issue: {issue}" for issue in v.issues),
        ]
        if not v.messages:
            lines.append("  no message made from it")
        for trail in v.messages:
            lines += [f"  {line}" for line in _message_lines(trail)]
    return redact("\n".join(lines))
