"""The outbox state machine (DESIGN §7): one table of states and transitions, and the rules that
pick the event after each attempt.

Everything the outbox does to a message is one of these transitions; the stores refuse any other
(`InvalidTransition`), and the docs' state diagram is drawn from `TRANSITIONS` (`diagram()`), so
the table, the code and the picture cannot drift apart.

Two resend rules meet here (notes/security-transport.md §5):
- the DGWS technical retry (timeout, 5xx, connection reset): the *same* MessageID and the same
  signed bytes, with exponential backoff and jitter, up to `max_attempts` or `max_age`;
- the MedCom envelope resend: no receipt `receipt_timeout` (30 min) after a successful send →
  resend with a new envelope id and send time, same letter id, at most `max_resends` (2) times;
  then the message is dead and an operator is alerted.

Pure: the policy, the message's counters, the clock reading and a random number in; a decision
out.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta


class State(enum.StrEnum):
    QUEUED = "queued"  # committed, waiting for a worker
    SENDING = "sending"  # claimed by a worker under a lease; the bytes may be on the wire
    SENT = "sent"  # the receiver took it (HTTP 2xx); its receipt has not come yet
    ACKED = "acked"  # positive receipt: done
    RETRY_WAIT = "retry_wait"  # a transient failure; due again at `next_attempt_at`
    REJECTED = "rejected"  # negative receipt (fatal): kept with its Issues for an operator
    DEAD = "dead"  # limits reached or refused at the door: kept for an operator

    @property
    def terminal(self) -> bool:
        """No worker touches the message again; only an operator can requeue it."""
        return self in (State.ACKED, State.REJECTED, State.DEAD)


class Event(enum.StrEnum):
    CLAIM = "claim"  # a worker takes a due message
    DELIVERED = "delivered"  # HTTP 2xx without a receipt in the answer
    POSITIVE_RECEIPT = "positive_receipt"  # XCTL03, or FHIR ack `ok`
    NEGATIVE_RECEIPT = "negative_receipt"  # XCTL02, or FHIR ack `fatal-error`
    TRANSIENT_FAILURE = "transient_failure"  # timeout, reset, 5xx, FHIR ack `transient-error`
    GIVE_UP = "give_up"  # a transient failure past max_attempts or max_age
    REFUSED = "refused"  # the receiver refused the request itself (4xx without a receipt)
    LEASE_EXPIRED = "lease_expired"  # the worker died while sending: technical resend
    RECEIPT_TIMEOUT = "receipt_timeout"  # no receipt in time: MedCom resend, new envelope
    RESENDS_EXHAUSTED = "resends_exhausted"  # no receipt after max_resends resends
    REQUEUE = "requeue"  # an operator sends a dead or rejected message again


# (from, event) → to. The only place transitions are defined.
TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.QUEUED, Event.CLAIM): State.SENDING,
    (State.RETRY_WAIT, Event.CLAIM): State.SENDING,
    (State.SENDING, Event.DELIVERED): State.SENT,
    (State.SENDING, Event.POSITIVE_RECEIPT): State.ACKED,
    (State.SENDING, Event.NEGATIVE_RECEIPT): State.REJECTED,
    (State.SENDING, Event.TRANSIENT_FAILURE): State.RETRY_WAIT,
    (State.SENDING, Event.GIVE_UP): State.DEAD,
    (State.SENDING, Event.REFUSED): State.DEAD,
    (State.SENDING, Event.LEASE_EXPIRED): State.RETRY_WAIT,
    (State.SENT, Event.POSITIVE_RECEIPT): State.ACKED,
    (State.SENT, Event.NEGATIVE_RECEIPT): State.REJECTED,
    (State.SENT, Event.TRANSIENT_FAILURE): State.RETRY_WAIT,
    (State.SENT, Event.RECEIPT_TIMEOUT): State.QUEUED,
    (State.SENT, Event.RESENDS_EXHAUSTED): State.DEAD,
    # A receipt for an earlier attempt may arrive while the message waits for a retry.
    (State.RETRY_WAIT, Event.POSITIVE_RECEIPT): State.ACKED,
    (State.RETRY_WAIT, Event.NEGATIVE_RECEIPT): State.REJECTED,
    (State.DEAD, Event.REQUEUE): State.QUEUED,
    (State.REJECTED, Event.REQUEUE): State.QUEUED,
}

RECEIPT_EVENTS = frozenset({Event.POSITIVE_RECEIPT, Event.NEGATIVE_RECEIPT})


class InvalidTransition(ValueError):
    """An event that the table does not allow in the message's state: a defect, or a race that
    another worker won (the store checks the state it read is still the state it changes)."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"no transition from {state.value} on {event.value}")
        self.state = state
        self.event = event


