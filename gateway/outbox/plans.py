"""Each store operation as a plan: a generator that yields statements and receives their rows.

The logic of an operation (what to read, what `advance` decides, what to write) lives here once;
a store only runs a plan inside one transaction of its own database: SQLite's synchronously on
its thread, PostgreSQL's with `await`. Nothing here touches a connection, so the two stores
cannot drift apart.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from gateway.issues import Issue
from gateway.outbox import rows
from gateway.outbox.cipher import BodyCipher
from gateway.outbox.model import (
    Accepted,
    Envelope,
    NewMessage,
    OutboxMessage,
    RecordVersion,
    StoredReceipt,
    Transition,
)
from gateway.outbox.projection import advance
from gateway.outbox.sql import Statements
from gateway.outbox.states import TRANSITIONS, Event, State

T = TypeVar("T")


class Fetch(enum.Enum):
    NOTHING = "nothing"  # run it; the plan receives None
    ONE = "one"  # the first row, or None
    ALL = "all"  # every row
    BATCH = "batch"  # run it once per argument tuple in `args` (nothing if empty)


@dataclass(frozen=True, slots=True)
class Step:
    sql: str
    args: Sequence[Any] = ()  # for BATCH: one tuple per run
    fetch: Fetch = Fetch.NOTHING


Plan = Generator[Step, Any, T]
# What a receipt does to the message it names: (event, next_attempt_at), or None to ignore it.
Decide = Callable[[OutboxMessage], tuple[Event, datetime | None] | None]


def known_records(sql: Statements, keys: Sequence[str]) -> Plan[dict[str, str]]:
    found = yield Step(sql.known_records, (rows.to_json(list(keys)),), Fetch.ALL)
    return {row["key"]: row["digest"] for row in found}


def check_key(sql: Statements, cipher: BodyCipher) -> Plan[None]:
    """Open one stored body (any: every body was sealed under the key the store was opened
    with, since a store refuses another), so the wrong key stops a start, not a request."""
    row = yield Step(sql.any_record, (), Fetch.ONE)
    if row is not None:
        cipher.open(bytes(row["body"]), row["key"])


def accept(
    sql: Statements,
    cipher: BodyCipher,
    records: Sequence[RecordVersion],
    messages: Sequence[NewMessage],
    now: datetime,
) -> Plan[Accepted]:
    """Insert what is new; classify the rest by digest (read after the insert was refused, so a
    concurrent writer of the same key is seen once it has committed)."""
    new: set[str] = set()
    duplicate: set[str] = set()
    conflicting: set[str] = set()
    for record in records:
        inserted = yield Step(sql.insert_record, rows.record_args(record, now, cipher), Fetch.ONE)
        if inserted is not None:
            new.add(record.key)
            continue
        stored = yield Step(sql.record_digest, (record.key,), Fetch.ONE)
        (duplicate if stored["digest"] == record.digest else conflicting).add(record.key)
    new_messages: set[str] = set()
    for message in messages:
        inserted = yield Step(sql.insert_message, rows.new_message_args(message, now), Fetch.ONE)
        if inserted is not None:
            new_messages.add(message.message_id)
    return Accepted(
        frozenset(new), frozenset(duplicate), frozenset(conflicting), frozenset(new_messages)
    )


def claim(
    sql: Statements,
    destination: str,
    limit: int,
    now: datetime,
    lease_until: datetime,
    worker: str,
) -> Plan[list[OutboxMessage]]:
    """Lock the due rows (PostgreSQL skips those another worker holds), then move each one to
    `sending`; a `sending` row with an expired lease first goes through `lease_expired`."""
    due = yield Step(sql.due, (destination, now, limit), Fetch.ALL)
    claimed: list[OutboxMessage] = []
    projections: list[tuple[object, ...]] = []
    transitions: list[tuple[object, ...]] = []
    for row in due:
        message = rows.message_from_row(row)
        if message.state is State.SENDING:
            expired = advance(message, Event.LEASE_EXPIRED, now)
            lapsed = message.lease_until.isoformat() if message.lease_until else "?"
            detail = f"lease until {lapsed} ran out; taken back by {worker}"
            transitions.append(rows.transition_args(message, expired, Event.LEASE_EXPIRED, detail))
            message = expired
        taken = advance(message, Event.CLAIM, now, lease_until=lease_until)
        transitions.append(
            rows.transition_args(message, taken, Event.CLAIM, f"claimed by {worker}")
        )
        projections.append(rows.projection_args(taken))
        claimed.append(taken)
    yield Step(sql.update_projection, projections, Fetch.BATCH)
    yield Step(sql.insert_transition, transitions, Fetch.BATCH)
    return claimed


def apply(
    sql: Statements,
    message_id: str,
    event: Event,
    now: datetime,
    *,
    expect: State | None,
    next_attempt_at: datetime | None,
    lease_until: datetime | None,
    detail: str,
    issues: Sequence[Issue] | None,
) -> Plan[OutboxMessage]:
    row = yield Step(sql.message_for_update, (message_id,), Fetch.ONE)
    if row is None:
        raise KeyError(message_id)
    before = rows.message_from_row(row)
    after = advance(
        before,
        event,
        now,
        expect=expect,
        next_attempt_at=next_attempt_at,
        lease_until=lease_until,
        issues=issues,
    )
    yield Step(sql.update_projection, rows.projection_args(after))
    yield Step(sql.insert_transition, rows.transition_args(before, after, event, detail))
    return after


def add_envelope(sql: Statements, envelope: Envelope) -> Plan[None]:
    row = yield Step(sql.message_for_update, (envelope.message_id,), Fetch.ONE)
    if row is None:
        raise KeyError(envelope.message_id)
    yield Step(sql.insert_envelope, rows.envelope_args(envelope))
    yield Step(sql.current_envelope, (envelope.message_id, envelope.number, envelope.created_at))


def add_receipt(sql: Statements, receipt: StoredReceipt) -> Plan[None]:
    yield Step(sql.insert_receipt, rows.receipt_args(receipt))


def take_receipt(
    sql: Statements,
    message_id: str,
    receipt: StoredReceipt,
    decide: Decide,
    now: datetime,
    detail: str,
) -> Plan[tuple[OutboxMessage | None, bool]]:
    row = yield Step(sql.message_for_update, (message_id,), Fetch.ONE)
    if row is None:
        yield Step(sql.insert_receipt, rows.receipt_args(replace(receipt, message_id=None)))
        return None, False
    before = rows.message_from_row(row)
    decision = decide(before)
    after, applied = before, False
    if decision is not None and (before.state, decision[0]) in TRANSITIONS:
        event, due = decision
        after = advance(before, event, now, next_attempt_at=due, issues=receipt.issues or None)
        yield Step(sql.update_projection, rows.projection_args(after))
        yield Step(sql.insert_transition, rows.transition_args(before, after, event, detail))
        applied = True
    stored = replace(receipt, message_id=before.message_id, duplicate=not applied)
    yield Step(sql.insert_receipt, rows.receipt_args(stored))
    return after, applied


def message(sql: Statements, message_id: str) -> Plan[OutboxMessage | None]:
    row = yield Step(sql.message, (message_id,), Fetch.ONE)
    return None if row is None else rows.message_from_row(row)


def awaiting_receipt(
    sql: Statements, sent_before: datetime, limit: int
) -> Plan[list[OutboxMessage]]:
    found = yield Step(sql.awaiting_receipt, (sent_before, limit), Fetch.ALL)
    return [rows.message_from_row(row) for row in found]


def messages(
    sql: Statements,
    state: State | None,
    destination: str | None,
    record: str | None,
    limit: int,
) -> Plan[list[OutboxMessage]]:
    text, args = sql.messages(state and state.value, destination, record, limit)
    found = yield Step(text, args, Fetch.ALL)
    return [rows.message_from_row(row) for row in found]


def record(sql: Statements, cipher: BodyCipher, key: str) -> Plan[RecordVersion | None]:
    row = yield Step(sql.record, (key,), Fetch.ONE)
    return None if row is None else rows.record_from_row(row, cipher)


def record_versions(
    sql: Statements, cipher: BodyCipher, record_id: str
) -> Plan[list[RecordVersion]]:
    found = yield Step(sql.record_versions, (record_id,), Fetch.ALL)
    return [rows.record_from_row(row, cipher) for row in found]


def envelopes(sql: Statements, message_id: str) -> Plan[list[Envelope]]:
    found = yield Step(sql.envelopes, (message_id,), Fetch.ALL)
    return [rows.envelope_from_row(row) for row in found]


def transitions(sql: Statements, message_id: str) -> Plan[list[Transition]]:
    found = yield Step(sql.transitions, (message_id,), Fetch.ALL)
    return [rows.transition_from_row(row) for row in found]


def receipts(sql: Statements, message_id: str) -> Plan[list[StoredReceipt]]:
    found = yield Step(sql.receipts, (message_id,), Fetch.ALL)
    return [rows.receipt_from_row(row) for row in found]


def counts(sql: Statements) -> Plan[dict[tuple[str, State], int]]:
    found = yield Step(sql.counts, (), Fetch.ALL)
    return {(row["destination"], State(row["state"])): int(row["n"]) for row in found}
