"""Several workers on one outbox never take the same message, and together take them all.

Two independent stores in one process (two SQLite connections on their own threads, or two
PostgreSQL pools), then two OS processes, each claim batches of 50 from the same 500 messages
at the same time. SQLite serialises the claims with `BEGIN IMMEDIATE`, PostgreSQL lets them run
side by side and keeps them apart with `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from pathlib import Path
from typing import Any

from gateway.outbox.open import open_store
from gateway.outbox.states import State
from gateway.outbox.store import OutboxStore
from tests.records import CIPHER
from tests.test_outbox_store import LEASE, POSTGRES_URL, T0, Harness, message, postgres_execute
from tests.test_outbox_store import store as store  # the fixture, once per store

MESSAGES = 500
BATCH = 50


def fill(store: Harness) -> list[str]:
    ids = [f"m{number:04d}" for number in range(MESSAGES)]
    store.accept([], [message(message_id) for message_id in ids], T0)
    return ids


async def claim_until_empty(store: OutboxStore, worker: str) -> list[str]:
    taken: list[str] = []
    while batch := await store.claim("lsp", BATCH, T0, T0 + LEASE, worker):
        taken += [claimed.message_id for claimed in batch]
    return taken


def assert_shared_out(ids: list[str], *taken: list[str]) -> None:
    together = [message_id for worker in taken for message_id in worker]
    assert len(together) == len(set(together)), "a message was claimed twice"
    assert sorted(together) == ids


def test_two_stores_in_one_process_claim_every_message_once(store: Harness) -> None:
    ids = fill(store)
    other = store.twin()

    async def both() -> list[list[str]]:
        return await asyncio.gather(
            claim_until_empty(store.store, "worker-a"), claim_until_empty(other, "worker-b")
        )

    first, second = store.run(both())
    assert_shared_out(ids, first, second)
    assert store.counts() == {("lsp", State.SENDING): MESSAGES}


def _claim_in_process(url: str, worker: str, start: Any, results: Any) -> None:
    """A worker process: open the outbox by URL, wait for the other, claim until empty."""

    async def run() -> list[str]:
        opened = open_store(url, CIPHER)
        try:
            await opened.setup()
            start.wait(timeout=60)
            return await claim_until_empty(opened, worker)
        finally:
            await opened.close()

    results.put((worker, asyncio.run(run())))


def test_two_processes_claim_every_message_once(store: Harness) -> None:
    ids = fill(store)
    context = multiprocessing.get_context("spawn")  # no event loop or thread copied by fork
    start, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_claim_in_process, args=(store.url, name, start, results))
        for name in ("process-a", "process-b")
    ]
    for worker in workers:
        worker.start()
    try:
        taken = dict(results.get(timeout=120) for _ in workers)
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert_shared_out(ids, *taken.values())


def test_setup_is_safe_when_workers_start_together(store: Harness, tmp_path: Path) -> None:
    """Four stores create a fresh outbox at once (PostgreSQL: its DDL under an advisory lock)."""
    if store.kind == "sqlite":
        url = f"sqlite://{tmp_path}/fresh.db"
    else:
        schema = f"test_{uuid.uuid4().hex[:16]}"
        url = f"{POSTGRES_URL}?schema={schema}"
    opened = [open_store(url, CIPHER) for _ in range(4)]

    async def start_together() -> None:
        try:
            await asyncio.gather(*(one.setup() for one in opened))
            await opened[0].accept([], [message("m1")], T0)
            assert (await opened[3].message("m1")) is not None
        finally:
            await asyncio.gather(*(one.close() for one in opened))
            if store.kind == "postgres":
                await postgres_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    store.run(start_together())


def test_one_worker_takes_batches_oldest_first(store: Harness) -> None:
    ids = fill(store)
    assert store.run(claim_until_empty(store.store, "solo")) == ids
