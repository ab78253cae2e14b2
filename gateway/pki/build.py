"""Build a test PKI shaped like OCES3: root CA, issuing CA, organisation certificates, a CRL.

`build_test_pki(directory, now)` makes fresh keys on every call (RSA-3072/4096 takes a moment, so
test suites build one PKI per session) and writes PEM and PKCS#12 files plus `pki.json`, a manifest
naming every file, its role and, for organisation certificates, the one trust rule a verifier
must report when it signs (`expect`; absent for good certificates and for the CAs). The
clock is passed in; nothing else is read from the environment. The test PKI is for tests and
demonstrations only: its private keys are written unencrypted in PEM (mode 0600).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.errors import UsageError
from gateway.pki import profile
from gateway.pki.profile import SignatureProfile

DEFAULT_PASSWORD = "Test1234"  # PKCS#12 password when the caller gives none (as NSP test stores)
MANIFEST = "pki.json"
TRUST_FILE = "trust.pem"
CRL_FILE = "crl.pem"

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class LeafSpec:
    """One organisation certificate of the test PKI and the verdict it should get."""

    name: str
    role: str
    expect: str | None  # trust rule a verifier must report; None: trusted
    system: str = "practice-platform"  # whose organisation (profile.ORGANISATIONS)
    ec: bool = False
    starts: timedelta = timedelta(days=-1)  # notBefore relative to `now`
    lifetime: timedelta = profile.ORGANISATION_VALIDITY
    usage: x509.KeyUsage = profile.ORGANISATION_KEY_USAGE
    untrusted: bool = False
    revoked: bool = False
    tls: bool = False  # a TLS server and client certificate for loopback (SAN localhost)


LEAVES: tuple[LeafSpec, ...] = (
    LeafSpec("practice-platform", "organisation", None, "practice-platform"),
    LeafSpec("lsp", "organisation", None, "lsp"),
    LeafSpec("miba", "organisation", None, "miba"),
    LeafSpec(
        "practice-platform-ec",
        "organisation",
        None,
        ec=True,
        usage=profile.EC_ORGANISATION_KEY_USAGE,
    ),
    LeafSpec("expired", "expired", "TRUST-EXPIRED", starts=-(profile.ORGANISATION_VALIDITY * 1.1)),
    LeafSpec("not-yet-valid", "not-yet-valid", "TRUST-NOT-YET-VALID", starts=timedelta(days=30)),
    LeafSpec("revoked", "revoked", "TRUST-REVOKED", revoked=True),
    LeafSpec(
        "wrong-key-usage", "wrong-key-usage", "TRUST-KEY-USAGE", usage=profile.WRONG_KEY_USAGE
    ),
    LeafSpec("untrusted", "untrusted", "TRUST-UNTRUSTED", untrusted=True),
    # TLS for the service, its receivers and their clients (mTLS); EC keys keep handshakes cheap.
    *(
        LeafSpec(
            f"{system}-tls", "tls", None, system, ec=True, usage=profile.TLS_KEY_USAGE, tls=True
        )
        for system in profile.ORGANISATIONS
    ),
)


@dataclass(frozen=True, slots=True)
class PkiEntry:
    """One certificate of the test PKI, in memory and on disk."""

    name: str
    role: str
    expect: str | None  # for leaves: the trust rule a verifier must report; None for CAs
    certificate: x509.Certificate
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()  # the issuer sent along with a leaf
    cert_path: Path | None = None  # leaf first, then `chain`
    key_path: Path | None = None
    p12_path: Path | None = None


@dataclass(frozen=True, slots=True)
class TestPki:
    """What `build_test_pki` made: entries by name, the trust bundle, the CRL and the manifest."""

    directory: Path
    created: datetime
    entries: dict[str, PkiEntry]
    crl: x509.CertificateRevocationList
    trust_path: Path
    crl_path: Path
    manifest_path: Path
    files: tuple[Path, ...] = field(default=())

    __test__ = False  # not a pytest test class

    def __getitem__(self, name: str) -> PkiEntry:
        return self.entries[name]

    @property
    def leaves(self) -> tuple[PkiEntry, ...]:
        return tuple(self.entries[spec.name] for spec in LEAVES)


def _rsa(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _certificate(
    subject: x509.Name,
    key: PrivateKey,
    issuer: tuple[x509.Name, PrivateKey, SignatureProfile],
    validity: tuple[datetime, datetime],
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    issuer_name, issuer_key, signature = issuer
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, signature.hash_algorithm, rsa_padding=signature.padding)


def _ca_extensions(path_length: int | None) -> list[tuple[x509.ExtensionType, bool]]:
    """basicConstraints CA (critical) and keyUsage keyCertSign + cRLSign (critical)."""
    return [
        (x509.BasicConstraints(ca=True, path_length=path_length), True),
        (profile.CA_KEY_USAGE, True),
    ]


def _leaf(spec: LeafSpec, issuer: PkiEntry, signature: SignatureProfile, now: datetime) -> PkiEntry:
    key: PrivateKey = (
        ec.generate_private_key(ec.SECP256R1()) if spec.ec else _rsa(profile.ORGANISATION_KEY_BITS)
    )
    organisation, cvr = profile.ORGANISATIONS[spec.system]
    start = now + spec.starts
    tls = profile.tls_extensions() if spec.tls else []
    cert = _certificate(
        profile.organisation_name(spec.name, organisation, cvr),
        key,
        (issuer.certificate.subject, issuer.private_key, signature),
        (start, start + spec.lifetime),
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (spec.usage, True),
            (
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(profile.CRL_URL)], None, None, None
                        )
                    ]
                ),
                False,
            ),
            *tls,
        ],
    )
    return PkiEntry(spec.name, spec.role, spec.expect, cert, key, chain=(issuer.certificate,))


def _authorities(now: datetime) -> tuple[PkiEntry, PkiEntry, PkiEntry]:
    """Root CA, issuing CA, and a root that nobody trusts."""
    root_key = _rsa(profile.ROOT_KEY_BITS)
    root_name = profile.ca_name("labgw Test OCES rod-CA")
    root = _certificate(
        root_name,
        root_key,
        (root_name, root_key, profile.ROOT_SIGNATURE),
        (now - timedelta(days=1), now + timedelta(days=25 * 365)),
        _ca_extensions(None),
    )
    issuing_key = _rsa(profile.CA_KEY_BITS)
    issuing = _certificate(
        profile.ca_name("labgw Test OCES udstedende-CA 1"),
        issuing_key,
        (root_name, root_key, profile.ROOT_SIGNATURE),
        (now - timedelta(days=1), now + timedelta(days=10 * 365)),
        _ca_extensions(0),
    )
    other_key = _rsa(profile.CA_KEY_BITS)
    other_name = profile.ca_name("labgw Test Untrusted rod-CA")
    other = _certificate(
        other_name,
        other_key,
        (other_name, other_key, profile.ISSUING_SIGNATURE),
        (now - timedelta(days=1), now + timedelta(days=10 * 365)),
        _ca_extensions(None),
    )
    return (
        PkiEntry("root-ca", "root", None, root, root_key),
        PkiEntry("issuing-ca", "issuing-ca", None, issuing, issuing_key, chain=(root,)),
        PkiEntry("untrusted-root-ca", "untrusted-root", None, other, other_key),
    )


def _crl(
    issuing: PkiEntry, revoked: list[x509.Certificate], now: datetime
) -> x509.CertificateRevocationList:
    """The issuing CA's CRL: fresh at `now`, next update in a week, listing `revoked`."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuing.certificate.subject)
        .last_update(now - timedelta(hours=1))
        .next_update(now + timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuing.private_key.public_key()),
            critical=False,
        )
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(now - timedelta(hours=1))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    signature = profile.ISSUING_SIGNATURE
    return builder.sign(
        issuing.private_key, signature.hash_algorithm, rsa_padding=signature.padding
    )


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def _write(path: Path, data: bytes, *, secret: bool = False) -> Path:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


