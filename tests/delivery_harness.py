"""The whole delivery chain for tests: reference receivers, the gateway service, a practice
system posting records. Real TLS both ways, real signatures, real stores; nothing mocked.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from gateway.clock import Clock
from gateway.config import GatewayConfig
from gateway.demo import (
    DestinationTally,
    client_ssl,
    demo_access,
    service_config,
    wait_until_settled,
)
from gateway.demo import receiver_config as demo_receiver_config
from gateway.outbox.states import RetryPolicy
from gateway.pki import TestPki
from gateway.receiver.app import RunningReceiver, start_receiver
from gateway.receiver.config import Faults, ReceiptMode, ReceiverConfig
from gateway.routing import Destination
from gateway.service.access import AccessPolicy, Role
from gateway.service.limits import Limits
from gateway.service.run import RunningService, start_service
from tests.records import record

FAST = RetryPolicy(
    base_delay=timedelta(milliseconds=50),
    max_delay=timedelta(milliseconds=400),
    max_attempts=40,
    receipt_timeout=timedelta(minutes=30),
    lease=timedelta(seconds=20),
)


def lsp_record(n: int, **changes: Any) -> dict[str, Any]:
    """A CRP result of its own sample: one record, one XRPT01 letter."""
    return record(recordId=f"E2E-{n:06d}", sample__id=f"S-E2E-{n:06d}", **changes)


def miba_record(n: int, **changes: Any) -> dict[str, Any]:
    """A urine culture of its own sample: one record, one XRPT05 letter."""
    return record(
        recordId=f"E2E-M-{n:06d}",
        sample__id=f"U-E2E-{n:06d}",
        analysis={"system": "NPU", "code": "NPU16328"},
        result={"value": "Escherichia coli > 10^5/ml"},
        **changes,
    )


def ndjson(records: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


@dataclass(slots=True)
class Chain:
    pki: TestPki
    workdir: Path
    receivers: dict[Destination, RunningReceiver]
    service: RunningService | None = None
    extra: list[RunningService] = field(default_factory=list)

    @property
    def gateway(self) -> RunningService:
        assert self.service is not None
        return self.service

    async def post(
        self, body: bytes, content_type: str = "application/x-ndjson"
    ) -> tuple[int, dict[str, Any]]:
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=client_ssl(self.pki))
            ) as session,
            session.post(
                f"{self.gateway.url}/records", data=body, headers={"Content-Type": content_type}
            ) as answer,
        ):
            return answer.status, await answer.json()

    async def get(self, path: str, url: str | None = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=client_ssl(self.pki))
            ) as session,
            session.get(f"{(url or self.gateway.url).rstrip('/')}{path}") as answer,
        ):
            text = await answer.text()
            try:
                return answer.status, json.loads(text)
            except ValueError:
                return answer.status, text

    async def received(self, destination: Destination) -> list[dict[str, Any]]:
        status, rows = await self.get("/received", self.receivers[destination].url)
        assert status == 200, rows
        return list(rows)

    async def settle(self, timeout: float = 60.0) -> list[DestinationTally]:
        return await wait_until_settled(self.gateway, timeout)

    async def stop(self) -> None:
        for running in [*self.extra, *([self.service] if self.service else [])]:
            await running.stop()
        for receiver in self.receivers.values():
            await receiver.stop()


def receiver_config(
    pki: TestPki, role: Destination, workdir: Path, **settings: Any
) -> ReceiverConfig:
    """A receiver that posts asynchronous receipts fast and trusts the gateway's TLS CA."""
    fast = {"receipts_ca": pki.trust_path, "retry_first": 0.05, "retry_cap": 0.5}
    return demo_receiver_config(pki, role, workdir, **(fast | settings))


async def start_chain(
    pki: TestPki,
    workdir: Path,
    *,
    store: str | None = None,
    retry: RetryPolicy = FAST,
    faults: dict[Destination, Faults] | None = None,
    receipts: ReceiptMode = ReceiptMode.SYNC,
    start_gateway: bool = True,
    timeout: float = 5.0,
    receipts_to: str | None = None,
    settings: GatewayConfig | None = None,
    clock: Clock | None = None,
) -> Chain:
    """Receivers first (on free ports), then the gateway pointed at them.

    With async receipts the receivers need the gateway's URL before it exists: the gateway gets
    a fixed free port, chosen first.
    """
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the stores refuse a public folder
    port = _free_port() if receipts is ReceiptMode.ASYNC else 0
    receivers: dict[Destination, RunningReceiver] = {}
    for role in (Destination.LSP, Destination.MIBA):
        options: dict[str, Any] = {"faults": (faults or {}).get(role, Faults())}
        if receipts is ReceiptMode.ASYNC:
            to = receipts_to or f"https://127.0.0.1:{port}/receipts"
            options |= {"receipts": receipts, "receipts_to": to}
        config = receiver_config(pki, role, workdir, **options)
        receivers[role] = await start_receiver(config, clock=clock)
    chain = Chain(pki, workdir, receivers)
    if start_gateway:
        chain.service = await start_gateway_for(
            chain, store=store, retry=retry, port=port, timeout=timeout, settings=settings,
            clock=clock,
        )  # fmt: skip
    return chain


async def start_gateway_for(
    chain: Chain,
    *,
    store: str | None = None,
    retry: RetryPolicy = FAST,
    port: int = 0,
    timeout: float = 5.0,
    name: str = "labgw",
    settings: GatewayConfig | None = None,
    clock: Clock | None = None,
    access: AccessPolicy | None = None,
    limits: Limits | None = None,
) -> RunningService:

    endpoints = {role: receiver.url for role, receiver in chain.receivers.items()}
    config = service_config(
        chain.pki,
        chain.workdir,
        endpoints,
        store=store,
        settings=settings,
        retry=retry,
        access=access or every_part(),
    )
    config = replace(
        config,
        port=port,
        name=name,
        transport=replace(config.transport, timeout=timeout),
        limits=limits or config.limits,
    )
    return await start_service(config, clock)


class ShiftedClock:
    """The wall clock moved by `offset`: tests jump hours ahead without waiting."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def every_part() -> AccessPolicy:
    """The demo's rules, with the test client (the practice platform's certificate) also a
    receiver for both destinations, so one client can drive every route in these tests.
    tests/test_access.py checks the demo's own, stricter rules."""
    policy = demo_access()
    platform = replace(
        policy.clients[0], roles=frozenset(Role), destinations=frozenset({"lsp", "miba"})
    )
    return replace(policy, clients=(platform, *policy.clients[1:]))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def eventually(check: Any, timeout: float = 20.0, every: float = 0.05) -> None:
    """Wait until the async `check()` returns true."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(every)


POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_schema_url() -> Iterator[str]:
    """A fresh schema on the local PostgreSQL for one test (skipped when there is none)."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError as error:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({error})")
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{POSTGRES}?schema={schema}"
    finally:
        asyncio.run(_drop(schema))


@pytest.fixture(params=["sqlite", "postgres"], name="store_url")
def store_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The outbox URL of one test, once per store: a SQLite file, a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'outbox.db'}"
    else:
        yield from postgres_schema_url()


async def _drop(schema: str) -> None:
    connection = await asyncpg.connect(POSTGRES)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()
