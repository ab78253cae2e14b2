"""The outbox tables and statements, written once for SQLite and PostgreSQL.

Statements are written with PostgreSQL's numbered parameters (`$1`); SQLite reads the same
numbers as `?1`. The few real differences (column types, row locks, JSON arrays, triggers) are
a `Dialect`, defined beside each store.

Append-only (DESIGN §7): triggers refuse UPDATE and DELETE on records, envelopes, transitions
and receipts, DELETE on messages, and UPDATE of a message's own columns; only its projection
(state, counters, times, current envelope, issues) changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.outbox.states import State


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the two databases; everything else here is shared."""

    types: Mapping[str, str]  # column types by role: time, bytes, json, serial
    parameter: str  # "$" (PostgreSQL) or "?" (SQLite), before the parameter's number
    for_update: str  # row lock on the message being changed ("" where the writer is alone)
    skip_locked: str  # claim: pass over rows another worker holds
    json_elements: str  # a subquery listing the text elements of the JSON array `{}`
    trigger: str  # CREATE TRIGGER with {name}, {event} and {table}
    prelude: str = ""  # DDL the triggers need first


APPEND_ONLY = ("records", "envelopes", "transitions", "receipts")
MESSAGE_OWN_COLUMNS = "message_id, destination, kind, payload, records, created_at, follows"
# (trigger name, event, table): the rows no statement may change.
REFUSALS = (
    *((f"{table}_no_update", "UPDATE", table) for table in APPEND_ONLY),
    *((f"{table}_no_delete", "DELETE", table) for table in APPEND_ONLY),
    ("messages_no_update", f"UPDATE OF {MESSAGE_OWN_COLUMNS}", "messages"),
    ("messages_no_delete", "DELETE", "messages"),
)

_STATES = ", ".join(f"'{state.value}'" for state in State)

TABLES = f"""
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    body {{bytes}} NOT NULL,
    outcome TEXT NOT NULL,
    issues {{json}} NOT NULL,
    message_ids {{json}} NOT NULL,
    created_at {{time}} NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_record_id ON records (record_id, version);
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    destination TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload {{bytes}} NOT NULL,
    records {{json}} NOT NULL,
    state TEXT NOT NULL CHECK (state IN ({_STATES})),
    attempts INTEGER NOT NULL DEFAULT 0,
    resends INTEGER NOT NULL DEFAULT 0,
    created_at {{time}} NOT NULL,
    updated_at {{time}} NOT NULL,
    next_attempt_at {{time}},
    sent_at {{time}},
    lease_until {{time}},
    envelope INTEGER,
    issues {{json}} NOT NULL,
    follows TEXT
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (destination, state, next_attempt_at);
CREATE INDEX IF NOT EXISTS messages_awaiting_receipt ON messages (sent_at)
    WHERE state = '{State.SENT.value}';
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (created_at);
CREATE TABLE IF NOT EXISTS envelopes (
    message_id TEXT NOT NULL REFERENCES messages (message_id),
    number INTEGER NOT NULL,
    envelope_id TEXT NOT NULL,
    wire {{bytes}} NOT NULL,
    content_type TEXT NOT NULL,
    signer TEXT NOT NULL,
    created_at {{time}} NOT NULL,
    PRIMARY KEY (message_id, number)
);
CREATE TABLE IF NOT EXISTS transitions (
    message_id TEXT NOT NULL REFERENCES messages (message_id),
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    event TEXT NOT NULL,
    at {{time}} NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (message_id, seq)
);
CREATE TABLE IF NOT EXISTS receipts (
    id {{serial}},
    message_id TEXT,
    receipt_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    content {{bytes}} NOT NULL,
    received_at {{time}} NOT NULL,
    duplicate BOOLEAN NOT NULL,
    channel TEXT NOT NULL,
    issues {{json}} NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_by_message ON receipts (message_id, id);
"""

# A message with its current envelope (NULL columns before the first signing).
_MESSAGE = """
SELECT m.*, e.envelope_id AS e_envelope_id, e.wire AS e_wire,
       e.content_type AS e_content_type, e.signer AS e_signer, e.created_at AS e_created_at
FROM messages m LEFT JOIN envelopes e ON e.message_id = m.message_id AND e.number = m.envelope
"""


