"""The receiver's own SQLite file: each message stored exactly once, every repeat logged.

Rules it keeps:
- `received` is keyed by message id (PRIMARY KEY): whatever arrives at the wire, and however many
  requests race, a message is stored once. The dedupe decision (`dedupe.py`) and the insert happen
  in one transaction, so two copies arriving together cannot both be taken as new.
- Every method is one transaction, committed (WAL, synchronous FULL: on disk) before it returns:
  the receiver answers only after its answer is durable, as DGWS and MedCom expect.
- Nothing is updated but the delivery columns of `receipt_posts`.

Blocking: a `ReceivedStore` belongs to the one thread that opened it (sqlite3's rule); the
service runs it on its own worker thread (`worker.py`), never on the event loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.issues import Issue
from gateway.receipts.model import ReceiptOutcome
from gateway.receiver.dedupe import Action, BundleSeen, fhir_action, xml_action
from gateway.receiver.model import Admission, Answer, Post, Received, Repeat, Replay, Verdict
from gateway.security.permissions import prepare_store

SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    message_id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    envelope_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    request_digest TEXT NOT NULL,
    outcome TEXT NOT NULL,
    refuse_code TEXT,
    issues TEXT NOT NULL,
    receipt BLOB NOT NULL,
    answer_status INTEGER NOT NULL,
    answer_type TEXT NOT NULL,
    answer BLOB NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS received_digest ON received (request_digest);
CREATE INDEX IF NOT EXISTS received_envelope ON received (envelope_id);
CREATE TABLE IF NOT EXISTS duplicates (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    envelope_id TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    receipt BLOB NOT NULL,
    answer_status INTEGER NOT NULL,
    answer_type TEXT NOT NULL,
    answer BLOB NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS duplicates_message ON duplicates (message_id);
CREATE INDEX IF NOT EXISTS duplicates_digest ON duplicates (request_digest);
CREATE INDEX IF NOT EXISTS duplicates_envelope ON duplicates (envelope_id);
CREATE TABLE IF NOT EXISTS receipt_posts (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    queued_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at TEXT
);
"""

_ANSWERED = "kind, envelope_id, outcome, receipt, answer_status, answer_type, answer"


