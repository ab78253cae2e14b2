"""Sealing for the wire: the first envelope signs the payload as rendered; a MedCom resend
changes only the envelope id and send time, keeps the letter id, and is signed anew; every
sealed form verifies with the receivers' own checks."""

from __future__ import annotations

import difflib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.delivery.seal import (
    Sealer,
    dgws_message_id,
    envelope_id_of,
    reenvelope,
    resend_envelope_id,
)
from gateway.outbox.model import OutboxMessage
from gateway.outbox.states import State
from gateway.pipeline import Message
from gateway.pki import TestPki
from gateway.security.dgws_verify import verify_envelope
from gateway.security.jws import VerifiedBundle, verify_bundle
from gateway.security.keys import load_identity
from gateway.security.trust import TrustStore
from gateway.xml.validate import XmlValidator
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)
from tests.records import fhir_validator, record, translate

WHEN = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)


@cache
def _messages(syntax: str) -> tuple[Message, ...]:
    micro = record(
        recordId="SEAL-M", sample__id="U-SEAL", analysis={"system": "NPU", "code": "NPU16328"},
        result={"value": "Escherichia coli > 10^5/ml"},
    )  # fmt: skip
    return tuple(translate(record(), micro, syntax=syntax).messages)


def _outbox(message: Message) -> OutboxMessage:
    return OutboxMessage(
        message.message_id, message.destination.value, message.kind, message.content,
        message.records, State.SENDING, 0, 0, WHEN, WHEN, None, None, None, None,
    )  # fmt: skip


def _changed_lines(before: bytes, after: bytes) -> list[str]:
    diff = difflib.ndiff(before.decode().splitlines(), after.decode().splitlines())
    return [line for line in diff if line[:1] in "+-"]


@pytest.mark.parametrize("index", [0, 1], ids=["xrpt01", "xrpt05"])
def test_a_resent_xml_letter_differs_only_in_its_envelope(index: int) -> None:
    message = _messages("xml")[index]
    renewed = reenvelope(message.kind, message.content, message.message_id, "99000000000042", WHEN)
    changed = _changed_lines(message.content, renewed)
    assert all(("Identifier" in line or "Date" in line or "Time" in line) for line in changed)
    assert "+     <Identifier>99000000000042</Identifier>" in [
        c.replace("  ", " ", 1) for c in changed
    ] or any("<Identifier>99000000000042</Identifier>" in line for line in changed)
    assert envelope_id_of(message.kind, renewed) == "99000000000042"
    assert f"<Identifier>{message.message_id}</Identifier>".encode() in renewed  # letter id kept
    assert not [i for i in XmlValidator().iter_issues(renewed, "renewed") if i.blocking]


def test_a_resent_fhir_message_gets_a_new_bundle_id_and_timestamp_only() -> None:
    message = _messages("fhir")[0]
    renewed = reenvelope(message.kind, message.content, message.message_id, "99000000000042", WHEN)
    before, after = json.loads(message.content), json.loads(renewed)
    assert after["id"] != before["id"] and after["timestamp"] == WHEN.isoformat(timespec="seconds")
    assert {k: v for k, v in after.items() if k not in ("id", "timestamp")} == {
        k: v for k, v in before.items() if k not in ("id", "timestamp")
    }
    assert len(_changed_lines(message.content, renewed)) <= 4
    assert not [i for i in fhir_validator().iter_issues(renewed, "renewed") if i.blocking]


@given(st.text(alphabet="0123456789", min_size=1, max_size=14), st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
))  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_reenvelope_keeps_every_byte_outside_the_envelope(envelope_id: str, sent: datetime) -> None:
    message = _messages("xml")[0]
    renewed = reenvelope(message.kind, message.content, message.message_id, envelope_id, sent)
    end = message.content.index(b"</Envelope>")
    assert renewed[renewed.index(b"</Envelope>") :] == message.content[end:]
    assert envelope_id_of(message.kind, renewed) == envelope_id


@pytest.fixture(scope="module")
def sealer(pki: TestPki) -> Sealer:
    entry = pki["practice-platform"]
    assert entry.cert_path and entry.key_path
    return Sealer(load_identity(entry.cert_path, entry.key_path))


def test_first_and_resent_xml_envelopes_verify(sealer: Sealer, pki: TestPki) -> None:
    trust = TrustStore.from_files(pki.trust_path, (pki.crl_path,))
    message = _outbox(_messages("xml")[0])
    first = sealer.seal(message, 1, WHEN)
    resent = replace(message, resends=1, envelope=first)  # no receipt in 30 min: a resend
    second = sealer.seal(resent, 2, WHEN + timedelta(minutes=30))
    assert first.envelope_id == envelope_id_of(message.kind, message.payload)
    assert second.envelope_id == resend_envelope_id(message.message_id, 2) != first.envelope_id
    for number, envelope, at in ((1, first, WHEN), (2, second, WHEN + timedelta(minutes=30))):
        checked = verify_envelope(envelope.wire, now=at, trust=trust)
        assert checked.valid and checked.envelope is not None, checked.issues
        assert checked.envelope.message_id == dgws_message_id(message.message_id, number)
        assert envelope.number == number
        payload = checked.envelope.payload_bytes()
        assert envelope.envelope_id.encode() in payload
        assert message.message_id.encode() in payload
    assert envelope.signer.startswith("sha256:") and "labgw Test Praksisplatform" in envelope.signer


def test_signing_the_same_envelope_again_keeps_its_ids(sealer: Sealer, pki: TestPki) -> None:
    """A technical retry long after the first try: a fresh Timestamp, the same ids."""
    trust = TrustStore.from_files(pki.trust_path, (pki.crl_path,))
    message = _outbox(_messages("xml")[1])
    later = WHEN + timedelta(hours=2)
    first, again = sealer.seal(message, 1, WHEN), sealer.seal(message, 2, later)
    assert again.envelope_id == first.envelope_id and again.wire != first.wire
    checked = [
        verify_envelope(e.wire, now=t, trust=trust) for e, t in ((first, WHEN), (again, later))
    ]
    assert all(c.envelope is not None for c in checked)
    ids = {c.envelope.message_id for c in checked if c.envelope is not None}
    assert ids == {dgws_message_id(message.message_id, 1)}
    stale = verify_envelope(first.wire, now=later, trust=trust)  # why it must be signed again
    assert not stale.valid and stale.issues[0].rule == "DGWS-STALE"


def test_the_id_card_is_signed_once_and_reused(sealer: Sealer) -> None:
    first = sealer.card(WHEN)
    assert sealer.card(WHEN + timedelta(hours=1)) is first
    assert sealer.card(WHEN + timedelta(hours=24)) is not first  # renewed before it expires


def test_fhir_messages_carry_a_jws_that_verifies(sealer: Sealer, pki: TestPki) -> None:
    trust = TrustStore.from_files(pki.trust_path, (pki.crl_path,))
    message = _outbox(_messages("fhir")[0])
    for resends in (0, 1):
        envelope = sealer.seal(replace(message, resends=resends), resends + 1, WHEN)
        verified = verify_bundle(envelope.wire, trust)
        assert isinstance(verified, VerifiedBundle), verified
        assert json.loads(verified.content)["id"] == json.loads(envelope.wire)["id"]
        assert envelope.content_type == "application/fhir+json"
