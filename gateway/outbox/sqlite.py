"""The embedded outbox: one SQLite file in WAL mode (DESIGN §7).

Durability: `synchronous=FULL` syncs the WAL at every commit, so a state change is on disk
before the caller sends anything. Every call runs on one dedicated thread that owns the
connection: the event loop never waits on the disk, and sqlite3's one-thread rule holds. Calls
that queue up while a commit waits for the disk share the next commit (group commit).
Several processes may open the same file: each writing operation starts with
`BEGIN IMMEDIATE`, which takes the database's single write lock before it reads, so two claims
never see the same due row; a waiting writer retries for the busy timeout.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from gateway.outbox.cipher import BodyCipher
from gateway.outbox.plans import Fetch, Plan, Step
from gateway.outbox.rows import iso
from gateway.outbox.sql import Dialect, Statements
from gateway.outbox.sqlstore import SqlStore
from gateway.security.permissions import prepare_store

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
    def __init__(
        self,
        path: Path,
        cipher: BodyCipher,
        *,
        busy_timeout: timedelta = timedelta(seconds=30),
    ) -> None:
        super().__init__(STATEMENTS, cipher)
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = threading.Thread(
            target=self._serve, name="labgw-sqlite", daemon=True
        )
        self._thread.start()
        self._connection: sqlite3.Connection | None = None

    async def _create(self) -> None:
        await self._call(self._setup)

    async def close(self) -> None:
        if self._thread is None:
            return
        await self._call(self._disconnect)
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    async def _run(self, plan: Plan[T], *, write: bool) -> T:
        return await self._submit(_Job(None, (), plan, write))

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        return await self._submit(_Job(function, args, None, False))

    async def _submit(self, job: _Job) -> Any:
        if self._thread is None:
            raise RuntimeError(f"the outbox store {self.path} is closed")
        loop = asyncio.get_running_loop()
        job.future = loop.create_future()
        job.loop = loop
        self._jobs.put(job)
        return await job.future

    # Everything below runs on the store's thread.

    def _serve(self) -> None:
        """Run jobs in arrival order; plans that queued up meanwhile share one commit.

        Group commit: under load many small transactions (claim, envelope, receipt) wait for the
        disk at once. Each plan of a group runs in its own SAVEPOINT, so one that raises (an
        InvalidTransition) is rolled back alone; nobody hears of their result before the one
        COMMIT has synced the WAL, so durability is exactly that of one transaction each.
        """
        held: _Job | None = None
        while True:
            job = held if held is not None else self._jobs.get()
            held = None
            if job is None:
                return
            if job.plan is None:
                job.settle(job.call)
                continue
            group = [job]
            while len(group) < GROUP_LIMIT:
                try:
                    queued = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if queued is None or queued.plan is None:
                    held = queued
                    if queued is None:
                        self._commit_group(group)
                        return
                    break
                group.append(queued)
            self._commit_group(group)

    def _commit_group(self, group: list[_Job]) -> None:
        connection = self._connect()
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            connection.execute("BEGIN IMMEDIATE" if any(j.write for j in group) else "BEGIN")
            for number, job in enumerate(group):
                connection.execute(f"SAVEPOINT job{number}")
                try:
                    assert job.plan is not None
                    outcomes.append((_drain(connection, job.plan), None))
                    connection.execute(f"RELEASE job{number}")
                except Exception as exc:  # this plan's failure is its caller's, not the group's
                    connection.execute(f"ROLLBACK TO job{number}")
                    connection.execute(f"RELEASE job{number}")
                    outcomes.append((None, exc))
            connection.execute("COMMIT")
        except BaseException as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            for job in group:
                job.settle(_raise(exc))
            return
        for job, (result, error) in zip(group, outcomes, strict=True):
            job.settle(_raise(error) if error is not None else _value(result))

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            prepare_store(self.path, "outbox store")  # CPR numbers rest in its payloads
            connection = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout.total_seconds(),
                isolation_level=None,
                check_same_thread=False,  # opened and used on the store's thread only
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


GROUP_LIMIT = 64  # plans per commit at most: bounds the wait of the first one


class _Job:
    """One call for the store's thread and the future its caller awaits."""

    __slots__ = ("args", "function", "future", "loop", "plan", "write")

    def __init__(
        self,
        function: Callable[..., Any] | None,
        args: tuple[Any, ...],
        plan: Plan[Any] | None,
        write: bool,
    ) -> None:
        self.function = function
        self.args = args
        self.plan = plan
        self.write = write
        self.future: asyncio.Future[Any] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def call(self) -> Any:
        assert self.function is not None
        return self.function(*self.args)

    def settle(self, outcome: Callable[[], Any]) -> None:
        """Compute the outcome here, hand it to the caller's loop."""
        try:
            result, error = outcome(), None
        except BaseException as exc:
            result, error = None, exc
        assert self.loop is not None and self.future is not None
        self.loop.call_soon_threadsafe(_resolve, self.future, result, error)


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _value(result: Any) -> Callable[[], Any]:
    return lambda: result


def _raise(error: BaseException) -> Callable[[], Any]:
    def fail() -> Any:
        raise error

    return fail


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