class ReceivedStore:
    """The receiver's tables; open it on the thread that will use it."""

    def __init__(self, path: Path) -> None:
        prepare_store(path, "receiver store")  # it holds the payloads, CPR numbers and all
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def replay_for_digest(self, digest: str) -> Replay | None:
        """The answer given to a request with exactly these bytes (DGWS technical retry)."""
        return self._replay(
            f"SELECT message_id, {_ANSWERED} FROM received WHERE request_digest = ?",
            f"SELECT message_id, {_ANSWERED} FROM duplicates WHERE request_digest = ? "
            f"AND kind != 'FHIR' ORDER BY id LIMIT 1",
            (digest,),
        )

    def admit(self, new: Received, posts: Sequence[Post] = ()) -> Admission:
        """Store a message unless its ids say it was seen; one transaction either way.

        Returns what `dedupe.py` decided, with the first copy when there is one; `posts`
        (async receipts) are queued only when the message is stored.
        """
        with self._transaction() as db:
            first = self._received(new.message_id)
            if new.kind == "FHIR":
                action = fhir_action(first is not None, self._bundle_seen(new))
            else:
                action = xml_action(first is not None)
            if action is Action.REPLAY:
                return Admission(action, first, self._pair_replay(new))
            if action is not Action.PROCESS:
                return Admission(action, first)
            db.execute(
                "INSERT INTO received VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.message_id,
                    new.kind,
                    new.envelope_id,
                    new.payload,
                    new.digest,
                    new.verdict.outcome.value,
                    new.verdict.refuse_code,
                    _issues_json(new.verdict.issues),
                    new.receipt,
                    new.answer.status,
                    new.answer.content_type,
                    new.answer.body,
                    _time(new.received_at),
                ),
            )
            return Admission(action, posts=self._queue(posts, new.received_at))

    def log_repeat(self, repeat: Repeat, posts: Sequence[Post] = ()) -> tuple[Post, ...]:
        """Log a duplicate (with the answer it got) and queue its receipts (async mode)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO duplicates (message_id, kind, envelope_id, request_digest, action, "
                "outcome, receipt, answer_status, answer_type, answer, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    repeat.message_id,
                    repeat.kind,
                    repeat.envelope_id,
                    repeat.digest,
                    repeat.action.value,
                    repeat.outcome.value,
                    repeat.receipt,
                    repeat.answer.status,
                    repeat.answer.content_type,
                    repeat.answer.body,
                    _time(repeat.received_at),
                ),
            )
            return self._queue(posts, repeat.received_at)

    def listing(self) -> list[dict[str, Any]]:
        """Every stored message, oldest first, with how many duplicates came after it."""
        rows = self._db.execute(
            "SELECT r.message_id, r.kind, r.outcome, r.envelope_id, r.received_at, "
            "(SELECT COUNT(*) FROM duplicates d WHERE d.message_id = r.message_id) "
            "FROM received r ORDER BY r.received_at, r.rowid"
        )
        keys = ("message_id", "kind", "outcome", "envelope_id", "received_at", "duplicates")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def payload(self, message_id: str) -> tuple[str, bytes] | None:
        """The stored payload of one message and its kind."""
        row = self._db.execute(
            "SELECT kind, payload FROM received WHERE message_id = ?", (message_id,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def pending_posts(self) -> list[Post]:
        """Receipts not yet delivered (resumed when a receiver starts again)."""
        rows = self._db.execute(
            "SELECT message_id, content_type, body, id FROM receipt_posts "
            "WHERE delivered_at IS NULL ORDER BY id"
        )
        return [Post(*row) for row in rows]

    def post_attempted(self, post_id: int, delivered_at: datetime | None) -> None:
        """Count one attempt to post a receipt; `delivered_at` when it got a 2xx."""
        with self._transaction() as db:
            db.execute(
                "UPDATE receipt_posts SET attempts = attempts + 1, delivered_at = ? WHERE id = ?",
                (None if delivered_at is None else _time(delivered_at), post_id),
            )

    def _queue(self, posts: Sequence[Post], at: datetime) -> tuple[Post, ...]:
        queued = []
        for post in posts:
            cursor = self._db.execute(
                "INSERT INTO receipt_posts (message_id, content_type, body, queued_at) "
                "VALUES (?, ?, ?, ?)",
                (post.message_id, post.content_type, post.body, _time(at)),
            )
            queued.append(
                Post(post.message_id, post.content_type, post.body, cursor.lastrowid or 0)
            )
        return tuple(queued)

    def _received(self, message_id: str) -> Received | None:
        row = self._db.execute(
            "SELECT * FROM received WHERE message_id = ?", (message_id,)
        ).fetchone()
        if row is None:
            return None
        (mid, kind, envelope, payload, digest, outcome, refuse, issues, receipt) = row[:9]
        status, content_type, body, at = row[9:]
        verdict = Verdict(ReceiptOutcome(outcome), _issues(issues), refuse)
        answer = Answer(status, content_type, body)
        when = datetime.fromisoformat(at)
        return Received(mid, kind, envelope, payload, digest, verdict, receipt, answer, when)

    def _bundle_seen(self, new: Received) -> BundleSeen:
        """Which messages a Bundle.id came with before (refused reuses do not count)."""
        owners = {
            row[0]
            for row in self._db.execute(
                "SELECT message_id FROM received WHERE envelope_id = ? AND kind = 'FHIR' "
                "UNION SELECT message_id FROM duplicates WHERE envelope_id = ? "
                "AND kind = 'FHIR' AND action != ?",
                (new.envelope_id, new.envelope_id, Action.REFUSE.value),
            )
        }
        if not owners:
            return BundleSeen.NO
        if owners == {new.message_id}:
            return BundleSeen.WITH_THIS_MESSAGE
        return BundleSeen.WITH_OTHER_MESSAGE

    def _pair_replay(self, new: Received) -> Replay | None:
        return self._replay(
            f"SELECT message_id, {_ANSWERED} FROM received "
            "WHERE message_id = ? AND envelope_id = ?",
            f"SELECT message_id, {_ANSWERED} FROM duplicates "
            f"WHERE message_id = ? AND envelope_id = ? AND action != '{Action.REFUSE}' "
            "ORDER BY id LIMIT 1",
            (new.message_id, new.envelope_id),
        )

    def _replay(self, first: str, then: str, args: tuple[str, ...]) -> Replay | None:
        row = self._db.execute(first, args).fetchone() or self._db.execute(then, args).fetchone()
        if row is None:
            return None
        message_id, kind, envelope_id, outcome, receipt, status, content_type, body = row
        answer = Answer(status, content_type, body)
        return Replay(message_id, kind, envelope_id, ReceiptOutcome(outcome), receipt, answer)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _issues_json(issues: Sequence[Issue]) -> str:
    return json.dumps([issue.to_dict() for issue in issues], ensure_ascii=False)


def _issues(text: str) -> tuple[Issue, ...]:
    return tuple(Issue.from_dict(item) for item in json.loads(text))
