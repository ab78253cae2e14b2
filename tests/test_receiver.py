"""The reference receivers on the wire: a real aiohttp server on loopback with real TLS from the
test PKI, envelopes and Bundles signed by our signers, the real validators, a real client.

Also the helpers the other receiver tests share: `Sender` signs what the practice platform
sends, `receiving` runs a receiver and hands out a `Client` for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree

from gateway.clock import Clock
from gateway.demo import receiver_config as demo_receiver_config
from gateway.issues import Issue
from gateway.pki import TestPki
from gateway.receipts.model import Receipt, ReceiptOutcome
from gateway.receipts.parse import parse_receipt
from gateway.receiver import ReceiverConfig, RunningReceiver, start_receiver
from gateway.receiver.tls import client_context
from gateway.routing import Destination
from gateway.security.dgws import Signer, build_envelope, make_id_card
from gateway.security.jws import sign_bundle
from gateway.security.keys import load_identity
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)
from tests.records import record, translate
from tests.test_render_xrpt05 import culture

XML = "text/xml; charset=utf-8"
FHIR = "application/fhir+json"
NO_LETTER = b'<Emessage xmlns="http://rep.oio.dk/medcom.dk/xml/schemas/2014/10/08/"/>'
CLIENT_CERT = "practice-platform-tls"
CPR = "2509479989"  # the test records' patient: must never reach a log


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(scenario)


def lab_record(n: int, **changes: Any) -> dict[str, Any]:
    """A CRP result of its own sample: one record, one XRPT01 letter (or FHIR message)."""
    return record(recordId=f"RCV-{n:05d}", sample__id=f"S-RCV-{n:05d}", **changes)


def letters(*records: dict[str, Any], syntax: str | None = None) -> list[bytes]:
    return [m.content for m in translate(*records, syntax=syntax).messages]


def letter_id(payload: bytes) -> str:
    ns = {"m": "http://rep.oio.dk/medcom.dk/xml/schemas/2014/10/08/"}
    (identifier,) = etree.fromstring(payload).xpath(
        "/m:Emessage/*/m:Letter/m:Identifier", namespaces=ns
    )
    return str(identifier.text)


def header_id(bundle: bytes) -> str:
    return str(json.loads(bundle)["entry"][0]["resource"]["id"])


class Sender:
    """The practice platform: signs envelopes and Bundles with a certificate of the test PKI."""

    def __init__(self, pki: TestPki, name: str = "practice-platform") -> None:
        entry = pki[name]
        assert entry.cert_path and entry.key_path
        self.identity = load_identity(entry.cert_path, entry.key_path)
        self.signer = Signer.of(self.identity)
        self.card = make_id_card(self.signer, datetime.now(UTC))
        self._ids = 0

    def envelope(self, payload: bytes, *, at: datetime | None = None) -> bytes:
        """A DGWS envelope with a new DGWS MessageID, signed now (or `at`)."""
        self._ids += 1
        moment = at or datetime.now(UTC)
        card = self.card if at is None else make_id_card(self.signer, moment)
        return build_envelope(payload, card, self.signer, f"dgws-{self._ids}", moment)

    def bundle(self, content: bytes) -> bytes:
        sender = json.loads(content)["entry"][0]["resource"]["sender"]["reference"]
        return sign_bundle(content, self.identity, sender, datetime.now(UTC))


@pytest.fixture(scope="module")
def sender(pki: TestPki) -> Sender:
    return Sender(pki)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str

    def receipt(self) -> Receipt:
        parsed = parse_receipt(self.body)
        assert isinstance(parsed, Receipt), [str(i) for i in parsed]
        return parsed

    def fault_code(self) -> str:
        """The medcom:FaultCode of a SOAP fault answer."""
        parsed = parse_receipt(self.body)
        assert isinstance(parsed, tuple), "expected a SOAP fault"
        (issue,) = parsed
        assert issue.rule == "RECEIPT-FAULT" and issue.location
        return issue.location


class Client:
    """A practice platform's HTTPS client for one receiver."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def post(self, body: bytes, content_type: str = XML) -> Reply:
        async with self.session.post(
            self.url, data=body, headers={"Content-Type": content_type}
        ) as answer:
            return Reply(answer.status, await answer.read(), answer.content_type)

    async def received(self) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.url}received") as answer:
            assert answer.status == 200
            rows: list[dict[str, Any]] = await answer.json()
            return rows

    async def payload(self, message_id: str) -> tuple[int, bytes]:
        async with self.session.get(f"{self.url}received/{message_id}") as answer:
            return answer.status, await answer.read()