def _write_entry(entry: PkiEntry, directory: Path, password: str) -> PkiEntry:
    cert_path = _write(directory / f"{entry.name}.pem", _pem(entry.certificate, *entry.chain))
    if entry.role in ("root", "issuing-ca", "untrusted-root"):
        return replace(entry, cert_path=cert_path)
    key_pem = entry.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path = _write(directory / f"{entry.name}.key.pem", key_pem, secret=True)
    p12 = pkcs12.serialize_key_and_certificates(
        entry.name.encode(),
        entry.private_key,
        entry.certificate,
        list(entry.chain),
        serialization.BestAvailableEncryption(password.encode()),
    )
    p12_path = _write(directory / f"{entry.name}.p12", p12, secret=True)
    return replace(entry, cert_path=cert_path, key_path=key_path, p12_path=p12_path)


def _manifest(pki_entries: dict[str, PkiEntry], directory: Path, now: datetime) -> bytes:
    def rel(path: Path | None) -> str | None:
        return path.relative_to(directory).as_posix() if path else None

    items = []
    for entry in pki_entries.values():
        cert = entry.certificate
        item = {
            "name": entry.name,
            "role": entry.role,
            "expect": entry.expect,
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "serial": format(cert.serial_number, "x"),
            "notBefore": cert.not_valid_before_utc.isoformat(),
            "notAfter": cert.not_valid_after_utc.isoformat(),
            "cert": rel(entry.cert_path),
            "key": rel(entry.key_path),
            "pkcs12": rel(entry.p12_path),
        }
        items.append({key: value for key, value in item.items() if value is not None})
    manifest = {
        "generator": "labgw test PKI (OCES3-shaped; not for production)",
        "created": now.isoformat(),
        "trust": TRUST_FILE,
        "crl": CRL_FILE,
        "certificates": items,
    }
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def build_test_pki(directory: Path, now: datetime, password: str = DEFAULT_PASSWORD) -> TestPki:
    """Make a fresh OCES3-shaped test PKI in `directory` (created; must be empty).

    Args:
        directory: where to write the files; created if missing.
        now: the instant the PKI is built for (timezone-aware); validity periods are relative.
        password: PKCS#12 password for every `.p12` (default `DEFAULT_PASSWORD`, "Test1234").

    Returns:
        The `TestPki` with every certificate and key in memory and the paths written.

    Raises:
        UsageError: `now` is naive, or `directory` exists and is not empty.
    """
    if now.tzinfo is None:
        raise UsageError("build_test_pki needs a timezone-aware `now`")
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty; the test PKI needs a new folder")
    directory.mkdir(parents=True, exist_ok=True)
    now = now.replace(microsecond=0)
    root, issuing, other = _authorities(now)
    entries = {entry.name: entry for entry in (root, issuing, other)}
    for spec in LEAVES:
        issuer = other if spec.untrusted else issuing
        signature = profile.ISSUING_SIGNATURE
        entries[spec.name] = _leaf(spec, issuer, signature, now)
    revoked = [entries[spec.name].certificate for spec in LEAVES if spec.revoked]
    crl = _crl(issuing, revoked, now)
    written = {name: _write_entry(entry, directory, password) for name, entry in entries.items()}
    trust_path = _write(directory / TRUST_FILE, _pem(root.certificate, issuing.certificate))
    crl_path = _write(directory / CRL_FILE, crl.public_bytes(serialization.Encoding.PEM))
    manifest_path = _write(directory / MANIFEST, _manifest(written, directory, now))
    files = sorted(path for path in directory.iterdir() if path.is_file())
    return TestPki(directory, now, written, crl, trust_path, crl_path, manifest_path, tuple(files))
