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
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from lxml import etree

from gateway.issues import Issue, IssueType, Severity
from gateway.security import xmldsig
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

# URIs by what they do, from the one table in xmldsig.py.
_STRONG_METHODS = frozenset(u for u, (_, h) in xmldsig.METHODS.items() if h != "sha1")
_SHA1_METHODS = frozenset(u for u, (_, h) in xmldsig.METHODS.items() if h == "sha1")
_STRONG_DIGESTS = frozenset(u for u, h in xmldsig.DIGESTS.items() if h != "sha1")
_SHA1_DIGESTS = frozenset(u for u, h in xmldsig.DIGESTS.items() if h == "sha1")


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
        methods, digests = _allowed(policy)
        _algorithms(parts.signature, methods, digests)
        _check_references(parts.signature)
        chain = _certificates(parts.signature)
        covered = _verified(parts.signature, parts.ids, chain[0], methods, digests)
        signed = {etree.QName(element).localname: element for element in covered}
        _verify_card(parts, chain[0], methods, digests)
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
    ids: dict[str, list[etree._Element]]


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
    holders = _id_holders(root)
    for element, attribute, value in (
        (body, _WSU_ID, BODY_ID),
        (timestamp, _WSU_ID, TIMESTAMP_ID),
        (medcom, _WSU_ID, HEADER_ID),
        (card, "id", ID_CARD),
    ):
        found = holders.get(value, [])
        if len(found) != 1:
            raise _Refused(
                "DGWS-DUPLICATE-ID",
                f"id {value!r} must name exactly one element, found {len(found)}",
                location="/Envelope",
            )
        if found[0] is not element or element.get(attribute) != value:
            raise _Refused(
                "DGWS-WRAPPING",
                f"id {value!r} is not on the {etree.QName(element).localname} DGWS signs",
                location="/Envelope",
            )
    return _Parts(timestamp, card, signature, holders)


_WSU_ID = q(WSU, "Id")
# Every attribute an XML-DSig resolver may take for an id (signxml: Id, ID, id, xml:id, wsu:Id).
_ID_ATTRIBUTES = (_WSU_ID, "id", "Id", "ID", "{http://www.w3.org/XML/1998/namespace}id")


def _id_holders(root: etree._Element) -> dict[str, list[etree._Element]]:
    """Every element by each id value it carries, in one pass over the document."""
    holders: dict[str, list[etree._Element]] = {}
    for element in root.iter(etree.Element):
        attributes = element.attrib
        if not attributes:
            continue
        for name in _ID_ATTRIBUTES:
            value = attributes.get(name)
            if value is not None:
                holders.setdefault(value, []).append(element)
    return holders


def _certificates(signature: etree._Element) -> list[x509.Certificate]:
    data = signature.findall(f"{q(DS, 'KeyInfo')}/{q(DS, 'X509Data')}/{q(DS, 'X509Certificate')}")
    if not data:
        raise _Refused("DGWS-NO-CERTIFICATE", "the signature carries no X509Certificate")
    try:
        chain = [
            x509.load_der_x509_certificate(base64.b64decode("".join((d.text or "").split())))
            for d in data
        ]
        chain[0].public_key()  # parsed lazily: an unreadable key must not escape later
    except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion) as exc:
        raise _Refused("DGWS-NO-CERTIFICATE", f"unreadable X509Certificate: {exc}") from exc
    return chain


def _allowed(policy: VerifyPolicy) -> tuple[frozenset[str], frozenset[str]]:
    """The algorithm allow-list: SHA-2 only, SHA-1 where the policy admits a legacy sender."""
    if not policy.allow_sha1:
        return _STRONG_METHODS, _STRONG_DIGESTS
    return _STRONG_METHODS | _SHA1_METHODS, _STRONG_DIGESTS | _SHA1_DIGESTS


def _algorithms(
    signature: etree._Element, methods: frozenset[str], digests: frozenset[str]
) -> None:
    try:
        xmldsig.check_algorithms(signature, methods, digests)
    except xmldsig.SignatureError as exc:
        raise _Refused(exc.rule, str(exc)) from exc


def _verified(
    signature: etree._Element,
    ids: dict[str, list[etree._Element]],
    certificate: x509.Certificate,
    methods: frozenset[str],
    digests: frozenset[str],
) -> list[etree._Element]:
    """The elements a signature covers, once it verifies with `certificate`."""

    def resolve(uri: str) -> etree._Element:
        found = ids.get(uri.removeprefix("#"), []) if uri.startswith("#") else []
        if len(found) != 1:
            raise _Refused("DGWS-REFERENCES", f"reference {uri!r} does not name one element")
        return found[0]

    try:
        return xmldsig.verify(signature, resolve, certificate, methods, digests)
    except xmldsig.SignatureError as exc:
        raise _Refused(exc.rule, str(exc)) from exc


def _check_references(signature: etree._Element) -> None:
    uris = [r.get("URI") for r in signature.iter(q(DS, "Reference"))]
    if sorted(u or "" for u in uris) != sorted(ENVELOPE_REFERENCES):
        raise _Refused(
            "DGWS-REFERENCES",
            f"the envelope signature must reference exactly {', '.join(ENVELOPE_REFERENCES)}; "
            f"found {', '.join(map(str, uris))}",
        )


def _verify_card(
    parts: _Parts,
    envelope_signer: x509.Certificate,
    methods: frozenset[str],
    digests: frozenset[str],
) -> None:
    card = parts.card
    signature = _only(card, q(DS, "Signature"), "/Envelope/Header/Security/Assertion")
    certificate = _certificates(signature)[0]
    _algorithms(signature, methods, digests)
    if [r.get("URI") for r in signature.iter(q(DS, "Reference"))] != [f"#{ID_CARD}"]:
        raise _Refused("DGWS-REFERENCES", "the ID card signature must reference #IDCard only")
    if _verified(signature, parts.ids, certificate, methods, digests) != [card]:
        raise _Refused("DGWS-WRAPPING", "the ID card signature does not cover the ID card")
    hashes = [
        v.text
        for v in card.iter(q(SAML, "AttributeValue"))
        if v.getparent() is not None and v.getparent().get("Name") == "sosi:OCESCertHash"
    ]
    if certificate != envelope_signer or hashes != [cert_hash(envelope_signer)]:
        raise _Refused(
            "DGWS-CERT-MISMATCH",
            "the ID card and the envelope are not signed by the same certificate "
            "(sosi:OCESCertHash)",
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
