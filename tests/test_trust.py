"""TrustStore gives each trust failure class its own rule, and agrees with `openssl verify`."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.errors import ConfigError, UsageError
from gateway.pki import LEAVES, TestPki
from gateway.pki.build import LeafSpec
from gateway.pki.profile import CA_KEY_USAGE, key_usage
from gateway.security.trust import TrustStore, UntrustedCertificateError
from tests.pki_fixture import ec_key, make_cert, pki_session, sha1_cert  # noqa: F401

_PEM = Encoding.PEM
_DER = Encoding.DER


@pytest.fixture(scope="module")
def store(pki: TestPki) -> TrustStore:
    return TrustStore.from_files(pki.trust_path, [pki.crl_path])


def rules(
    store: TrustStore, cert: x509.Certificate, chain: list[x509.Certificate], at: datetime
) -> list[str]:
    return sorted(issue.rule for issue in store.iter_issues(cert, chain, at))


@pytest.mark.parametrize("spec", LEAVES, ids=[spec.name for spec in LEAVES])
def test_each_test_pki_certificate_gets_exactly_its_expected_rule(
    pki: TestPki, store: TrustStore, spec: LeafSpec
) -> None:
    """The manifest's `expect` is the one and only finding (none for the good certificates)."""
    entry = pki[spec.name]
    found = rules(store, entry.certificate, list(entry.chain), pki.created)
    assert found == ([spec.expect] if spec.expect else [])


def test_issues_are_errors_of_type_security_located_at_the_subject(
    pki: TestPki, store: TrustStore
) -> None:
    entry = pki["expired"]
    (issue,) = store.iter_issues(entry.certificate, entry.chain, pki.created, source="msg-1")
    assert issue.blocking and issue.code.value == "security" and issue.source == "msg-1"
    assert issue.location is not None and issue.location.startswith("CN=expired, serialNumber=")


def test_leaf_alone_is_enough_when_the_store_holds_the_issuing_ca(
    pki: TestPki, store: TrustStore
) -> None:
    """DGWS cards carry only the leaf: the issuing CA must come from the trust bundle."""
    assert store.is_valid(pki["lsp"].certificate, [], pki.created)


def test_intermediate_from_the_message_completes_a_root_only_store(pki: TestPki) -> None:
    root_only = TrustStore.from_pem(pki["root-ca"].cert_path.read_bytes())  # type: ignore[union-attr]
    lsp = pki["lsp"]
    assert root_only.is_valid(lsp.certificate, list(lsp.chain), pki.created)
    assert rules(root_only, lsp.certificate, [], pki.created) == ["TRUST-UNTRUSTED"]


def test_path_runs_leaf_issuing_ca_root_through_pss_sha256_and_sha512(
    pki: TestPki, store: TrustStore
) -> None:
    path = store.find_path(pki["miba"].certificate, [])
    assert path == (
        pki["miba"].certificate,
        pki["issuing-ca"].certificate,
        pki["root-ca"].certificate,
    )


def test_revocation_is_checked_only_when_a_crl_is_given(pki: TestPki) -> None:
    no_crl = TrustStore.from_files(pki.trust_path)
    assert no_crl.is_valid(pki["revoked"].certificate, [], pki.created)


def test_a_stale_crl_is_reported_and_its_listings_still_count(
    pki: TestPki, store: TrustStore
) -> None:
    later = pki.created + timedelta(days=8)  # nextUpdate is a week after the build
    assert rules(store, pki["lsp"].certificate, [], later) == ["TRUST-CRL"]
    assert rules(store, pki["revoked"].certificate, [], later) == ["TRUST-CRL", "TRUST-REVOKED"]


def test_a_forged_crl_is_refused_and_says_nothing_about_revocation(pki: TestPki) -> None:
    """A CRL naming the issuing CA but signed by another key is TRUST-CRL, not TRUST-REVOKED."""
    forger = pki["untrusted-root-ca"].private_key
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki["issuing-ca"].certificate.subject)
        .last_update(pki.created - timedelta(hours=1))
        .next_update(pki.created + timedelta(days=1))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(pki["lsp"].certificate.serial_number)
            .revocation_date(pki.created - timedelta(hours=1))
            .build()
        )
        .sign(forger, hashes.SHA256())
    )
    bad = TrustStore.from_pem(pki.trust_path.read_bytes(), [forged.public_bytes(_PEM)])
    assert rules(bad, pki["lsp"].certificate, [], pki.created) == ["TRUST-CRL"]


def test_a_crl_in_der_is_read_too(pki: TestPki) -> None:
    der = pki.crl.public_bytes(_DER)
    store = TrustStore.from_pem(pki.trust_path.read_bytes(), [der])
    assert rules(store, pki["revoked"].certificate, [], pki.created) == ["TRUST-REVOKED"]


def test_a_signature_by_another_key_under_the_issuers_name_is_untrusted(
    pki: TestPki, store: TrustStore
) -> None:
    """Same issuer name as the pinned issuing CA, wrong key: no path, TRUST-UNTRUSTED."""
    issuing = pki["issuing-ca"].certificate
    forged = make_cert(issuing, pki["untrusted-root-ca"].private_key, ec_key(), at=pki.created)
    assert forged.issuer == issuing.subject
    assert rules(store, forged, [issuing], pki.created) == ["TRUST-UNTRUSTED"]


