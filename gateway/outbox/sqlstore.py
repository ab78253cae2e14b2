"""The `OutboxStore` methods once, on top of a store's single job: run a plan in a transaction.

`SqliteStore` and `PostgresStore` subclass `SqlStore` and supply `_create`, `close` and `_run`;
every operation is a plan from `plans`, so both stores keep the same rules by construction, and
both seal record bodies with the one `BodyCipher` they are given (`cipher.py`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from gateway.issues import Issue
from gateway.outbox import plans
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
from gateway.outbox.plans import Plan
from gateway.outbox.sql import Statements
from gateway.outbox.states import Event, State

T = TypeVar("T")


class SqlStore(abc.ABC):
    """An outbox store over SQL; see `gateway.outbox.store.OutboxStore` for the rules."""

    def __init__(self, sql: Statements, cipher: BodyCipher) -> None:
        self._sql = sql
        self._cipher = cipher

    async def setup(self) -> None:
        """Create the tables if need be, then refuse a store written under another key.

        Raises:
            ConfigError: the store's record bodies do not open with this store's key.
        """
        await self._create()
        await self._run(plans.check_key(self._sql, self._cipher), write=False)

    @abc.abstractmethod
    async def _create(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def _run(self, plan: Plan[T], *, write: bool) -> T:
        """Run `plan` in one transaction, committed before returning; a writing transaction
        holds the write lock (SQLite) or row locks (PostgreSQL) from its first statement."""

    async def known_records(self, keys: Sequence[str]) -> dict[str, str]:
        return await self._run(plans.known_records(self._sql, keys), write=False)

    async def accept(
        self, records: Sequence[RecordVersion], messages: Sequence[NewMessage], now: datetime
    ) -> Accepted:
        plan = plans.accept(self._sql, self._cipher, records, messages, now)
        return await self._run(plan, write=True)

    async def claim(
        self, destination: str, limit: int, now: datetime, lease_until: datetime, worker: str
    ) -> list[OutboxMessage]:
        plan = plans.claim(self._sql, destination, limit, now, lease_until, worker)
        return await self._run(plan, write=True)

    async def add_envelope(self, envelope: Envelope) -> None:
        await self._run(plans.add_envelope(self._sql, envelope), write=True)

    async def apply(
        self,
        message_id: str,
        event: Event,
        now: datetime,
        *,
        expect: State | None = None,
        next_attempt_at: datetime | None = None,
        detail: str = "",
        issues: Sequence[Issue] | None = None,
        lease_until: datetime | None = None,
    ) -> OutboxMessage:
        plan = plans.apply(
            self._sql,
            message_id,
            event,
            now,
            expect=expect,
            next_attempt_at=next_attempt_at,
            lease_until=lease_until,
            detail=detail,
            issues=issues,
        )
        return await self._run(plan, write=True)

    async def add_receipt(self, receipt: StoredReceipt) -> None:
        await self._run(plans.add_receipt(self._sql, receipt), write=True)

    async def take_receipt(
        self,
        message_id: str,
        receipt: StoredReceipt,
        decide: plans.Decide,
        now: datetime,
        detail: str = "",
    ) -> tuple[OutboxMessage | None, bool]:
        plan = plans.take_receipt(self._sql, message_id, receipt, decide, now, detail)
        return await self._run(plan, write=True)

    async def awaiting_receipt(self, sent_before: datetime, limit: int) -> list[OutboxMessage]:
        return await self._run(plans.awaiting_receipt(self._sql, sent_before, limit), write=False)

    async def message(self, message_id: str) -> OutboxMessage | None:
        return await self._run(plans.message(self._sql, message_id), write=False)

    async def messages(
        self,
        *,
        state: State | None = None,
        destination: str | None = None,
        record: str | None = None,
        limit: int = 100,
    ) -> list[OutboxMessage]:
        plan = plans.messages(self._sql, state, destination, record, limit)
        return await self._run(plan, write=False)

    async def record(self, key: str) -> RecordVersion | None:
        return await self._run(plans.record(self._sql, self._cipher, key), write=False)

    async def record_versions(self, record_id: str) -> list[RecordVersion]:
        plan = plans.record_versions(self._sql, self._cipher, record_id)
        return await self._run(plan, write=False)

    async def envelopes(self, message_id: str) -> list[Envelope]:
        return await self._run(plans.envelopes(self._sql, message_id), write=False)

    async def transitions(self, message_id: str) -> list[Transition]:
        return await self._run(plans.transitions(self._sql, message_id), write=False)

    async def receipts(self, message_id: str) -> list[StoredReceipt]:
        return await self._run(plans.receipts(self._sql, message_id), write=False)

    async def counts(self) -> dict[tuple[str, State], int]:
        return await self._run(plans.counts(self._sql), write=False)
