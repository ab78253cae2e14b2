"""Bundle.signature (DESIGN §6 `fhir` profile): a detached JWS over the Bundle's canonical JSON.

Signing keeps every byte of the message; verification accepts only an intact Bundle signed with
RS256 or ES256 by a certificate the trust store accepts, and says why it refuses anything else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.conformance.jws_mutations import (
    b64url,
    b64url_decode,
    signature_parts,
    signing_input,
    with_signature,
)
from gateway.errors import ConfigError, InvalidMessageError, UsageError
from gateway.fhir_message.json_text import dumps
from gateway.issues import Issue
from gateway.pki import LEAVES, TestPki, build_test_pki
from gateway.security import canonical_json, json_members
from gateway.security.jws import VerifiedBundle, sign_bundle, verify_bundle
from gateway.security.keys import SigningIdentity, load_identity
from gateway.security.trust import TrustStore
from tests.records import NOW, record, translate

WHO = "Organization/9b4c1f5e-0000-4000-8000-000000000001"
RSA = "practice-platform"  # RSA-3072, as OCES3 organisation certificates
EC = "practice-platform-ec"  # P-256
FAILING_LEAVES = [spec for spec in LEAVES if spec.expect]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return build_test_pki(tmp_path_factory.mktemp("pki"), NOW)


@pytest.fixture(scope="module")
def trust(pki: TestPki) -> TrustStore:
    return TrustStore.from_files(pki.trust_path, [pki.crl_path])


def identity(pki: TestPki, name: str) -> SigningIdentity:
    entry = pki[name]
    assert entry.cert_path and entry.key_path
    return load_identity(entry.cert_path, entry.key_path)


@pytest.fixture(scope="module")
def message() -> bytes:
    """A FHIR lab message from the real renderer."""
    return translate(record(), syntax="fhir").messages[0].content


@pytest.fixture(scope="module")
def signed_rsa(pki: TestPki, message: bytes) -> bytes:
    return sign_bundle(message, identity(pki, RSA), WHO, NOW)


@pytest.fixture(scope="module")
def signed_ec(pki: TestPki, message: bytes) -> bytes:
    return sign_bundle(message, identity(pki, EC), WHO, NOW)


def refused(result: VerifiedBundle | tuple[Issue, ...]) -> list[str]:
    assert isinstance(result, tuple), "expected a refusal, the bundle verified"
    assert result and all(issue.blocking for issue in result)
    return [issue.rule for issue in result]


# Round trips


@pytest.mark.parametrize(
    ("name", "alg"), [(RSA, "RS256"), (EC, "ES256")], ids=["RSA-3072", "P-256"]
)
def test_a_signed_bundle_verifies_and_gives_back_the_message(
    pki: TestPki, trust: TrustStore, message: bytes, name: str, alg: str
) -> None:
    signed = sign_bundle(message, identity(pki, name), WHO, NOW)
    result = verify_bundle(signed, trust, None)
    assert isinstance(result, VerifiedBundle), result
    assert result.content == message
    assert result.algorithm == alg
    assert result.signer == pki[name].certificate
    assert result.chain == pki[name].chain
    assert result.signed_at == NOW
    assert result.who == WHO
    assert result.warnings == ()
    assert result.canonical == canonical_json.canonicalize(canonical_json.loads(message))


def test_the_test_pki_keys_are_the_ones_the_design_names(pki: TestPki) -> None:
    rsa_key = pki[RSA].certificate.public_key()
    ec_key = pki[EC].certificate.public_key()
    assert isinstance(rsa_key, rsa.RSAPublicKey) and rsa_key.key_size == 3072
    assert isinstance(ec_key, ec.EllipticCurvePublicKey) and ec_key.curve.name == "secp256r1"


def test_signing_appends_the_signature_and_keeps_every_other_byte(
    message: bytes, signed_rsa: bytes
) -> None:
    assert message.endswith(b"}")
    assert signed_rsa.startswith(message[:-1] + b',"signature":{')
    assert signed_rsa.endswith(b"}}")
    assert list(json.loads(signed_rsa))[-1] == "signature"


def test_the_signature_element_is_an_r4_signature_with_a_detached_jws(
    pki: TestPki, signed_ec: bytes
) -> None:
    element, header, signature = signature_parts(signed_ec)
    assert element["type"] == [
        {
            "system": "urn:iso-astm:E1762-95:2013",
            "code": "1.2.840.10065.1.12.1.1",
            "display": "Author's Signature",
        }
    ]
    assert element["when"] == "2025-12-01T08:00:00+00:00"
    assert element["who"] == {"reference": WHO}
    assert element["sigFormat"] == "application/jose"
    assert header["alg"] == "ES256"
    assert header["sigT"] == "2025-12-01T08:00:00Z"
    der = [base64.b64decode(item, validate=True) for item in header["x5c"]]
    assert [x509.load_der_x509_certificate(d) for d in der] == [
        pki[EC].certificate,
        *pki[EC].chain,
    ]
    assert len(b64url_decode(signature)) == 64  # ES256: r‖s, not DER


def test_signing_a_signed_bundle_replaces_its_signature(
    pki: TestPki, trust: TrustStore, message: bytes, signed_rsa: bytes
) -> None:
    again = sign_bundle(signed_rsa, identity(pki, EC), WHO, NOW + timedelta(minutes=1))
    assert again.count(b'"signature"') == 1
    result = verify_bundle(again, trust, None)
    assert isinstance(result, VerifiedBundle) and result.content == message
    assert result.algorithm == "ES256"


def test_key_order_whitespace_and_escapes_do_not_break_the_signature(
    trust: TrustStore, message: bytes, signed_rsa: bytes
) -> None:
    """The signature covers the canonical form, so a receiver that re-serialises still verifies."""

    def reversed_members(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: reversed_members(value[key]) for key in reversed(value)}
        if isinstance(value, list):
            return [reversed_members(item) for item in value]
        return value

    reformatted = json.dumps(reversed_members(json.loads(signed_rsa)), indent=2).encode()
    assert reformatted != signed_rsa
    result = verify_bundle(reformatted, trust, None)
    assert isinstance(result, VerifiedBundle), result
    assert json.loads(result.content) == json.loads(message)


def test_trailing_zeros_are_not_covered_which_is_the_documented_jcs_limit(
    pki: TestPki, trust: TrustStore
) -> None:
    message = translate(record(result__value="8,10"), syntax="fhir").messages[0].content
    signed = sign_bundle(message, identity(pki, RSA), WHO, NOW)
    assert b'"value":8.10' in signed
    result = verify_bundle(signed.replace(b'"value":8.10', b'"value":8.1'), trust)
    assert isinstance(result, VerifiedBundle)
    assert b'"value":8.1,' in result.content  # what arrived, not what was sent


# Tampering


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"value":45,', b'"value":46,'),
        (b'"2509479989"', b'"2509479988"'),
        (b'"Berggren"', b'"Berggrem"'),
        (b'"status":"final"', b'"status":"amended"'),
    ],
    ids=["observation-value", "patient-cpr", "patient-name", "status"],
)
@pytest.mark.parametrize("which", ["signed_rsa", "signed_ec"])
def test_changing_any_value_breaks_the_signature(
    request: pytest.FixtureRequest, trust: TrustStore, which: str, old: bytes, new: bytes
) -> None:
    signed: bytes = request.getfixturevalue(which)
    assert signed.count(old) >= 1
    assert refused(verify_bundle(signed.replace(old, new, 1), trust, None)) == ["JWS-SIGNATURE"]


def test_a_changed_signing_time_is_refused(trust: TrustStore, signed_rsa: bytes) -> None:
    """Signature.when is outside the signed Bundle; the signed sigT header pins it."""
    moved = with_signature(signed_rsa, when="2025-11-01T08:00:00+00:00")
    assert refused(verify_bundle(moved, trust, None)) == ["JWS-TIME"]


def test_an_added_duplicate_member_is_refused(trust: TrustStore, signed_rsa: bytes) -> None:
    """Parsers disagree on which duplicate wins; I-JSON forbids them."""
    doubled = signed_rsa.replace(b'"value":45,', b'"value":99,"value":45,', 1)
    assert refused(verify_bundle(doubled, trust, None)) == ["JWS-FORMAT"]


def test_a_bundle_without_signature_is_refused(trust: TrustStore, message: bytes) -> None:
    assert refused(verify_bundle(message, trust, None)) == ["JWS-MISSING"]


# Algorithms


def test_alg_none_is_refused(trust: TrustStore, signed_rsa: bytes) -> None:
    _, header, _ = signature_parts(signed_rsa)
    unsigned = with_signature(signed_rsa, header={**header, "alg": "none"}, signature=b"")
    assert refused(verify_bundle(unsigned, trust, None)) == ["JWS-ALGORITHM"]


def test_hs256_with_the_public_key_as_secret_is_refused(
    pki: TestPki, trust: TrustStore, signed_rsa: bytes
) -> None:
    """Algorithm confusion: an HMAC keyed with the signer's public key, which anyone has."""
    _, header, _ = signature_parts(signed_rsa)
    header = {**header, "alg": "HS256"}
    secret = (
        pki[RSA]
        .certificate.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    mac = hmac.new(secret, signing_input(signed_rsa, header), hashlib.sha256).digest()
    forged = with_signature(signed_rsa, header=header, signature=mac)
    assert refused(verify_bundle(forged, trust, None)) == ["JWS-ALGORITHM"]


@pytest.mark.parametrize(
    ("which", "alg"),
    [("signed_ec", "RS256"), ("signed_rsa", "ES256")],
    ids=["RS256-header-EC-key", "ES256-header-RSA-key"],
)
def test_an_alg_that_does_not_fit_the_key_is_refused(
    request: pytest.FixtureRequest, trust: TrustStore, which: str, alg: str
) -> None:
    signed: bytes = request.getfixturevalue(which)
    _, header, _ = signature_parts(signed)
    assert refused(verify_bundle(with_signature(signed, {**header, "alg": alg}), trust)) == [
        "JWS-ALGORITHM"
    ]


@pytest.mark.parametrize("alg", ["PS256", "ES384", "RS1", "HS512", "rs256", 256])
def test_algorithms_outside_the_allow_list_are_refused(
    pki: TestPki, trust: TrustStore, signed_rsa: bytes, alg: object
) -> None:
    _, header, _ = signature_parts(signed_rsa)
    assert refused(verify_bundle(with_signature(signed_rsa, {**header, "alg": alg}), trust)) == [
        "JWS-ALGORITHM"
    ]


# The JWS and its certificates


def test_a_signature_by_another_key_is_refused(
    pki: TestPki, trust: TrustStore, signed_rsa: bytes
) -> None:
    """A valid RS256 signature, but by the `lsp` key, under the practice's x5c."""
    _, header, _ = signature_parts(signed_rsa)
    other = pki["lsp"].private_key
    assert isinstance(other, rsa.RSAPrivateKey)
    forged = other.sign(signing_input(signed_rsa, header), padding.PKCS1v15(), hashes.SHA256())
    result = verify_bundle(with_signature(signed_rsa, header, forged), trust)
    assert refused(result) == ["JWS-SIGNATURE"]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"x5c": None}, "JWS-CERTIFICATE"),
        ({"x5c": []}, "JWS-CERTIFICATE"),
        ({"x5c": ["bm90IGEgY2VydGlmaWNhdGU="]}, "JWS-CERTIFICATE"),
        ({"x5c": [7]}, "JWS-CERTIFICATE"),
        ({"crit": ["exp"]}, "JWS-FORMAT"),
        ({"crit": "sigT"}, "JWS-FORMAT"),
        ({"b64": False}, "JWS-FORMAT"),
        ({"sigT": "yesterday"}, "JWS-FORMAT"),
    ],
    ids=["no-x5c", "empty-x5c", "junk-x5c", "number-x5c", "crit", "crit-not-list", "b64", "sigT"],
)
def test_a_bad_header_is_refused(
    trust: TrustStore, signed_rsa: bytes, change: dict[str, Any], rule: str
) -> None:
    _, header, _ = signature_parts(signed_rsa)
    header = {key: value for key, value in {**header, **change}.items() if value is not None}
    assert refused(verify_bundle(with_signature(signed_rsa, header), trust)) == [rule]


