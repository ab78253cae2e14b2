"""Records in, receipts back: the gateway service and the reference receivers on loopback, with
real TLS both ways, real signatures and real stores (SQLite, and PostgreSQL when it runs)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gateway.outbox.states import Event, State
from gateway.pki import TestPki
from gateway.routing import Destination
from tests.delivery_harness import (
    Chain,
    lsp_record,
    miba_record,
    ndjson,
    postgres_schema_url,
    start_chain,
    start_gateway_for,
    store_url_fixture,  # noqa: F401  (fixture)
)
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _states(chain: Chain) -> dict[tuple[str, State], int]:
    return await chain.gateway.service.store.counts()


def test_records_in_receipts_back(pki: TestPki, tmp_path: Path, store_url: str) -> None:
    async def scenario() -> None:
        chain = await start_chain(pki, tmp_path, store=store_url)
        try:
            body = ndjson([*(lsp_record(n) for n in range(5)), *(miba_record(n) for n in range(3))])
            status, answer = await chain.post(body)
            assert status == 200, answer
            assert answer["counts"]["accepted"] == 8 and len(answer["messages"]) == 8
            tallies = {t.destination: t for t in await chain.settle()}
            assert (tallies["lsp"].acked, tallies["miba"].acked) == (5, 3)
            lsp = await chain.received(Destination.LSP)
            miba = await chain.received(Destination.MIBA)
            assert sorted(r["message_id"] for r in lsp + miba) == sorted(answer["messages"])
            assert all(r["outcome"] == "positive" for r in lsp + miba)
            # The audit: one record, its message, the envelope, every transition, the receipt.
            status, record = await chain.get("/records/E2E-000001")
            assert status == 200
            (message,) = record["versions"][0]["messages"]
            assert message["state"] == "acked"
            status, detail = await chain.get(f"/messages/{message['message']}")
            assert [t["to"] for t in detail["transitions"]] == ["sending", "acked"]
            assert detail["envelopes"][0]["signer"].startswith("sha256:")
            assert [r["kind"] for r in detail["receipts"]] == ["XCTL03"]
            # The same records again: duplicates, acknowledged, nothing new sent.
            status, again = await chain.post(body)
            assert status == 200 and again["counts"]["duplicate"] == 8 and not again["messages"]
            # The same record version with other content is refused.
            changed = ndjson([lsp_record(1, result={"value": "46", "unit": "mg/L"})])
            status, conflict = await chain.post(changed)
            assert status == 422
            assert conflict["records"][0]["issues"][-1]["rule"] == "LPS-VERSION-CONFLICT"
            status, metrics = await chain.get("/metrics")
            assert 'labgw_outbox_messages{destination="lsp",state="acked"} 5' in metrics
        finally:
            await chain.stop()

    run(scenario())


def test_two_gateways_share_one_postgres_outbox_and_never_send_a_message_twice(
    pki: TestPki, tmp_path: Path
) -> None:
    """Several workers on one PostgreSQL outbox (FOR UPDATE SKIP LOCKED): every message is
    sent by exactly one of them, so no receiver ever sees a copy."""
    urls = postgres_schema_url()
    url = next(urls)

    async def scenario() -> None:
        chain = await start_chain(pki, tmp_path, store=url)
        try:
            chain.extra.append(await start_gateway_for(chain, store=url, name="labgw-b"))
            body = ndjson(
                [*(lsp_record(n) for n in range(150)), *(miba_record(n) for n in range(50))]
            )
            status, answer = await chain.post(body)
            assert status == 200 and len(answer["messages"]) == 200
            tallies = {t.destination: t for t in await chain.settle()}
            assert (tallies["lsp"].acked, tallies["miba"].acked) == (150, 50)
            rows = await chain.received(Destination.LSP) + await chain.received(Destination.MIBA)
            assert len(rows) == 200 and all(r["duplicates"] == 0 for r in rows)
            store = chain.gateway.service.store
            workers = set()
            for message_id in answer["messages"]:
                claims = [t for t in await store.transitions(message_id) if t.event is Event.CLAIM]
                assert len(claims) == 1
                workers.add(claims[0].detail)
            assert len(workers) == 2  # both did their share
        finally:
            await chain.stop()

    try:
        run(scenario())
    finally:
        next(urls, None)
