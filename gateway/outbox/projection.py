"""What one event does to a message row's projection: the `OutboxStore.apply` counter rules.

Both stores read a row, call `advance`, and write the result back with its transition in the
same transaction, so the rules (which event counts an attempt, which one sets `sent_at`, when a
message becomes due) are written once. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from gateway.issues import Issue
from gateway.outbox.model import OutboxMessage
from gateway.outbox.states import RECEIPT_EVENTS, Event, InvalidTransition, State, next_state

# A failed try of the current envelope: counts towards RetryPolicy.max_attempts.
COUNTS_ATTEMPT = frozenset({Event.TRANSIENT_FAILURE, Event.GIVE_UP})
# A fresh start: a MedCom resend (new envelope) or an operator's requeue gets all its attempts.
RESETS_ATTEMPTS = frozenset({Event.RECEIPT_TIMEOUT, Event.REQUEUE})
# States in which a message waits for a worker until `next_attempt_at`.
DUE_STATES = frozenset({State.QUEUED, State.RETRY_WAIT})


def advance(
    message: OutboxMessage,
    event: Event,
    now: datetime,
    *,
    expect: State | None = None,
    next_attempt_at: datetime | None = None,
    lease_until: datetime | None = None,
    issues: Sequence[Issue] | None = None,
) -> OutboxMessage:
    """The message after `event` at `now`; raises before anything is computed if not allowed.

    - the state follows `states.next_state`; `expect` differing from the current state is
      refused too (another worker or a receipt got there first);
    - TRANSIENT_FAILURE and GIVE_UP add an attempt; RECEIPT_TIMEOUT adds a resend;
      RECEIPT_TIMEOUT and REQUEUE start the attempts again from 0;
    - DELIVERED, and a receipt while `sending` (it came in the HTTP answer), set `sent_at`;
    - entering `queued` or `retry_wait` makes the message due at `next_attempt_at`, else `now`;
      any other state has no due time;
    - CLAIM holds a lease until `lease_until`; leaving `sending` drops it;
    - `issues`, when given, replace the message's issues.

    Raises:
        InvalidTransition: no edge for (state, event), or the state is not `expect`.
        ValueError: CLAIM without `lease_until` (the message could never be taken back).
    """
    if expect is not None and message.state is not expect:
        raise InvalidTransition(message.state, event)
    target = next_state(message.state, event)
    if event is Event.CLAIM and lease_until is None:
        raise ValueError("a claim needs lease_until")
    delivered = event is Event.DELIVERED or (
        event in RECEIPT_EVENTS and message.state is State.SENDING
    )
    return replace(
        message,
        state=target,
        attempts=0 if event in RESETS_ATTEMPTS else message.attempts + (event in COUNTS_ATTEMPT),
        resends=message.resends + (event is Event.RECEIPT_TIMEOUT),
        updated_at=now,
        next_attempt_at=(next_attempt_at or now) if target in DUE_STATES else None,
        sent_at=now if delivered else message.sent_at,
        lease_until=lease_until if target is State.SENDING else None,
        issues=message.issues if issues is None else tuple(issues),
    )
