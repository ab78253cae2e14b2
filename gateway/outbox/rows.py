"""Model values ↔ table rows, the same for both stores.

Rows come back as `sqlite3.Row` or `asyncpg.Record`; both are read by column name. The only
difference in values is time: PostgreSQL hands out `timestamptz` as datetimes, SQLite keeps ISO
text (fixed-width UTC with microseconds, so text order is time order and `<=` in SQL works).
Issues and key lists are JSON in both (TEXT in SQLite, JSONB in PostgreSQL).

Data at rest (`cipher.py`): a record body is sealed on the way in and opened on the way out;
free text that may quote an input, a receiver or a certificate (Issues, transition details,
receipt ids, signers' subjects) is stored redacted, so no CPR number rests in the store outside
the message bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.issues import Issue
from gateway.outbox.cipher import BodyCipher
from gateway.outbox.model import (
    Envelope,
    NewMessage,
    OutboxMessage,
    RecordVersion,
    StoredReceipt,
    Transition,
)
from gateway.outbox.states import Event, State
from gateway.privacy import redact, redact_json


class Row(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...


def utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is refused, since its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"outbox times must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """The SQLite form of a time: one width for every value, so text order is time order."""
    return utc(moment).isoformat(timespec="microseconds")


def moment(value: datetime | str) -> datetime:
    return utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def maybe_moment(value: datetime | str | None) -> datetime | None:
    return None if value is None else moment(value)


def to_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def issues_json(issues: Sequence[Issue]) -> str:
    """Issues as stored: redacted, since their messages may quote a CPR number."""
    return to_json(redact_json([issue.to_dict() for issue in issues]))


def issues_from(text: str) -> tuple[Issue, ...]:
    return tuple(Issue.from_dict(item) for item in json.loads(text))


def keys_from(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def record_args(record: RecordVersion, now: datetime, cipher: BodyCipher) -> tuple[object, ...]:
    return (
        record.key,
        record.record_id,
        record.version,
        record.digest,
        cipher.seal(record.body, record.key),
        record.outcome,
        issues_json(record.issues),
        to_json(list(record.message_ids)),
        now,
    )


def record_from_row(row: Row, cipher: BodyCipher) -> RecordVersion:
    return RecordVersion(
        key=row["key"],
        record_id=row["record_id"],
        version=row["version"],
        digest=row["digest"],
        body=cipher.open(bytes(row["body"]), row["key"]),
        outcome=row["outcome"],
        issues=issues_from(row["issues"]),
        message_ids=keys_from(row["message_ids"]),
    )


def new_message_args(message: NewMessage, now: datetime) -> tuple[object, ...]:
    """A new message: `queued`, no attempts yet, due at `now`."""
    return (
        message.message_id,
        message.destination,
        message.kind,
        message.payload,
        to_json(list(message.records)),
        State.QUEUED.value,
        now,
        issues_json(message.issues),
        message.follows,
    )


def projection_args(message: OutboxMessage) -> tuple[object, ...]:
    """The columns `apply` and `claim` rewrite, message id first."""
    return (
        message.message_id,
        message.state.value,
        message.attempts,
        message.resends,
        message.updated_at,
        message.next_attempt_at,
        message.sent_at,
        message.lease_until,
        issues_json(message.issues),
    )


def message_from_row(row: Row) -> OutboxMessage:
    """A message row joined with its current envelope (columns `e_*`, NULL before signing)."""
    envelope = None
    if row["envelope"] is not None:
        envelope = Envelope(
            message_id=row["message_id"],
            number=row["envelope"],
            envelope_id=row["e_envelope_id"],
            wire=bytes(row["e_wire"]),
            content_type=row["e_content_type"],
            signer=row["e_signer"],
            created_at=moment(row["e_created_at"]),
        )
    return OutboxMessage(
        message_id=row["message_id"],
        destination=row["destination"],
        kind=row["kind"],
        payload=bytes(row["payload"]),
        records=keys_from(row["records"]),
        state=State(row["state"]),
        attempts=row["attempts"],
        resends=row["resends"],
        created_at=moment(row["created_at"]),
        updated_at=moment(row["updated_at"]),
        next_attempt_at=maybe_moment(row["next_attempt_at"]),
        sent_at=maybe_moment(row["sent_at"]),
        lease_until=maybe_moment(row["lease_until"]),
        envelope=envelope,
        issues=issues_from(row["issues"]),
    )


def envelope_args(envelope: Envelope) -> tuple[object, ...]:
    return (
        envelope.message_id,
        envelope.number,
        envelope.envelope_id,
        envelope.wire,
        envelope.content_type,
        redact(envelope.signer),  # the fingerprint names the certificate; its subject is text
        envelope.created_at,
    )


def envelope_from_row(row: Row) -> Envelope:
    return Envelope(
        message_id=row["message_id"],
        number=row["number"],
        envelope_id=row["envelope_id"],
        wire=bytes(row["wire"]),
        content_type=row["content_type"],
        signer=row["signer"],
        created_at=moment(row["created_at"]),
    )


def transition_args(
    before: OutboxMessage, after: OutboxMessage, event: Event, detail: str
) -> tuple[object, ...]:
    """The transition row from `before` to `after` (its seq is numbered in SQL)."""
    return (
        before.message_id,
        before.state.value,
        after.state.value,
        event.value,
        after.updated_at,
        redact(detail),
    )


def transition_from_row(row: Row) -> Transition:
    return Transition(
        message_id=row["message_id"],
        seq=row["seq"],
        source=State(row["source"]),
        target=State(row["target"]),
        event=Event(row["event"]),
        at=moment(row["at"]),
        detail=row["detail"],
    )


def receipt_args(receipt: StoredReceipt) -> tuple[object, ...]:
    return (
        receipt.message_id,
        redact(receipt.receipt_id),
        receipt.kind,
        receipt.outcome,
        receipt.content,
        receipt.received_at,
        receipt.duplicate,
        receipt.channel,
        issues_json(receipt.issues),
    )


def receipt_from_row(row: Row) -> StoredReceipt:
    return StoredReceipt(
        message_id=row["message_id"],
        receipt_id=row["receipt_id"],
        kind=row["kind"],
        outcome=row["outcome"],
        content=bytes(row["content"]),
        received_at=moment(row["received_at"]),
        duplicate=bool(row["duplicate"]),
        channel=row["channel"],
        issues=issues_from(row["issues"]),
    )