def next_state(state: State, event: Event) -> State:
    """The state after `event`; raises InvalidTransition when the table has no such edge."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Limits from configuration; the defaults follow the MedCom and DGWS rules."""

    base_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(minutes=10)
    factor: float = 2.0
    jitter: float = 0.2  # ± this fraction of the delay, so retries of many messages spread out
    max_attempts: int = 12  # transient failures of one envelope before it is dead
    max_age: timedelta = timedelta(days=2)  # a message this old is not retried any more
    receipt_timeout: timedelta = timedelta(minutes=30)  # MedCom: resend after 30 min
    max_resends: int = 2  # MedCom: at most 2 resends with a new envelope
    lease: timedelta = timedelta(seconds=60)  # a claim older than this belongs to a dead worker
    # A technical retry resends the stored signed bytes, unless they are older than this: then
    # the same envelope is signed again, since receivers refuse a stale Timestamp (5 min, DGWS).
    reseal_after: timedelta = timedelta(minutes=4)

    def __post_init__(self) -> None:
        if self.base_delay <= timedelta(0) or self.max_delay < self.base_delay:
            raise ValueError("retry delays must be positive and max_delay ≥ base_delay")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("retry factor must be ≥ 1 and jitter in [0, 1)")
        if self.max_attempts < 1 or self.max_resends < 0:
            raise ValueError("max_attempts must be ≥ 1 and max_resends ≥ 0")

    def backoff(self, attempt: int, draw: float) -> timedelta:
        """The wait after the `attempt`-th failed attempt (1-based); `draw` is uniform in [0, 1).

        Exponential growth capped at `max_delay`, then spread by ± `jitter`.
        """
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        exponent = min(attempt - 1, 64)  # past this the cap has long been reached
        raw = min(
            self.base_delay.total_seconds() * self.factor**exponent, self.max_delay.total_seconds()
        )
        spread = 1 + self.jitter * (2 * draw - 1)
        return timedelta(seconds=raw * spread)


@dataclass(frozen=True, slots=True)
class Decision:
    event: Event
    next_attempt_at: datetime | None = None


def after_transient_failure(
    policy: RetryPolicy,
    attempts: int,
    created: datetime,
    now: datetime,
    rng: random.Random | None = None,
) -> Decision:
    """Retry later with backoff, or give up once the attempt or age limit is reached.

    Args:
        attempts: failed attempts of the current envelope, this one included.
        created: when the message was committed to the outbox.
    """
    if attempts >= policy.max_attempts or now - created >= policy.max_age:
        return Decision(Event.GIVE_UP)
    draw = (rng or random).random()
    return Decision(Event.TRANSIENT_FAILURE, now + policy.backoff(attempts, draw))


def after_receipt_wait(
    policy: RetryPolicy, resends: int, sent_at: datetime, now: datetime
) -> Decision | None:
    """For a message in `sent`: nothing yet, a MedCom resend, or dead after the last resend."""
    if now - sent_at < policy.receipt_timeout:
        return None
    if resends >= policy.max_resends:
        return Decision(Event.RESENDS_EXHAUSTED)
    return Decision(Event.RECEIPT_TIMEOUT)


def diagram() -> str:
    """The transition table as a Mermaid state diagram (docs/outbox.md is generated from it)."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.QUEUED.value}"]
    for (source, event), target in TRANSITIONS.items():
        lines.append(f"    {source.value} --> {target.value}: {event.value}")
    lines += [f"    {state.value} --> [*]" for state in State if state is State.ACKED]
    return "\n".join(lines) + "\n"
