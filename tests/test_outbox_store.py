"""The outbox store rules (gateway/outbox/store.py), run against SQLite and PostgreSQL alike.

Every test takes the `store` fixture, once per store; the PostgreSQL run uses a schema of its
own and drops it afterwards, and is skipped with the reason when the server is not reachable.
The state-machine test is in test_outbox_store_machine.py, the concurrency tests in
test_outbox_store_concurrency.py; both take the same fixture from here.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from gateway.errors import ConfigError
from gateway.issues import Issue, IssueType, Severity
from gateway.outbox.model import Envelope, NewMessage, OutboxMessage, RecordVersion, StoredReceipt
from gateway.outbox.open import open_store
from gateway.outbox.postgres import PostgresStore
from gateway.outbox.sqlite import SqliteStore
from gateway.outbox.states import TRANSITIONS, Event, InvalidTransition, State, diagram
from gateway.outbox.store import OutboxStore
from tests.records import CIPHER

POSTGRES_URL = os.environ.get("LABGW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
WARNING = Issue(Severity.WARNING, IssueType.VALUE, "XML-TEST", "a finding", location="/Emessage")
ERROR = Issue(Severity.ERROR, IssueType.PROCESSING, "DGWS-TEST", "HTTP 503", line=3)
# The events that bring a fresh message into each state.
PATHS: dict[State, tuple[Event, ...]] = {
    State.QUEUED: (),
    State.SENDING: (Event.CLAIM,),
    State.SENT: (Event.CLAIM, Event.DELIVERED),
    State.ACKED: (Event.CLAIM, Event.POSITIVE_RECEIPT),
    State.RETRY_WAIT: (Event.CLAIM, Event.TRANSIENT_FAILURE),
    State.REJECTED: (Event.CLAIM, Event.NEGATIVE_RECEIPT),
    State.DEAD: (Event.CLAIM, Event.GIVE_UP),
}


@functools.cache
def postgres_unreachable() -> str | None:
    """Why the PostgreSQL tests cannot run, or None when the server answers."""
    url = urlsplit(POSTGRES_URL)
    where = (url.hostname or "127.0.0.1", url.port or 5432)
    try:
        socket.create_connection(where, timeout=1).close()
    except OSError as error:
        return f"PostgreSQL not reachable at {where[0]}:{where[1]} ({error})"
    return None


@dataclass
class Harness:
    """A store on its own event loop, called like plain functions so tests read top to bottom.

    `url` opens the same outbox again (`open_store`), `raw` runs SQL on a connection of its own
    and `refused` is the error a database raises when a trigger refuses a statement.
    """

    kind: str
    url: str
    runner: asyncio.Runner
    store: OutboxStore
    raw: Callable[[str], Any]
    refused: type[Exception]
    opened: list[OutboxStore] = field(default_factory=list)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.store, name)
        return lambda *args, **kwargs: self.run(method(*args, **kwargs))

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return self.runner.run(coroutine)

    def twin(self) -> OutboxStore:
        """A second, independent store on the same outbox (its own connection or pool)."""
        other = open_store(self.url, CIPHER)
        self.run(other.setup())
        self.opened.append(other)
        return other


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with asyncio.Runner() as runner:
        if request.param == "sqlite":
            path = tmp_path / "outbox.db"
            harness = Harness(
                "sqlite", f"sqlite://{path}", runner, SqliteStore(path, CIPHER),
                functools.partial(_sqlite_raw, path), sqlite3.IntegrityError,
            )  # fmt: skip
        else:
            reason = postgres_unreachable()
            if reason:
                pytest.skip(reason)
            schema = f"test_{uuid.uuid4().hex[:16]}"
            raw = functools.partial(_postgres_raw, runner, schema)
            harness = Harness(
                "postgres", f"{POSTGRES_URL}?schema={schema}", runner,
                PostgresStore(POSTGRES_URL, CIPHER, schema), raw,
                asyncpg.exceptions.RestrictViolationError,
            )  # fmt: skip
        harness.opened.append(harness.store)
        try:
            harness.run(harness.store.setup())
            yield harness
        finally:
            for opened in harness.opened:
                runner.run(opened.close())
            if request.param == "postgres":
                runner.run(postgres_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _sqlite_raw(path: Path, sql: str) -> list[Any]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def _postgres_raw(runner: asyncio.Runner, schema: str, sql: str) -> list[Any]:
    return runner.run(postgres_execute(sql, schema))


async def postgres_execute(sql: str, schema: str = "public") -> list[Any]:
    connection = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})
    try:
        return list(await connection.fetch(sql))
    finally:
        await connection.close()


def record(record_id: str, version: int = 1, body: bytes = b"{}", **fields: Any) -> RecordVersion:
    return RecordVersion(
        key=f"{record_id}/v{version}",
        record_id=record_id,
        version=version,
        digest=hashlib.sha256(body).hexdigest(),
        body=body,
        outcome=fields.pop("outcome", "accepted"),
        **fields,
    )


def message(message_id: str, destination: str = "lsp", **fields: Any) -> NewMessage:
    return NewMessage(
        message_id=message_id,
        destination=destination,
        kind=fields.pop("kind", "XRPT01"),
        payload=fields.pop("payload", f"<letter id='{message_id}'/>".encode()),
        records=fields.pop("records", (f"{message_id}-record/v1",)),
        **fields,
    )


def queue(store: Harness, *message_ids: str, destination: str = "lsp", at: datetime = T0) -> None:
    store.accept([], [message(m, destination) for m in message_ids], at)


def bring_to(store: Harness, message_id: str, state: State, at: datetime = T0) -> OutboxMessage:
    """Queue a message and move it into `state` along PATHS."""
    queue(store, message_id, at=at)
    current = store.message(message_id)
    for event in PATHS[state]:
        current = store.apply(message_id, event, at, lease_until=at + LEASE)
    assert current.state is state
    return current


def envelope(message_id: str, number: int = 1, at: datetime = T0) -> Envelope:
    return Envelope(
        message_id=message_id,
        number=number,
        envelope_id=f"{message_id}-env{number}",
        wire=f"<soap:Envelope n='{number}'/>".encode(),
        content_type="application/soap+xml",
        signer="ab12cd34 CN=Praksisplatform",
        created_at=at,
    )


def receipt(message_id: str | None, receipt_id: str = "rc1", **fields: Any) -> StoredReceipt:
    return StoredReceipt(
        message_id=message_id,
        receipt_id=receipt_id,
        kind=fields.pop("kind", "XCTL03"),
        outcome=fields.pop("outcome", "positive"),
        content=fields.pop("content", b"<Receipt/>"),
        received_at=fields.pop("received_at", T0),
        duplicate=fields.pop("duplicate", False),
        channel=fields.pop("channel", "async"),
        **fields,
    )


# accept, known_records, record, record_versions


def test_accept_stores_records_and_queues_messages_due_now(store: Harness) -> None:
    stored = record("r1", issues=(WARNING,), message_ids=("m1",))
    accepted = store.accept([stored], [message("m1", records=(stored.key,), issues=(WARNING,))], T0)
    assert accepted.new_records == {stored.key} and accepted.new_messages == {"m1"}
    assert not accepted.duplicate_records and not accepted.conflicting_records
    assert store.record(stored.key) == stored
    queued = store.message("m1")
    assert (queued.state, queued.attempts, queued.resends) == (State.QUEUED, 0, 0)
    assert queued.created_at == queued.updated_at == queued.next_attempt_at == T0
    assert (queued.sent_at, queued.lease_until, queued.envelope) == (None, None, None)
    assert queued.issues == (WARNING,) and queued.records == (stored.key,)
    assert store.transitions("m1") == []


def test_accept_again_is_a_duplicate_and_other_content_a_conflict(store: Harness) -> None:
    first = record("r1", body=b'{"v": 1}')
    store.accept([first], [message("m1", payload=b"first")], T0)
    changed = record("r1", body=b'{"v": 2}')
    again = store.accept([first], [message("m1", payload=b"second")], T0 + LEASE)
    assert again.duplicate_records == {first.key} and not again.new_records
    assert not again.new_messages
    conflict = store.accept([changed, record("r2")], [], T0 + LEASE)
    assert conflict.conflicting_records == {changed.key} and conflict.new_records == {"r2/v1"}
    assert store.record(first.key) == first
    assert store.message("m1").payload == b"first" and store.message("m1").created_at == T0
    assert store.known_records([first.key, "r2/v1", "r3/v1"]) == {
        first.key: first.digest,
        "r2/v1": record("r2").digest,
    }


def test_record_versions_oldest_first_and_only_that_record(store: Harness) -> None:
    store.accept([record("r1", 2, b"2"), record("r2", 1), record("r1", 1, b"1")], [], T0)
    store.accept([record("r1", 3, b"3")], [], T0)
    assert [r.version for r in store.record_versions("r1")] == [1, 2, 3]
    assert store.record_versions("nope") == [] and store.record("nope/v1") is None


# claim


def test_claim_takes_due_messages_of_one_destination_oldest_first(store: Harness) -> None:
    queue(store, "m-new", at=T0 + timedelta(seconds=2))
    queue(store, "m-old", at=T0)
    queue(store, "m-mid", at=T0 + timedelta(seconds=1))
    queue(store, "m-miba", destination="miba")
    queue(store, "m-later", at=T0 + timedelta(hours=1))  # not due yet at T0 + 2 s
    now = T0 + timedelta(seconds=2)
    first = store.claim("lsp", 2, now, now + LEASE, "worker-a")
    assert [m.message_id for m in first] == ["m-old", "m-mid"]
    assert all(m.state is State.SENDING and m.lease_until == now + LEASE for m in first)
    assert all(m.next_attempt_at is None for m in first)
    assert store.message("m-old") == first[0]
    second = store.claim("lsp", 10, now, now + LEASE, "worker-b")
    assert [m.message_id for m in second] == ["m-new"]
    assert store.claim("lsp", 10, now, now + LEASE, "worker-c") == []
    [claimed] = store.transitions("m-old")
    assert (claimed.seq, claimed.source, claimed.target, claimed.event, claimed.at) == (
        1, State.QUEUED, State.SENDING, Event.CLAIM, now,
    )  # fmt: skip
    assert "worker-a" in claimed.detail


def test_claim_takes_retry_wait_messages_once_due(store: Harness) -> None:
    bring_to(store, "m1", State.SENDING)
    due = T0 + timedelta(seconds=30)
    store.apply("m1", Event.TRANSIENT_FAILURE, T0, next_attempt_at=due)
    assert store.claim("lsp", 5, due - timedelta(microseconds=1), due + LEASE, "w") == []
    [again] = store.claim("lsp", 5, due, due + LEASE, "w")
    assert (again.message_id, again.state, again.attempts) == ("m1", State.SENDING, 1)


def test_expired_lease_is_taken_back_with_both_transitions(store: Harness) -> None:
    queue(store, "m1")
    store.claim("lsp", 1, T0, T0 + LEASE, "worker-dead")
    assert store.claim("lsp", 1, T0 + LEASE, T0 + 2 * LEASE, "worker-b") == []  # not yet past
    later = T0 + LEASE + timedelta(seconds=1)
    [taken] = store.claim("lsp", 1, later, later + LEASE, "worker-b")
    assert (taken.state, taken.lease_until, taken.attempts) == (State.SENDING, later + LEASE, 0)
    steps = [(t.seq, t.source, t.target, t.event) for t in store.transitions("m1")]
    assert steps == [
        (1, State.QUEUED, State.SENDING, Event.CLAIM),
        (2, State.SENDING, State.RETRY_WAIT, Event.LEASE_EXPIRED),
        (3, State.RETRY_WAIT, State.SENDING, Event.CLAIM),
    ]
    assert all("worker-b" in t.detail for t in store.transitions("m1")[1:])


# apply: the counter rules


def test_transient_failure_counts_an_attempt_and_waits(store: Harness) -> None:
    bring_to(store, "m1", State.SENDING)
    due = T0 + timedelta(seconds=4)
    after = store.apply("m1", Event.TRANSIENT_FAILURE, T0, next_attempt_at=due, issues=[ERROR])
    assert (after.state, after.attempts, after.next_attempt_at) == (State.RETRY_WAIT, 1, due)
    assert (after.lease_until, after.issues, after.updated_at) == (None, (ERROR,), T0)
    assert store.message("m1") == after


def test_transient_failure_without_a_time_is_due_at_once(store: Harness) -> None:
    bring_to(store, "m1", State.SENT)
    later = T0 + timedelta(minutes=5)
    after = store.apply("m1", Event.TRANSIENT_FAILURE, later)
    assert (after.state, after.attempts, after.next_attempt_at) == (State.RETRY_WAIT, 1, later)


def test_give_up_counts_the_attempt_and_leaves_the_message_dead(store: Harness) -> None:
    bring_to(store, "m1", State.SENDING)
    after = store.apply("m1", Event.GIVE_UP, T0, detail="12 attempts")
    assert (after.state, after.attempts, after.next_attempt_at) == (State.DEAD, 1, None)
    assert store.transitions("m1")[-1].detail == "12 attempts"


def test_delivered_sets_sent_at_and_drops_the_lease(store: Harness) -> None:
    bring_to(store, "m1", State.SENDING)
    later = T0 + timedelta(seconds=3)
    after = store.apply("m1", Event.DELIVERED, later, expect=State.SENDING)
    assert (after.state, after.sent_at, after.lease_until, after.attempts) == (
        State.SENT, later, None, 0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("event", "target"),
    [(Event.POSITIVE_RECEIPT, State.ACKED), (Event.NEGATIVE_RECEIPT, State.REJECTED)],
    ids=["positive", "negative"],
)
def test_a_receipt_while_sending_sets_sent_at(store: Harness, event: Event, target: State) -> None:
    bring_to(store, "m1", State.SENDING)
    later = T0 + timedelta(seconds=3)
    after = store.apply("m1", event, later)
    assert (after.state, after.sent_at, after.next_attempt_at) == (target, later, None)


def test_a_receipt_after_sent_keeps_sent_at(store: Harness) -> None:
    bring_to(store, "m1", State.SENT)
    after = store.apply("m1", Event.POSITIVE_RECEIPT, T0 + timedelta(minutes=3))
    assert (after.state, after.sent_at) == (State.ACKED, T0)


def test_receipt_timeout_counts_a_resend_and_queues_again(store: Harness) -> None:
    bring_to(store, "m1", State.SENT)
    later = T0 + timedelta(minutes=31)
    after = store.apply("m1", Event.RECEIPT_TIMEOUT, later)
    assert (after.state, after.resends, after.attempts, after.next_attempt_at) == (
        State.QUEUED, 1, 0, later,
    )  # fmt: skip
    store.claim("lsp", 1, later, later + LEASE, "w")
    store.apply("m1", Event.DELIVERED, later)
    delayed = later + timedelta(minutes=31)
    again = store.apply("m1", Event.RECEIPT_TIMEOUT, delayed, next_attempt_at=delayed + LEASE)
    assert (again.resends, again.next_attempt_at) == (2, delayed + LEASE)


@pytest.mark.parametrize("state", [State.DEAD, State.REJECTED], ids=str)
def test_requeue_makes_the_message_due(store: Harness, state: State) -> None:
    bring_to(store, "m1", state)
    later = T0 + timedelta(days=1)
    after = store.apply("m1", Event.REQUEUE, later, detail="operator: alice")
    assert (after.state, after.next_attempt_at, after.updated_at) == (State.QUEUED, later, later)
    assert [m.message_id for m in store.claim("lsp", 5, later, later + LEASE, "w")] == ["m1"]


def test_claim_through_apply_needs_a_lease(store: Harness) -> None:
    queue(store, "m1")
    with pytest.raises(ValueError, match="lease_until"):
        store.apply("m1", Event.CLAIM, T0)
    assert store.message("m1").state is State.QUEUED and store.transitions("m1") == []
    after = store.apply("m1", Event.CLAIM, T0, lease_until=T0 + LEASE)
    assert (after.state, after.lease_until) == (State.SENDING, T0 + LEASE)


def test_issues_are_kept_unless_replaced(store: Harness) -> None:
    store.accept([], [message("m1", issues=(WARNING,))], T0)
    kept = store.apply("m1", Event.CLAIM, T0, lease_until=T0 + LEASE)
    assert kept.issues == (WARNING,)
    cleared = store.apply("m1", Event.DELIVERED, T0, issues=[])
    assert cleared.issues == ()


@pytest.mark.parametrize("state", list(PATHS), ids=str)
def test_an_event_the_table_refuses_changes_nothing(store: Harness, state: State) -> None:
    before = bring_to(store, "m1", state)
    trail = store.transitions("m1")
    refused = [event for event in Event if (state, event) not in TRANSITIONS]
    assert refused
    for event in refused:
        with pytest.raises(InvalidTransition) as caught:
            store.apply("m1", event, T0 + LEASE, lease_until=T0 + 2 * LEASE, issues=[ERROR])
        assert (caught.value.state, caught.value.event) == (state, event)
    assert store.message("m1") == before and store.transitions("m1") == trail


def test_expect_another_state_is_refused_and_changes_nothing(store: Harness) -> None:
    before = bring_to(store, "m1", State.SENT)
    with pytest.raises(InvalidTransition):
        store.apply("m1", Event.POSITIVE_RECEIPT, T0, expect=State.SENDING)
    assert store.message("m1") == before and len(store.transitions("m1")) == 2


def test_unknown_message_is_a_key_error(store: Harness) -> None:
    with pytest.raises(KeyError):
        store.apply("nope", Event.CLAIM, T0, lease_until=T0 + LEASE)
    with pytest.raises(KeyError):
        store.add_envelope(envelope("nope"))
    assert store.message("nope") is None


def test_naive_times_are_refused(store: Harness) -> None:
    queue(store, "m1")
    with pytest.raises(ValueError, match="timezone-aware"):
        store.apply("m1", Event.CLAIM, T0.replace(tzinfo=None), lease_until=T0)


# envelopes and receipts


def test_add_envelope_makes_it_current_and_keeps_the_attempts(store: Harness) -> None:
    bring_to(store, "m1", State.SENDING)
    store.add_envelope(envelope("m1", 1))
    store.apply("m1", Event.TRANSIENT_FAILURE, T0)
    assert store.message("m1").attempts == 1 and store.message("m1").envelope == envelope("m1")
    second = envelope("m1", 2, T0 + LEASE)  # signed again for a late retry: still attempt 2
    store.add_envelope(second)
    current = store.message("m1")
    assert (current.envelope, current.attempts, current.state) == (second, 1, State.RETRY_WAIT)
    assert store.envelopes("m1") == [envelope("m1", 1), second]


def test_requeue_starts_the_attempts_again(store: Harness) -> None:
    bring_to(store, "m1", State.DEAD)
    assert store.message("m1").attempts == 1
    after = store.apply("m1", Event.REQUEUE, T0, detail="operator")
    assert (after.state, after.attempts, after.next_attempt_at) == (State.QUEUED, 0, T0)


def test_receipts_are_appended_as_they_arrive(store: Harness) -> None:
    queue(store, "m1")
    first = receipt("m1", "rc1", issues=(ERROR,), outcome="negative", kind="XCTL02")
    duplicate = receipt("m1", "rc1", duplicate=True, channel="sync", received_at=T0 + LEASE)
    store.add_receipt(first)
    store.add_receipt(duplicate)
    store.add_receipt(receipt(None, "rc-unknown"))
    store.add_receipt(receipt("not-ours", "rc-other"))
    assert store.receipts("m1") == [first, duplicate]
    assert store.receipts("not-ours") == [receipt("not-ours", "rc-other")]
    assert store.raw("SELECT receipt_id FROM receipts WHERE message_id IS NULL") == [
        ("rc-unknown",)
    ]
    assert store.message("m1").state is State.QUEUED  # a receipt alone changes no state


# listings


def _positive(message: OutboxMessage) -> tuple[Event, datetime | None]:
    return Event.POSITIVE_RECEIPT, None


def test_take_receipt_moves_the_message_and_stores_the_receipt(store: Harness) -> None:
    bring_to(store, "m1", State.SENT)
    after, applied = store.take_receipt("m1", receipt("m1"), _positive, T0, "async XCTL03")
    assert applied and after.state is State.ACKED
    assert [r.duplicate for r in store.receipts("m1")] == [False]
    assert store.transitions("m1")[-1].detail == "async XCTL03"


def test_take_receipt_again_is_stored_as_a_duplicate_and_moves_nothing(store: Harness) -> None:
    bring_to(store, "m1", State.ACKED)
    seq = len(store.transitions("m1"))
    after, applied = store.take_receipt("m1", receipt("m1", "rc2"), _positive, T0)
    assert not applied and after.state is State.ACKED and len(store.transitions("m1")) == seq
    assert [r.duplicate for r in store.receipts("m1")] == [True]


def test_take_receipt_the_decision_may_ignore_it(store: Harness) -> None:
    bring_to(store, "m1", State.RETRY_WAIT)
    after, applied = store.take_receipt("m1", receipt("m1"), lambda m: None, T0)
    assert not applied and after.state is State.RETRY_WAIT
    assert [r.duplicate for r in store.receipts("m1")] == [True]


def test_take_receipt_for_an_unknown_message_keeps_it_without_a_message(store: Harness) -> None:
    after, applied = store.take_receipt("nobody", receipt("nobody"), _positive, T0)
    assert (after, applied) == (None, False)
    assert store.receipts("nobody") == []  # stored, but under no message


def test_racing_copies_of_one_receipt_move_the_message_once(store: Harness) -> None:
    for n in range(20):
        bring_to(store, f"m{n}", State.SENT)
    twin = store.twin()

    async def race() -> list[bool]:
        takes = [
            other.take_receipt(f"m{n}", receipt(f"m{n}", f"rc{k}"), _positive, T0)
            for n in range(20)
            for k, other in enumerate((store.store, twin))
        ]
        return [applied for _, applied in await asyncio.gather(*takes)]

    assert sum(store.run(race())) == 20
    for n in range(20):
        assert sorted(r.duplicate for r in store.receipts(f"m{n}")) == [False, True]


def test_awaiting_receipt_lists_sent_messages_sent_long_enough_ago(store: Harness) -> None:
    bring_to(store, "m-early", State.SENT, T0)
    bring_to(store, "m-late", State.SENT, T0 + timedelta(minutes=20))
    bring_to(store, "m-acked", State.ACKED, T0)
    bring_to(store, "m-queued", State.QUEUED, T0)
    cutoff = T0 + timedelta(minutes=20)
    assert [m.message_id for m in store.awaiting_receipt(cutoff, 10)] == ["m-early", "m-late"]
    assert [m.message_id for m in store.awaiting_receipt(cutoff, 1)] == ["m-early"]
    assert store.awaiting_receipt(T0 - timedelta(seconds=1), 10) == []


def test_messages_newest_first_filtered_by_state_destination_and_record(store: Harness) -> None:
    store.accept([], [message("m1", records=("a/v1", "b/v1"))], T0)
    store.accept([], [message("m2", "miba", records=("b/v1",))], T0 + timedelta(seconds=1))
    store.accept([], [message("m3", records=("c/v1",))], T0 + timedelta(seconds=2))
    store.claim("lsp", 1, T0 + LEASE, T0 + 2 * LEASE, "w")  # m1

    def ids(**filters: Any) -> list[str]:
        return [m.message_id for m in store.messages(**filters)]

    assert ids() == ["m3", "m2", "m1"]
    assert ids(limit=2) == ["m3", "m2"]
    assert ids(state=State.QUEUED) == ["m3", "m2"]
    assert ids(destination="lsp") == ["m3", "m1"]
    assert ids(record="b/v1") == ["m2", "m1"]
    assert ids(record="b/v1", destination="lsp", state=State.SENDING) == ["m1"]
    assert ids(record="b") == [] and ids(destination="nowhere") == []


def test_counts_per_destination_and_state(store: Harness) -> None:
    assert store.counts() == {}
    queue(store, "m1", "m2", "m3")
    queue(store, "m4", destination="miba")
    store.claim("lsp", 1, T0, T0 + LEASE, "w")
    assert store.counts() == {
        ("lsp", State.SENDING): 1,
        ("lsp", State.QUEUED): 2,
        ("miba", State.QUEUED): 1,
    }


# append-only


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE records SET outcome = 'rejected'",
        "DELETE FROM records",
        "UPDATE envelopes SET wire = wire",
        "DELETE FROM envelopes",
        "UPDATE transitions SET detail = ''",
        "DELETE FROM transitions",
        "UPDATE receipts SET outcome = 'negative'",
        "DELETE FROM receipts",
        "UPDATE messages SET payload = payload",
        "UPDATE messages SET destination = 'miba'",
        "DELETE FROM messages",
    ],
)
def test_append_only_tables_refuse_update_and_delete(store: Harness, statement: str) -> None:
    store.accept([record("r1")], [message("m1")], T0)
    store.add_envelope(envelope("m1"))
    store.claim("lsp", 1, T0, T0 + LEASE, "w")
    store.add_receipt(receipt("m1"))
    with pytest.raises(store.refused, match="append-only"):
        store.raw(statement)
    assert store.message("m1").destination == "lsp" and store.transitions("m1")
    assert store.record("r1/v1") and store.envelopes("m1") and store.receipts("m1")


def test_the_message_projection_may_change(store: Harness) -> None:
    queue(store, "m1")
    store.raw("UPDATE messages SET attempts = 7")
    assert store.message("m1").attempts == 7


# opening by URL


def test_open_store_by_url(tmp_path: Path) -> None:
    absolute = open_store(f"sqlite://{tmp_path}/outbox.db", CIPHER)
    assert isinstance(absolute, SqliteStore) and absolute.path == tmp_path / "outbox.db"
    assert open_store("sqlite:data/outbox.db", CIPHER).path == Path("data/outbox.db")
    assert open_store(str(tmp_path / "o.db"), CIPHER).path == tmp_path / "o.db"
    shared = open_store("postgresql://gw@db:5432/labgw?sslmode=require&schema=outbox_a", CIPHER)
    assert isinstance(shared, PostgresStore) and shared.schema == "outbox_a"
    assert shared._dsn == "postgresql://gw@db:5432/labgw?sslmode=require"
    assert open_store("postgres://gw@db/labgw", CIPHER).schema == "labgw"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "mysql://gw:secret@db/labgw",
        "sqlite://host/outbox.db",
        "sqlite://",
        "postgresql://db/x?schema=Bad-Name",
    ],
    ids=["empty", "other-database", "sqlite-host", "sqlite-no-path", "bad-schema"],
)
def test_open_store_refuses_what_it_cannot_open(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url, CIPHER)
    assert "secret" not in str(caught.value)


# docs


def test_docs_state_diagram_is_the_transition_table(repo_dir: Path) -> None:
    """docs/outbox.md shows exactly `diagram()`: regenerate the block when TRANSITIONS change."""
    text = (repo_dir / "docs/outbox.md").read_text("utf-8")
    block = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block == diagram()


def test_concurrent_writes_on_one_store_fail_alone(store: Harness) -> None:
    """Many calls at once (SQLite commits them as one group): a refused transition is refused
    alone, the others land, and each caller hears its own result."""
    for n in range(40):
        bring_to(store, f"m{n}", State.SENT if n % 2 else State.ACKED)

    async def burst() -> list[object]:
        calls = [
            store.store.apply(f"m{n}", Event.POSITIVE_RECEIPT, T0, detail=f"r{n}")
            for n in range(40)
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = store.run(burst())
    for n, result in enumerate(results):
        if n % 2:
            assert isinstance(result, OutboxMessage) and result.state is State.ACKED
            assert store.transitions(f"m{n}")[-1].detail == f"r{n}"
        else:
            assert isinstance(result, InvalidTransition)
    assert store.counts() == {("lsp", State.ACKED): 40}


def test_a_correction_waits_until_the_message_it_replaces_has_its_answer(store: Harness) -> None:
    """A receiver must get a record's versions in order (issue 6: its latest state is the
    newest version): v2 is not claimed while v1 is on its way, and is once v1 is settled."""
    store.accept([], [message("v1"), message("v2", follows="v1")], T0)
    (first,) = store.claim("lsp", 10, T0, T0 + LEASE, "w")
    assert first.message_id == "v1"
    assert store.claim("lsp", 10, T0, T0 + LEASE, "w") == []  # v1 is sending
    store.apply("v1", Event.DELIVERED, T0)
    assert store.claim("lsp", 10, T0, T0 + LEASE, "w") == []  # sent, no receipt yet
    store.apply("v1", Event.POSITIVE_RECEIPT, T0)
    assert [m.message_id for m in store.claim("lsp", 10, T0, T0 + LEASE, "w")] == ["v2"]


def test_a_correction_of_a_message_the_outbox_never_had_is_not_held(store: Harness) -> None:
    """`labgw translate` guesses the id of the version before; unknown here, nothing to wait for."""
    store.accept([], [message("v2", follows="never-sent")], T0)
    assert [m.message_id for m in store.claim("lsp", 10, T0, T0 + LEASE, "w")] == ["v2"]
