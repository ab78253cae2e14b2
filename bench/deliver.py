"""Benchmark: end-to-end delivery, records in → receipts back, on loopback.

The gateway runs as its own process (`labgw serve`, as in production); the two reference
receivers (LSP, MiBa) and the practice system posting the records run in this process. Every
message is signed (DGWS RSA-3072 envelope), sent over TLS with client certificates, verified,
validated and stored by its receiver, and acknowledged with an XCTL03 receipt in the answer.

Prints, per store (SQLite, PostgreSQL): acknowledged messages/s from the first POST to the
last receipt, and the p50/p99 latency of a message from its commit to its receipt. The floor,
measured in the same run: aiohttp POSTing the same number of signed envelopes, with the same
concurrency, over the same TLS setup, to a server that only reads the body and answers 200.

    python bench/deliver.py [--records 1000] [--runs 3] [--stores sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web

from gateway.delivery.seal import Sealer
from gateway.demo import client_ssl, privacy_key, receiver_config, service_toml, wait_serving
from gateway.outbox.cipher import BodyCipher
from gateway.outbox.open import open_store
from gateway.outbox.states import State
from gateway.outbox.store import OutboxStore
from gateway.pki import TestPki, build_test_pki
from gateway.receiver.app import start_receiver
from gateway.routing import Destination
from gateway.security.keys import load_identity
from gateway.service.config import ServerTls
from gateway.service.run import server_ssl

CHUNK = 100  # records per POST
PROFILE = "--cpu" in sys.argv
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def records(n: int, start: int = 0) -> list[bytes]:
    """n CRP/culture results, each of its own sample: n letters (3 in 4 to LSP, 1 to MiBa),
    one NDJSON line each."""
    out = []
    for i in range(start, start + n):
        micro = i % 4 == 0
        practice = {"gln": "5790001382445", "name": "Lægerne Søndergade", "sor": "464181000016008"}
        culture = {"value": "Escherichia coli > 10^5/ml"}
        record = {
            "recordId": f"BENCH-{i:07d}",
            "version": 1,
            "status": "final",
            "practice": practice,
            "patient": {"cpr": "2509479989", "family": "Berggren"},
            "consent": "given",
            "sample": {"id": f"S-BENCH-{i:07d}", "collectedAt": "2025-06-02T09:14:00+02:00"},
            "analysis": {"system": "NPU", "code": "NPU16328" if micro else "NPU19748"},
            "result": culture if micro else {"value": "45", "unit": "mg/L"},
            "performedAt": "2025-06-02T09:20:00+02:00",
            "lps": {"vendor": "XMO", "version": "2025.2"},
        }
        out.append(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    return out


def chunked(lines: list[bytes]) -> list[bytes]:
    return [b"".join(lines[i : i + CHUNK]) for i in range(0, len(lines), CHUNK)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def acked(outbox: OutboxStore) -> int:
    counts = await outbox.counts()
    return sum(n for (_, state), n in counts.items() if state is State.ACKED)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def one_run(
    pki: TestPki, work: Path, store: str, burst: list[bytes], paced: list[bytes], pace: float
) -> dict[str, float]:
    """The burst: every record posted at once, time until the last receipt. Then latency: one
    record per POST at `pace` records/s (below capacity), commit → receipt of each message."""
    receivers = [await start_receiver(receiver_config(pki, role, work)) for role in Destination]
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    endpoints = {r.config.role.value: r.url for r in receivers}
    config = work / "labgw.toml"
    key = privacy_key(work)
    config.write_text(service_toml(pki, port, store, endpoints, key), encoding="utf-8")
    log = (work / "gateway.log").open("ab")
    gateway = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", "--config", str(config), stdout=log, stderr=log
    )
    outbox = open_store(store, BodyCipher(key.read_bytes().strip()))
    try:
        connector = aiohttp.TCPConnector(ssl=client_ssl(pki))
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_serving(session, url)
            await outbox.setup()

            async def post(body: bytes) -> list[str]:
                headers = {"Content-Type": "application/x-ndjson"}
                async with session.post(f"{url}/records", data=body, headers=headers) as answer:
                    assert answer.status == 200, await answer.text()
                    return list((await answer.json())["messages"])

            started = time.perf_counter()
            chunks = chunked(burst)
            await asyncio.gather(*(post(body) for body in chunks))
            while await acked(outbox) < len(burst):
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - started
            tasks = []
            for line in paced:
                tasks.append(asyncio.create_task(post(line)))
                await asyncio.sleep(1 / pace)
            measured = [m for task in tasks for m in await task]
            while await acked(outbox) < len(burst) + len(paced):
                await asyncio.sleep(0.1)
        latencies = []
        for message_id in measured:
            message = await outbox.message(message_id)
            assert message is not None
            latencies.append((message.updated_at - message.created_at).total_seconds() * 1000)
        return {
            "rate": len(burst) / elapsed,
            "p50": statistics.median(latencies),
            "p99": percentile(latencies, 0.99),
        }
    finally:
        gateway.terminate()
        await gateway.wait()
        if PROFILE:
            child = resource.getrusage(resource.RUSAGE_CHILDREN)
            me = resource.getrusage(resource.RUSAGE_SELF)
            ours = me.ru_utime + me.ru_stime
            print(f"cpu so far: gateway {child.ru_utime + child.ru_stime:.1f}s, here {ours:.1f}s")
        log.close()
        await outbox.close()
        for running in receivers:
            await running.stop()


async def floor(pki: TestPki, n: int) -> float:
    """POST n signed envelopes to a server that only reads them: TLS + HTTP + aiohttp."""
    entry = pki["practice-platform"]
    assert entry.cert_path and entry.key_path
    from gateway.outbox.model import OutboxMessage

    sealer = Sealer(load_identity(entry.cert_path, entry.key_path))
    payload = (Path(__file__).resolve().parent.parent / "tests" / "golden").glob("lsp-*.xml")
    body = next(iter(payload)).read_bytes()
    now = datetime.now(UTC)
    message = OutboxMessage(
        "1", "lsp", "XRPT01", body, (), State.SENDING, 0, 0, now, now, None, None, None, None
    )
    wire = sealer.seal(message, 1, now).wire

    async def sink(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    app = web.Application(client_max_size=2**24)
    app.router.add_post("/", sink)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tls = pki["lsp-tls"]
    assert tls.cert_path and tls.key_path
    site = web.TCPSite(
        runner,
        "127.0.0.1",
        0,
        ssl_context=server_ssl(ServerTls(tls.cert_path, tls.key_path, pki.trust_path)),
    )
    await site.start()
    port = runner.addresses[0][1]
    limit = asyncio.Semaphore(16)  # the gateway's per-destination concurrency
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=client_ssl(pki))
        ) as session:

            async def post() -> None:
                async with limit, session.post(f"https://127.0.0.1:{port}/", data=wire) as answer:
                    await answer.read()

            started = time.perf_counter()
            await asyncio.gather(*(post() for _ in range(n)))
            return n / (time.perf_counter() - started)
    finally:
        await runner.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--paced", type=int, default=300, help="records for the latency run")
    parser.add_argument("--pace", type=float, default=40.0, help="records/s in the latency run")
    parser.add_argument("--cpu", action="store_true", help="print CPU seconds per process")
    options = parser.parse_args()
    n = options.records
    burst, paced = records(n), records(options.paced, start=n)
    with tempfile.TemporaryDirectory() as tmp:
        pki = build_test_pki(Path(tmp) / "pki", datetime.now(UTC))
        floors = [await floor(pki, n) for _ in range(options.runs)]
        floor_rate = statistics.median(floors)
        print(
            f"{n} records posted at once → {n} signed messages (3 in 4 XRPT01 to LSP, 1 in 4 "
            f"XRPT05 to MiBa); latency: {options.paced} records one per POST at "
            f"{options.pace:g}/s; median of {options.runs} runs"
        )
        head = ("", "acked msg/s", "× floor", "p50 ms", "p99 ms")
        print(f"{head[0]:30} " + " ".join(f"{h:>11}" for h in head[1:]))
        print(f"{'floor: TLS POST of envelopes':30} {floor_rate:11,.0f} {1.0:11.1f}")
        for kind in options.stores.split(","):
            results = []
            for run in range(options.runs):
                work = Path(tmp) / f"{kind}-{run}"
                work.mkdir(mode=0o700)  # it holds the stores
                if kind == "sqlite":
                    store = f"sqlite:///{work / 'outbox.db'}"
                else:
                    store = f"{POSTGRES}?schema=bench_{run}_{int(time.time())}"
                results.append(await one_run(pki, work, store, burst, paced, options.pace))
            rate = statistics.median(r["rate"] for r in results)
            p50 = statistics.median(r["p50"] for r in results)
            p99 = statistics.median(r["p99"] for r in results)
            row = f"{rate:11,.0f} {floor_rate / rate:11.1f} {p50:11.0f} {p99:11.0f}"
            print(f"{'labgw, ' + kind:30} {row}")


if __name__ == "__main__":
    asyncio.run(main())
