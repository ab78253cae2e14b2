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
from gateway.outbox.states import Event, RetryPolicy, State, after_transient_failure
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


async def take_receipt(
    store: OutboxStore,
    receipt: Receipt,
    channel: str,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> Taken:
    """Store the receipt and move its message, in one transaction of the store."""

    def decide(message: OutboxMessage) -> tuple[Event, datetime | None] | None:
        if receipt.outcome is not ReceiptOutcome.TRANSIENT:
            return _EVENTS[receipt.outcome], None
        if message.state is State.RETRY_WAIT:
            return None  # a transient answer to an earlier attempt must not cut a wait short
        decision = after_transient_failure(
            policy, message.attempts + 1, message.created_at, now, rng
        )
        return decision.event, decision.next_attempt_at

    stored = StoredReceipt(
        receipt.message_id,
        receipt.receipt_id,
        receipt.kind,
        receipt.outcome.value,
        receipt.content,
        now,
        False,
        channel,
        receipt.issues,
    )
    detail = f"{channel} {receipt.kind} {receipt.outcome} {receipt.receipt_id}"
    message, applied = await store.take_receipt(receipt.message_id, stored, decide, now, detail)
    taken = Taken.APPLIED if applied else Taken.DUPLICATE if message else Taken.UNKNOWN
    if taken is not Taken.APPLIED:
        log.info(
            "receipt %s for message %s: %s (%s)",
            receipt.receipt_id,
            receipt.message_id,
            taken,
            channel,
        )
    return taken
