"""The embedded outbox: one SQLite file in WAL mode (DESIGN §7).

Durability: `synchronous=FULL` syncs the WAL at every commit, so a state change is on disk
before the caller sends anything. Every call runs on one dedicated thread that owns the
connection: the event loop never waits on the disk, and sqlite3's one-thread rule holds.
Several processes may open the same file: each writing operation starts with
`BEGIN IMMEDIATE`, which takes the database's single write lock before it reads, so two claims
never see the same due row; a waiting writer retries for the busy timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from gateway.outbox.plans import Fetch, Plan, Step
from gateway.outbox.rows import iso
from gateway.outbox.sql import Dialect, Statements
from gateway.outbox.sqlstore import SqlStore

T = TypeVar("T")

SQLITE = Dialect(
    types={
        "time": "TEXT",  # rows.iso: fixed-width UTC, so text comparison is time comparison
        "bytes": "BLOB",
        "json": "TEXT",
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
    },
    parameter="?",
    for_update="",  # BEGIN IMMEDIATE already holds the only write lock
    skip_locked="",
    json_elements="SELECT value FROM json_each({})",
    trigger=(
        "CREATE TRIGGER IF NOT EXISTS {name} BEFORE {event} ON {table}"
        " BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
    ),
)
STATEMENTS = Statements(SQLITE)
PRAGMAS = ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON")


class SqliteStore(SqlStore):
    def __init__(self, path: Path, *, busy_timeout: timedelta = timedelta(seconds=30)) -> None:
        super().__init__(STATEMENTS)
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._thread: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="labgw-sqlite"
        )
        self._connection: sqlite3.Connection | None = None

    async def setup(self) -> None:
        await self._call(self._setup)

    async def close(self) -> None:
        if self._thread is None:
            return
        await self._call(self._disconnect)
        self._thread.shutdown()
        self._thread = None

    async def _run(self, plan: Plan[T], *, write: bool) -> T:
        return await self._call(self._transaction, plan, write)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            raise RuntimeError(f"the outbox store {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    # Everything below runs on the store's thread.

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self.path, timeout=self._busy_timeout.total_seconds(), isolation_level=None
            )
            connection.row_factory = sqlite3.Row
            for pragma in PRAGMAS:
                connection.execute(pragma)
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _setup(self) -> None:
        connection = self._connect()
        try:
            connection.executescript(f"BEGIN IMMEDIATE;\n{STATEMENTS.schema}\nCOMMIT;")
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise

    def _transaction(self, plan: Plan[T], write: bool) -> T:
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = _drain(connection, plan)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return result


def _drain(connection: sqlite3.Connection, plan: Plan[T]) -> T:
    try:
        step = next(plan)
        while True:
            step = plan.send(_execute(connection, step))
    except StopIteration as done:
        return done.value


def _execute(connection: sqlite3.Connection, step: Step) -> Any:
    if step.fetch is Fetch.BATCH:
        connection.executemany(step.sql, [_params(args) for args in step.args])
        return None
    found = connection.execute(step.sql, _params(step.args)).fetchall()
    if step.fetch is Fetch.ONE:
        return found[0] if found else None
    return found if step.fetch is Fetch.ALL else None


def _params(args: Sequence[object]) -> tuple[object, ...]:
    return tuple(iso(value) if isinstance(value, datetime) else value for value in args)
