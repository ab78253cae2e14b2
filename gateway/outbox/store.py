"""The one interface every outbox store implements (SQLite embedded, PostgreSQL shared).

Rules every implementation keeps (the shared test suite in tests/test_outbox_store.py checks
them against both):
- Each method is one transaction, committed before it returns: a caller that goes on to send
  bytes has its state change on disk first (DESIGN §7).
- Transitions go through `states.next_state`; an event the table does not allow in the row's
  current state raises `InvalidTransition` and changes nothing.
- Append-only: nothing is updated in place but the message row's projection (state, counters,
  times, current envelope); records, payloads, envelopes, receipts and transitions are only
  inserted.
- `claim` hands a message to exactly one worker, even with several processes on one PostgreSQL
  database (`FOR UPDATE SKIP LOCKED`); a claim whose lease ran out is taken back
  (`lease_expired`, then `claim`): the worker that held it died.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from gateway.issues import Issue
from gateway.outbox.model import (
    Accepted,
    Envelope,
    NewMessage,
    OutboxMessage,
    RecordVersion,
    StoredReceipt,
    Transition,
)
from gateway.outbox.plans import Decide
from gateway.outbox.states import Event, State


class OutboxStore(Protocol):
    async def setup(self) -> None:
        """Create the tables if they are not there (idempotent; safe with several workers)."""
        ...

    async def close(self) -> None: ...

    async def known_records(self, keys: Sequence[str]) -> dict[str, str]:
        """The digests of those record versions already stored, by key."""
        ...

    async def accept(
        self, records: Sequence[RecordVersion], messages: Sequence[NewMessage], now: datetime
    ) -> Accepted:
        """Commit a translated batch: records, then messages in state `queued`, due at `now`.

        Idempotent: a record key already stored with the same digest is a duplicate (nothing
        written), with another digest a conflict (nothing written for it); a message id already
        stored is left as it is.
        """
        ...

    async def claim(
        self, destination: str, limit: int, now: datetime, lease_until: datetime, worker: str
    ) -> list[OutboxMessage]:
        """Take up to `limit` due messages of one destination and mark them `sending`.

        Due: `queued` or `retry_wait` with next_attempt_at ≤ now, oldest first; and `sending`
        with lease_until < now (recorded as `lease_expired`, then `claim`). The transition detail
        names the worker.
        """
        ...

    async def add_envelope(self, envelope: Envelope) -> None:
        """Append a signed form of a message and make it the current one (a MedCom resend's new
        envelope, or the same envelope signed again for a late technical retry)."""
        ...

    async def apply(
        self,
        message_id: str,
        event: Event,
        now: datetime,
        *,
        expect: State | None = None,
        next_attempt_at: datetime | None = None,
        detail: str = "",
        issues: Sequence[Issue] | None = None,
        lease_until: datetime | None = None,
    ) -> OutboxMessage:
        """Move a message along one edge of the table and record the transition.

        `expect`: the state the caller saw; a different current state raises InvalidTransition
        (another worker or a receipt got there first). Counters: TRANSIENT_FAILURE and GIVE_UP
        add one attempt; RECEIPT_TIMEOUT adds one resend; RECEIPT_TIMEOUT and REQUEUE set the
        attempts back to 0; DELIVERED and a receipt in `sending`
        set sent_at; CLAIM sets lease_until (required with CLAIM); REQUEUE and RECEIPT_TIMEOUT
        make the message due at `now` (or next_attempt_at). `issues`, when given, replace the
        message's current issues.

        Raises:
            KeyError: no such message.
            InvalidTransition: the table has no edge for (current state, event).
        """
        ...

    async def add_receipt(self, receipt: StoredReceipt) -> None:
        """Append a receipt as it arrived, duplicates and unknown messages included."""
        ...

    async def take_receipt(
        self,
        message_id: str,
        receipt: StoredReceipt,
        decide: Decide,
        now: datetime,
        detail: str = "",
    ) -> tuple[OutboxMessage | None, bool]:
        """Store a receipt and apply it to the message it names, in one transaction.

        With the message row locked, `decide(message)` gives the event (and due time) the
        receipt means; if the table allows it, the message moves and the receipt is stored as
        applied, else it is stored as a duplicate. An unknown message id stores the receipt with
        no message. Returns the message after (None if unknown) and whether it moved. One
        transaction, so two copies of a receipt racing each other move the message once and
        are flagged exactly once as a duplicate.
        """
        ...

    async def awaiting_receipt(self, sent_before: datetime, limit: int) -> list[OutboxMessage]:
        """Messages in `sent` whose sent_at ≤ sent_before (candidates for the MedCom resend)."""
        ...

    async def message(self, message_id: str) -> OutboxMessage | None: ...

    async def messages(
        self,
        *,
        state: State | None = None,
        destination: str | None = None,
        record: str | None = None,
        limit: int = 100,
    ) -> list[OutboxMessage]:
        """Messages newest first, filtered by state, destination or a record key they carry."""
        ...

    async def record(self, key: str) -> RecordVersion | None: ...

    async def record_versions(self, record_id: str) -> list[RecordVersion]:
        """Every stored version of one recordId, oldest first."""
        ...

    async def envelopes(self, message_id: str) -> list[Envelope]: ...

    async def transitions(self, message_id: str) -> list[Transition]: ...

    async def receipts(self, message_id: str) -> list[StoredReceipt]: ...

    async def counts(self) -> dict[tuple[str, State], int]:
        """Messages per (destination, state): the numbers behind /metrics and the demo table."""
        ...