def test_an_attached_payload_is_refused(trust: TrustStore, signed_rsa: bytes) -> None:
    attached = with_signature(signed_rsa, payload=b64url(b'{"resourceType":"Bundle"}'))
    assert refused(verify_bundle(attached, trust)) == ["JWS-FORMAT"]


@pytest.mark.parametrize(
    "change",
    [
        {"sigFormat": "application/pkcs7-signature"},
        {"data": "not base64!"},
        {"data": base64.b64encode(b"a.b").decode()},
        {"data": base64.b64encode(b"a+b..c").decode()},
        {"when": "yesterday"},
        {"when": "2025-12-01T08:00:00"},
    ],
    ids=["sigFormat", "data-not-base64", "two-parts", "header-not-base64url", "when", "naive-when"],
)
def test_a_bad_signature_element_is_refused(
    trust: TrustStore, signed_rsa: bytes, change: dict[str, str]
) -> None:
    element = {**json.loads(signed_rsa)["signature"], **change}
    text = json_members.remove(signed_rsa.decode(), "signature")
    broken = json_members.append(text, "signature", dumps(element)).encode()
    assert refused(verify_bundle(broken, trust)) == ["JWS-FORMAT"]


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe{}", b"[]", b'{"resourceType":"Patient"}', b"{" * 100_000, b"[NaN]"],
    ids=["empty", "not-utf8", "array", "patient", "deep", "NaN"],
)
def test_input_that_is_not_a_bundle_is_refused_without_an_exception(content: bytes) -> None:
    assert refused(verify_bundle(content, None)) == ["JWS-FORMAT"]


