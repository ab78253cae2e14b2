"""Verifies DGWS envelopes so that signature wrapping, replay and weak algorithms all fail.

The order of checks follows notes/security-transport.md §6.3: a hardened parse; a fixed shape
(exactly one Header, Body, Security, Timestamp, ID card and envelope signature, each where DGWS
puts it); exact references (#body, #ts, #medcomheader, each id unique and on the element it
must be on); the signature with an algorithm allow-list and the signer's own certificate; the ID
card's signature by the same certificate; the Timestamp inside the replay window; the certificate
against the pinned trust store at signing time. The caller gets only what was signed: the
payload is taken from the verified Body, never from the input document.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cryptography import x509
from lxml import etree
from signxml import InvalidDigest, InvalidInput, InvalidSignature, XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, SignXMLException
from signxml.verifier import SignatureConfiguration

from gateway.issues import Issue, IssueType, Severity
from gateway.security.dgws import cert_hash
from gateway.security.dgws_ns import (
    BODY_ID,
    DS,
    ENVELOPE_REFERENCES,
    HEADER_ID,
    ID_CARD,
    MEDCOM,
    SAML,
    SOAP,
    TIMESTAMP_ID,
    WSSE,
    WSU,
    q,
)
from gateway.xml.safe import parse_untrusted

_STRONG_METHODS = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
    }
)
_STRONG_DIGESTS = frozenset(
    {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
)


class TrustCheck(Protocol):
    def iter_issues(
        self, certificate: x509.Certificate, chain: list[x509.Certificate], at: datetime
    ) -> Iterator[Issue]: ...


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    allow_sha1: bool = False  # a legacy DGWS 1.0.1 counterpart only
    max_age: timedelta = timedelta(minutes=5)  # Timestamp older than this is a replay
    max_skew: timedelta = timedelta(minutes=5)  # Timestamp this far in the future is refused


@dataclass(frozen=True, slots=True)
class VerifiedEnvelope:
    """What a verified envelope proves: the signed payload, its signer and message id."""

    payload: etree._Element  # from the verified Body, not from the input document
    signer: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    message_id: str
    created: datetime

    def payload_bytes(self) -> bytes:
        return etree.tostring(self.payload, xml_declaration=True, encoding="UTF-8")


@dataclass(frozen=True, slots=True)
class Verification:
    envelope: VerifiedEnvelope | None
    issues: tuple[Issue, ...]

    @property
    def valid(self) -> bool:
        return self.envelope is not None and not any(i.blocking for i in self.issues)


class _Refused(Exception):
    def __init__(
        self,
        rule: str,
        message: str,
        code: IssueType = IssueType.SECURITY,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.issue = Issue(Severity.ERROR, code, rule, message, location=location)


def verify_envelope(
    data: bytes,
    *,
    now: datetime,
    trust: TrustCheck | None,
    policy: VerifyPolicy | None = None,
    source: str | None = None,
) -> Verification:
    """Check one DGWS envelope; never raises on bad input."""
    policy = policy or VerifyPolicy()
    root, problems = parse_untrusted(data, source)
    if root is None:
        return Verification(None, tuple(problems))
    try:
        parts = _shape(root)
        _check_algorithms(parts.signature, policy)
        _check_references(parts.signature)
        chain = _certificates(parts.signature)
        # The claimed signing time only picks the moment certificates are judged at; it is
        # authenticated by the very signature verified with it, and checked again below.
        claimed = _instant(parts.timestamp.findtext(q(WSU, "Created")))
        location = "./" + "/".join((q(SOAP, "Header"), q(WSSE, "Security"))) + "/"
        config = _config(policy, location, len(ENVELOPE_REFERENCES), claimed)
        results = _verify(data, chain[0], config)
        signed = {etree.QName(r.signed_xml).localname: r.signed_xml for r in results}
        _verify_card(parts.card, chain[0], _config(policy, "./", 1, claimed))
        created = _created(signed["Timestamp"], now, policy)
        _check_card_times(parts.card, now)
    except _Refused as refused:
        return Verification(None, (replace_source(refused.issue, source),))
    issues = [
        replace_source(i, source)
        for i in (trust.iter_issues(chain[0], chain[1:], created) if trust else ())
    ]
    body = signed["Body"]
    payload = next((child for child in body if isinstance(child.tag, str)), None)
    message_id = signed["Header"].findtext(f"{q(MEDCOM, 'Linking')}/{q(MEDCOM, 'MessageID')}")
    if payload is None or not message_id:
        issue = Issue(
            Severity.ERROR,
            IssueType.STRUCTURE,
            "DGWS-STRUCTURE",
            "the signed Body holds no payload or medcom:Header no Linking/MessageID",
            source=source,
        )
        return Verification(None, (*issues, issue))
    if any(i.blocking for i in issues):
        return Verification(None, tuple(issues))
    return Verification(
        VerifiedEnvelope(payload, chain[0], tuple(chain[1:]), message_id, created), tuple(issues)
    )


def replace_source(issue: Issue, source: str | None) -> Issue:
    from dataclasses import replace

    return issue if source is None else replace(issue, source=source)


@dataclass(frozen=True, slots=True)
class _Parts:
    timestamp: etree._Element
    card: etree._Element
    signature: etree._Element


def _only(parent: etree._Element, tag: str, where: str) -> etree._Element:
    found = [child for child in parent if child.tag == tag]
    if len(found) != 1:
        raise _Refused(
            "DGWS-STRUCTURE",
            f"{where} must hold exactly one {etree.QName(tag).localname}, found {len(found)}",
            IssueType.STRUCTURE,
            where,
        )
    return found[0]


def _shape(root: etree._Element) -> _Parts:
    """The one shape DGWS allows; anything else is refused before any signature is read."""
    if root.tag != q(SOAP, "Envelope"):
        raise _Refused(
            "DGWS-STRUCTURE", "the root is not a SOAP 1.1 Envelope", IssueType.STRUCTURE, "/"
        )
    elements = [child for child in root if isinstance(child.tag, str)]
    if [c.tag for c in elements] != [q(SOAP, "Header"), q(SOAP, "Body")]:
        raise _Refused(
            "DGWS-STRUCTURE",
            "the Envelope must hold a Header and then a Body",
            IssueType.STRUCTURE,
            "/Envelope",
        )
    header, body = elements
    security = _only(header, q(WSSE, "Security"), "/Envelope/Header")
    medcom = _only(header, q(MEDCOM, "Header"), "/Envelope/Header")
    timestamp = _only(security, q(WSU, "Timestamp"), "/Envelope/Header/Security")
    card = _only(security, q(SAML, "Assertion"), "/Envelope/Header/Security")
    signature = _only(security, q(DS, "Signature"), "/Envelope/Header/Security")
    stray = [
        s for s in root.iter(q(DS, "Signature")) if s is not signature and s.getparent() is not card
    ]
    if stray:
        raise _Refused(
            "DGWS-SIGNATURE-LOCATION",
            "a signature stands where DGWS puts none",
            location="/Envelope",
        )
    for element, attribute, value in (
        (body, q(WSU, "Id"), BODY_ID),
        (timestamp, q(WSU, "Id"), TIMESTAMP_ID),
        (medcom, q(WSU, "Id"), HEADER_ID),
        (card, "id", ID_CARD),
    ):
        holders = [
            e
            for e in root.iter()
            if isinstance(e.tag, str)
            and value in (e.get(q(WSU, "Id")), e.get("id"), e.get("Id"), e.get("ID"))
        ]
        if len(holders) != 1:
            raise _Refused(
                "DGWS-DUPLICATE-ID",
                f"id {value!r} must name exactly one element, found {len(holders)}",
                location="/Envelope",
            )
        if holders[0] is not element or element.get(attribute) != value:
            raise _Refused(
                "DGWS-WRAPPING",
                f"id {value!r} is not on the {etree.QName(element).localname} DGWS signs",
                location="/Envelope",
            )
    return _Parts(timestamp, card, signature)


def _certificates(signature: etree._Element) -> list[x509.Certificate]:
    data = signature.findall(f"{q(DS, 'KeyInfo')}/{q(DS, 'X509Data')}/{q(DS, 'X509Certificate')}")
    if not data:
        raise _Refused("DGWS-NO-CERTIFICATE", "the signature carries no X509Certificate")
    try:
        return [
            x509.load_der_x509_certificate(base64.b64decode("".join((d.text or "").split())))
            for d in data
        ]
    except ValueError as exc:
        raise _Refused("DGWS-NO-CERTIFICATE", f"unreadable X509Certificate: {exc}") from exc


def _allowed(
    policy: VerifyPolicy,
) -> tuple[frozenset[SignatureMethod], frozenset[DigestAlgorithm]]:
    """The algorithm allow-list: SHA-2 only, SHA-1 where the policy admits a legacy sender."""
    if not policy.allow_sha1:
        return _STRONG_METHODS, _STRONG_DIGESTS
    return (
        _STRONG_METHODS | {SignatureMethod.RSA_SHA1, SignatureMethod.ECDSA_SHA1},
        _STRONG_DIGESTS | {DigestAlgorithm.SHA1},
    )


def _config(
    policy: VerifyPolicy, location: str, references: int, signed_at: datetime
) -> SignatureConfiguration:
    methods, digests = _allowed(policy)
    return SignatureConfiguration(
        location=location,
        expect_references=references,
        verification_time=signed_at,  # validity is judged at signing time (DESIGN §6)
        signature_methods=methods,
        digest_algorithms=digests,
    )


def _verify(
    data: bytes,
    certificate: x509.Certificate,
    config: SignatureConfiguration,
    schema: bool = True,
) -> list[Any]:
    """signxml's verification with our policy, its exceptions turned into refusals.

    `schema=False` only for the SOSI ID card, whose `ds:Signature/@id` the XML-DSig schema
    does not allow (DGWS names the signature so; notes §6.2 experiment 4).
    """
    try:
        found = XMLVerifier().verify(
            data, x509_cert=certificate, expect_config=config, validate_schema=schema
        )
    except InvalidDigest as exc:
        raise _Refused("DGWS-DIGEST", f"a signed part was changed after signing ({exc})") from exc
    except InvalidSignature as exc:
        raise _Refused("DGWS-SIGNATURE", f"the signature does not verify ({exc})") from exc
    except InvalidCertificate as exc:
        raise _Refused("DGWS-NO-CERTIFICATE", f"certificate problem ({exc})") from exc
    except InvalidInput as exc:
        text = str(exc)
        if "forbidden" in text or "not supported" in text:
            raise _Refused("DGWS-ALGORITHM", f"algorithm not allowed ({text})") from exc
        if "Ambiguous" in text:
            raise _Refused("DGWS-DUPLICATE-ID", text) from exc
        if "reference" in text.lower():
            raise _Refused("DGWS-REFERENCES", text) from exc
        raise _Refused("DGWS-SIGNATURE", f"the signature cannot be read ({text})") from exc
    except (SignXMLException, etree.DocumentInvalid) as exc:
        raise _Refused("DGWS-SIGNATURE", f"the signature does not verify ({exc})") from exc
    return found if isinstance(found, list) else [found]


def _check_algorithms(signature: etree._Element, policy: VerifyPolicy) -> None:
    """Refuse a method outside the allow-list before anything else is read (HMAC, SHA-1 …)."""
    config = _config(policy, "./", 1, datetime.now(UTC))
    allowed = {m.value for m in config.signature_methods} | {
        d.value for d in config.digest_algorithms
    }
    used = [
        e.get("Algorithm")
        for e in (*signature.iter(q(DS, "SignatureMethod")), *signature.iter(q(DS, "DigestMethod")))
    ]
    refused = [u for u in used if u not in allowed]
    if refused:
        raise _Refused("DGWS-ALGORITHM", f"algorithm not allowed: {', '.join(map(str, refused))}")


def _check_references(signature: etree._Element) -> None:
    uris = [r.get("URI") for r in signature.iter(q(DS, "Reference"))]
    if sorted(u or "" for u in uris) != sorted(ENVELOPE_REFERENCES):
        raise _Refused(
            "DGWS-REFERENCES",
            f"the envelope signature must reference exactly "
            f"{', '.join(ENVELOPE_REFERENCES)}; found {', '.join(map(str, uris))}",
        )


def _verify_card(
    card: etree._Element, envelope_signer: x509.Certificate, config: SignatureConfiguration
) -> None:
    signature = _only(card, q(DS, "Signature"), "/Envelope/Header/Security/Assertion")
    certificate = _certificates(signature)[0]
    results = _verify(etree.tostring(card), certificate, config, schema=False)
    if results[0].signed_xml.get("id") != ID_CARD:
        raise _Refused("DGWS-WRAPPING", "the ID card signature does not cover the ID card")
    hashes = [
        v.text
        for v in card.iter(q(SAML, "AttributeValue"))
        if v.getparent() is not None and v.getparent().get("Name") == "sosi:OCESCertHash"
    ]
    if certificate != envelope_signer or hashes != [cert_hash(envelope_signer)]:
        raise _Refused(
            "DGWS-CERT-MISMATCH",
            "the ID card and the envelope are not signed by "
            "the same certificate (sosi:OCESCertHash)",
        )


def _instant(text: str | None) -> datetime:
    try:
        return datetime.strptime(text or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise _Refused("DGWS-STRUCTURE", f"not a DGWS time: {text!r}", IssueType.STRUCTURE) from exc


def _created(timestamp: etree._Element, now: datetime, policy: VerifyPolicy) -> datetime:
    created = _instant(timestamp.findtext(q(WSU, "Created")))
    if created < now - policy.max_age:
        raise _Refused(
            "DGWS-STALE",
            f"the Timestamp {created.isoformat()} is older than "
            f"{policy.max_age}: a replay or a resend of old bytes",
        )
    if created > now + policy.max_skew:
        raise _Refused("DGWS-STALE", f"the Timestamp {created.isoformat()} lies in the future")
    return created


def _check_card_times(card: etree._Element, now: datetime) -> None:
    conditions = card.find(q(SAML, "Conditions"))
    if conditions is None:
        raise _Refused("DGWS-IDCARD", "the ID card has no Conditions")
    if not _instant(conditions.get("NotBefore")) <= now < _instant(conditions.get("NotOnOrAfter")):
        raise _Refused("DGWS-IDCARD", "the ID card is not valid now (Conditions)")
