"""`Bundle.signature` for the `fhir` profile: a detached JWS over the Bundle's canonical JSON.

DESIGN §6: "`Bundle.signature` holds a JWS with detached payload (`x5c` header, RS256 or ES256)
over the RFC 8785 canonical JSON of the Bundle without its signature."

- Signing input (RFC 7515 §5.1): `BASE64URL(protected header) "." BASE64URL(JCS(Bundle without
  signature))`. The payload is then left out of the compact form, `header..signature`
  (RFC 7515 Appendix F, detached content); `b64` stays true (no RFC 7797).
- Protected header: `alg` (RS256 or ES256, from the key), `x5c` (RFC 7515 §4.1.6: base64, not
  base64url, DER certificates, the signer's first) and `sigT` (the claimed signing time as JAdES,
  ETSI TS 119 182-1 §5.2.1, writes it). `Signature.when` lies outside the signed Bundle, so `sigT`
  is what makes the time signed; verification requires the two to agree.
- `Signature.data` is the FHIR base64Binary (standard base64) of the compact JWS.
- The message keeps every byte it had: the signature member is spliced into the top-level object
  (`gateway.security.json_members`), never re-serialised.
- `sign_detached` / `verify_detached` are the same JWS (header, algorithms, checks) over any
  bytes as they are, for other detached signatures (the conformance evidence manifest).
- Verification never raises for bad input: every refusal is an `Issue` with a `JWS-*` rule (or the
  trust store's `TRUST-*`), and the caller gets only what was verified (`VerifiedBundle`).

Known limit of JCS (see `gateway.security.canonical_json`): numbers are signed as doubles, so `8.10`
and `8.1` share one signature; numbers with more digits than a double carries are refused.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from gateway.errors import ConfigError, InvalidMessageError, UsageError
from gateway.fhir_message.json_text import dumps
from gateway.issues import Issue, IssueType, Severity
from gateway.security import canonical_json, json_members
from gateway.security.algorithms import MIN_RSA_BITS, describe_key
from gateway.security.keys import SigningIdentity, SigningKey
from gateway.security.trust import TrustStore

MISSING = "JWS-MISSING"
FORMAT = "JWS-FORMAT"
ALGORITHM = "JWS-ALGORITHM"
SIGNATURE = "JWS-SIGNATURE"
CERTIFICATE = "JWS-CERTIFICATE"
NUMBER = "JWS-NUMBER"
TIME = "JWS-TIME"
UNTRUSTED = "JWS-UNTRUSTED"

MAX_BYTES = 20 * 1024 * 1024  # as FHIR-TOO-LARGE
SIG_FORMAT = "application/jose"
SIGNATURE_TYPE = {  # FHIR R4 Signature.type, ASTM E1762-95 (2013): author's signature
    "system": "urn:iso-astm:E1762-95:2013",
    "code": "1.2.840.10065.1.12.1.1",
    "display": "Author's Signature",
}
UNDERSTOOD_CRITICAL = frozenset({"sigT"})  # RFC 7515 §4.1.11: refuse any other `crit` name
_SIGT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_P256_BYTES = 32


class Algorithm(enum.StrEnum):
    """The allow-list (DESIGN §6). `none`, HS*, PS*, ES384 … are refused by not being here."""

    RS256 = "RS256"  # RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256
    ES256 = "ES256"  # RFC 7518 §3.4: ECDSA P-256 with SHA-256, signature r‖s (32 + 32 bytes)


_ALLOWED = frozenset(algorithm.value for algorithm in Algorithm)


@dataclass(frozen=True, slots=True)
class VerifiedBundle:
    """What verification vouches for. Read the Bundle from `content`, never from the input.

    Attributes:
        content: the Bundle as received with its `signature` member cut out, every other byte
            kept; its canonical form is exactly `canonical`.
        canonical: the RFC 8785 bytes the signature covers.
        signer: the certificate whose key made the signature (x5c[0]).
        chain: the other x5c certificates, as sent.
        algorithm: RS256 or ES256.
        signed_at: the signed claimed signing time (`sigT`), else `Signature.when`.
        who: `Signature.who.reference` as sent (not covered by the signature).
        warnings: non-blocking issues (JWS-UNTRUSTED when no trust store was given).
    """

    content: bytes
    canonical: bytes
    signer: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    algorithm: Algorithm
    signed_at: datetime
    who: str | None
    warnings: tuple[Issue, ...] = ()


def sign_bundle(
    content: bytes, identity: SigningIdentity, who_reference: str, when: datetime
) -> bytes:
    """The Bundle bytes with `signature` appended; every other byte as it was.

    An existing `signature` member is cut out first (and not signed).

    Args:
        content: a FHIR Bundle as exact JSON (UTF-8).
        identity: the signing key and its chain, leaf first, all sent in `x5c` (RSA ≥ 2048 bits
            → RS256, EC P-256 → ES256).
        who_reference: `Signature.who.reference` (the signing Organization or Device).
        when: the signing time, timezone-aware; written to whole seconds.

    Raises:
        InvalidMessageError: the content is not a JSON Bundle, or has a number JCS cannot sign
            exactly (issues JWS-FORMAT, JWS-NUMBER).
        UsageError: `when` is naive.
        ConfigError: the key is not allowed, or does not belong to the certificate.
    """
    if when.tzinfo is None:
        raise UsageError("the signing time must be timezone-aware")
    when = when.replace(microsecond=0)
    text, bundle = _read_bundle(content)
    if "signature" in bundle:
        text = json_members.remove(text, "signature")
        del bundle["signature"]
    try:
        payload = canonical_json.canonicalize(bundle)
    except canonical_json.CanonicalizationError as exc:
        rule = NUMBER if isinstance(exc, canonical_json.LossyNumberError) else FORMAT
        raise InvalidMessageError(str(exc), (_issue(rule, str(exc), "Bundle"),)) from exc
    compact = sign_detached(payload, identity, when)
    signature = {
        "type": [SIGNATURE_TYPE],
        "when": when.isoformat(),
        "who": {"reference": who_reference},
        "sigFormat": SIG_FORMAT,
        "data": base64.b64encode(compact.encode("ascii")).decode("ascii"),
    }
    return json_members.append(text, "signature", dumps(signature)).encode("utf-8")


def sign_detached(payload: bytes, identity: SigningIdentity, when: datetime) -> str:
    """A compact JWS with detached payload (`header..signature`) over `payload` as it is.

    The protected header is the one every labgw JWS carries: `alg` (RS256 or ES256, from the
    key), `x5c` (the signer's certificate first, then its chain) and `sigT` (`when`, UTC, whole
    seconds). `b64` stays true: the signing input is `BASE64URL(header) "." BASE64URL(payload)`.

    Raises:
        UsageError: `when` is naive.
        ConfigError: the key is not allowed, or does not belong to the certificate.
    """
    if when.tzinfo is None:
        raise UsageError("the signing time must be timezone-aware")
    algorithm = _algorithm_for(identity)
    certificates = [identity.certificate]  # x5c: the signer's certificate first
    certificates += [c for c in identity.chain if c != identity.certificate]
    header = {
        "alg": algorithm.value,
        "x5c": [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")
            for c in certificates
        ],
        "sigT": when.astimezone(UTC).strftime(_SIGT_FORMAT),
    }
    encoded_header = _b64url(json.dumps(header, separators=(",", ":")).encode("ascii"))
    signing_input = f"{encoded_header}.{_b64url(payload)}".encode("ascii")
    return f"{encoded_header}..{_b64url(_sign(identity.key, signing_input))}"


@dataclass(frozen=True, slots=True)
class VerifiedDetached:
    """What `verify_detached` vouches for: who signed the payload, when, and how."""

    signer: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    algorithm: Algorithm
    signed_at: datetime
    warnings: tuple[Issue, ...] = ()


def verify_detached(
    compact: str,
    payload: bytes,
    trust: TrustStore | None,
    at: datetime | None = None,
    location: str = "JWS",
) -> VerifiedDetached | tuple[Issue, ...]:
    """Check a detached compact JWS (as `sign_detached` makes) over `payload`; never raises for
    bad input.

    The same checks as a Bundle's signature: allowed `alg` for the certificate's key, `x5c`,
    understood `crit`, and `sigT`, which is required here (nothing else says when it was
    signed). Issues carry `location` (the file the JWS came from, say).

    Args:
        compact: `header..signature` (surrounding whitespace is ignored).
        payload: the detached content, byte for byte.
        trust: the pinned trust store; None checks the signature only (JWS-UNTRUSTED warning).
        at: when the signer's certificate must be valid; None: the signed signing time.

    Raises:
        UsageError: `at` is naive.
    """
    if at is not None and at.tzinfo is None:
        raise UsageError("the verification time must be timezone-aware")
    try:
        encoded_header, encoded_signature = _detached_parts(compact.strip())
        signer = _signer(encoded_header)
        if signer.claimed is None:
            raise _Refused(FORMAT, "no sigT header: the signing time is not signed")
        signing_input = f"{encoded_header}.{_b64url(payload)}".encode("ascii")
        signature = _b64url_decode(encoded_signature)
        _check_signature(signer.key, signer.algorithm, signing_input, signature, "the payload")
    except _Refused as refused:
        return (replace(refused.issue, location=location),)
    warnings, refusals = _trust(signer.certificates, trust, at or signer.claimed)
    if refusals:
        return refusals
    return VerifiedDetached(
        signer=signer.certificates[0],
        chain=tuple(signer.certificates[1:]),
        algorithm=signer.algorithm,
        signed_at=signer.claimed,
        warnings=tuple(replace(w, location=location) for w in warnings),
    )


def verify_bundle(
    content: bytes, trust: TrustStore | None, at: datetime | None = None
) -> VerifiedBundle | tuple[Issue, ...]:
    """Check `Bundle.signature`; the verified Bundle, or the blocking issues (never raises).

    Args:
        content: the received Bundle bytes.
        trust: the pinned trust store; None checks the signature only (JWS-UNTRUSTED warning:
            anyone can make a certificate).
        at: when the signer's certificate must be valid; None: the signed signing time.

    Raises:
        UsageError: `at` is naive (a caller's mistake, not the message's).
    """
    if at is not None and at.tzinfo is None:
        raise UsageError("the verification time must be timezone-aware")
    try:
        return _verify(content, trust, at)
    except _Refused as refused:
        return (refused.issue,)


class _Refused(Exception):
    """Internal: one check failed; `verify_bundle` turns it into its result."""

    def __init__(self, rule: str, message: str, location: str = "Bundle.signature") -> None:
        super().__init__(message)
        self.issue = _issue(rule, message, location)


def _verify(
    content: bytes, trust: TrustStore | None, at: datetime | None
) -> VerifiedBundle | tuple[Issue, ...]:
    try:
        text, bundle = _read_bundle(content)
    except InvalidMessageError as exc:
        raise _Refused(FORMAT, str(exc), "Bundle") from exc
    element = bundle.pop("signature", None)
    if element is None:
        raise _Refused(MISSING, "no Bundle.signature: the message is not signed", "Bundle")
    encoded_header, encoded_signature = _compact_parts(element)
    signer = _signer(encoded_header)
    try:
        payload = canonical_json.canonicalize(bundle)
    except canonical_json.LossyNumberError as exc:
        raise _Refused(NUMBER, str(exc), "Bundle") from exc
    except canonical_json.CanonicalizationError as exc:
        raise _Refused(FORMAT, str(exc), "Bundle") from exc
    signing_input = f"{encoded_header}.{_b64url(payload)}".encode("ascii")
    signature = _b64url_decode(encoded_signature)
    _check_signature(signer.key, signer.algorithm, signing_input, signature)
    signed_at = _signing_time(signer.claimed, element)
    certificates = signer.certificates
    warnings, refusals = _trust(certificates, trust, at or signed_at)
    if refusals:
        return refusals
    who = element.get("who")
    return VerifiedBundle(
        content=json_members.remove(text, "signature").encode("utf-8"),
        canonical=payload,
        signer=certificates[0],
        chain=tuple(certificates[1:]),
        algorithm=signer.algorithm,
        signed_at=signed_at,
        who=who.get("reference") if isinstance(who, dict) else None,
        warnings=warnings,
    )


def _read_bundle(content: bytes) -> tuple[str, dict[str, Any]]:
    """The text and the parsed Bundle; InvalidMessageError (JWS-FORMAT) if it is not one."""
    problem: str | None = None
    try:
        if len(content) > MAX_BYTES:
            problem = f"{len(content)} bytes; the limit is {MAX_BYTES}"
        else:
            text = content.decode("utf-8")
            bundle = canonical_json.loads(text)
            if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
                problem = "not a FHIR Bundle (a JSON object with resourceType Bundle)"
    except UnicodeDecodeError:
        problem = "not UTF-8"
    except (ValueError, RecursionError) as exc:
        problem = f"not JSON that can be signed: {exc}"
    if problem is not None:
        raise InvalidMessageError(problem, (_issue(FORMAT, problem, "Bundle"),))
    return text, bundle


def _compact_parts(element: object) -> tuple[str, str]:
    """The protected header and signature parts of `Signature.data` (detached compact JWS)."""
    if not isinstance(element, dict):
        raise _Refused(FORMAT, "Bundle.signature is not an object")
    if element.get("sigFormat") != SIG_FORMAT:
        found = element.get("sigFormat")
        raise _Refused(FORMAT, f"sigFormat {found!r}; {SIG_FORMAT!r} expected")
    data = element.get("data")
    try:
        if not isinstance(data, str):
            raise ValueError("no data")
        compact = base64.b64decode(data, validate=True).decode("ascii")
    except (ValueError, binascii.Error) as exc:  # UnicodeDecodeError is a ValueError
        raise _Refused(FORMAT, f"Signature.data is not base64 of a JWS ({exc})") from exc
    return _detached_parts(compact)


def _detached_parts(compact: str) -> tuple[str, str]:
    """The protected header and signature parts of a detached compact JWS (`header..sig`)."""
    parts = compact.split(".")
    if len(parts) != 3:
        raise _Refused(FORMAT, f"a compact JWS has 3 parts; found {len(parts)}")
    if parts[1]:
        raise _Refused(FORMAT, "the JWS carries a payload; a detached payload is expected")
    return parts[0], parts[2]


@dataclass(frozen=True, slots=True)
class _Signer:
    """What the protected header says, checked: the claimed time, algorithm, x5c and key."""

    claimed: datetime | None
    algorithm: Algorithm
    certificates: list[x509.Certificate]
    key: CertificatePublicKeyTypes


def _signer(encoded_header: str) -> _Signer:
    header = _header(encoded_header)
    claimed = _claimed_time(header)
    algorithm = _allowed_algorithm(header)
    certificates = _certificates(header)
    return _Signer(claimed, algorithm, certificates, _public_key(certificates[0], algorithm))


def _trust(
    certificates: list[x509.Certificate], trust: TrustStore | None, at: datetime
) -> tuple[tuple[Issue, ...], tuple[Issue, ...]]:
    """(warnings, refusals): JWS-UNTRUSTED without a store, else the store's issues at `at`."""
    if trust is None:
        message = "no trust store given: the signature is intact, but the signer is not known"
        return (_issue(UNTRUSTED, message, severity=Severity.WARNING),), ()
    return (), tuple(trust.iter_issues(certificates[0], certificates[1:], at))


