"""Every way a receiver can fail, one test each: the message ends where the rules say, with the
counts asserted, and nothing is lost (DESIGN §7; notes/security-transport.md §5)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.config import default_config
from gateway.outbox.states import Event, State
from gateway.pki import TestPki
from gateway.receiver.app import start_receiver
from gateway.receiver.config import Faults, ReceiptMode
from gateway.routing import Destination
from tests.delivery_harness import (
    FAST,
    Chain,
    ShiftedClock,
    _free_port,
    eventually,
    lsp_record,
    miba_record,
    ndjson,
    start_chain,
)
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)

LSP = Destination.LSP


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _one_message(chain: Chain, *records: dict[str, Any]) -> list[str]:
    status, answer = await chain.post(ndjson(records or (lsp_record(1),)))
    assert status == 200, answer
    return list(answer["messages"])


async def _state(chain: Chain, message_id: str) -> State:
    message = await chain.gateway.service.store.message(message_id)
    assert message is not None
    return message.state


async def _events(chain: Chain, message_id: str) -> list[Event]:
    return [t.event for t in await chain.gateway.service.store.transitions(message_id)]


async def _failures(chain: Chain, message_id: str, count: int) -> None:
    """Until the message has failed `count` times in a row of retries."""

    async def failed() -> bool:
        return (await _events(chain, message_id)).count(Event.TRANSIENT_FAILURE) >= count

    await eventually(failed)


async def _acked_and_stored_once(chain: Chain, message_id: str) -> dict[str, Any]:
    """Everything settles; this message was acknowledged and its receiver holds it once."""
    await chain.settle()
    assert await _state(chain, message_id) is State.ACKED
    return await _stored_once(chain, LSP, message_id)


async def _stored_once(chain: Chain, destination: Destination, message_id: str) -> dict[str, Any]:
    rows = [r for r in await chain.received(destination) if r["message_id"] == message_id]
    assert len(rows) == 1, rows  # the receiver's store: exactly once, whatever the wire saw
    return rows[0]


def test_receiver_answers_5xx_then_recovers(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = await start_chain(pki, tmp_path, faults={LSP: Faults(fail_5xx=3)})
        try:
            (message_id,) = await _one_message(chain)
            await chain.settle()
            assert await _state(chain, message_id) is State.ACKED
            events = await _events(chain, message_id)
            assert events.count(Event.TRANSIENT_FAILURE) == 3
            assert events[-1] is Event.POSITIVE_RECEIPT
            await _stored_once(chain, LSP, message_id)
            envelopes = await chain.gateway.service.store.envelopes(message_id)
            assert len(envelopes) == 1  # a technical retry resends the same signed bytes
        finally:
            await chain.stop()

    run(scenario())


def test_receiver_times_out(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        faults = Faults(delay=3.0)
        chain = await start_chain(pki, tmp_path, faults={LSP: faults}, timeout=0.4)
        try:
            (message_id,) = await _one_message(chain)
            await _failures(chain, message_id, 2)
            transitions = await chain.gateway.service.store.transitions(message_id)
            assert any("Timeout" in t.detail for t in transitions), transitions
            faults.delay = 0.0
            await _acked_and_stored_once(chain, message_id)
        finally:
            await chain.stop()

    run(scenario())


def test_receiver_resets_the_connection(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = await start_chain(pki, tmp_path, faults={LSP: Faults(drop=2)})
        try:
            (message_id,) = await _one_message(chain)
            await chain.settle()
            assert await _state(chain, message_id) is State.ACKED
            assert (await _events(chain, message_id)).count(Event.TRANSIENT_FAILURE) == 2
            row = await _stored_once(chain, LSP, message_id)
            assert row["duplicates"] == 0  # dropped before storing: the first stored copy
        finally:
            await chain.stop()

    run(scenario())


def test_slow_receiver_within_the_timeout_needs_no_retry(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = await start_chain(pki, tmp_path, faults={LSP: Faults(delay=0.5)}, timeout=5.0)
        try:
            messages = await _one_message(chain, *(lsp_record(n) for n in range(6)))
            await chain.settle()
            for message_id in messages:
                assert await _events(chain, message_id) == [Event.CLAIM, Event.POSITIVE_RECEIPT]
        finally:
            await chain.stop()

    run(scenario())


def test_receiver_down_at_start_comes_up_later(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = await start_chain(pki, tmp_path)
        try:
            down = chain.receivers[LSP]
            await down.stop()
            (message_id,) = await _one_message(chain)
            await _failures(chain, message_id, 2)
            assert await _state(chain, message_id) in (State.RETRY_WAIT, State.SENDING)
            chain.receivers[LSP] = await start_receiver(replace(down.config, port=down.port))
            await _acked_and_stored_once(chain, message_id)
        finally:
            await chain.stop()

    run(scenario())


def test_negative_receipt_rejects_and_keeps_the_issues(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = await start_chain(pki, tmp_path, faults={LSP: Faults(negative=True)})
        try:
            (message_id,) = await _one_message(chain)
            tallies = {t.destination: t for t in await chain.settle()}
            assert tallies["lsp"].rejected == 1
            message = await chain.gateway.service.store.message(message_id)
            assert message is not None and message.state is State.REJECTED
            assert message.issues  # the receiver's reasons, for the operator
            receipts = await chain.gateway.service.store.receipts(message_id)
            assert [(r.kind, r.outcome) for r in receipts] == [("XCTL02", "negative")]
        finally:
            await chain.stop()

    run(scenario())


def test_dead_after_the_attempt_limit_and_requeued_by_an_operator(
    pki: TestPki, tmp_path: Path
) -> None:
    async def scenario() -> None:
        faults = Faults(fail_5xx=1000)
        retry = replace(FAST, max_attempts=3)
        chain = await start_chain(pki, tmp_path, faults={LSP: faults}, retry=retry)
        try:
            (message_id,) = await _one_message(chain)
            await chain.settle()
            assert await _state(chain, message_id) is State.DEAD
            assert (await _events(chain, message_id))[-1] is Event.GIVE_UP
            faults.fail_5xx = 0
            store = chain.gateway.service.store
            await store.apply(
                message_id,
                Event.REQUEUE,
                chain.gateway.service.clock.now(),
                expect=State.DEAD,
                detail="test operator",
            )
            assert chain.gateway.service.worker is not None
            chain.gateway.service.worker.wake()
            await _acked_and_stored_once(chain, message_id)
        finally:
            await chain.stop()

    run(scenario())


def test_receipt_lost_after_storing_is_answered_again_on_the_retry(
    pki: TestPki, tmp_path: Path
) -> None:
    async def scenario() -> None:
        chain = await start_chain(pki, tmp_path, faults={LSP: Faults(drop_after_store=1)})
        try:
            (message_id,) = await _one_message(chain)
            row = await _acked_and_stored_once(chain, message_id)
            assert row["duplicates"] == 1  # the retry reached it and got the stored answer
        finally:
            await chain.stop()

    run(scenario())


def test_async_receipt_sent_twice_is_applied_once(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = await start_chain(
            pki, tmp_path, receipts=ReceiptMode.ASYNC, faults={LSP: Faults(duplicate_receipt=True)}
        )
        try:
            (message_id,) = await _one_message(chain)
            await chain.settle()
            assert await _state(chain, message_id) is State.ACKED
            store = chain.gateway.service.store

            async def both_in() -> bool:
                return len(await store.receipts(message_id)) == 2

            await eventually(both_in)
            receipts = await store.receipts(message_id)
            assert sorted(r.duplicate for r in receipts) == [False, True]
            assert {r.channel for r in receipts} == {"async"}
            assert (await _events(chain, message_id)).count(Event.POSITIVE_RECEIPT) == 1
        finally:
            await chain.stop()

    run(scenario())


def test_async_receipt_for_an_unknown_message_is_kept_and_counted(
    pki: TestPki, tmp_path: Path
) -> None:
    async def scenario() -> None:
        chain = await start_chain(
            pki, tmp_path, receipts=ReceiptMode.ASYNC, faults={LSP: Faults(unknown_receipt=True)}
        )
        try:
            (message_id,) = await _one_message(chain)
            await chain.settle()
            assert await _state(chain, message_id) is State.ACKED

            async def counted() -> bool:
                return chain.gateway.service.receipts["unknown"] >= 1

            await eventually(counted)
            _status, metrics = await chain.get("/metrics")
            assert 'labgw_receipts_total{result="unknown"} 1' in metrics
            counts = await chain.gateway.service.store.counts()
            assert counts.get(("lsp", State.ACKED)) == 1 and sum(counts.values()) == 1
        finally:
            await chain.stop()

    run(scenario())


def test_no_receipt_resends_twice_with_new_envelopes_then_dead(
    pki: TestPki, tmp_path: Path
) -> None:
    """MedCom: resend after the receipt timeout with a new envelope id, at most 2 times."""

    async def scenario() -> None:
        nowhere = f"https://127.0.0.1:{_free_port()}/receipts"  # receipts never arrive
        retry = replace(FAST, receipt_timeout=timedelta(milliseconds=300))
        chain = await start_chain(
            pki, tmp_path, receipts=ReceiptMode.ASYNC, receipts_to=nowhere, retry=retry
        )
        try:
            (message_id,) = await _one_message(chain)
            await chain.settle()
            assert await _state(chain, message_id) is State.DEAD
            events = await _events(chain, message_id)
            assert (
                events.count(Event.RECEIPT_TIMEOUT) == 2 and events[-1] is Event.RESENDS_EXHAUSTED
            )
            envelopes = await chain.gateway.service.store.envelopes(message_id)
            assert [e.number for e in envelopes] == [1, 2, 3]
            assert len({e.envelope_id for e in envelopes}) == 3
            row = await _stored_once(chain, LSP, message_id)
            assert row["duplicates"] == 2  # the same letter id: recognised, not stored again
        finally:
            await chain.stop()

    run(scenario())


def test_fhir_messages_get_fhir_acknowledgements(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = await start_chain(pki, tmp_path, settings=default_config().with_format("fhir"))
        try:
            messages = await _one_message(chain, lsp_record(1), miba_record(1))
            tallies = {t.destination: t for t in await chain.settle()}
            assert (tallies["lsp"].acked, tallies["miba"].acked) == (1, 1)
            for message_id in messages:
                receipts = await chain.gateway.service.store.receipts(message_id)
                assert [(r.kind, r.outcome) for r in receipts] == [("FHIR-ACK", "positive")]
            rows = await chain.received(Destination.MIBA) + await chain.received(LSP)
            assert {r["kind"] for r in rows} == {"FHIR"}
        finally:
            await chain.stop()

    run(scenario())


def test_a_retry_long_after_the_first_try_is_signed_again(pki: TestPki, tmp_path: Path) -> None:
    """Receivers refuse a DGWS Timestamp older than 5 minutes; a receiver that was down for an
    hour must still get the message: the same envelope, signed anew, with the same ids."""

    async def scenario() -> None:
        clock = ShiftedClock()
        chain = await start_chain(pki, tmp_path, clock=clock)
        try:
            down = chain.receivers[LSP]
            await down.stop()
            (message_id,) = await _one_message(chain)
            await _failures(chain, message_id, 1)
            clock.offset = timedelta(hours=1)
            chain.receivers[LSP] = await start_receiver(
                replace(down.config, port=down.port), clock=clock
            )
            await chain.settle()
            assert await _state(chain, message_id) is State.ACKED
            envelopes = await chain.gateway.service.store.envelopes(message_id)
            assert len(envelopes) == 2 and envelopes[0].envelope_id == envelopes[1].envelope_id
            assert envelopes[1].created_at - envelopes[0].created_at >= timedelta(hours=1)
        finally:
            await chain.stop()

    run(scenario())