def test_a_certificate_issued_by_an_organisation_certificate_is_trust_ca(
    pki: TestPki, store: TrustStore
) -> None:
    """An organisation key (cA false, no keyCertSign) cannot issue certificates."""
    lsp = pki["lsp"]
    child = make_cert(lsp.certificate, lsp.private_key, ec_key(), at=pki.created)
    issues = list(store.iter_issues(child, [lsp.certificate], pki.created))
    assert {i.rule for i in issues} == {"TRUST-CA"}
    assert any(i.location and i.location.startswith("CN=lsp,") for i in issues)


def test_a_ca_certificate_as_signer_is_trust_ca_and_trust_key_usage(
    pki: TestPki, store: TrustStore
) -> None:
    found = rules(store, pki["issuing-ca"].certificate, [], pki.created)
    assert found == ["TRUST-CA", "TRUST-KEY-USAGE"]


def test_pathlen_zero_stops_a_sub_ca_below_the_issuing_ca(pki: TestPki, store: TrustStore) -> None:
    issuing = pki["issuing-ca"]
    sub_key = ec_key()
    sub_ca = make_cert(
        issuing.certificate,
        issuing.private_key,
        sub_key,
        name="sub-ca",
        at=pki.created,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (CA_KEY_USAGE, True),
        ],
    )
    leaf = make_cert(sub_ca, sub_key, ec_key(), at=pki.created)
    issues = list(store.iter_issues(leaf, [sub_ca], pki.created))
    assert [i.rule for i in issues] == ["TRUST-CA"]
    assert issues[0].location is not None and "udstedende-CA 1" in issues[0].location


def test_missing_key_usage_is_trust_key_usage(pki: TestPki, store: TrustStore) -> None:
    issuing = pki["issuing-ca"]
    cert = make_cert(
        issuing.certificate,
        issuing.private_key,
        ec_key(),
        at=pki.created,
        extensions=[(x509.BasicConstraints(ca=False, path_length=None), True)],
    )
    assert rules(store, cert, [], pki.created) == ["TRUST-KEY-USAGE"]


def test_an_expired_issuing_ca_makes_its_leaves_trust_expired(pki: TestPki) -> None:
    root = pki["root-ca"]
    old_key = ec_key()
    old_ca = make_cert(
        root.certificate,
        root.private_key,
        old_key,
        name="old-ca",
        at=pki.created - timedelta(days=30),
        days=10,
        extensions=[(x509.BasicConstraints(ca=True, path_length=0), True), (CA_KEY_USAGE, True)],
    )
    store = TrustStore((root.certificate,), (old_ca,))
    leaf = make_cert(old_ca, old_key, ec_key(), at=pki.created)
    issues = list(store.iter_issues(leaf, [], pki.created))
    assert [(i.rule, "old-ca" in (i.location or "")) for i in issues] == [("TRUST-EXPIRED", True)]


@pytest.mark.parametrize(
    "key_factory",
    [
        pytest.param(lambda: rsa.generate_private_key(65537, 1024), id="rsa-1024"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP521R1()), id="ec-p521"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP256K1()), id="ec-secp256k1"),
    ],
)
def test_keys_outside_the_allow_list_are_trust_algorithm(
    pki: TestPki,
    store: TrustStore,
    key_factory: Callable[[], rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey],
) -> None:
    issuing = pki["issuing-ca"]
    cert = make_cert(issuing.certificate, issuing.private_key, key_factory(), at=pki.created)
    assert rules(store, cert, [], pki.created) == ["TRUST-ALGORITHM"]


def test_ec_p384_is_allowed(pki: TestPki, store: TrustStore) -> None:
    issuing = pki["issuing-ca"]
    key = ec.generate_private_key(ec.SECP384R1())
    cert = make_cert(issuing.certificate, issuing.private_key, key, at=pki.created)
    assert rules(store, cert, [], pki.created) == []


def test_a_sha1_signature_is_trust_algorithm(pki: TestPki, store: TrustStore) -> None:
    """SHA-1 is refused; cryptography will not even verify it, so there is no path either.

    (cryptography no longer signs with SHA-1: the certificate is assembled by hand.)
    """
    issuing = pki["issuing-ca"]
    cert = sha1_cert(issuing.certificate, issuing.private_key, ec_key(), at=pki.created)
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha1"
    assert rules(store, cert, [], pki.created) == ["TRUST-ALGORITHM", "TRUST-UNTRUSTED"]


def test_validate_raises_with_every_issue_and_is_valid_agrees(
    pki: TestPki, store: TrustStore
) -> None:
    entry = pki["untrusted"]
    with pytest.raises(UntrustedCertificateError) as caught:
        store.validate(entry.certificate, list(entry.chain), pki.created)
    assert [i.rule for i in caught.value.issues] == ["TRUST-UNTRUSTED"]  # type: ignore[attr-defined]
    assert caught.value.exit_code == 1
    assert not store.is_valid(entry.certificate, list(entry.chain), pki.created)
    store.validate(pki["lsp"].certificate, [], pki.created)