def _header(encoded: str) -> dict[str, Any]:
    try:
        header = canonical_json.loads(_b64url_decode(encoded))
    except (ValueError, RecursionError) as exc:
        raise _Refused(FORMAT, f"the JWS protected header is not JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise _Refused(FORMAT, "the JWS protected header is not a JSON object")
    critical = header.get("crit")
    # RFC 7515 §4.1.11: a `crit` name the recipient does not understand makes the JWS invalid.
    if critical is not None and (
        not isinstance(critical, list)
        or not critical
        or not all(isinstance(name, str) and name in UNDERSTOOD_CRITICAL for name in critical)
    ):
        raise _Refused(FORMAT, f"unsupported critical header parameters {critical!r}")
    if header.get("b64", True) is not True:  # RFC 7797 unencoded payloads are not supported
        raise _Refused(FORMAT, "header b64 false (RFC 7797) is not supported")
    return header


def _allowed_algorithm(header: dict[str, Any]) -> Algorithm:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _ALLOWED:
        allowed = " or ".join(Algorithm)
        raise _Refused(ALGORITHM, f"JWS alg {alg!r} is not allowed; {allowed} expected")
    return Algorithm(alg)


def _certificates(header: dict[str, Any]) -> list[x509.Certificate]:
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain:
        raise _Refused(CERTIFICATE, "no x5c header: the signer's certificate is not given")
    certificates = []
    for index, item in enumerate(chain):
        try:
            if not isinstance(item, str):
                raise ValueError("not a string")
            der = base64.b64decode(item, validate=True)
            certificates.append(x509.load_der_x509_certificate(der))
        except (ValueError, binascii.Error, x509.InvalidVersion) as exc:
            raise _Refused(CERTIFICATE, f"x5c[{index}] is not a DER certificate ({exc})") from exc
    return certificates


def _public_key(certificate: x509.Certificate, algorithm: Algorithm) -> CertificatePublicKeyTypes:
    """The signer's key, if it is the kind `alg` names (no algorithm confusion)."""
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _Refused(CERTIFICATE, f"the signer's public key is unreadable ({exc})") from exc
    if algorithm is Algorithm.RS256 and isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            message = f"RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} expected"
            raise _Refused(ALGORITHM, message)
        return key
    if (
        algorithm is Algorithm.ES256
        and isinstance(key, ec.EllipticCurvePublicKey)
        and isinstance(key.curve, ec.SECP256R1)
    ):
        return key
    expected = "an RSA key" if algorithm is Algorithm.RS256 else "an EC P-256 key"
    message = f"alg {algorithm} needs {expected}; the certificate holds {describe_key(key)}"
    raise _Refused(ALGORITHM, message)


def _check_signature(
    key: CertificatePublicKeyTypes,
    algorithm: Algorithm,
    signing_input: bytes,
    signature: bytes,
    over: str = "the Bundle's canonical form",
) -> None:
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey) and len(signature) == 2 * _P256_BYTES:
            r = int.from_bytes(signature[:_P256_BYTES], "big")
            s = int.from_bytes(signature[_P256_BYTES:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidSignature
    except (InvalidSignature, ValueError) as exc:
        message = f"the {algorithm} signature does not match {over}"
        raise _Refused(SIGNATURE, message, "Bundle.signature.data") from exc


def _claimed_time(header: dict[str, Any]) -> datetime | None:
    """The `sigT` header (JAdES claimed signing time, UTC, whole seconds), if there is one."""
    if "sigT" not in header:
        return None
    try:
        return datetime.strptime(header["sigT"], _SIGT_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError) as exc:
        raise _Refused(FORMAT, f"sigT {header['sigT']!r} is not YYYY-MM-DDThh:mm:ssZ") from exc


def _signing_time(claimed: datetime | None, element: dict[str, Any]) -> datetime:
    """The signed `sigT` (checked against `Signature.when`), else `Signature.when`."""
    try:
        when = datetime.fromisoformat(element["when"])
        if when.tzinfo is None:
            raise ValueError("no timezone")
    except (KeyError, TypeError, ValueError) as exc:
        raise _Refused(FORMAT, "Signature.when is missing or not an instant") from exc
    if claimed is None:
        return when
    if claimed != when.replace(microsecond=0):
        signed = claimed.strftime(_SIGT_FORMAT)
        message = f"Signature.when {element['when']} differs from the signed time {signed}"
        raise _Refused(TIME, message, "Bundle.signature.when")
    return claimed


def _algorithm_for(identity: SigningIdentity) -> Algorithm:
    key = identity.key
    public = identity.certificate.public_key()
    if public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ConfigError("the signing key does not belong to the signing certificate")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= MIN_RSA_BITS:
        return Algorithm.RS256
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return Algorithm.ES256
    raise ConfigError(
        f"a {describe_key(public)} key cannot sign a JWS; "
        f"RSA of at least {MIN_RSA_BITS} bits (RS256) or EC P-256 (ES256) expected"
    )


def _sign(key: SigningKey, signing_input: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2); _Refused (JWS-FORMAT) otherwise."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise _Refused(FORMAT, "a JWS part is not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _issue(
    rule: str, message: str, location: str = "Bundle", severity: Severity = Severity.ERROR
) -> Issue:
    code = {
        MISSING: IssueType.REQUIRED,
        FORMAT: IssueType.STRUCTURE,
        NUMBER: IssueType.VALUE,
    }.get(rule, IssueType.SECURITY)
    return Issue(severity, code, rule, message, location=location)
