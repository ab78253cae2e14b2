"""The rows the outbox keeps. Immutable values: a store hands out copies, never live rows.

Append-only (DESIGN §7): records, message payloads, envelopes (the exact signed bytes of each
send), receipts and transitions are only ever added. The message row's state, counters and
times are a projection of its transitions, kept beside them for fast claiming.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.issues import Issue
from gateway.outbox.states import Event, State


@dataclass(frozen=True, slots=True)
class RecordVersion:
    """One accepted (or refused) record version, as the LPS sent it."""

    key: str  # LabRecord.key: recordId and version
    record_id: str
    version: int
    digest: str  # SHA-256 hex of `body`: the same key with another digest is a conflict
    body: bytes  # the record as canonical JSON
    outcome: str  # pipeline Outcome: accepted, rejected, filtered
    issues: tuple[Issue, ...] = ()
    message_ids: tuple[str, ...] = ()  # the messages that carry it


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A rendered, validated payload to commit to the outbox (state `queued`)."""

    message_id: str  # letter id / MessageHeader.id: one per message, kept on every resend
    destination: str  # Destination value: lsp, miba
    kind: str  # XRPT01, XRPT05, FHIR
    payload: bytes  # the rendered message, unsigned; re-enveloped only on a MedCom resend
    records: tuple[str, ...]  # RecordVersion.key of every record it carries
    issues: tuple[Issue, ...] = ()  # non-blocking validation findings
    # The message of an earlier version this one replaces: it is not sent while that one still
    # waits for its answer, so a receiver gets a record's versions in order.
    follows: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """One signed form of a message: exactly the bytes sent (and resent on a technical retry)."""

    message_id: str
    number: int  # 1 for the first envelope; +1 per MedCom resend
    envelope_id: str  # MedCom envelope id / Bundle.id in this form
    wire: bytes  # the signed bytes: DGWS SOAP envelope or signed FHIR Bundle
    content_type: str
    signer: str  # the signing certificate: SHA-256 fingerprint (hex) and subject
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    message_id: str
    destination: str
    kind: str
    payload: bytes
    records: tuple[str, ...]
    state: State
    attempts: int  # failed attempts of the current envelope
    resends: int  # MedCom resends made (new envelopes after the first)
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None  # when a queued/retry_wait message is due
    sent_at: datetime | None  # the last DELIVERED or receipt-bearing send of the current envelope
    lease_until: datetime | None  # while `sending`: after this the claim belongs to a dead worker
    envelope: Envelope | None  # the current envelope, None before the first signing
    issues: tuple[Issue, ...] = ()  # validation findings, then those of the last failure


@dataclass(frozen=True, slots=True)
class Transition:
    message_id: str
    seq: int  # 1, 2, … per message
    source: State
    target: State
    event: Event
    at: datetime
    detail: str  # what happened: HTTP status, error text, receipt id, operator name


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    """A receipt as it arrived (duplicates too: they are logged, not applied)."""

    message_id: str | None  # None: it named a message the outbox does not know
    receipt_id: str
    kind: str  # XCTL03, XCTL02, FHIR-ACK
    outcome: str  # ReceiptOutcome value
    content: bytes
    received_at: datetime
    duplicate: bool
    channel: str  # sync (in the HTTP answer) or async (POST /receipts)
    issues: tuple[Issue, ...] = ()


@dataclass(frozen=True, slots=True)
class Accepted:
    """What `OutboxStore.accept` did with a batch."""

    new_records: frozenset[str]
    duplicate_records: frozenset[str]  # same key and digest as before: acknowledged, not resent
    conflicting_records: frozenset[str]  # same key, other content: refused
    new_messages: frozenset[str]