def test_a_naive_time_is_refused(pki: TestPki, store: TrustStore) -> None:
    with pytest.raises(UsageError):
        list(store.iter_issues(pki["lsp"].certificate, [], datetime(2026, 1, 1)))


def test_a_bundle_without_a_root_or_without_certificates_is_a_config_error(pki: TestPki) -> None:
    issuing_only = pki["issuing-ca"].certificate.public_bytes(_PEM)
    with pytest.raises(ConfigError, match="root"):
        TrustStore.from_pem(issuing_only)
    with pytest.raises(ConfigError):
        TrustStore.from_pem(b"not pem")
    with pytest.raises(ConfigError, match="CRL"):
        TrustStore.from_pem(pki.trust_path.read_bytes(), [b"garbage"])


def test_a_key_usage_without_digital_signature_but_non_repudiation_is_refused(
    pki: TestPki, store: TrustStore
) -> None:
    issuing = pki["issuing-ca"]
    cert = make_cert(
        issuing.certificate,
        issuing.private_key,
        ec_key(),
        at=pki.created,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (key_usage(non_repudiation=True), True),
        ],
    )
    assert rules(store, cert, [], pki.created) == ["TRUST-KEY-USAGE"]


def test_look_alike_cas_that_sign_each_other_end_in_trust_untrusted(
    pki: TestPki, store: TrustStore
) -> None:
    """Twelve self-made CAs named like the issuing CA, each signed by the next, the last by the
    first: the search ends (no loop, no blow-up) and finds no path."""
    name = pki["issuing-ca"].certificate.subject
    keys = [ec_key() for _ in range(12)]
    fakes = [
        _look_alike(name, key, keys[(i + 1) % len(keys)], pki.created) for i, key in enumerate(keys)
    ]
    leaf = make_cert(fakes[0], keys[0], ec_key(), at=pki.created)
    assert rules(store, leaf, fakes, pki.created) == ["TRUST-UNTRUSTED"]


def _look_alike(
    name: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    at: datetime,
) -> x509.Certificate:
    """A CA certificate whose subject and issuer are `name`, signed by `signer`."""
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - timedelta(days=1))
        .not_valid_after(at + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .sign(signer, hashes.SHA256())
    )


# --- the real OCES3 test chain (shared/reference/security/oces3) -----------------------------


@pytest.mark.reference
@pytest.mark.parametrize(
    ("at", "expected"),
    [
        pytest.param(datetime(2024, 6, 1, tzinfo=UTC), [], id="2024-valid"),
        pytest.param(datetime(2026, 6, 1, tzinfo=UTC), ["TRUST-EXPIRED"], id="2026-expired"),
        pytest.param(datetime(2023, 1, 1, tzinfo=UTC), ["TRUST-NOT-YET-VALID"], id="2023-early"),
    ],
)
def test_the_real_oces3_test_chain(reference_dir: Path, at: datetime, expected: list[str]) -> None:
    """RSASSA-PSS/SHA-512 CA links and a PSS/SHA-256 leaf verify; validity is judged at `at`."""
    folder = reference_dir / "security" / "oces3"
    if not folder.is_dir():
        pytest.skip(f"OCES3 reference chain not found at {folder}")
    bundle = b"".join(
        (folder / name).read_bytes()
        for name in (
            "DenDanskeStat-OCES-rod-CA-TEST-cti.pem",
            "DenDanskeStat-OCES-udstedende-CA-1-TEST-cti.pem",
        )
    )
    store = TrustStore.from_pem(bundle)
    leaf = x509.load_pem_x509_certificates(
        (folder / "oces3-test-chain-FMKOnlineBilletOmv-T.pem").read_bytes()
    )[0]
    assert rules(store, leaf, [], at) == expected


# --- agreement with the openssl command line --------------------------------------------------

OPENSSL = shutil.which("openssl")
AGREEMENT = ["practice-platform", "practice-platform-ec", "expired", "not-yet-valid", "untrusted"]
AGREEMENT += ["revoked", "wrong-key-usage"]


@pytest.mark.skipif(OPENSSL is None, reason="openssl command line not installed")
@pytest.mark.parametrize("name", AGREEMENT)
def test_openssl_verify_agrees(pki: TestPki, store: TrustStore, name: str) -> None:
    """`openssl verify -crl_check -purpose smimesign` accepts exactly what TrustStore accepts."""
    entry = pki[name]
    assert OPENSSL is not None and entry.cert_path is not None
    command = [OPENSSL, "verify", "-CAfile", str(pki.trust_path), "-crl_check"]
    command += ["-CRLfile", str(pki.crl_path), "-purpose", "smimesign"]
    command += ["-attime", str(int(pki.created.timestamp())), str(entry.cert_path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    ours = store.is_valid(entry.certificate, [], pki.created)
    assert (result.returncode == 0) == ours, result.stdout + result.stderr
