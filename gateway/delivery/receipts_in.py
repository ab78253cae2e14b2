"""Taking a receipt, from the HTTP answer (sync) or from `POST /receipts` (async): the one
place a receipt moves a message (DESIGN §7).

A receipt names the message it acknowledges; it is always stored as it came. The first receipt
that fits the message's state moves it (positive → acked, negative → rejected, transient →
retry later); any later one is a duplicate, logged and ignored (MedCom: log duplicates, never
act twice). A receipt for a message the outbox does not know is kept and reported.
"""

from __future__ import annotations

import enum
import logging
import random
from datetime import datetime

from gateway.outbox.model import OutboxMessage, StoredReceipt
from gateway.outbox.states import (
    TRANSITIONS,
    Event,
    InvalidTransition,
    RetryPolicy,
    State,
    after_transient_failure,
)
from gateway.outbox.store import OutboxStore
from gateway.receipts.model import Receipt, ReceiptOutcome

log = logging.getLogger("labgw.receipts")


class Taken(enum.StrEnum):
    APPLIED = "applied"  # it moved the message
    DUPLICATE = "duplicate"  # the message had its answer already: logged, ignored
    UNKNOWN = "unknown"  # no such message in the outbox: kept, reported


_EVENTS = {
    ReceiptOutcome.POSITIVE: Event.POSITIVE_RECEIPT,
    ReceiptOutcome.NEGATIVE: Event.NEGATIVE_RECEIPT,
}


def _event(
    receipt: Receipt,
    message: OutboxMessage,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random | None,
) -> tuple[Event, datetime | None]:
    if receipt.outcome is not ReceiptOutcome.TRANSIENT:
        return _EVENTS[receipt.outcome], None
    decision = after_transient_failure(policy, message.attempts + 1, message.created_at, now, rng)
    return decision.event, decision.next_attempt_at


async def take_receipt(
    store: OutboxStore,
    receipt: Receipt,
    channel: str,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> Taken:
    """Store the receipt, then apply it. Stored first: a crash between the two leaves the
    message waiting, and the receiver's retry (or our technical resend) brings the receipt again."""
    message = await store.message(receipt.message_id)
    event, due = _event(receipt, message, policy, now, rng) if message else (None, None)
    fits = (
        message is not None
        and event is not None
        and (message.state, event) in TRANSITIONS
        # A transient answer to an earlier attempt must not cut a retry wait short.
        and not (message.state is State.RETRY_WAIT and receipt.outcome is ReceiptOutcome.TRANSIENT)
    )
    await store.add_receipt(
        StoredReceipt(
            message.message_id if message else None,
            receipt.receipt_id,
            receipt.kind,
            receipt.outcome.value,
            receipt.content,
            now,
            message is not None and not fits,
            channel,
            receipt.issues,
        )
    )
    taken = Taken.UNKNOWN if message is None else Taken.DUPLICATE
    if fits and message is not None and event is not None:
        try:
            await store.apply(
                message.message_id,
                event,
                now,
                expect=message.state,
                next_attempt_at=due,
                detail=f"{channel} {receipt.kind} {receipt.outcome} {receipt.receipt_id}",
                issues=receipt.issues or None,
            )
            taken = Taken.APPLIED
        except InvalidTransition:
            pass  # another receipt or worker moved it first: this one is a duplicate
    if taken is not Taken.APPLIED:
        log.info(
            "receipt %s for message %s: %s (%s)",
            receipt.receipt_id,
            receipt.message_id,
            taken,
            channel,
        )
    return taken
