"""The pinned trust store: is this certificate one we accept as a signer at time `at`?

DESIGN §6 "Verification": pinned trust store (OCES3 roots and issuing CAs; the test PKI in tests),
key usage, validity at signing time, revocation from a CRL file when given, algorithm allow-list.
Nothing is fetched: no AIA, no OCSP, no CRL download; the caller gives the CRLs.

`TrustStore.iter_issues` yields one `Issue` per failed check, with a stable rule:

- `TRUST-UNTRUSTED`: no path from the certificate to a pinned root in which every link's
  signature verifies (PKCS#1 v1.5, RSASSA-PSS or ECDSA) with the issuer's key;
- `TRUST-EXPIRED` / `TRUST-NOT-YET-VALID`: a certificate of the path is not valid at `at`;
- `TRUST-KEY-USAGE`: the signer has no keyUsage digitalSignature (RFC 5280 §4.2.1.3);
- `TRUST-CA`: an issuer of the path is not a CA (basicConstraints cA, keyUsage keyCertSign,
  pathLenConstraint; RFC 5280 §4.2.1.9), or the signer itself is a CA;
- `TRUST-REVOKED`: the issuer's CRL lists the certificate (any listing counts, whatever its date);
- `TRUST-CRL`: a CRL for an issuer of the path does not verify, is stale at `at` (nextUpdate before
  `at`), uses a refused algorithm, or its issuer may not sign CRLs (keyUsage cRLSign);
- `TRUST-ALGORITHM`: a key or a certificate signature outside the allow-list
  (`gateway.security.algorithms`). cryptography does not verify SHA-1 signatures at all, so a
  SHA-1 link also breaks the path (`TRUST-UNTRUSTED` as well).

The pinned roots' own self-signatures are not checked for algorithm: a root is trusted because it
is pinned, not because it signed itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from gateway.errors import ConfigError, InputError, InvalidMessageError, UsageError
from gateway.issues import Issue, IssueType, Severity
from gateway.security.algorithms import key_problem, name_text, signature_problem

MAX_PATH_LENGTH = 8  # certificates in a path, leaf and root included

UNTRUSTED = "TRUST-UNTRUSTED"
EXPIRED = "TRUST-EXPIRED"
NOT_YET_VALID = "TRUST-NOT-YET-VALID"
KEY_USAGE = "TRUST-KEY-USAGE"
NOT_A_CA = "TRUST-CA"
REVOKED = "TRUST-REVOKED"
BAD_CRL = "TRUST-CRL"
ALGORITHM = "TRUST-ALGORITHM"


class UntrustedCertificateError(InvalidMessageError):
    """A signer's certificate failed a trust check; `issues` holds every finding."""

    http_status = 403


def _issue(rule: str, cert: x509.Certificate, message: str, source: str | None) -> Issue:
    return Issue(
        Severity.ERROR,
        IssueType.SECURITY,
        rule,
        message,
        location=name_text(cert.subject),
        source=source,
    )


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when `issuer`'s name and key match `cert`'s issuer name and signature."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


