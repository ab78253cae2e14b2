"""The delivery worker keeps going when its store fails under it (a restarting PostgreSQL, a
locked SQLite file): errors are logged and retried, the pumps never die."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import SystemClock
from gateway.delivery import worker as worker_module
from gateway.delivery.seal import Sealer
from gateway.delivery.sender import Sender, TransportConfig
from gateway.delivery.worker import DeliveryWorker
from gateway.outbox.sqlite import SqliteStore
from gateway.outbox.states import RetryPolicy
from gateway.pki import TestPki
from gateway.receiver.config import Faults
from gateway.routing import Destination
from gateway.security.keys import load_identity
from tests.delivery_harness import lsp_record, ndjson, start_chain
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)
from tests.records import CIPHER


def test_a_failing_store_does_not_stop_the_pumps(
    pki: TestPki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        entry = pki["practice-platform"]
        assert entry.cert_path and entry.key_path
        store = SqliteStore(tmp_path / "outbox.db", CIPHER)
        await store.setup()
        sender = Sender(TransportConfig())
        await sender.start()
        worker = DeliveryWorker(
            store,
            Sealer(load_identity(entry.cert_path, entry.key_path)),
            sender,
            {"lsp": "https://127.0.0.1:9/"},
            RetryPolicy(),
            SystemClock(),
            "test",
            poll=0.02,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.1)
        await store.close()  # every claim now raises
        await asyncio.sleep(0.2)
        assert not running.done()
        stop.set()
        await asyncio.wait_for(running, 5)
        await sender.close()

    with caplog.at_level(logging.WARNING, logger="labgw.delivery"):
        asyncio.run(scenario())
    assert any("claim for lsp failed: RuntimeError" in r.getMessage() for r in caplog.records)


def test_a_full_pump_sleeps_until_a_send_finishes_however_often_it_is_woken(
    pki: TestPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every slot busy, a wake-up (records arriving) cannot be acted on: the pump must
    not turn again and again on the set event (it did, taking CPU from the sends)."""
    turns = 0
    first_of = worker_module._first_of

    async def counted(*args: Any) -> None:
        nonlocal turns
        turns += 1
        await first_of(*args)

    monkeypatch.setattr(worker_module, "_first_of", counted)

    async def scenario() -> None:
        slow = {Destination.LSP: Faults(delay=1.0)}
        chain = await start_chain(pki, tmp_path, faults=slow, timeout=10.0)
        try:
            records = ndjson(lsp_record(n) for n in range(1, 21))  # more than the 8 slots
            assert (await chain.post(records))[0] == 200
            worker = chain.gateway.service.worker
            assert worker is not None
            for _ in range(50):  # records keep arriving while every slot waits on LSP
                worker.wake()
                await asyncio.sleep(0.01)
            await chain.settle()
        finally:
            await chain.stop()

    asyncio.run(scenario())
    assert turns < 500, turns  # a busy loop turns hundreds of thousands of times
