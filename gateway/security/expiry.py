"""What a certificate is and when it runs out: the facts `labgw certs show` prints.

Pure: a certificate and an instant in, a summary and Issues out. The rules:

- `PKI-EXPIRED` (error): `at` is after notAfter;
- `PKI-EXPIRES-SOON` (warning): notAfter is within `warn_days` days of `at`;
- `PKI-NOT-YET-VALID` (warning): `at` is before notBefore.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from gateway.issues import Issue, IssueType, Severity
from gateway.security.algorithms import describe_key, describe_signature, name_text

DEFAULT_WARN_DAYS = 30


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    subject: str
    issuer: str
    serial: str
    key: str
    signature: str
    not_before: datetime
    not_after: datetime
    days_left: int  # whole days from `at` to notAfter; negative once expired

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) pairs in display order."""
        return [
            ("subject", self.subject),
            ("issuer", self.issuer),
            ("serial", self.serial),
            ("key", self.key),
            ("signature", self.signature),
            ("not before", self.not_before.isoformat()),
            ("not after", self.not_after.isoformat()),
            ("days left", str(self.days_left)),
        ]


def summarise(cert: x509.Certificate, at: datetime) -> CertificateSummary:
    """The facts about `cert` at `at` (timezone-aware)."""
    return CertificateSummary(
        subject=name_text(cert.subject),
        issuer=name_text(cert.issuer),
        serial=format(cert.serial_number, "x"),
        key=describe_key(cert.public_key()),
        signature=describe_signature(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        days_left=(cert.not_valid_after_utc - at) // timedelta(days=1),
    )


def iter_expiry_issues(
    cert: x509.Certificate,
    at: datetime,
    warn_days: int = DEFAULT_WARN_DAYS,
    source: str | None = None,
) -> Iterator[Issue]:
    """A finding when `cert` is expired, expires within `warn_days` days, or is not valid yet."""
    where = name_text(cert.subject)
    end, start = cert.not_valid_after_utc, cert.not_valid_before_utc
    if at > end:
        yield Issue(
            Severity.ERROR,
            IssueType.SECURITY,
            "PKI-EXPIRED",
            f"expired {end.isoformat()}; renew it",
            location=where,
            source=source,
        )
    elif end - at <= timedelta(days=warn_days):
        yield Issue(
            Severity.WARNING,
            IssueType.SECURITY,
            "PKI-EXPIRES-SOON",
            f"expires {end.isoformat()}, within {warn_days} days; renew it",
            location=where,
            source=source,
        )
    if at < start:
        yield Issue(
            Severity.WARNING,
            IssueType.SECURITY,
            "PKI-NOT-YET-VALID",
            f"not valid before {start.isoformat()}",
            location=where,
            source=source,
        )
