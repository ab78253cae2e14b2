"""The named mutations of conformance/transport-fhir/manifest.json, applied to signed Bundles.

Each takes a freshly signed FHIR message and a context that can sign again, and returns the
bytes a receiver must judge: verify (`--target self`) or answer (`URL`). The helpers that
rebuild a Signature element are shared with tests/test_jws.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway.delivery.seal import sender_reference
from gateway.fhir_message.json_text import dumps
from gateway.security import canonical_json, json_members
from gateway.security.jws import sign_bundle
from gateway.security.keys import SigningIdentity


@dataclass(frozen=True)
class Context:
    message: bytes  # the unsigned FHIR message Bundle
    identity: SigningIdentity
    other: SigningIdentity  # a second trusted identity: its key forges under the first's x5c
    now: datetime

    def signed(
        self, identity: SigningIdentity | None = None, message: bytes | None = None
    ) -> bytes:
        message = message or self.message
        return sign_bundle(message, identity or self.identity, sender_reference(message), self.now)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signature_parts(signed: bytes) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The Signature element, the decoded JWS header and the JWS signature part."""
    element = json.loads(signed)["signature"]
    header, _, signature = base64.b64decode(element["data"]).decode().split(".")
    return element, json.loads(b64url_decode(header)), signature


def with_signature(
    signed: bytes,
    header: dict[str, Any] | None = None,
    signature: bytes | None = None,
    payload: str = "",
    **element_changes: Any,
) -> bytes:
    """`signed` with its Signature element rebuilt: another header, signature or field."""
    element = json.loads(signed)["signature"]
    old_header, _, old_signature = base64.b64decode(element["data"]).decode().split(".")
    encoded_header = b64url(json.dumps(header).encode()) if header is not None else old_header
    encoded_signature = b64url(signature) if signature is not None else old_signature
    compact = f"{encoded_header}.{payload}.{encoded_signature}"
    element = {**element, "data": base64.b64encode(compact.encode()).decode(), **element_changes}
    return with_element(signed, element)


def with_element(signed: bytes, element: dict[str, Any]) -> bytes:
    text = json_members.remove(signed.decode(), "signature")
    return json_members.append(text, "signature", dumps(element)).encode()


def signing_input(signed: bytes, header: dict[str, Any]) -> bytes:
    """What a forger would sign: the header they chose and the Bundle's canonical form."""
    bundle = canonical_json.loads(signed)
    del bundle["signature"]
    payload = canonical_json.canonicalize(bundle)
    return f"{b64url(json.dumps(header).encode())}.{b64url(payload)}".encode()


def _header(ctx: Context, data: bytes, **changes: Any) -> bytes:
    _, header, _ = signature_parts(data)
    header = {k: v for k, v in {**header, **changes}.items() if v is not None}
    return with_signature(data, header)


def _hs256(ctx: Context, data: bytes) -> bytes:
    """Algorithm confusion: an HMAC keyed with the signer's public key, which anyone has."""
    _, header, _ = signature_parts(data)
    header = {**header, "alg": "HS256"}
    secret = ctx.identity.certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mac = hmac.new(secret, signing_input(data, header), hashlib.sha256).digest()
    return with_signature(data, header, mac)


def _other_key(ctx: Context, data: bytes) -> bytes:
    """A valid signature by another trusted key, under the first signer's x5c."""
    _, header, _ = signature_parts(data)
    key = ctx.other.key
    if isinstance(key, rsa.RSAPrivateKey):
        forged = key.sign(signing_input(data, header), padding.PKCS1v15(), hashes.SHA256())
    else:
        raise ValueError("other-key needs an RSA identity as `other`")
    return with_signature(data, header, forged)


def _replace(old: bytes, new: bytes) -> Callable[[Context, bytes], bytes]:
    def mutate(ctx: Context, data: bytes) -> bytes:
        if old not in data:
            raise ValueError(f"the signed message holds no {old!r} to change")
        return data.replace(old, new, 1)

    return mutate


def _unsigned(ctx: Context, data: bytes) -> bytes:
    return ctx.message


def _attached(ctx: Context, data: bytes) -> bytes:
    return with_signature(data, payload=b64url(b'{"resourceType":"Bundle"}'))


def _element(**changes: str) -> Callable[[Context, bytes], bytes]:
    def mutate(ctx: Context, data: bytes) -> bytes:
        return with_element(data, {**json.loads(data)["signature"], **changes})

    return mutate


def _duplicate_member(ctx: Context, data: bytes) -> bytes:
    """The same key twice: parsers disagree on which wins; I-JSON forbids it."""
    doubled = b'"resourceType":"Patient","resourceType":"Bundle"'
    return data.replace(b'"resourceType":"Bundle"', doubled, 1)


MUTATIONS: dict[str, Callable[[Context, bytes], bytes]] = {
    "none": lambda ctx, data: data,
    "tamper-cpr": _replace(b'"2509479989"', b'"2509479988"'),
    "tamper-status": _replace(b'"status":"final"', b'"status":"amended"'),
    "tamper-unit": _replace(b'"mg/L"', b'"g/L"'),
    "moved-when": _element(when="2020-01-01T08:00:00+00:00"),
    "duplicate-member": _duplicate_member,
    "no-signature": _unsigned,
    "alg-none": lambda ctx, data: with_signature(
        data, {**signature_parts(data)[1], "alg": "none"}, b""
    ),
    "alg-hs256": _hs256,
    "alg-es256-on-rsa": lambda ctx, data: _header(ctx, data, alg="ES256"),
    "alg-ps256": lambda ctx, data: _header(ctx, data, alg="PS256"),
    "other-key": _other_key,
    "no-x5c": lambda ctx, data: _header(ctx, data, x5c=None),
    "junk-x5c": lambda ctx, data: _header(ctx, data, x5c=["bm90IGEgY2VydGlmaWNhdGU="]),
    "crit": lambda ctx, data: _header(ctx, data, crit=["exp"]),
    "b64-false": lambda ctx, data: _header(ctx, data, b64=False),
    "bad-sigt": lambda ctx, data: _header(ctx, data, sigT="yesterday"),
    "attached-payload": _attached,
    "pkcs7-format": _element(sigFormat="application/pkcs7-signature"),
    "data-not-base64": _element(data="not base64!"),
    "lossy-number": _replace(b'"value":45,', b'"value":45.000000000000000001,'),
    # Signed as it is, but not a valid message: the receiver answers a negative receipt.
    "invalid-payload": lambda ctx, data: ctx.signed(
        message=ctx.message.replace(b'"status":"final"', b'"status":"bogus"', 1)
    ),
}
