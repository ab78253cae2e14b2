"""The named mutations of conformance/transport-dgws/manifest.json, applied to signed envelopes.

Each mutation takes the bytes of a freshly signed envelope and a context that can sign again, and
returns the bytes to verify (`--target self`) or to send to a receiver under test (`URL`).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from lxml import etree
from signxml import XMLSigner, methods
from signxml.algorithms import CanonicalizationMethod

from gateway.security.dgws import Signer, build_envelope, make_id_card
from gateway.security.dgws_ns import DS, SOAP, WSSE, WSU, q

# signxml signs some attack cases as an independent implementation; at DEBUG it logs the
# canonicalised XML it signs, test-patient CPR numbers included: keep it at INFO, so no CPR
# number reaches a log (and the test session's CPR scan judges labgw's own logs).
logging.getLogger("signxml").setLevel(logging.INFO)


@dataclass(frozen=True)
class Context:
    payload: bytes
    signer: Signer
    other: Signer  # a second identity, for a foreign ID card
    now: datetime
    message_id: str = "msg-0001"  # the envelope's MessageID (unique per case when sent live)

    def envelope(
        self,
        signer: Signer | None = None,
        card_signer: Signer | None = None,
        card_time: datetime | None = None,
    ) -> bytes:
        signer = signer or self.signer
        card = make_id_card(card_signer or signer, card_time or self.now)
        return build_envelope(self.payload, card, signer, self.message_id, self.now)


def _tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _security(root: etree._Element) -> etree._Element:
    found = root.find(f"{q(SOAP, 'Header')}/{q(WSSE, 'Security')}")
    assert found is not None
    return found


def _envelope_signature(root: etree._Element) -> etree._Element:
    found = _security(root).find(q(DS, "Signature"))
    assert found is not None
    return found


def _resign(
    ctx: Context, references: list[str], algorithm: str | None = None, key: bytes | None = None
) -> bytes:
    root = _tree(ctx.envelope())
    security = _security(root)
    security.remove(_envelope_signature(root))
    signer = XMLSigner(
        method=methods.detached,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        signature_algorithm=algorithm or "rsa-sha256",
        digest_algorithm="sha256",
    )
    signature = signer.sign(
        root,
        key=key or ctx.signer.key,
        cert=None if key else list(ctx.signer.chain),
        reference_uri=references,
    )
    security.append(signature)
    return _bytes(root)


def wrap_body(ctx: Context, data: bytes) -> bytes:
    root = _tree(data)
    body = root.find(q(SOAP, "Body"))
    header = root.find(q(SOAP, "Header"))
    assert body is not None and header is not None
    header.append(body)
    etree.SubElement(etree.SubElement(root, q(SOAP, "Body")), "Evil").text = "unsigned"
    return _bytes(root)


def second_body(ctx: Context, data: bytes) -> bytes:
    root = _tree(data)
    body = root.find(q(SOAP, "Body"))
    assert body is not None
    evil = etree.Element(q(SOAP, "Body"))
    etree.SubElement(evil, "Evil").text = "unsigned"
    body.addprevious(evil)
    return _bytes(root)


def duplicate_id(ctx: Context, data: bytes) -> bytes:
    root = _tree(data)
    extra = etree.SubElement(_security(root), "Extra")
    extra.set(q(WSU, "Id"), "body")
    return _bytes(root)


def signature_in_body(ctx: Context, data: bytes) -> bytes:
    root = _tree(data)
    body = root.find(q(SOAP, "Body"))
    assert body is not None
    body.append(_envelope_signature(root))
    return _bytes(root)


def extra_signature(ctx: Context, data: bytes) -> bytes:
    root = _tree(data)
    header = root.find(q(SOAP, "Header"))
    assert header is not None
    header.append(copy.deepcopy(_envelope_signature(root)))
    return _bytes(root)


def no_certificate(ctx: Context, data: bytes) -> bytes:
    root = _tree(data)
    key_info = _envelope_signature(root).find(q(DS, "KeyInfo"))
    assert key_info is not None
    key_info.getparent().remove(key_info)
    return _bytes(root)


_CPR = re.compile(rb"(<CivilRegistrationNumber>\d{9})(\d)")


def _other_digit(match: re.Match[bytes]) -> bytes:
    """One digit of the CPR number changed: the smallest change that matters most."""
    return match.group(1) + str((int(match.group(2)) + 1) % 10).encode()


def _doctype(declaration: bytes, data: bytes) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + declaration + data.split(b"?>", 1)[1]


MUTATIONS: dict[str, Callable[[Context, bytes], bytes]] = {
    "none": lambda ctx, data: data,
    "wrap-body": wrap_body,
    "second-body": second_body,
    "tamper-body": lambda ctx, data: _CPR.sub(_other_digit, data, count=1),
    "tamper-timestamp": lambda ctx, data: data.replace(
        b"<wsu:Created>" + ctx.now.strftime("%Y-%m-%d").encode(),
        b"<wsu:Created>" + (ctx.now - timedelta(days=1)).strftime("%Y-%m-%d").encode(),
        1,
    ),
    "tamper-header": lambda ctx, data: data.replace(
        ctx.message_id.encode(), ctx.message_id.encode() + b"x", 1
    ),
    "duplicate-id": duplicate_id,
    "two-references": lambda ctx, data: _resign(ctx, ["#body", "#ts"]),
    "signature-in-body": signature_in_body,
    "extra-signature": extra_signature,
    "no-certificate": no_certificate,
    "sha1": lambda ctx, data: ctx.envelope(replace(ctx.signer, sha1=True)),
    "hmac": lambda ctx, data: _resign(
        ctx,
        ["#body", "#ts", "#medcomheader"],
        "hmac-sha256",
        b"the receiver's public key used as a secret",
    ),
    "dtd": lambda ctx, data: _doctype(b'<!DOCTYPE x [<!ENTITY a "b">]>\n', data),
    "xxe": lambda ctx, data: _doctype(
        b'<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]>\n', data
    ),
    "billion-laughs": lambda ctx, data: _doctype(
        b'<!DOCTYPE x [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;">'
        b'<!ENTITY l3 "&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;">]>\n',
        data,
    ),
    "stale": lambda ctx, data: build_envelope(
        ctx.payload,
        make_id_card(ctx.signer, ctx.now),
        ctx.signer,
        ctx.message_id,
        ctx.now - timedelta(minutes=30),
    ),
    "pretty-print": lambda ctx, data: etree.tostring(_tree(data), pretty_print=True),
    "foreign-card": lambda ctx, data: ctx.envelope(card_signer=ctx.other),
    "expired-card": lambda ctx, data: ctx.envelope(card_time=ctx.now - timedelta(days=2)),
    # Signed as it is, but not a valid letter: the receiver answers a negative receipt.
    "invalid-payload": lambda ctx, data: replace(
        ctx,
        payload=ctx.payload.replace(
            b"<ReportStatusCode>komplet_svar<", b"<ReportStatusCode>bogus<", 1
        ),
    ).envelope(),
}
