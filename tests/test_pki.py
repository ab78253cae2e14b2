"""The test PKI has OCES3's shape, every file its manifest promises, and openable PKCS#12."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from gateway.errors import UsageError
from gateway.pki import LEAVES, TestPki, build_test_pki
from tests.pki_fixture import PASSWORD, pki_session  # noqa: F401

ORGANISATIONS = ("practice-platform", "lsp", "miba")
SUBJECT_ORDER = [
    NameOID.COMMON_NAME,
    NameOID.SERIAL_NUMBER,
    NameOID.ORGANIZATION_NAME,
    NameOID.ORGANIZATION_IDENTIFIER,
    NameOID.COUNTRY_NAME,
]


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension:
    return cert.extensions.get_extension_for_class(kind)


def _pss_hash(cert: x509.Certificate) -> str:
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS
    assert isinstance(cert.signature_algorithm_parameters, padding.PSS)
    assert cert.signature_hash_algorithm is not None
    return cert.signature_hash_algorithm.name


def test_manifest_names_every_file_with_its_role(pki: TestPki) -> None:
    """pki.json lists each certificate with role, expected trust rule and files that exist."""
    manifest = json.loads(pki.manifest_path.read_text("utf-8"))
    assert manifest["trust"] == "trust.pem" and manifest["crl"] == "crl.pem"
    listed = {manifest["trust"], manifest["crl"], "pki.json"}
    for item in manifest["certificates"]:
        entry = pki[item["name"]]
        assert item["role"] == entry.role
        assert item.get("expect") == entry.expect
        for field in ("cert", "key", "pkcs12"):
            if field in item:
                assert (pki.directory / item[field]).is_file()
                listed.add(item[field])
    assert listed == {path.name for path in pki.directory.iterdir()}
    roles = {item["name"]: item["role"] for item in manifest["certificates"]}
    assert roles["root-ca"] == "root" and roles["issuing-ca"] == "issuing-ca"
    assert {spec.name for spec in LEAVES} <= roles.keys()


def test_trust_bundle_is_root_then_issuing_ca(pki: TestPki) -> None:
    bundle = x509.load_pem_x509_certificates(pki.trust_path.read_bytes())
    assert bundle == [pki["root-ca"].certificate, pki["issuing-ca"].certificate]


def test_root_ca_is_shaped_like_the_oces3_root(pki: TestPki) -> None:
    """RSA-4096, self-signed with RSASSA-PSS/SHA-512, CA, keyCertSign + cRLSign only."""
    root = pki["root-ca"].certificate
    key = root.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 4096
    assert root.subject == root.issuer
    assert _pss_hash(root) == "sha512"
    root.verify_directly_issued_by(root)
    basic = _ext(root, x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length is None


@pytest.mark.parametrize("name", ["root-ca", "issuing-ca", "untrusted-root-ca"])
def test_ca_key_usage_is_cert_and_crl_sign_never_digital_signature(pki: TestPki, name: str) -> None:
    usage = _ext(pki[name].certificate, x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature and not usage.value.content_commitment


def test_issuing_ca_is_rsa3072_pathlen0_signed_by_the_root_with_pss_sha512(pki: TestPki) -> None:
    issuing = pki["issuing-ca"].certificate
    key = issuing.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 3072
    assert _pss_hash(issuing) == "sha512"
    issuing.verify_directly_issued_by(pki["root-ca"].certificate)
    basic = _ext(issuing, x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0


@pytest.mark.parametrize("name", ORGANISATIONS)
def test_organisation_certificate_is_shaped_like_oces3(pki: TestPki, name: str) -> None:
    """RSA-3072, PSS/SHA-256 by the issuing CA, digitalSignature+nonRepudiation+keyEncipherment,
    subject CN, serialNumber UI:DK-O:G:<uuid>, O, organizationIdentifier NTRDK-<CVR>, C=DK."""
    cert = pki[name].certificate
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 3072
    assert _pss_hash(cert) == "sha256"
    params = cert.signature_algorithm_parameters
    assert isinstance(params, padding.PSS)
    cert.verify_directly_issued_by(pki["issuing-ca"].certificate)
    assert not _ext(cert, x509.BasicConstraints).value.ca
    usage = _ext(cert, x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.content_commitment
    assert usage.value.key_encipherment and not usage.value.key_cert_sign
    assert [attr.oid for attr in cert.subject] == SUBJECT_ORDER
    serial = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    assert re.fullmatch(r"UI:DK-O:G:[0-9a-f-]{36}", str(serial))
    org_id = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value
    assert re.fullmatch(r"NTRDK-\d{8}", str(org_id))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name


def test_the_three_organisations_have_different_cvrs(pki: TestPki) -> None:
    ids = {
        pki[name]
        .certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0]
        .value
        for name in ORGANISATIONS
    }
    assert len(ids) == 3


def test_ec_certificate_is_p256_with_signing_usages_only(pki: TestPki) -> None:
    cert = pki["practice-platform-ec"].certificate
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    usage = _ext(cert, x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_encipherment


def test_variants_differ_from_a_good_certificate_only_where_named(pki: TestPki) -> None:
    now = pki.created
    assert pki["expired"].certificate.not_valid_after_utc < now
    assert pki["not-yet-valid"].certificate.not_valid_before_utc > now
    usage = _ext(pki["wrong-key-usage"].certificate, x509.KeyUsage).value
    assert usage.key_encipherment and not usage.digital_signature
    assert not usage.content_commitment
    untrusted = pki["untrusted"].certificate
    untrusted.verify_directly_issued_by(pki["untrusted-root-ca"].certificate)
    assert untrusted.issuer != pki["issuing-ca"].certificate.subject


def test_crl_is_signed_by_the_issuing_ca_and_lists_only_the_revoked_one(pki: TestPki) -> None:
    crl = x509.load_pem_x509_crl(pki.crl_path.read_bytes())
    issuing = pki["issuing-ca"].certificate
    assert crl.issuer == issuing.subject
    public = issuing.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert crl.is_signature_valid(public)
    assert crl.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS
    assert [r.serial_number for r in crl] == [pki["revoked"].certificate.serial_number]
    assert crl.next_update_utc is not None and crl.next_update_utc > pki.created


@pytest.mark.parametrize("name", [spec.name for spec in LEAVES])
def test_pkcs12_opens_with_the_password_and_holds_key_cert_and_issuer(
    pki: TestPki, name: str
) -> None:
    entry = pki[name]
    assert entry.p12_path is not None
    key, cert, extra = pkcs12.load_key_and_certificates(
        entry.p12_path.read_bytes(), PASSWORD.encode()
    )
    assert cert == entry.certificate
    assert key is not None and key.public_key() == entry.certificate.public_key()
    assert extra == list(entry.chain)
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(entry.p12_path.read_bytes(), b"wrong")


def test_private_key_files_are_readable_by_the_owner_only(pki: TestPki) -> None:
    for entry in pki.leaves:
        for path in (entry.key_path, entry.p12_path):
            assert path is not None
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_build_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    with pytest.raises(UsageError, match="not empty"):
        build_test_pki(tmp_path, datetime.now(UTC))


def test_build_refuses_a_naive_time(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="timezone"):
        build_test_pki(tmp_path / "pki", datetime(2026, 1, 1))


@pytest.mark.reference
def test_shape_agrees_with_the_real_oces3_test_chain(pki: TestPki, reference_dir: Path) -> None:
    """Same subject attribute order, keyUsage bits and CA constraints as the OCES3 test chain."""
    folder = reference_dir / "security" / "oces3"
    if not folder.is_dir():
        pytest.skip(f"OCES3 reference chain not found at {folder}")
    real = x509.load_pem_x509_certificates(
        (folder / "oces3-test-chain-FMKOnlineBilletOmv-T.pem").read_bytes()
    )
    leaf, issuing, root = real
    assert [a.oid for a in leaf.subject] == [a.oid for a in pki["lsp"].certificate.subject]
    for ours, theirs in ((pki["lsp"], leaf), (pki["issuing-ca"], issuing), (pki["root-ca"], root)):
        assert _ext(ours.certificate, x509.KeyUsage).value == _ext(theirs, x509.KeyUsage).value
        ours_basic = _ext(ours.certificate, x509.BasicConstraints).value
        assert ours_basic == _ext(theirs, x509.BasicConstraints).value
        assert ours.certificate.signature_algorithm_oid == theirs.signature_algorithm_oid
        assert ours.certificate.signature_hash_algorithm is not None
        assert theirs.signature_hash_algorithm is not None
        assert ours.certificate.signature_hash_algorithm.name == (
            theirs.signature_hash_algorithm.name
        )
        ours_key, their_key = ours.certificate.public_key(), theirs.public_key()
        assert isinstance(ours_key, rsa.RSAPublicKey) and isinstance(their_key, rsa.RSAPublicKey)
        assert ours_key.key_size == their_key.key_size


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command line not installed")
def test_openssl_reads_our_pkcs12_and_finds_key_and_both_certificates(pki: TestPki) -> None:
    """Interop: the PKCS#12 files open in OpenSSL with the caller's password."""
    entry = pki["lsp"]
    command = ["openssl", "pkcs12", "-in", str(entry.p12_path), "-passin", f"pass:{PASSWORD}"]
    result = subprocess.run([*command, "-nodes"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("BEGIN CERTIFICATE") == 2
    assert "BEGIN PRIVATE KEY" in result.stdout
    wrong = subprocess.run(
        [*command[:-1], "pass:wrong", "-nodes"], capture_output=True, text=True, check=False
    )
    assert wrong.returncode != 0