@dataclass(frozen=True, slots=True)
class TrustStore:
    """Pinned roots, known intermediates and the CRLs to check revocation against."""

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()

    @classmethod
    def from_pem(cls, bundle: bytes, crls: Iterable[bytes] = ()) -> TrustStore:
        """A store from a PEM bundle (self-signed certificates are roots) and CRLs (PEM or DER).

        Raises:
            ConfigError: the bundle holds no certificate or no root, or a CRL is unreadable.
        """
        try:
            certs = x509.load_pem_x509_certificates(bundle)
        except ValueError as exc:
            raise ConfigError(f"trust bundle: no PEM certificates ({exc})") from exc
        anchors = tuple(c for c in certs if c.subject == c.issuer and _signed_by(c, c))
        if not anchors:
            raise ConfigError("trust bundle: no self-signed root certificate to pin")
        intermediates = tuple(c for c in certs if c not in anchors)
        return cls(anchors, intermediates, tuple(_load_crl(data) for data in crls))

    @classmethod
    def from_files(cls, bundle: Path, crl_files: Iterable[Path] = ()) -> TrustStore:
        """`from_pem` over files.

        Raises:
            InputError: a file cannot be read.
            ConfigError: as `from_pem`.
        """
        return cls.from_pem(_read(bundle), [_read(path) for path in crl_files])

    def iter_issues(
        self,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate],
        at: datetime,
        *,
        source: str | None = None,
    ) -> Iterator[Issue]:
        """Every reason not to accept `certificate` as a signer at `at`.

        Args:
            certificate: the signer's certificate.
            chain: certificates that came with it (intermediates; the leaf may be among them).
            at: the signing time (timezone-aware).
            source: where the certificate came from, copied into each Issue.
        """
        if at.tzinfo is None:
            raise UsageError("trust checks need a timezone-aware time `at`")
        path = self.find_path(certificate, chain)
        if path is None:
            yield _issue(
                UNTRUSTED,
                certificate,
                f"no path to a pinned root: issuer {name_text(certificate.issuer)} is not in the "
                "trust store, or its key did not make this signature",
                source,
            )
            path = (certificate,)
            issuers: tuple[x509.Certificate, ...] = ()
        else:
            issuers = path[1:]
        yield from self._algorithm_issues(path, bool(issuers), source)
        yield from _validity_issues(path, at, source)
        yield from _usage_issues(certificate, source)
        yield from _ca_issues(issuers, source)
        yield from self._revocation_issues(path, at, source)

    def validate(
        self,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate],
        at: datetime,
    ) -> None:
        """Raise `UntrustedCertificateError` (with every issue) unless the certificate passes."""
        issues = tuple(self.iter_issues(certificate, chain, at))
        if issues:
            raise UntrustedCertificateError(str(issues[0]), issues)

    def is_valid(
        self,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate],
        at: datetime,
    ) -> bool:
        """True when `iter_issues` finds nothing."""
        return next(iter(self.iter_issues(certificate, chain, at)), None) is None

    def find_path(
        self, certificate: x509.Certificate, chain: Sequence[x509.Certificate] = ()
    ) -> tuple[x509.Certificate, ...] | None:
        """The first path leaf → … → pinned root whose signatures all verify, or None.

        Depth-first over the pinned roots, the store's intermediates and `chain`; a certificate
        from which no root was reached is not tried again, so a chain stuffed with look-alike
        CAs costs at most one signature check per pair of certificates.
        """
        pool: list[x509.Certificate] = []
        for cert in (*self.anchors, *self.intermediates, *chain):
            if cert not in pool:
                pool.append(cert)
        return self._path(certificate, pool, (), set())

    def _path(
        self,
        cert: x509.Certificate,
        pool: Sequence[x509.Certificate],
        below: tuple[x509.Certificate, ...],
        dead: set[x509.Certificate],
    ) -> tuple[x509.Certificate, ...] | None:
        path = (*below, cert)
        if cert in self.anchors:
            return path
        if len(path) >= MAX_PATH_LENGTH:
            return None  # too deep here; it may still work from nearer the leaf
        for issuer in pool:
            if issuer in dead or issuer in path or issuer.subject != cert.issuer:
                continue
            if _signed_by(cert, issuer):
                found = self._path(issuer, pool, path, dead)
                if found is not None:
                    return found
        dead.add(cert)
        return None

    def _algorithm_issues(
        self, path: Sequence[x509.Certificate], trusted: bool, source: str | None
    ) -> Iterator[Issue]:
        for cert in path:
            try:
                problem = key_problem(cert.public_key())
            except (ValueError, UnsupportedAlgorithm) as exc:
                problem = f"unreadable public key ({exc})"
            pinned = trusted and cert in self.anchors
            problem = problem or (None if pinned else signature_problem(cert))
            if problem:
                yield _issue(ALGORITHM, cert, problem, source)

    def _revocation_issues(
        self, path: Sequence[x509.Certificate], at: datetime, source: str | None
    ) -> Iterator[Issue]:
        for cert, issuer in itertools.pairwise(path):
            revoked = False
            for crl in self.crls:
                if crl.issuer != issuer.subject:
                    continue
                problem, believed = _crl_check(crl, issuer, at)
                if problem:
                    yield _issue(BAD_CRL, issuer, problem, source)
                if not believed:
                    continue  # a CRL we cannot believe says nothing about revocation
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if entry is not None and not revoked:
                    revoked = True
                    yield _issue(REVOKED, cert, _revocation_text(cert, entry), source)


