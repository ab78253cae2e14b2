"""Random claim / apply / receipt sequences against each store, checked against a model.

The model knows nothing of the stores: states come from `states.next_state`, and the counters
and times follow the rules written in `OutboxStore.apply`'s docstring, spelled out again here.
After every step the store must hold exactly what the model says.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from gateway.outbox.model import OutboxMessage
from gateway.outbox.states import Event, InvalidTransition, State, next_state
from tests.test_outbox_store import LEASE, T0, Harness, message, receipt
from tests.test_outbox_store import store as store  # the fixture, once per store

DUE = (State.QUEUED, State.RETRY_WAIT)
RECEIPTS = (Event.POSITIVE_RECEIPT, Event.NEGATIVE_RECEIPT)


def _allowed(state: State, event: Event) -> bool:
    try:
        next_state(state, event)
    except InvalidTransition:
        return False
    return True


EDGES = {(s, e) for s, e in itertools.product(State, Event) if _allowed(s, e)}


@dataclass
class Expected:
    """What the model says one message looks like."""

    created: datetime
    state: State = State.QUEUED
    attempts: int = 0
    resends: int = 0
    due: datetime | None = None
    sent_at: datetime | None = None
    lease_until: datetime | None = None
    trail: list[tuple[State, State, Event]] = field(default_factory=list)
    receipts: int = 0

    def take(self, event: Event, now: datetime, due: datetime | None, lease: datetime) -> None:
        target = next_state(self.state, event)
        self.trail.append((self.state, target, event))
        if event in (Event.RECEIPT_TIMEOUT, Event.REQUEUE):
            self.attempts = 0
        else:
            self.attempts += event in (Event.TRANSIENT_FAILURE, Event.GIVE_UP)
        self.resends += event is Event.RECEIPT_TIMEOUT
        if event is Event.DELIVERED or (event in RECEIPTS and self.state is State.SENDING):
            self.sent_at = now
        self.due = (due or now) if target in DUE else None
        self.lease_until = lease if target is State.SENDING else None
        self.state = target

    def is_due(self, now: datetime) -> bool:
        if self.state in DUE:
            return self.due is not None and self.due <= now
        return (
            self.state is State.SENDING and self.lease_until is not None and self.lease_until < now
        )

    def matches(self, got: OutboxMessage) -> bool:
        return (got.state, got.attempts, got.resends, got.next_attempt_at, got.sent_at) == (
            self.state, self.attempts, self.resends, self.due, self.sent_at,
        ) and got.lease_until == self.lease_until  # fmt: skip


class OutboxMachine(RuleBasedStateMachine):
    messages = Bundle("messages")

    def __init__(self, store: Harness) -> None:
        super().__init__()
        self.store = store
        self.destination = f"dest-{uuid.uuid4().hex[:8]}"  # this run's messages only
        self.numbers = itertools.count()
        self.now = T0
        self.model: dict[str, Expected] = {}

    @rule(target=messages)
    def enqueue(self) -> str:
        message_id = f"{self.destination}-{next(self.numbers)}"
        self.store.accept([], [message(message_id, self.destination)], self.now)
        self.model[message_id] = Expected(created=self.now, due=self.now)
        return message_id

    @rule(seconds=st.sampled_from([0, 1, 30, 59, 60, 61, 600]))
    def wait(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(limit=st.integers(1, 4))
    def claim(self, limit: int) -> None:
        due = sorted(
            (m.created, message_id) for message_id, m in self.model.items() if m.is_due(self.now)
        )
        expected = [message_id for _, message_id in due[:limit]]
        lease = self.now + LEASE
        claimed = self.store.claim(self.destination, limit, self.now, lease, "machine")
        assert [m.message_id for m in claimed] == expected
        for message_id in expected:
            model = self.model[message_id]
            if model.state is State.SENDING:
                model.take(Event.LEASE_EXPIRED, self.now, None, lease)
            model.take(Event.CLAIM, self.now, None, lease)

    @rule(message_id=messages, data=st.data())
    def apply(self, message_id: str, data: st.DataObject) -> None:
        """Mostly an event the table allows now and a right `expect` (so runs get far), else
        any event and any expected state."""
        model = self.model[message_id]
        possible = [event for event in Event if (model.state, event) in EDGES] or list(Event)
        fair = data.draw(st.integers(0, 3), label="fair") > 0  # 3 in 4
        event = data.draw(st.sampled_from(possible if fair else list(Event)), label="event")
        expect = data.draw(st.sampled_from([None, model.state] if fair else list(State)))
        delay = data.draw(st.sampled_from([None, timedelta(0), timedelta(seconds=5), LEASE]))
        due = None if delay is None else self.now + delay
        lease = self.now + LEASE
        call = functools.partial(
            self.store.apply, message_id, event, self.now, expect=expect, next_attempt_at=due
        )
        if (model.state, event) not in EDGES or expect not in (None, model.state):
            with pytest.raises(InvalidTransition):
                call(lease_until=lease)
            return
        got = call(lease_until=lease)
        model.take(event, self.now, due, lease)
        assert model.matches(got)

    @rule(message_id=messages, positive=st.booleans())
    def receipt_arrives(self, message_id: str, positive: bool) -> None:
        """Logged whatever the state; applied only where the table allows it."""
        model = self.model[message_id]
        event = Event.POSITIVE_RECEIPT if positive else Event.NEGATIVE_RECEIPT
        duplicate = (model.state, event) not in EDGES
        self.store.add_receipt(receipt(message_id, f"rc{model.receipts}", duplicate=duplicate))
        model.receipts += 1
        if not duplicate:
            self.store.apply(message_id, event, self.now)
            model.take(event, self.now, None, self.now)

    @invariant()
    def store_equals_model(self) -> None:
        stored = {m.message_id: m for m in self.store.messages(destination=self.destination)}
        assert stored.keys() == self.model.keys()
        for message_id, model in self.model.items():
            assert model.matches(stored[message_id]), (message_id, model, stored[message_id])

    def teardown(self) -> None:
        for message_id, model in self.model.items():
            trail = [(t.source, t.target, t.event) for t in self.store.transitions(message_id)]
            assert trail == model.trail
            assert len(self.store.receipts(message_id)) == model.receipts


def test_store_follows_the_state_machine(store: Harness) -> None:
    run_state_machine_as_test(
        lambda: OutboxMachine(store),
        settings=settings(
            max_examples=40,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
