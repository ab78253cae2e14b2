"""Async receipts: 202 Accepted at once, then the receipt POSTed to the sender over mTLS, retried
with backoff until it is taken, never holding up other requests, and resumed after a restart.
The sender's receipt endpoint is a small aiohttp server on loopback in the test."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gateway.pki import TestPki
from gateway.receipts.model import Receipt, ReceiptOutcome
from gateway.receipts.parse import parse_receipt
from gateway.receiver import ReceiptMode, ReceiverConfig, RunningReceiver
from gateway.receiver.tls import server_context
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)
from tests.test_receiver import (
    FHIR,
    Client,
    Sender,
    header_id,
    lab_record,
    letter_id,
    letters,
    receiver_config,
    receiving,
    run,
)


@dataclass
class Collector:
    """The practice platform's receipt endpoint: keeps what it is sent, refuses on demand."""

    refuse: int = 0  # answer 503 to this many posts first
    delay: float = 0.0  # seconds before each answer
    posts: int = 0
    receipts: list[tuple[str, bytes, str]] = field(default_factory=list)  # type, body, peer CN
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.posts += 1
        body = await request.read()
        await asyncio.sleep(self.delay)
        if self.refuse > 0:
            self.refuse -= 1
            return web.Response(status=503)
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        names = [value for rdn in (peer or {}).get("subject", ()) for key, value in rdn]
        self.receipts.append((request.content_type, body, " ".join(names)))
        self.arrived.set()
        return web.Response(status=204)

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Receipt]:
        deadline = time.monotonic() + timeout
        while len(self.receipts) < count:
            self.arrived.clear()
            left = deadline - time.monotonic()
            assert left > 0, f"{len(self.receipts)} of {count} receipts after {timeout} s"
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except TimeoutError:
                continue
        parsed = [parse_receipt(body) for _, body, _ in self.receipts]
        assert all(isinstance(p, Receipt) for p in parsed), parsed
        return [p for p in parsed if isinstance(p, Receipt)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def collecting(pki: TestPki, port: int, collector: Collector) -> AsyncIterator[Collector]:
    """The receipt endpoint on HTTPS, requiring a client certificate of the test PKI."""
    tls = pki["practice-platform-tls"]
    assert tls.cert_path and tls.key_path
    app = web.Application()
    app.router.add_post("/receipts", collector.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    context = server_context(tls.cert_path, tls.key_path, pki.trust_path, required=True)
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        yield collector
    finally:
        await runner.cleanup()


def async_config(pki: TestPki, tmp_path: Path, port: int, **settings: Any) -> ReceiverConfig:
    return receiver_config(
        pki,
        tmp_path,
        receipts=ReceiptMode.ASYNC,
        receipts_to=f"https://localhost:{port}/receipts",
        receipts_ca=pki.trust_path,
        retry_first=0.05,
        retry_cap=0.2,
        **settings,
    )


@pytest.fixture(scope="module")
def sender(pki: TestPki) -> Sender:
    return Sender(pki)


@pytest.fixture(scope="module")
def payloads() -> list[bytes]:
    return letters(*(lab_record(400 + n) for n in range(5)))


def posted(config: ReceiverConfig) -> list[tuple[str, int, bool]]:
    """The receipt_posts table: (message id, attempts, delivered) per queued receipt."""
    db = sqlite3.connect(config.db_path)
    try:
        rows = db.execute(
            "SELECT message_id, attempts, delivered_at IS NOT NULL FROM receipt_posts ORDER BY id"
        )
        return [(str(m), int(a), bool(d)) for m, a, d in rows]
    finally:
        db.close()


def scenario_with(
    pki: TestPki, config: ReceiverConfig, port: int, collector: Collector, steps: Any
) -> None:
    async def go() -> None:
        async with (
            collecting(pki, port, collector),
            receiving(config) as (running, client),
        ):
            await steps(running, client)

    run(go())


def test_202_now_and_the_receipt_posted_with_the_receivers_client_certificate(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    port, collector = free_port(), Collector()
    config = async_config(pki, tmp_path, port)

    async def steps(running: RunningReceiver, client: Client) -> None:
        reply = await client.post(sender.envelope(payloads[0]))
        assert (reply.status, reply.body) == (202, b"")
        (receipt,) = await collector.wait_for(1)
        assert (receipt.kind, receipt.outcome) == ("XCTL03", ReceiptOutcome.POSITIVE)
        assert receipt.message_id == letter_id(payloads[0])
        content_type, _, peer = collector.receipts[0]
        assert content_type == "text/xml" and "lsp" in peer
        assert [r["outcome"] for r in await client.received()] == ["positive"]

    scenario_with(pki, config, port, collector, steps)
    assert posted(config) == [(letter_id(payloads[0]), 1, True)]


def test_a_refused_receipt_is_retried_with_backoff_until_taken(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    port, collector = free_port(), Collector(refuse=3)
    config = async_config(pki, tmp_path, port)

    async def steps(running: RunningReceiver, client: Client) -> None:
        await client.post(sender.envelope(payloads[0]))
        await collector.wait_for(1)
        assert collector.posts == 4

    scenario_with(pki, config, port, collector, steps)
    assert posted(config) == [(letter_id(payloads[0]), 4, True)]


def test_a_slow_receipt_endpoint_never_delays_answers(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    port, collector = free_port(), Collector(delay=1.0)
    config = async_config(pki, tmp_path, port)
    envelopes = [sender.envelope(p) for p in payloads]

    async def steps(running: RunningReceiver, client: Client) -> None:
        started = time.monotonic()
        for envelope in envelopes:
            assert (await client.post(envelope)).status == 202
        assert time.monotonic() - started < 1.0  # five answers before one receipt is taken
        receipts = await collector.wait_for(len(envelopes))
        assert sorted(r.message_id for r in receipts) == sorted(map(letter_id, payloads))

    scenario_with(pki, config, port, collector, steps)


def test_duplicate_and_unknown_receipt_faults(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    port, collector = free_port(), Collector()
    config = async_config(pki, tmp_path, port)

    async def steps(running: RunningReceiver, client: Client) -> None:
        running.faults.duplicate_receipt = True
        await client.post(sender.envelope(payloads[0]))
        twice = await collector.wait_for(2)
        assert [r.message_id for r in twice] == [letter_id(payloads[0])] * 2
        assert twice[0].content == twice[1].content
        running.faults.duplicate_receipt, running.faults.unknown_receipt = False, True
        await client.post(sender.envelope(payloads[1]))
        _, _, own, stranger = await collector.wait_for(4)
        assert own.message_id == letter_id(payloads[1])
        assert stranger.message_id not in map(letter_id, payloads)
        assert stranger.outcome is ReceiptOutcome.POSITIVE
        assert len(await client.received()) == 2

    scenario_with(pki, config, port, collector, steps)


def test_a_retransmission_gets_202_and_the_stored_receipt_again(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    port, collector = free_port(), Collector()
    config = async_config(pki, tmp_path, port)
    envelope = sender.envelope(payloads[0])

    async def steps(running: RunningReceiver, client: Client) -> None:
        await client.post(envelope)
        await collector.wait_for(1)
        assert (await client.post(envelope)).status == 202
        first, again = await collector.wait_for(2)
        assert again.content == first.content  # "ack lost → resend original ack"

    scenario_with(pki, config, port, collector, steps)


def test_a_fhir_acknowledgement_is_posted_as_fhir_json(
    pki: TestPki, sender: Sender, tmp_path: Path
) -> None:
    port, collector = free_port(), Collector()
    config = async_config(pki, tmp_path, port)
    (content,) = letters(lab_record(450), syntax="fhir")

    async def steps(running: RunningReceiver, client: Client) -> None:
        assert (await client.post(sender.bundle(content), FHIR)).status == 202
        (ack,) = await collector.wait_for(1)
        assert (ack.kind, ack.outcome, ack.message_id) == (
            "FHIR-ACK",
            ReceiptOutcome.POSITIVE,
            header_id(content),
        )
        assert collector.receipts[0][0] == FHIR

    scenario_with(pki, config, port, collector, steps)


def test_undelivered_receipts_are_resumed_after_a_restart(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    port, collector = free_port(), Collector()
    config = async_config(pki, tmp_path, port)

    async def go() -> None:
        async with receiving(config) as (_, client):  # nobody listens on `port` yet
            assert (await client.post(sender.envelope(payloads[0]))).status == 202
            await asyncio.sleep(0.3)
        assert posted(config)[0][1] >= 1 and not posted(config)[0][2]
        async with collecting(pki, port, collector), receiving(config):
            (receipt,) = await collector.wait_for(1)
            assert receipt.message_id == letter_id(payloads[0])

    run(go())
    assert posted(config)[0][2]