def _crl_check(
    crl: x509.CertificateRevocationList, issuer: x509.Certificate, at: datetime
) -> tuple[str | None, bool]:
    """Why a CRL naming `issuer` is faulty at `at` (or None), and whether its listings count.

    A stale CRL is reported but still believed: a revocation is never undone.
    """
    refused = signature_problem(crl)
    if refused:
        return f"CRL refused: {refused}", False
    if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        return "CRL signature does not verify with the issuer's key", False
    usage = _extension(issuer, x509.KeyUsage)
    if isinstance(usage, x509.KeyUsage) and not usage.crl_sign:
        return "CRL issuer's keyUsage lacks cRLSign", False
    next_update = crl.next_update_utc
    if next_update is None or next_update < at:
        when = next_update.isoformat() if next_update else "missing"
        return f"stale CRL: nextUpdate {when}, needed at {at.isoformat()}", True
    return None, True


def _revocation_text(cert: x509.Certificate, entry: x509.RevokedCertificate) -> str:
    reason = _revocation_reason(entry)
    when = entry.revocation_date_utc.isoformat()
    return f"serial {cert.serial_number:x} revoked on {when}" + (f" ({reason})" if reason else "")


def _revocation_reason(entry: x509.RevokedCertificate) -> str | None:
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value
    except x509.ExtensionNotFound:
        return None
    return reason.reason.value


def _validity_issues(
    path: Sequence[x509.Certificate], at: datetime, source: str | None
) -> Iterator[Issue]:
    for cert in path:
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        if at < start:
            yield _issue(
                NOT_YET_VALID, cert, f"valid from {start.isoformat()}, used at {at}", source
            )
        elif at > end:
            yield _issue(EXPIRED, cert, f"expired {end.isoformat()}, used at {at}", source)


def _usage_issues(cert: x509.Certificate, source: str | None) -> Iterator[Issue]:
    usage = _extension(cert, x509.KeyUsage)
    if not isinstance(usage, x509.KeyUsage):
        yield _issue(KEY_USAGE, cert, "no keyUsage; digitalSignature expected", source)
    elif not usage.digital_signature:
        yield _issue(KEY_USAGE, cert, "keyUsage lacks digitalSignature", source)
    basic = _extension(cert, x509.BasicConstraints)
    if isinstance(basic, x509.BasicConstraints) and basic.ca:
        yield _issue(NOT_A_CA, cert, "a CA certificate cannot be a signer", source)


def _ca_issues(issuers: Sequence[x509.Certificate], source: str | None) -> Iterator[Issue]:
    for below, cert in enumerate(issuers):  # `below`: CA certificates between it and the leaf
        basic = _extension(cert, x509.BasicConstraints)
        usage = _extension(cert, x509.KeyUsage)
        if not isinstance(basic, x509.BasicConstraints) or not basic.ca:
            yield _issue(NOT_A_CA, cert, "issues certificates but is not a CA (cA false)", source)
        elif basic.path_length is not None and below > basic.path_length:
            yield _issue(
                NOT_A_CA, cert, f"pathLenConstraint {basic.path_length}, {below} CAs below", source
            )
        if isinstance(usage, x509.KeyUsage) and not usage.key_cert_sign:
            yield _issue(NOT_A_CA, cert, "issues certificates without keyUsage keyCertSign", source)


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ConfigError(f"unreadable CRL ({exc})") from exc


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