def test_a_number_the_signature_cannot_cover_is_refused(
    trust: TrustStore, signed_rsa: bytes
) -> None:
    lossy = signed_rsa.replace(b'"value":45,', b'"value":45.000000000000000001,', 1)
    assert refused(verify_bundle(lossy, trust)) == ["JWS-NUMBER"]


# Trust


@pytest.mark.parametrize("spec", FAILING_LEAVES, ids=[spec.name for spec in FAILING_LEAVES])
def test_a_signer_the_trust_store_refuses_is_refused(
    pki: TestPki, trust: TrustStore, message: bytes, spec: Any
) -> None:
    """The JWS is intact; the certificate is expired, revoked, untrusted … (TRUST-* rules)."""
    signed = sign_bundle(message, identity(pki, spec.name), WHO, NOW)
    assert spec.expect in refused(verify_bundle(signed, trust, None))


def test_the_certificate_must_be_valid_at_the_time_asked(
    pki: TestPki, trust: TrustStore, signed_rsa: bytes
) -> None:
    later = pki[RSA].certificate.not_valid_after_utc + timedelta(days=1)
    assert "TRUST-EXPIRED" in refused(verify_bundle(signed_rsa, trust, later))


def test_without_a_trust_store_the_signature_is_checked_and_a_warning_given(
    signed_ec: bytes, message: bytes
) -> None:
    result = verify_bundle(signed_ec, None)
    assert isinstance(result, VerifiedBundle) and result.content == message
    assert [(w.rule, w.blocking) for w in result.warnings] == [("JWS-UNTRUSTED", False)]


