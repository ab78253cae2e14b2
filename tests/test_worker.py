"""The delivery worker keeps going when its store fails under it (a restarting PostgreSQL, a
locked SQLite file): errors are logged and retried, the pumps never die."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from gateway.clock import SystemClock
from gateway.delivery.seal import Sealer
from gateway.delivery.sender import Sender, TransportConfig
from gateway.delivery.worker import DeliveryWorker
from gateway.outbox.sqlite import SqliteStore
from gateway.outbox.states import RetryPolicy
from gateway.pki import TestPki
from gateway.security.keys import load_identity
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
