"""The scan issue 9 asks for: after an end-to-end run, no clear CPR number anywhere in the stores
or the logs but inside the message bytes.

Records with CPR numbers go in (sent to LSP and MiBa, a correction, a transient failure, a
filtered record, a stale version, a rejected one), every message is acknowledged, the audit
readers open the sealed bodies; then every column of every table of the outbox (the SQLite file,
or the PostgreSQL schema) and of the receivers' stores is read, and every byte of the SQLite
files (`-wal` and `-shm` too, while the stores are open, and again after they closed), and every
log record of the run. A CPR number may rest only in the message bytes: `messages.payload`,
`envelopes.wire`, `receipts.content`, and the receivers' stored messages, receipts and answers.
The raw bytes cannot be split into columns, so there a CPR number is allowed only if the message
bytes hold it; the filtered and the rejected records' numbers are in no message, so they must
not be found at all. At the end a CPR number is planted in a transition's detail, and the same
scan must find it, in the rows and in the file.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg

from gateway.pki import TestPki
from gateway.privacy import find_cpr
from gateway.receiver.config import Faults
from gateway.routing import Destination
from tests.delivery_harness import (
    POSTGRES,
    Chain,
    lsp_record,
    miba_record,
    ndjson,
    start_chain,
    store_url_fixture,  # noqa: F401  (fixture)
)
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)

# Where a CPR number may rest: the message bytes, exact as sent and received.
OUTBOX_MESSAGES = {("messages", "payload"), ("envelopes", "wire"), ("receipts", "content")}
RECEIVER_MESSAGES = {
    ("received", "payload"),
    ("received", "receipt"),
    ("received", "answer"),
    ("duplicates", "receipt"),
    ("duplicates", "answer"),
    ("receipt_posts", "body"),
}
SENT = [f"{10 + n:02d}0381{4000 + n:04d}" for n in range(6)]  # one patient per sent record
FILTERED, REJECTED, PLANTED = "2205664021", "2305664022", "2405664023"  # in no message


class Scan:
    """What a scan found: where a CPR number rests outside the message bytes, and which CPR
    numbers the message bytes hold (those the raw file bytes may show)."""

    def __init__(self) -> None:
        self.outside: list[str] = []
        self.in_messages: set[str] = set()

    def value(self, where: tuple[str, str], allowed: set[tuple[str, str]], value: Any) -> None:
        found = {cpr.replace("-", "") for cpr in find_cpr(_text(value))}
        if where in allowed:
            self.in_messages |= found
        elif found:
            self.outside.append(".".join(where))

    def raw(self, store: Path) -> None:
        """Every byte of a SQLite store and its companions: only numbers the messages hold."""
        for file in (store, *(store.with_name(store.name + end) for end in ("-wal", "-shm"))):
            if file.exists():
                found = {c.replace("-", "") for c in find_cpr(file.read_bytes().decode("latin-1"))}
                self.outside += [f"{file.name} bytes" for _ in found - self.in_messages]


def _text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("latin-1")  # every byte counts, whatever the encoding
    return "" if value is None else str(value)


def scan_sqlite(scan: Scan, path: Path, allowed: set[tuple[str, str]]) -> None:
    """Every column of every table, on a read-only connection of the test's own."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')
            columns = [column[0] for column in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    scan.value((table, column), allowed, value)
    db.close()


async def scan_postgres(scan: Scan, schema: str) -> None:
    connection = await asyncpg.connect(POSTGRES, server_settings={"search_path": schema})
    try:
        tables = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
        for (table,) in tables:
            for row in await connection.fetch(f'SELECT * FROM "{table}"'):
                for column, value in row.items():
                    scan.value((table, column), OUTBOX_MESSAGES, value)
    finally:
        await connection.close()


class LogLines(logging.Handler):
    """Every log record of the run, formatted as a handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + (record.exc_text or ""))


async def _run(chain: Chain) -> None:
    """Records in, every message acknowledged, the sealed bodies read back by the API."""
    first = [
        *(lsp_record(n, patient__cpr=SENT[n]) for n in range(3)),
        *(miba_record(n, patient__cpr=SENT[3 + n]) for n in range(2)),
        lsp_record(8, patient__cpr=FILTERED, analysis__code="NPU10197", result__unit="%"),
        lsp_record(9, patient__cpr=SENT[5], version=2, status="corrected"),
    ]
    status, answer = await chain.post(ndjson(first))
    assert status == 200 and answer["counts"]["filtered"] == 1, answer
    await chain.settle()
    later = [
        lsp_record(0, patient__cpr=SENT[0], version=2, status="corrected"),  # a correction
        lsp_record(9, patient__cpr=SENT[5]),  # version 1 after version 2: stale
        lsp_record(7, result={"value": "45", "unit": REJECTED}),  # refused, quoting a CPR
    ]
    status, answer = await chain.post(ndjson(later))
    assert [r["outcome"] for r in answer["records"]] == ["accepted", "stale", "rejected"], answer
    tallies = await chain.settle()
    assert all(t.acked == t.messages for t in tallies) and sum(t.messages for t in tallies) == 7
    # The readers of the sealed bodies: the audit trail's status and patient come from them.
    for record, outcomes in (
        ("E2E-000000", ["accepted"] * 2),
        ("E2E-000009", ["stale", "accepted"]),
    ):
        status, history = await chain.get(f"/records/{record}/history")
        assert status == 200, history
        versions = history["versions"]
        assert [(v["status"], v["outcome"]) for v in versions] == list(
            zip(["final", "corrected"], outcomes, strict=True)
        )
        assert all(v["patient"].startswith("pt:") for v in versions)


def test_no_clear_cpr_rests_in_the_stores_or_the_logs_after_an_end_to_end_run(
    pki: TestPki, tmp_path: Path, store_url: str
) -> None:
    scan, logs = Scan(), LogLines()
    sqlite = store_url.startswith("sqlite")
    outbox_file = tmp_path / "outbox.db"
    receiver_files = [tmp_path / f"{role.value}-received.sqlite" for role in Destination]

    async def scenario() -> list[str]:
        """The run, then the scan of the rows while every store is still open; the raw
        files' findings of that moment."""
        chain = await start_chain(
            pki, tmp_path, store=store_url, faults={Destination.LSP: Faults(fail_5xx=1)}
        )
        try:
            await _run(chain)
            if sqlite:
                scan_sqlite(scan, outbox_file, OUTBOX_MESSAGES)
            else:
                await scan_postgres(scan, store_url.rsplit("schema=", 1)[1])
            for path in receiver_files:
                scan_sqlite(scan, path, RECEIVER_MESSAGES)
            open_files = Scan()
            open_files.in_messages = scan.in_messages
            for path in [*([outbox_file] if sqlite else []), *receiver_files]:
                assert path.with_name(path.name + "-wal").exists()
                open_files.raw(path)
            return open_files.outside
        finally:
            await chain.stop()

    logging.getLogger().addHandler(logs)
    try:
        while_open = asyncio.run(scenario())
    finally:
        logging.getLogger().removeHandler(logs)
    for path in [*([outbox_file] if sqlite else []), *receiver_files]:
        scan.raw(path)  # closed: the WAL is checkpointed into the file

    assert set(SENT) <= scan.in_messages, "the scan must see the CPR numbers the messages hold"
    assert scan.outside == [] and while_open == []
    assert logs.lines and [line for line in logs.lines if find_cpr(line)] == []

    # The same scan finds a CPR number planted outside the message bytes.
    plant = (
        "INSERT INTO transitions (message_id, seq, source, target, event, at, detail)"
        f" SELECT message_id, 99, 'acked', 'acked', 'claim', created_at, 'for {PLANTED}'"
        " FROM messages LIMIT 1"
    )
    planted = Scan()
    planted.in_messages = scan.in_messages
    if sqlite:
        with sqlite3.connect(outbox_file) as db:
            db.execute(plant)
        db.close()
        scan_sqlite(planted, outbox_file, OUTBOX_MESSAGES)
        planted.raw(outbox_file)
        assert planted.outside == ["transitions.detail", "outbox.db bytes"]
    else:
        schema = store_url.rsplit("schema=", 1)[1]
        asyncio.run(_execute(schema, plant))
        asyncio.run(scan_postgres(planted, schema))
        assert planted.outside == ["transitions.detail"]


async def _execute(schema: str, sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES, server_settings={"search_path": schema})
    try:
        await connection.execute(sql)
    finally:
        await connection.close()