# Signing errors


def test_signing_refuses_a_number_it_cannot_sign_exactly(pki: TestPki) -> None:
    with pytest.raises(InvalidMessageError) as caught:
        sign_bundle(
            b'{"resourceType":"Bundle","total":1.00000000000000000001}',
            identity(pki, RSA),
            WHO,
            NOW,
        )
    assert [i.rule for i in caught.value.issues if isinstance(i, Issue)] == ["JWS-NUMBER"]


@pytest.mark.parametrize("content", [b"[]", b"{", b'{"resourceType":"Patient"}'])
def test_signing_refuses_what_is_not_a_bundle(pki: TestPki, content: bytes) -> None:
    with pytest.raises(InvalidMessageError):
        sign_bundle(content, identity(pki, RSA), WHO, NOW)


def test_signing_needs_an_aware_time(pki: TestPki, message: bytes) -> None:
    with pytest.raises(UsageError):
        sign_bundle(message, identity(pki, RSA), WHO, datetime(2025, 12, 1, 8))


def test_signing_refuses_a_key_that_is_not_the_certificates(pki: TestPki, message: bytes) -> None:
    mixed = SigningIdentity(pki["lsp"].private_key, (pki[RSA].certificate,), "mixed")
    with pytest.raises(ConfigError):
        sign_bundle(message, mixed, WHO, NOW)


# Robustness: nothing but the signed content ever verifies, and nothing raises.


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), byte=st.integers(min_value=0, max_value=255))
def test_a_changed_byte_never_verifies_as_other_content(
    trust: TrustStore, signed_ec: bytes, message: bytes, position: int, byte: int
) -> None:
    index = position % len(signed_ec)
    mutated = signed_ec[:index] + bytes([byte]) + signed_ec[index + 1 :]
    result = verify_bundle(mutated, trust)
    if isinstance(result, VerifiedBundle):
        expected = canonical_json.canonicalize(canonical_json.loads(message))
        assert result.canonical == expected
        assert canonical_json.canonicalize(canonical_json.loads(result.content)) == expected


def test_verifying_at_a_naive_time_is_a_usage_error(trust: TrustStore, signed_ec: bytes) -> None:
    with pytest.raises(UsageError):
        verify_bundle(signed_ec, trust, datetime(2025, 12, 1, 8))
