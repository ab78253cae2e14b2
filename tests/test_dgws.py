"""DGWS envelopes: sign → verify round trips, xmlsec1 interoperability, the attack corpus."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from gateway.conformance.dgws_mutations import MUTATIONS, Context
from gateway.conformance.suite import Case, load_suite
from gateway.security.dgws import Signer, build_envelope, make_id_card
from gateway.security.dgws_verify import VerifyPolicy, verify_envelope
from gateway.security.keys import SigningIdentity
from tests.records import record, translate

REPO = Path(__file__).resolve().parent.parent
# The attack corpus; its verdicts are checked case by case in tests/test_conformance.py.
REFUSED = [c for c in load_suite("transport-dgws").cases if not c.positive and not c.signer]
NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)


def _self_signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, name: str) -> Signer:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "labgw test"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Signer(SigningIdentity(key, (certificate,), name), "12345678", f"{name} ApS")


@pytest.fixture(scope="module")
def rsa_signer() -> Signer:
    return _self_signed(rsa.generate_private_key(public_exponent=65537, key_size=3072), "rsa")


@pytest.fixture(scope="module")
def ec_signer() -> Signer:
    return _self_signed(ec.generate_private_key(ec.SECP256R1()), "ec")


@pytest.fixture(scope="module")
def payload() -> bytes:
    results = [record(recordId=f"R{i}", patient__cpr="1212778221") for i in range(10)]
    (message,) = translate(*results).messages
    return message.content


@pytest.mark.parametrize("which", ["rsa_signer", "ec_signer"])
def test_sign_verify_round_trip(which: str, payload: bytes, request: pytest.FixtureRequest) -> None:
    signer: Signer = request.getfixturevalue(which)
    envelope = build_envelope(payload, make_id_card(signer, NOW), signer, "msg-1", NOW)
    result = verify_envelope(envelope, now=NOW + timedelta(seconds=30), trust=None)
    assert result.valid, [str(i) for i in result.issues]
    assert result.envelope is not None and result.envelope.message_id == "msg-1"
    assert result.envelope.signer == signer.certificate
    assert b"1212778221" in result.envelope.payload_bytes()
    assert result.envelope.payload.tag.endswith("}Emessage")


def test_the_id_card_is_reused_until_it_expires(rsa_signer: Signer, payload: bytes) -> None:
    card = make_id_card(rsa_signer, NOW)
    assert card.valid_at(NOW + timedelta(hours=23)) and not card.valid_at(NOW + timedelta(hours=24))
    for minutes in (0, 60, 600):
        moment = NOW + timedelta(minutes=minutes)
        envelope = build_envelope(payload, card, rsa_signer, f"m{minutes}", moment)
        assert verify_envelope(envelope, now=moment, trust=None).valid


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_a_refused_envelope_gives_the_caller_nothing_to_read(
    case: Case, rsa_signer: Signer, ec_signer: Signer, payload: bytes
) -> None:
    """Whatever is wrong with it, an envelope that does not verify yields no payload."""
    ctx = Context(payload, rsa_signer, ec_signer, NOW)
    assert case.mutation is not None
    data = MUTATIONS[case.mutation](ctx, ctx.envelope())
    result = verify_envelope(data, now=NOW + timedelta(seconds=30), trust=None)
    if case.mutation == "invalid-payload":  # the envelope is fine; the letter is not
        assert result.valid
    else:
        assert not result.valid and result.envelope is None


def test_sha1_only_when_the_receiver_is_configured_for_it(
    rsa_signer: Signer, payload: bytes
) -> None:
    legacy = replace(rsa_signer, sha1=True)
    envelope = build_envelope(payload, make_id_card(legacy, NOW), legacy, "m", NOW)
    assert not verify_envelope(envelope, now=NOW, trust=None).valid
    assert verify_envelope(
        envelope, now=NOW, trust=None, policy=VerifyPolicy(allow_sha1=True)
    ).valid


# --- interoperability with xmlsec1 (Debian xmlsec1), an independent XML-DSig implementation ---

XMLSEC = shutil.which("xmlsec1")
ENVELOPE_SIGNATURE = (
    "/*[local-name()='Envelope']/*[local-name()='Header']"
    "/*[local-name()='Security']/*[local-name()='Signature']"
)
ID_ATTRS = [
    "--id-attr:Id",
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd:Timestamp",
    "--id-attr:Id",
    "http://schemas.xmlsoap.org/soap/envelope/:Body",
    "--id-attr:Id",
    "http://www.medcom.dk/dgws/2006/04/dgws-1.0.xsd:Header",
]


def _pem(path: Path, signer: Signer) -> tuple[Path, Path]:
    cert = path / "cert.pem"
    key = path / "key.pem"
    cert.write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        signer.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


@pytest.mark.skipif(XMLSEC is None, reason="xmlsec1 not installed (Debian xmlsec1)")
@pytest.mark.parametrize("which", ["rsa_signer", "ec_signer"])
def test_xmlsec1_verifies_our_envelopes(
    which: str, payload: bytes, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    signer: Signer = request.getfixturevalue(which)
    cert, _ = _pem(tmp_path, signer)
    envelope = tmp_path / "envelope.xml"
    envelope.write_bytes(build_envelope(payload, make_id_card(signer, NOW), signer, "m", NOW))
    for node, extra in (
        (ENVELOPE_SIGNATURE, ID_ATTRS),
        (
            "//*[local-name()='Assertion']/*[local-name()='Signature']",
            ["--id-attr:id", "Assertion"],
        ),
    ):
        done = subprocess.run(
            [
                str(XMLSEC),
                "--verify",
                "--pubkey-cert-pem",
                str(cert),
                *extra,
                "--node-xpath",
                node,
                str(envelope),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "OK" in done.stdout + done.stderr
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(envelope.read_bytes().replace(b"1212778221", b"1212778222", 1))
    done = subprocess.run(
        [
            str(XMLSEC),
            "--verify",
            "--pubkey-cert-pem",
            str(cert),
            *ID_ATTRS,
            "--node-xpath",
            ENVELOPE_SIGNATURE,
            str(tampered),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0


@pytest.mark.skipif(XMLSEC is None, reason="xmlsec1 not installed (Debian xmlsec1)")
def test_an_envelope_signed_by_xmlsec1_verifies_with_labgw(
    rsa_signer: Signer, payload: bytes, tmp_path: Path
) -> None:
    """xmlsec1 fills in a signature template we lay out; labgw verifies what it made."""
    cert, key = _pem(tmp_path, rsa_signer)
    signed = build_envelope(payload, make_id_card(rsa_signer, NOW), rsa_signer, "m", NOW)
    template = tmp_path / "template.xml"
    template.write_bytes(_blank_signature(signed))
    out = tmp_path / "signed-by-xmlsec.xml"
    done = subprocess.run(
        [
            str(XMLSEC),
            "--sign",
            "--privkey-pem",
            f"{key},{cert}",
            *ID_ATTRS,
            "--node-xpath",
            ENVELOPE_SIGNATURE,
            "--output",
            str(out),
            str(template),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = verify_envelope(out.read_bytes(), now=NOW, trust=None)
    assert result.valid, [str(i) for i in result.issues]


def _blank_signature(envelope: bytes) -> bytes:
    """Our envelope with the envelope signature's values emptied: a template for xmlsec1."""
    from lxml import etree

    from gateway.security.dgws_ns import DS, SOAP, WSSE, q

    root = etree.fromstring(envelope)
    signature = root.find(f"{q(SOAP, 'Header')}/{q(WSSE, 'Security')}/{q(DS, 'Signature')}")
    assert signature is not None
    for element in (
        *signature.iter(q(DS, "DigestValue")),
        *signature.iter(q(DS, "SignatureValue")),
        *signature.iter(q(DS, "X509Certificate")),
    ):
        element.text = ""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