def receiver_config(
    pki: TestPki, tmp_path: Path, role: Destination = Destination.LSP, **settings: Any
) -> ReceiverConfig:
    return demo_receiver_config(pki, role, tmp_path, **settings)


@asynccontextmanager
async def receiving(
    config: ReceiverConfig,
    *,
    clock: Clock | None = None,
    cert: str | None = "practice-platform-tls",
) -> AsyncIterator[tuple[RunningReceiver, Client]]:
    running = await start_receiver(config, clock=clock)
    try:
        connector = aiohttp.TCPConnector(ssl=client_ssl_for(config, cert), limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            yield running, Client(session, running.url)
    finally:
        await running.stop()


def client_ssl_for(config: ReceiverConfig, cert: str | None) -> Any:
    """The client context for a receiver set up from the test PKI in `config.trust`'s folder."""
    folder = config.trust.parent
    if cert is None:
        return client_context(None, None, config.trust)
    return client_context(folder / f"{cert}.pem", folder / f"{cert}.key.pem", config.trust)


class MovableClock:
    """Real time plus an offset a test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def rules(issues: tuple[Issue, ...]) -> set[str]:
    return {issue.rule for issue in issues}


Scenario = Callable[[RunningReceiver, Client], Awaitable[None]]


def with_receiver(config: ReceiverConfig, scenario: Scenario, **options: Any) -> None:
    async def go() -> None:
        async with receiving(config, **options) as (running, client):
            await scenario(running, client)

    run(go())


# --- XML: DGWS envelopes around MedCom letters -------------------------------------------


def test_a_valid_xrpt01_gets_a_positive_xctl03_and_is_stored_once(
    pki: TestPki, sender: Sender, tmp_path: Path
) -> None:
    (payload,) = letters(lab_record(1))

    async def scenario(running: RunningReceiver, client: Client) -> None:
        reply = await client.post(sender.envelope(payload))
        assert (reply.status, reply.content_type) == (200, "text/xml")
        receipt = reply.receipt()
        assert (receipt.kind, receipt.outcome) == ("XCTL03", ReceiptOutcome.POSITIVE)
        assert receipt.message_id == letter_id(payload)
        (row,) = await client.received()
        assert row | {"received_at": None} == {
            "message_id": letter_id(payload),
            "kind": "XRPT01",
            "outcome": "positive",
            "envelope_id": "00000000000001",
            "received_at": None,
            "duplicates": 0,
        }
        status, stored = await client.payload(letter_id(payload))
        assert status == 200 and _c14n(stored) == _c14n(payload)

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_the_same_bytes_again_get_the_stored_answer_byte_for_byte_even_when_stale(
    pki: TestPki, sender: Sender, tmp_path: Path
) -> None:
    """DGWS technical retry: the provider returns its stored answer, before any freshness
    check (the Timestamp of a retry an hour later is far outside the replay window)."""
    (payload,) = letters(lab_record(2))
    envelope = sender.envelope(payload)
    clock = MovableClock()

    async def scenario(running: RunningReceiver, client: Client) -> None:
        first = await client.post(envelope)
        clock.offset = timedelta(hours=1)
        again = await client.post(envelope)
        assert again.status == 200 and again.body == first.body
        (row,) = await client.received()
        assert row["duplicates"] == 1
        fresh_but_late = await client.post(sender.envelope(payload))
        assert fresh_but_late.fault_code() == "security_level_failed"  # DGWS-STALE

    with_receiver(receiver_config(pki, tmp_path), scenario, clock=clock)


@pytest.mark.parametrize("valid", [True, False], ids=["positive", "negative"])
def test_a_resend_with_a_new_envelope_gets_the_same_verdict_with_new_ids(
    pki: TestPki, sender: Sender, tmp_path: Path, valid: bool
) -> None:
    """MedCom: the same letter id in a new envelope is a duplicate: the same ack content (outcome,
    refuse code, Issues), a receipt of its own, logged, never stored twice."""
    (payload,) = letters(lab_record(3))
    if not valid:
        payload = _invalid(payload)

    async def scenario(running: RunningReceiver, client: Client) -> None:
        first = (await client.post(sender.envelope(payload))).receipt()
        resent = payload.replace(b"00000000000001", b"00000000000002", 1)  # new envelope id
        second = (await client.post(sender.envelope(resent))).receipt()
        assert second.outcome == first.outcome
        assert (second.refuse_code, second.issues) == (first.refuse_code, first.issues)
        assert second.receipt_id != first.receipt_id
        assert (second.message_id, second.envelope_id) == (first.message_id, "00000000000002")
        (row,) = await client.received()
        assert (row["duplicates"], row["envelope_id"]) == (1, "00000000000001")

    with_receiver(receiver_config(pki, tmp_path), scenario)


def _c14n(xml: bytes) -> bytes:
    """Exclusive C14N: the letter, without namespaces it inherited from the envelope."""
    return etree.tostring(etree.fromstring(xml), method="c14n", exclusive=True)


def _invalid(payload: bytes) -> bytes:
    """The letter with an AnalysisCodeType outside the schema's list: signed, but invalid."""
    broken = payload.replace(b">iupac<", b">bogus<", 1)
    assert broken != payload
    return broken


def test_an_invalid_payload_gets_a_negative_xctl02_with_the_issues(
    pki: TestPki, sender: Sender, tmp_path: Path
) -> None:
    (payload,) = letters(lab_record(4))

    async def scenario(running: RunningReceiver, client: Client) -> None:
        reply = await client.post(sender.envelope(_invalid(payload)))
        assert reply.status == 200
        receipt = reply.receipt()
        assert (receipt.kind, receipt.outcome) == ("XCTL02", ReceiptOutcome.NEGATIVE)
        assert receipt.refuse_code == "syntaksfejl" and "XSD" in rules(receipt.issues)
        assert [r["outcome"] for r in await client.received()] == ["negative"]

    with_receiver(receiver_config(pki, tmp_path), scenario)


def _tampered(envelope: bytes) -> bytes:
    changed = envelope.replace(b"Berggren", b"Bergkvist", 1)
    assert changed != envelope
    return changed


@pytest.mark.parametrize(
    ("case", "fault"),
    [
        ("tampered body", "invalid_signature"),
        ("untrusted signer", "security_level_failed"),
        ("revoked signer", "security_level_failed"),
        ("not dgws", "syntax_error"),
        ("not xml", "syntax_error"),
        ("signed, no letter", "syntax_error"),
    ],
)
def test_a_request_that_does_not_verify_gets_a_soap_fault_and_nothing_is_stored(
    pki: TestPki, sender: Sender, tmp_path: Path, case: str, fault: str
) -> None:
    (payload,) = letters(lab_record(5))
    body = {
        "tampered body": lambda: _tampered(sender.envelope(payload)),
        "untrusted signer": lambda: Sender(pki, "untrusted").envelope(payload),
        "revoked signer": lambda: Sender(pki, "revoked").envelope(payload),
        "not dgws": lambda: payload,
        "not xml": lambda: b"hello",
        "signed, no letter": lambda: sender.envelope(NO_LETTER),
    }[case]()

    async def scenario(running: RunningReceiver, client: Client) -> None:
        reply = await client.post(body)
        assert (reply.status, reply.content_type) == (500, "text/xml")
        assert reply.fault_code() == fault
        assert await client.received() == []

    with_receiver(receiver_config(pki, tmp_path), scenario)


@pytest.mark.parametrize(
    ("role", "kind", "outcome"),
    [
        (Destination.LSP, "XRPT01", ReceiptOutcome.POSITIVE),
        (Destination.LSP, "XRPT05", ReceiptOutcome.NEGATIVE),
        (Destination.MIBA, "XRPT05", ReceiptOutcome.POSITIVE),
        (Destination.MIBA, "XRPT01", ReceiptOutcome.NEGATIVE),
    ],
)
def test_each_databank_takes_only_its_own_letter(
    pki: TestPki,
    sender: Sender,
    tmp_path: Path,
    role: Destination,
    kind: str,
    outcome: ReceiptOutcome,
) -> None:
    source = lab_record(6) if kind == "XRPT01" else culture(recordId="RCV-CUL-6")
    (payload,) = letters(source)

    async def scenario(running: RunningReceiver, client: Client) -> None:
        receipt = (await client.post(sender.envelope(payload))).receipt()
        assert receipt.outcome is outcome
        if outcome is ReceiptOutcome.NEGATIVE:
            assert rules(receipt.issues) == {"RECEIVER-WRONG-KIND"}
            assert receipt.refuse_code == "problem_med_modtagerID"

    with_receiver(receiver_config(pki, tmp_path, role), scenario)


# --- FHIR: signed message Bundles ----------------------------------------------------------


@pytest.fixture(scope="module")
def fhir_messages() -> list[bytes]:
    return letters(lab_record(20), lab_record(21), syntax="fhir")


def test_a_signed_fhir_message_gets_an_ok_acknowledgement(
    pki: TestPki, sender: Sender, tmp_path: Path, fhir_messages: list[bytes]
) -> None:
    content = fhir_messages[0]

    async def scenario(running: RunningReceiver, client: Client) -> None:
        reply = await client.post(sender.bundle(content), FHIR)
        assert (reply.status, reply.content_type) == (200, FHIR)
        receipt = reply.receipt()
        assert (receipt.kind, receipt.outcome) == ("FHIR-ACK", ReceiptOutcome.POSITIVE)
        assert receipt.message_id == header_id(content)
        (row,) = await client.received()
        assert (row["kind"], row["envelope_id"]) == ("FHIR", json.loads(content)["id"])
        status, stored = await client.payload(header_id(content))
        assert status == 200 and json.loads(stored) == json.loads(content)

    with_receiver(receiver_config(pki, tmp_path, Destination.MIBA), scenario)


def test_fhir_duplicates_follow_the_reliable_messaging_table(
    pki: TestPki, sender: Sender, tmp_path: Path, fhir_messages: list[bytes]
) -> None:
    """notes/security-transport.md §5.2: both ids seen → the original response; MessageHeader.id
    seen with a new Bundle.id → a resend: same content, new ack ids; a Bundle.id seen with a new
    MessageHeader.id → error (fatal-error)."""
    content, other = fhir_messages
    bundle_id = json.loads(content)["id"]

    async def scenario(running: RunningReceiver, client: Client) -> None:
        signed = sender.bundle(content)
        first = await client.post(signed, FHIR)
        assert (await client.post(signed, FHIR)).body == first.body  # response lost
        resigned = await client.post(sender.bundle(content), FHIR)  # same ids, new signature
        assert resigned.body == first.body
        new_bundle = content.replace(bundle_id.encode(), b"6d1e5f4e-0000-4000-8000-00000000b2e1")
        resend = (await client.post(sender.bundle(new_bundle), FHIR)).receipt()
        assert resend.outcome is ReceiptOutcome.POSITIVE
        assert resend.message_id == header_id(content)
        assert resend.receipt_id != first.receipt().receipt_id
        reused = other.replace(json.loads(other)["id"].encode(), bundle_id.encode())
        refused = (await client.post(sender.bundle(reused), FHIR)).receipt()
        assert refused.outcome is ReceiptOutcome.NEGATIVE
        assert rules(refused.issues) == {"RECEIVER-BUNDLE-ID-REUSED"}
        (row,) = await client.received()
        assert (row["message_id"], row["duplicates"]) == (header_id(content), 3)

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_an_invalid_fhir_message_gets_a_fatal_error_ack_with_the_issues(
    pki: TestPki, sender: Sender, tmp_path: Path, fhir_messages: list[bytes]
) -> None:
    content = fhir_messages[0].replace(b'"status":"final"', b'"status":"finished"', 1)
    assert content != fhir_messages[0]

    async def scenario(running: RunningReceiver, client: Client) -> None:
        receipt = (await client.post(sender.bundle(content), FHIR)).receipt()
        assert receipt.outcome is ReceiptOutcome.NEGATIVE
        assert "FHIR-BINDING" in rules(receipt.issues)

    with_receiver(receiver_config(pki, tmp_path), scenario)


@pytest.mark.parametrize("case", ["tampered", "untrusted", "unsigned"])
def test_a_fhir_message_that_does_not_verify_gets_401(
    pki: TestPki, sender: Sender, tmp_path: Path, fhir_messages: list[bytes], case: str
) -> None:
    content = fhir_messages[0]
    body = {
        "tampered": lambda: _tampered(sender.bundle(content)),
        "untrusted": lambda: Sender(pki, "untrusted").bundle(content),
        "unsigned": lambda: content,
    }[case]()

    async def scenario(running: RunningReceiver, client: Client) -> None:
        reply = await client.post(body, FHIR)
        assert (reply.status, reply.content_type) == (401, FHIR)
        outcome = json.loads(reply.body)
        assert outcome["resourceType"] == "OperationOutcome"
        assert await client.received() == []

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_a_signed_bundle_that_is_no_message_gets_400(
    pki: TestPki, sender: Sender, tmp_path: Path, fhir_messages: list[bytes]
) -> None:
    """Nothing to acknowledge: without a MessageHeader there is no id to answer to."""
    content = fhir_messages[0].replace(b'"type":"message"', b'"type":"collection"', 1)
    assert content != fhir_messages[0]

    async def scenario(running: RunningReceiver, client: Client) -> None:
        reply = await client.post(sender.bundle(content), FHIR)
        assert (reply.status, reply.content_type) == (400, FHIR)
        assert "RECEIPT-KIND" in reply.body.decode()
        assert await client.received() == []

    with_receiver(receiver_config(pki, tmp_path), scenario)


# --- the HTTP surface, TLS and concurrency ---------------------------------------------------


def test_health_unknown_ids_and_other_content_types(pki: TestPki, tmp_path: Path) -> None:
    async def scenario(running: RunningReceiver, client: Client) -> None:
        async with client.session.get(f"{client.url}health") as answer:
            assert await answer.json() == {"status": "ok", "role": "lsp"}
        assert (await client.payload("00000000000099"))[0] == 404
        assert (await client.post(b"{}", "application/json")).status == 415

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_a_required_client_certificate_missing_refuses_the_handshake(
    pki: TestPki, sender: Sender, tmp_path: Path
) -> None:
    config = receiver_config(pki, tmp_path, client_cert_required=True)
    (payload,) = letters(lab_record(7))

    async def scenario() -> None:
        async with receiving(config, cert=None) as (_, client):
            with pytest.raises(aiohttp.ClientError):
                await client.post(sender.envelope(payload))
        async with receiving(config) as (_, client):
            assert (await client.post(sender.envelope(payload))).status == 200
            assert len(await client.received()) == 1

    run(scenario())


def test_an_optional_client_certificate_may_be_left_out(
    pki: TestPki, sender: Sender, tmp_path: Path
) -> None:
    (payload,) = letters(lab_record(8))

    async def scenario(running: RunningReceiver, client: Client) -> None:
        assert (await client.post(sender.envelope(payload))).status == 200

    with_receiver(receiver_config(pki, tmp_path), scenario, cert=None)


def test_fifty_concurrent_messages_are_each_stored_once(
    pki: TestPki, sender: Sender, tmp_path: Path
) -> None:
    payloads = letters(*(lab_record(100 + n) for n in range(50)))
    envelopes = [sender.envelope(p) for p in payloads]

    async def scenario(running: RunningReceiver, client: Client) -> None:
        replies = await asyncio.gather(*(client.post(e) for e in envelopes))
        assert {r.receipt().outcome for r in replies} == {ReceiptOutcome.POSITIVE}
        rows = await client.received()
        assert sorted(r["message_id"] for r in rows) == sorted(map(letter_id, payloads))
        assert {r["duplicates"] for r in rows} == {0}

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_copies_of_one_message_racing_are_stored_once(
    pki: TestPki, sender: Sender, tmp_path: Path
) -> None:
    (payload,) = letters(lab_record(9))
    copies = [sender.envelope(payload) for _ in range(10)]  # ten envelopes, one letter

    async def scenario(running: RunningReceiver, client: Client) -> None:
        replies = await asyncio.gather(*(client.post(c) for c in copies))
        assert {r.receipt().outcome for r in replies} == {ReceiptOutcome.POSITIVE}
        (row,) = await client.received()
        assert row["duplicates"] == 9

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_the_log_names_each_message_and_never_a_cpr_number(
    pki: TestPki, sender: Sender, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (payload,) = letters(lab_record(10))
    assert CPR.encode() in payload

    async def scenario(running: RunningReceiver, client: Client) -> None:
        envelope = sender.envelope(payload)
        await client.post(envelope)
        await client.post(envelope)
        await client.post(sender.envelope(_invalid(payload)))

    with caplog.at_level("INFO", logger="labgw.receiver"):
        with_receiver(receiver_config(pki, tmp_path), scenario)
    lines = [r.getMessage() for r in caplog.records if "message=" in r.getMessage()]
    assert len(lines) == 3
    assert f"message={letter_id(payload)} outcome=positive duplicate=no" in lines[0]
    assert "duplicate=replay" in lines[1] and "duplicate=same-content" in lines[2]
    assert CPR not in caplog.text and CPR[:6] + "-" + CPR[6:] not in caplog.text


def test_a_port_in_use_is_an_error_and_leaves_nothing_running(pki: TestPki, tmp_path: Path) -> None:
    async def scenario(running: RunningReceiver, client: Client) -> None:
        taken = receiver_config(pki, tmp_path / "second", port=running.port)
        with pytest.raises(OSError):
            await start_receiver(taken)
        assert len(await client.received()) == 0  # the first one still answers

    with_receiver(receiver_config(pki, tmp_path), scenario)


def test_config_objects_are_frozen_but_faults_are_live(pki: TestPki, tmp_path: Path) -> None:
    config = receiver_config(pki, tmp_path)
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]
    assert replace(config, port=8444).faults is config.faults
