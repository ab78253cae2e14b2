"""One OCES3-shaped test PKI per test session (RSA-3072/4096 keys take seconds to make).

Test modules import `pki_session` (the fixture is called `pki`) and helpers to make one-off
certificates for the failure classes the built PKI does not cover.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from gateway.pki import TestPki, build_test_pki
from gateway.pki.profile import ORGANISATION_KEY_USAGE, organisation_name

PASSWORD = "pki-fixture-pw"
_built: dict[str, TestPki] = {}


@pytest.fixture(scope="session", name="pki")
def pki_session(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """The session's test PKI, built at the real current time (so `openssl verify` agrees)."""
    if "pki" not in _built:
        directory: Path = tmp_path_factory.mktemp("pki") / "pki"
        _built["pki"] = build_test_pki(directory, datetime.now(UTC), PASSWORD)
    return _built["pki"]


Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def make_cert(
    issuer: x509.Certificate | None,
    issuer_key: Key,
    key: Key,
    *,
    name: str = "one-off",
    at: datetime,
    days: int = 365,
    extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
    digest: hashes.HashAlgorithm | None = None,
) -> x509.Certificate:
    """A certificate for `key` signed by `issuer_key` (PSS for RSA), valid `days` from `at`-1d.

    The default extensions are an organisation certificate's (CA false, digitalSignature).
    """
    subject = organisation_name(name, "labgw Test One-off", "99000099")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - timedelta(days=1))
        .not_valid_after(at + timedelta(days=days))
    )
    if extensions is None:
        extensions = [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (ORGANISATION_KEY_USAGE, True),
        ]
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    algorithm = digest or hashes.SHA256()
    if isinstance(issuer_key, rsa.RSAPrivateKey) and digest is None:
        pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)
        return builder.sign(issuer_key, algorithm, rsa_padding=pss)
    return builder.sign(issuer_key, algorithm)  # type: ignore[arg-type]


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")  # AlgorithmIdentifier, DER
_SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def sha1_cert(
    issuer: x509.Certificate, issuer_key: rsa.RSAPrivateKey, key: Key, *, at: datetime
) -> x509.Certificate:
    """A certificate signed with sha1WithRSAEncryption, which cryptography refuses to make."""
    template = make_cert(issuer, issuer_key, key, at=at, digest=hashes.SHA256())
    tbs = template.tbs_certificate_bytes
    assert tbs.count(_SHA256_RSA) == 1
    tbs = tbs.replace(_SHA256_RSA, _SHA1_RSA)
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    der = _der(0x30, tbs + _SHA1_RSA + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)
