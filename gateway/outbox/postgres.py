"""The shared outbox: PostgreSQL, for several gateway workers in several processes (DESIGN §7).

Workers share one database and never take the same message: a claim locks its due rows with
`SELECT … FOR UPDATE SKIP LOCKED`, so a concurrent claim passes over them instead of waiting,
and `apply` locks the one row it changes. All tables live in one schema (`labgw` by default;
tests use one schema each), reached through the pool's `search_path`, so the statements are
the same as SQLite's. `setup` holds an advisory lock while it runs the DDL, so workers starting
together do not race to create the same schema or table.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

from gateway.errors import ConfigError
from gateway.outbox.cipher import BodyCipher
from gateway.outbox.plans import Fetch, Plan, Step
from gateway.outbox.rows import utc
from gateway.outbox.sql import Dialect, Statements
from gateway.outbox.sqlstore import SqlStore

T = TypeVar("T")

POSTGRES = Dialect(
    types={
        "time": "TIMESTAMPTZ",
        "bytes": "BYTEA",
        "json": "JSONB",
        "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    },
    parameter="$",
    for_update=" FOR UPDATE OF m",
    skip_locked=" SKIP LOCKED",
    json_elements="SELECT jsonb_array_elements_text({})",
    trigger=(
        "CREATE OR REPLACE TRIGGER {name} BEFORE {event} ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION refuse_change();"
    ),
    prelude="""
ALTER TABLE messages ADD COLUMN IF NOT EXISTS follows TEXT;
CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: the outbox is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
""",
)
STATEMENTS = Statements(POSTGRES)
# The DDL's fingerprint: a schema made by this very DDL needs no second run.
SCHEMA_VERSION = hashlib.sha256(STATEMENTS.schema.encode("utf-8")).hexdigest()[:16]
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresStore(SqlStore):
    def __init__(
        self,
        dsn: str,
        cipher: BodyCipher,
        schema: str = "labgw",
        *,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        if not SCHEMA_NAME.fullmatch(schema):
            raise ConfigError(
                f"outbox schema {schema!r}: expected lower-case letters, digits and _"
            )
        super().__init__(STATEMENTS, cipher)
        self.schema = schema
        self._dsn = dsn
        self._sizes = (min_size, max_size)
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _create(self) -> None:
        """Create the schema once. A store opened beside running workers (an operator's
        `labgw outbox`, a second worker) finds it current and runs no DDL: DDL would take
        table locks that deadlock with the workers' row locks."""
        pool = await self._connections()
        async with pool.acquire() as connection, connection.transaction():
            lock = f"labgw.outbox.{self.schema}"
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", lock)
            await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            if await connection.fetchval("SELECT to_regclass('schema_version')") is not None:
                current = await connection.fetchval("SELECT version FROM schema_version")
                if current == SCHEMA_VERSION:
                    return
            await connection.execute(STATEMENTS.schema)
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version TEXT NOT NULL);"
                " DELETE FROM schema_version;"
            )
            await connection.execute("INSERT INTO schema_version VALUES ($1)", SCHEMA_VERSION)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _run(self, plan: Plan[T], *, write: bool) -> T:
        pool = await self._connections()
        async with pool.acquire() as connection, connection.transaction(readonly=not write):
            return await _drain(connection, plan)

    async def _connections(self) -> Any:
        """The pool, opened on first use; every connection searches only the store's schema."""
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=self._sizes[0],
                    max_size=self._sizes[1],
                    server_settings={"search_path": self.schema},
                )
            return self._pool


async def _drain(connection: Any, plan: Plan[T]) -> T:
    try:
        step = next(plan)
        while True:
            step = plan.send(await _execute(connection, step))
    except StopIteration as done:
        return done.value


async def _execute(connection: Any, step: Step) -> Any:
    if step.fetch is Fetch.BATCH:
        if step.args:
            await connection.executemany(step.sql, [_params(args) for args in step.args])
        return None
    args = _params(step.args)
    if step.fetch is Fetch.ONE:
        return await connection.fetchrow(step.sql, *args)
    if step.fetch is Fetch.ALL:
        return await connection.fetch(step.sql, *args)
    await connection.execute(step.sql, *args)
    return None


def _params(args: Sequence[object]) -> tuple[object, ...]:
    return tuple(utc(value) if isinstance(value, datetime) else value for value in args)
