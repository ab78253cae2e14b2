"""Crash safety: the gateway is killed with SIGKILL again and again while it delivers, and still
every accepted record version is acknowledged and every receiver stores each message exactly
once (DESIGN §7: state committed before every side effect; receivers dedupe on message id)."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from gateway.demo import client_ssl, privacy_key, service_toml, wait_serving
from gateway.outbox.cipher import BodyCipher
from gateway.outbox.open import open_store
from gateway.outbox.states import Event, State
from gateway.pki import TestPki
from gateway.receiver.app import start_receiver
from gateway.routing import Destination
from tests.conftest import assert_no_cpr
from tests.delivery_harness import (
    _free_port,
    lsp_record,
    miba_record,
    ndjson,
    receiver_config,
    store_url_fixture,  # noqa: F401  (fixture)
)
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)

RECORDS = 2_000
CHUNK = 100
KILLS = 10


def _config(pki: TestPki, tmp_path: Path, port: int, store: str, endpoints: dict[str, str]) -> Path:
    text = service_toml(
        pki, port, store, endpoints, privacy_key(tmp_path),
        base_delay_seconds=0.05, max_delay_seconds=0.5, max_attempts=1000, lease_seconds=3,
    )  # fmt: skip
    path = tmp_path / "labgw.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _cipher(tmp_path: Path) -> BodyCipher:
    """The gateway's own: keyed by the privacy key its configuration names."""
    return BodyCipher(privacy_key(tmp_path).read_bytes().strip())


async def _start(config: Path, log: Any) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", "--config", str(config),
        stdout=log, stderr=log,
    )  # fmt: skip


async def _post_until_answered(
    session: aiohttp.ClientSession, url: str, body: bytes
) -> dict[str, Any]:
    """POST until the gateway answers: a cut request may or may not have been committed, and
    posting it again is safe (the same record versions are duplicates)."""
    while True:
        try:
            headers = {"Content-Type": "application/x-ndjson"}
            async with session.post(f"{url}/records", data=body, headers=headers) as answer:
                if answer.status == 200:
                    return dict(await answer.json())
        except (TimeoutError, aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.1)


def test_sigkill_while_delivering_loses_nothing(
    pki: TestPki, tmp_path: Path, store_url: str
) -> None:
    async def scenario() -> None:
        receivers = {
            role: await start_receiver(receiver_config(pki, role, tmp_path))
            for role in (Destination.LSP, Destination.MIBA)
        }
        port = _free_port()
        url = f"https://127.0.0.1:{port}"
        endpoints = {role.value: r.url for role, r in receivers.items()}
        config = _config(pki, tmp_path, port, store_url, endpoints)
        log = (tmp_path / "gateway.log").open("ab")
        records = [miba_record(n) if n % 4 == 0 else lsp_record(n) for n in range(RECORDS)]
        chunks = [ndjson(records[i : i + CHUNK]) for i in range(0, RECORDS, CHUNK)]
        rng = random.Random(20261129)
        process = await _start(config, log)
        kills = 0
        accepted: set[str] = set()
        answered: list[dict[str, Any]] = []
        connector = aiohttp.TCPConnector(ssl=client_ssl(pki))
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=30)
        ) as session:

            async def post_all() -> None:
                for body in chunks:
                    answered.append(await _post_until_answered(session, url, body))

            posting = asyncio.create_task(post_all())
            store = open_store(store_url, _cipher(tmp_path))
            try:
                while kills < KILLS:
                    await wait_serving(session, url)  # then kill it at a random moment of its work
                    await asyncio.sleep(rng.uniform(0.1, 1.0))
                    process.send_signal(signal.SIGKILL)
                    await process.wait()
                    kills += 1
                    process = await _start(config, log)
                await posting
                await store.setup()
                deadline = asyncio.get_running_loop().time() + 240
                while True:
                    counts = await store.counts()
                    if sum(counts.values()) and all(
                        state is State.ACKED for (_, state), n in counts.items() if n
                    ):
                        break
                    assert asyncio.get_running_loop().time() < deadline, counts
                    await asyncio.sleep(0.25)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await process.wait()
                await store.close()
                log.close()
            for answer in answered:
                for row in answer["records"]:
                    assert row["outcome"] in ("accepted", "duplicate"), row
                accepted.update(answer["messages"])
            assert kills == KILLS
            received: dict[str, int] = {}
            for receiver in receivers.values():
                status_url = f"{receiver.url}received"
                async with session.get(status_url) as answer:
                    for row in await answer.json():
                        received[row["message_id"]] = received.get(row["message_id"], 0) + 1
        for receiver in receivers.values():
            await receiver.stop()
        store = open_store(store_url, _cipher(tmp_path))
        await store.setup()
        try:
            every = {m.message_id for m in await store.messages(limit=RECORDS * 2)}
            acked = {
                m.message_id for m in await store.messages(state=State.ACKED, limit=RECORDS * 2)
            }
            taken_back = 0  # claims of killed workers, taken back after their lease ran out
            for message_id in every:
                events = [t.event for t in await store.transitions(message_id)]
                taken_back += events.count(Event.LEASE_EXPIRED)
        finally:
            await store.close()
        assert len(every) == RECORDS  # one record, one sample, one message
        assert accepted <= every and acked == every
        assert set(received) == every and set(received.values()) == {1}
        assert taken_back > 0  # the kills did land while messages were on their way
        log_text = (tmp_path / "gateway.log").read_text(encoding="utf-8", errors="replace")
        assert_no_cpr(log_text, "gateway.log of the killed and restarted gateways")

    asyncio.run(scenario())