class Statements:
    """Every statement the stores run, in one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        refusals = "\n".join(
            dialect.trigger.format(name=name, event=event, table=table)
            for name, event, table in REFUSALS
        )
        self.schema = TABLES.format(**dialect.types) + dialect.prelude + refusals
        due = f"('{State.QUEUED.value}', '{State.RETRY_WAIT.value}')"
        settled = "(" + ", ".join(f"'{state.value}'" for state in State if state.terminal) + ")"
        self.due = self.render(
            f"{_MESSAGE} WHERE m.destination = $1"
            f" AND ((m.state IN {due} AND m.next_attempt_at <= $2)"
            f" OR (m.state = '{State.SENDING.value}' AND m.lease_until < $2))"
            # A correction waits until the message it replaces has its answer (or is dead).
            f" AND NOT EXISTS (SELECT 1 FROM messages p WHERE p.message_id = m.follows"
            f" AND p.state NOT IN {settled})"
            f" ORDER BY m.created_at, m.message_id LIMIT $3"
            f"{dialect.for_update}{dialect.skip_locked}"
        )
        self.message = self.render(f"{_MESSAGE} WHERE m.message_id = $1")
        self.message_for_update = self.render(
            f"{_MESSAGE} WHERE m.message_id = $1{dialect.for_update}"
        )
        self.awaiting_receipt = self.render(
            f"{_MESSAGE} WHERE m.state = '{State.SENT.value}' AND m.sent_at <= $1"
            " ORDER BY m.sent_at, m.message_id LIMIT $2"
        )
        self.insert_record = self.render(
            "INSERT INTO records (key, record_id, version, digest, body, outcome, issues,"
            " message_ids, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (key) DO NOTHING RETURNING key"
        )
        self.record_digest = self.render("SELECT digest FROM records WHERE key = $1")
        self.known_records = self.render(
            f"SELECT key, digest FROM records WHERE key IN ({dialect.json_elements.format('$1')})"
        )
        self.record = self.render("SELECT * FROM records WHERE key = $1")
        self.any_record = "SELECT key, body FROM records LIMIT 1"
        self.record_versions = self.render(
            "SELECT * FROM records WHERE record_id = $1 ORDER BY version, created_at"
        )
        self.insert_message = self.render(
            "INSERT INTO messages (message_id, destination, kind, payload, records, state,"
            " created_at, updated_at, next_attempt_at, issues, follows)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7, $8, $9)"
            " ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
        )
        self.update_projection = self.render(
            "UPDATE messages SET state = $2, attempts = $3, resends = $4, updated_at = $5,"
            " next_attempt_at = $6, sent_at = $7, lease_until = $8, issues = $9"
            " WHERE message_id = $1"
        )
        # Numbered in SQL, under the message's row lock, so concurrent writers cannot collide.
        self.insert_transition = self.render(
            "INSERT INTO transitions (message_id, seq, source, target, event, at, detail)"
            " SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6"
            " FROM transitions WHERE message_id = $1"
        )
        self.insert_envelope = self.render(
            "INSERT INTO envelopes (message_id, number, envelope_id, wire, content_type,"
            " signer, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        self.current_envelope = self.render(
            "UPDATE messages SET envelope = $2, updated_at = $3 WHERE message_id = $1"
        )
        self.insert_receipt = self.render(
            "INSERT INTO receipts (message_id, receipt_id, kind, outcome, content,"
            " received_at, duplicate, channel, issues)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )
        self.envelopes = self.render(
            "SELECT * FROM envelopes WHERE message_id = $1 ORDER BY number"
        )
        self.transitions = self.render(
            "SELECT * FROM transitions WHERE message_id = $1 ORDER BY seq"
        )
        self.receipts = self.render("SELECT * FROM receipts WHERE message_id = $1 ORDER BY id")
        self.counts = "SELECT destination, state, COUNT(*) AS n FROM messages GROUP BY 1, 2"

    def messages(
        self, state: str | None, destination: str | None, record: str | None, limit: int
    ) -> tuple[str, tuple[object, ...]]:
        """The filtered message listing, newest first, and its arguments."""
        args: list[object] = []
        where: list[str] = []
        for value, condition in (
            (state, "m.state = ${}"),
            (destination, "m.destination = ${}"),
            (record, f"${{}} IN ({self.dialect.json_elements.format('m.records')})"),
        ):
            if value is not None:
                args.append(value)
                where.append(condition.format(len(args)))
        args.append(limit)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        text = (
            f"{_MESSAGE}{clause} ORDER BY m.created_at DESC, m.message_id DESC LIMIT ${len(args)}"
        )
        return self.render(text), tuple(args)

    def render(self, text: str) -> str:
        """`text` with its `$n` parameters in this dialect's spelling."""
        if self.dialect.parameter == "$":
            return text
        return re.sub(r"\$(\d+)", rf"{self.dialect.parameter}\1", text)
