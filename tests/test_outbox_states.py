"""The outbox state machine: every edge in the table, and no other (DESIGN §7)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.outbox.states import (
    TRANSITIONS,
    Event,
    InvalidTransition,
    RetryPolicy,
    State,
    after_receipt_wait,
    after_transient_failure,
    diagram,
    next_state,
)

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("edge", "target"), TRANSITIONS.items(), ids=str)
def test_every_edge_of_the_table_is_taken(edge: tuple[State, Event], target: State) -> None:
    assert next_state(*edge) is target


@given(st.sampled_from(State), st.sampled_from(Event))
def test_no_edge_outside_the_table(state: State, event: Event) -> None:
    if (state, event) in TRANSITIONS:
        assert next_state(state, event) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(InvalidTransition) as raised:
            next_state(state, event)
        assert (raised.value.state, raised.value.event) == (state, event)


def test_terminal_states_move_only_by_an_operator() -> None:
    for (state, event), _ in TRANSITIONS.items():
        if state.terminal:
            assert event is Event.REQUEUE
    assert not any(state is State.ACKED for state, _ in TRANSITIONS)  # acked is final


def test_every_state_is_reachable_from_queued() -> None:
    reached, frontier = {State.QUEUED}, [State.QUEUED]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(State)


@given(st.lists(st.sampled_from(Event), max_size=40))
def test_any_event_sequence_either_follows_the_table_or_is_refused(events: list[Event]) -> None:
    state = State.QUEUED
    for event in events:
        expected = TRANSITIONS.get((state, event))
        if expected is None:
            with pytest.raises(InvalidTransition):
                next_state(state, event)
        else:
            state = next_state(state, event)
            assert state is expected


@given(st.integers(1, 200), st.floats(0, 1, exclude_max=True))
def test_backoff_grows_to_the_cap_within_the_jitter(attempt: int, draw: float) -> None:
    policy = RetryPolicy()
    delay = policy.backoff(attempt, draw).total_seconds()
    raw = min(policy.base_delay.total_seconds() * 2 ** (attempt - 1), 600)
    assert raw * (1 - policy.jitter) <= delay <= raw * (1 + policy.jitter)


def test_backoff_is_exponential_before_the_cap() -> None:
    policy = RetryPolicy(jitter=0)
    assert [policy.backoff(n, 0.5).total_seconds() for n in range(1, 6)] == [2, 4, 8, 16, 32]
    assert policy.backoff(30, 0.5) == policy.max_delay


def test_transient_failures_retry_then_give_up_at_the_attempt_limit() -> None:
    policy = RetryPolicy(max_attempts=3)
    rng = random.Random(1)
    first = after_transient_failure(policy, 1, T0, T0, rng)
    assert first.event is Event.TRANSIENT_FAILURE
    assert first.next_attempt_at is not None and first.next_attempt_at > T0
    assert after_transient_failure(policy, 2, T0, T0, rng).event is Event.TRANSIENT_FAILURE
    assert after_transient_failure(policy, 3, T0, T0, rng).event is Event.GIVE_UP


def test_transient_failures_give_up_at_the_age_limit() -> None:
    policy = RetryPolicy(max_age=timedelta(hours=1))
    late = T0 + timedelta(hours=1)
    assert after_transient_failure(policy, 1, T0, late).event is Event.GIVE_UP


def test_medcom_resend_after_30_minutes_at_most_twice() -> None:
    """notes/security-transport.md §5.1: resend when no ack within 30 min; not more than 2."""
    policy = RetryPolicy()
    assert after_receipt_wait(policy, 0, T0, T0 + timedelta(minutes=29)) is None
    resend = after_receipt_wait(policy, 0, T0, T0 + timedelta(minutes=30))
    assert resend is not None and resend.event is Event.RECEIPT_TIMEOUT
    second = after_receipt_wait(policy, 1, T0, T0 + timedelta(minutes=30))
    assert second is not None and second.event is Event.RECEIPT_TIMEOUT
    last = after_receipt_wait(policy, 2, T0, T0 + timedelta(minutes=30))
    assert last is not None and last.event is Event.RESENDS_EXHAUSTED


@pytest.mark.parametrize(
    "bad",
    [
        {"base_delay": timedelta(0)},
        {"max_delay": timedelta(milliseconds=1)},
        {"factor": 0.5},
        {"jitter": 1.0},
        {"max_attempts": 0},
        {"max_resends": -1},
    ],
    ids=str,
)
def test_policy_refuses_nonsense_limits(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)  # type: ignore[arg-type]


def test_diagram_draws_every_edge() -> None:
    text = diagram()
    for (source, event), target in TRANSITIONS.items():
        assert f"{source.value} --> {target.value}: {event.value}" in text
