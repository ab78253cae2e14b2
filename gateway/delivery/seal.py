"""Sealing: a stored message payload becomes the signed bytes that go on the wire (DESIGN §6).

XML letters travel in a DGWS envelope, FHIR Bundles carry a JWS. The first envelope of a
message signs the payload as rendered; a MedCom resend (no receipt after 30 minutes) gets a new
envelope id and send time in the payload itself, then a new signature, and keeps the letter id
(notes/security-transport.md §5.1). A technical retry never comes here: it resends the stored
bytes of the current envelope.

Pure but for one cache: the SOSI ID card, signed once and reused until shortly before it
expires, as a card from an STS would be.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives import serialization

from gateway.clock import derived_id
from gateway.errors import InputError, InvalidMessageError
from gateway.fhir_message.render import fhir_time, uuid_for
from gateway.outbox.model import Envelope, OutboxMessage
from gateway.security import json_members
from gateway.security.dgws import IdCard, Signer, build_envelope, make_id_card
from gateway.security.jws import sign_bundle
from gateway.security.keys import SigningIdentity
from gateway.xml.letter_parts import local_date_time
from gateway.xml.writer import escape

XML_CONTENT_TYPE = "text/xml; charset=utf-8"
FHIR_CONTENT_TYPE = "application/fhir+json"
_DGWS_NAMESPACE = uuid.UUID("0b0e1f4e-7f0a-4d0e-9a57-3c1d2b9d5a01")
# The Envelope block opens every letter we render (gateway/xml/letter_parts.envelope).
_ENVELOPE = re.compile(rb"<Envelope>.*?</Envelope>", re.DOTALL)


def sender_reference(bundle: bytes) -> str:
    """`MessageHeader.sender`: the Organization that signs a MedCom message."""
    try:
        header = json.loads(bundle)["entry"][0]["resource"]
        return str(header["sender"]["reference"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError("not a FHIR message Bundle with MessageHeader.sender first") from exc


def dgws_message_id(message_id: str, number: int) -> str:
    """medcom:Header Linking/MessageID: one per MedCom envelope (`number` 1, 2, 3), the same on
    every technical retry."""
    return str(uuid.uuid5(_DGWS_NAMESPACE, f"{message_id}/{number}"))


def resend_envelope_id(message_id: str, number: int) -> str:
    """The envelope id of the `number`-th MedCom envelope of a message (2, 3 …): derived, so a
    replay after a crash makes the same one."""
    return derived_id("envelope", message_id, str(number))


def reenvelope(
    kind: str, payload: bytes, message_id: str, envelope_id: str, sent: datetime
) -> bytes:
    """The payload with a new envelope id and send time, every other byte as it was."""
    if kind == "FHIR":
        text = payload.decode("utf-8")
        text = json_members.replace_value(
            text, "id", json.dumps(uuid_for("Bundle", message_id, envelope_id))
        )
        text = json_members.replace_value(text, "timestamp", json.dumps(fhir_time(sent)))
        return text.encode("utf-8")
    match = _ENVELOPE.search(payload)
    if match is None:
        raise InvalidMessageError(f"message {message_id}: no Envelope to renew", ())
    block = match.group(0).decode("utf-8")
    date, time = local_date_time(sent)
    block = re.sub(
        r"<Identifier>[^<]*</Identifier>",
        f"<Identifier>{escape(envelope_id)}</Identifier>",
        block,
        count=1,
    )
    block = re.sub(r"<Date>[^<]*</Date>", f"<Date>{date}</Date>", block, count=1)
    block = re.sub(r"<Time>[^<]*</Time>", f"<Time>{time}</Time>", block, count=1)
    return payload[: match.start()] + block.encode("utf-8") + payload[match.end() :]


def envelope_id_of(kind: str, payload: bytes) -> str:
    """The envelope id a rendered payload carries (Envelope/Identifier, Bundle.id)."""
    if kind == "FHIR":
        return str(json.loads(payload)["id"])
    match = _ENVELOPE.search(payload)
    found = re.search(rb"<Identifier>([^<]*)</Identifier>", match.group(0)) if match else None
    if found is None:
        raise InvalidMessageError("the payload has no Envelope/Identifier", ())
    return found.group(1).decode("utf-8")


@dataclass(slots=True)
class Sealer:
    """Signs for one organisation: DGWS for XML letters, JWS for FHIR Bundles."""

    identity: SigningIdentity
    signer: Signer = field(init=False)
    certificate_label: str = field(init=False)
    _card: IdCard | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.signer = Signer.of(self.identity)
        cert = self.identity.certificate
        fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        self.certificate_label = f"sha256:{fingerprint} {cert.subject.rfc4514_string()}"

    def card(self, now: datetime) -> IdCard:
        if self._card is None or not self._card.valid_at(now):
            self._card = make_id_card(self.signer, now)
        return self._card

    def seal(self, message: OutboxMessage, number: int, now: datetime) -> Envelope:
        """Signed form `number` of the message, for its current MedCom envelope.

        The envelope follows `message.resends`: the first as rendered, each resend with a new
        envelope id and send time (`reenvelope`). Sealing the same envelope again (a later
        `number`, same resends) keeps its envelope id and DGWS MessageID and only renews the
        signature and its Timestamp, so a technical retry long after the first try is not
        refused as stale.
        """
        resend = message.resends
        payload = message.payload
        envelope_id = envelope_id_for(message)
        if resend:
            payload = reenvelope(message.kind, payload, message.message_id, envelope_id, now)
        if message.kind == "FHIR":
            wire = sign_bundle(payload, self.identity, sender_reference(payload), now)
            content_type = FHIR_CONTENT_TYPE
        else:
            dgws_id = dgws_message_id(message.message_id, resend + 1)
            wire = build_envelope(payload, self.card(now), self.signer, dgws_id, now)
            content_type = XML_CONTENT_TYPE
        return Envelope(
            message.message_id, number, envelope_id, wire, content_type, self.certificate_label, now
        )


def envelope_id_for(message: OutboxMessage) -> str:
    """The MedCom envelope id the message travels in after `message.resends` resends."""
    if message.resends == 0:
        return envelope_id_of(message.kind, message.payload)
    return resend_envelope_id(message.message_id, message.resends + 1)
