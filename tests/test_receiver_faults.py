"""Fault injection: every switch of `Faults` has the effect the sender's tests rely on, changed
on the running receiver through the object the test holds."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest

from gateway.pki import TestPki
from gateway.receipts.model import ReceiptOutcome
from gateway.receiver import Faults, RunningReceiver
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)
from tests.test_receiver import (
    Client,
    Sender,
    _invalid,
    lab_record,
    letter_id,
    letters,
    receiver_config,
    rules,
    with_receiver,
)


@pytest.fixture(scope="module")
def sender(pki: TestPki) -> Sender:
    return Sender(pki)


@pytest.fixture(scope="module")
def payloads() -> list[bytes]:
    return letters(*(lab_record(300 + n) for n in range(3)))


def test_fail_5xx_answers_500_and_stores_nothing_then_counts_down(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    envelope = sender.envelope(payloads[0])

    async def scenario(running: RunningReceiver, client: Client) -> None:
        running.faults.fail_5xx = 2
        for _ in range(2):
            reply = await client.post(envelope)
            assert (reply.status, reply.content_type) == (500, "text/plain")  # not a SOAP fault
            assert await client.received() == []
        assert (await client.post(envelope)).receipt().outcome is ReceiptOutcome.POSITIVE
        assert running.faults.fail_5xx == 0

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_delay_holds_every_answer(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    async def scenario(running: RunningReceiver, client: Client) -> None:
        running.faults.delay = 0.4
        started = time.monotonic()
        assert (await client.post(sender.envelope(payloads[0]))).status == 200
        assert time.monotonic() - started >= 0.4

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_drop_closes_the_connection_and_stores_nothing(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    envelope = sender.envelope(payloads[0])

    async def scenario(running: RunningReceiver, client: Client) -> None:
        running.faults.drop = 1
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.post(envelope)
        assert await client.received() == []
        assert (await client.post(envelope)).status == 200
        assert len(await client.received()) == 1

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_drop_after_store_loses_the_receipt_and_a_retry_gets_the_stored_one(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    """The "receipt lost" case: the message is stored, the answer never leaves; the sender's
    technical retry (the same bytes) gets the stored answer."""
    envelope = sender.envelope(payloads[0])

    async def scenario(running: RunningReceiver, client: Client) -> None:
        running.faults.drop_after_store = 1
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.post(envelope)
        (row,) = await client.received()
        assert (row["message_id"], row["duplicates"]) == (letter_id(payloads[0]), 0)
        retry = await client.post(envelope)
        assert retry.receipt().outcome is ReceiptOutcome.POSITIVE
        assert (await client.post(envelope)).body == retry.body
        (row,) = await client.received()
        assert row["duplicates"] == 2

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_negative_refuses_every_new_message(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    async def scenario(running: RunningReceiver, client: Client) -> None:
        running.faults.negative = True
        receipt = (await client.post(sender.envelope(payloads[0]))).receipt()
        assert receipt.outcome is ReceiptOutcome.NEGATIVE
        assert rules(receipt.issues) == {"RECEIVER-FAULT-NEGATIVE"}
        running.faults.negative = False
        again = (await client.post(sender.envelope(payloads[0]))).receipt()
        assert again.outcome is ReceiptOutcome.NEGATIVE  # a duplicate keeps its first verdict
        fresh = (await client.post(sender.envelope(payloads[1]))).receipt()
        assert fresh.outcome is ReceiptOutcome.POSITIVE

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_accept_invalid_gives_a_positive_receipt_for_an_invalid_payload(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    async def scenario(running: RunningReceiver, client: Client) -> None:
        running.faults.accept_invalid = True
        receipt = (await client.post(sender.envelope(_invalid(payloads[0])))).receipt()
        assert receipt.outcome is ReceiptOutcome.POSITIVE
        assert [r["outcome"] for r in await client.received()] == ["positive"]

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_vary_duplicate_receipt_answers_a_duplicate_with_the_other_outcome(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    """A deliberately broken receiver: MedCom forbids "positive then negative"."""
    envelope = sender.envelope(payloads[0])
    invalid = sender.envelope(_invalid(payloads[1]))

    async def scenario(running: RunningReceiver, client: Client) -> None:
        assert (await client.post(envelope)).receipt().outcome is ReceiptOutcome.POSITIVE
        assert (await client.post(invalid)).receipt().outcome is ReceiptOutcome.NEGATIVE
        running.faults.vary_duplicate_receipt = True
        varied = (await client.post(envelope)).receipt()  # the same bytes, too
        assert varied.outcome is ReceiptOutcome.NEGATIVE
        assert rules(varied.issues) == {"RECEIVER-FAULT-VARIED"}
        resend = (await client.post(sender.envelope(payloads[0]))).receipt()
        assert resend.outcome is ReceiptOutcome.NEGATIVE
        assert (await client.post(invalid)).receipt().outcome is ReceiptOutcome.POSITIVE
        assert [r["outcome"] for r in await client.received()] == ["positive", "negative"]

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_faults_from_the_start_come_from_the_config(
    pki: TestPki, sender: Sender, tmp_path: Path, payloads: list[bytes]
) -> None:
    config = receiver_config(pki, tmp_path, faults=Faults(fail_5xx=1))

    async def scenario(running: RunningReceiver, client: Client) -> None:
        assert running.faults is config.faults
        assert (await client.post(sender.envelope(payloads[0]))).status == 500
        assert (await client.post(sender.envelope(payloads[0]))).status == 200

    with_receiver(config, scenario)
