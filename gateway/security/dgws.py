"""The DGWS envelope (DESIGN §6, `dgws` profile): a MedCom XML payload in a signed SOAP message.

SOAP 1.1 whose `wsse:Security` holds a `wsu:Timestamp`, a SOSI system ID card (`saml:Assertion
id="IDCard"`, AuthenticationLevel 3, enveloped signature over `#IDCard`) and the envelope
signature (DGWS level 5, "Digital signatur") whose references cover the Body, the Timestamp and
`medcom:Header`. Exclusive C14N, RSA-SHA256 or ECDSA-SHA256, SHA-256 digests, the certificate
in `X509Data` (notes/security-transport.md §2.2, §2.3, §6). SHA-1 only for a legacy receiver.

Pure: a payload, a signing identity, a message id and a time in; the envelope bytes out. Those
bytes are what is stored and sent: nothing may re-serialise them after signing.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from gateway.errors import ConfigError, InvalidMessageError
from gateway.security import xmldsig
from gateway.security.dgws_ns import (
    AUTHENTICATION_LEVEL,
    BODY_ID,
    DS,
    HEADER_ID,
    HOLDER_OF_KEY,
    ID_CARD,
    ID_CARD_VERSION,
    MEDCOM,
    NSMAP,
    SAML,
    SECURITY_LEVEL,
    SOAP,
    TIMEOUT_MINUTES,
    TIMESTAMP_ID,
    WSSE,
    WSU,
    q,
)
from gateway.security.keys import SigningIdentity
from gateway.xml.safe import parse_untrusted

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
CARD_LIFETIME = timedelta(hours=24)  # medcom:TimeOut 1440
CARD_BACKDATE = timedelta(minutes=5)  # IssueInstant 5 min early: clock skew (samples do this)


@dataclass(frozen=True, slots=True)
class Signer:
    """Who signs: the organisation's signing identity and how SOSI names it."""

    identity: SigningIdentity
    care_provider_id: str  # CVR number of the organisation (SOSI CareProviderID)
    care_provider_name: str
    system_name: str = "labgw"
    sha1: bool = False  # only for a legacy receiver that demands DGWS 1.0.1 SHA-1

    @classmethod
    def of(cls, identity: SigningIdentity, sha1: bool = False) -> Signer:
        """A signer named from its OCES3 organisation certificate (O and NTRDK-<CVR>)."""
        subject = identity.certificate.subject
        names = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        ids = [
            str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
        ]
        cvr = next((i.removeprefix("NTRDK-") for i in ids if i.startswith("NTRDK-")), "")
        if not cvr or not names:
            raise ConfigError(
                "the signing certificate names no organisation and CVR "
                "(O and organizationIdentifier NTRDK-<CVR>)"
            )
        return cls(identity, cvr, str(names[0].value), sha1=sha1)

    @property
    def key(self) -> PrivateKey:
        return self.identity.key

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return self.identity.chain

    @property
    def certificate(self) -> x509.Certificate:
        return self.identity.certificate

    @property
    def digest(self) -> str:
        return "sha1" if self.sha1 else "sha256"


@dataclass(frozen=True, slots=True)
class IdCard:
    """A signed SOSI ID card and when it stops being valid; reused until then (DESIGN §6)."""

    xml: bytes
    not_on_or_after: datetime

    def valid_at(self, moment: datetime) -> bool:
        return moment < self.not_on_or_after - timedelta(minutes=5)


def _time(moment: datetime) -> str:
    """DGWS 1.0.1 times: UTC, whole seconds, `Z` (notes §2.2)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cert_hash(certificate: x509.Certificate) -> str:
    """sosi:OCESCertHash: base64 SHA-256 of the certificate (SHA-1 in DGWS 1.0)."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


def _attribute(
    parent: etree._Element, name: str, value: str, name_format: str | None = None
) -> None:
    attribute = etree.SubElement(parent, q(SAML, "Attribute"), Name=name)
    if name_format:
        attribute.set("NameFormat", name_format)
    etree.SubElement(attribute, q(SAML, "AttributeValue")).text = value


def make_id_card(signer: Signer, now: datetime) -> IdCard:
    """A system ID card for the signer's organisation, signed over #IDCard."""
    issued = now - CARD_BACKDATE
    until = issued + CARD_LIFETIME
    card = etree.Element(
        q(SAML, "Assertion"),
        nsmap={k: NSMAP[k] for k in ("saml", "ds", "medcom", "sosi")},
        IssueInstant=_time(issued),
        Version="2.0",
        id=ID_CARD,
    )
    etree.SubElement(card, q(SAML, "Issuer")).text = signer.system_name
    subject = etree.SubElement(card, q(SAML, "Subject"))
    etree.SubElement(
        subject, q(SAML, "NameID"), Format="medcom:cvrnumber"
    ).text = signer.care_provider_id
    confirmation = etree.SubElement(subject, q(SAML, "SubjectConfirmation"))
    etree.SubElement(confirmation, q(SAML, "ConfirmationMethod")).text = HOLDER_OF_KEY
    data = etree.SubElement(confirmation, q(SAML, "SubjectConfirmationData"))
    key_info = etree.SubElement(data, q(DS, "KeyInfo"))
    etree.SubElement(key_info, q(DS, "KeyName")).text = "OCESSignature"
    etree.SubElement(
        card, q(SAML, "Conditions"), NotBefore=_time(issued), NotOnOrAfter=_time(until)
    )
    card_data = etree.SubElement(card, q(SAML, "AttributeStatement"), id="IDCardData")
    _attribute(card_data, "sosi:IDCardID", str(uuid.uuid4()))
    _attribute(card_data, "sosi:IDCardVersion", ID_CARD_VERSION)
    _attribute(card_data, "sosi:IDCardType", "system")
    _attribute(card_data, "sosi:AuthenticationLevel", AUTHENTICATION_LEVEL)
    _attribute(card_data, "sosi:OCESCertHash", cert_hash(signer.certificate))
    system_log = etree.SubElement(card, q(SAML, "AttributeStatement"), id="SystemLog")
    _attribute(system_log, "medcom:ITSystemName", signer.system_name)
    _attribute(system_log, "medcom:CareProviderID", signer.care_provider_id, "medcom:cvrnumber")
    _attribute(system_log, "medcom:CareProviderName", signer.care_provider_name)
    signature = etree.SubElement(card, q(DS, "Signature"), id="OCESSignature")
    xmldsig.sign(
        [xmldsig.Reference(f"#{ID_CARD}", card, enveloped=True)],
        signer.key,
        signer.chain,
        signer.digest,
        signature,
    )
    return IdCard(etree.tostring(card), until)


def build_envelope(
    payload: bytes, card: IdCard, signer: Signer, message_id: str, now: datetime
) -> bytes:
    """Wrap a MedCom XML payload in a DGWS level-5 envelope and sign it.

    Raises:
        InvalidMessageError: the payload is not well-formed, safe XML.
    """
    body_root, problems = parse_untrusted(payload, "payload")
    if body_root is None:
        raise InvalidMessageError("the payload cannot be enveloped", tuple(problems))
    envelope = etree.Element(q(SOAP, "Envelope"), nsmap=NSMAP)
    header = etree.SubElement(envelope, q(SOAP, "Header"))
    security = etree.SubElement(header, q(WSSE, "Security"))
    timestamp = etree.SubElement(security, q(WSU, "Timestamp"))
    timestamp.set(q(WSU, "Id"), TIMESTAMP_ID)
    etree.SubElement(timestamp, q(WSU, "Created")).text = _time(now)
    security.append(etree.fromstring(card.xml))
    medcom = etree.SubElement(header, q(MEDCOM, "Header"))
    medcom.set(q(WSU, "Id"), HEADER_ID)
    etree.SubElement(medcom, q(MEDCOM, "SecurityLevel")).text = SECURITY_LEVEL
    etree.SubElement(medcom, q(MEDCOM, "TimeOut")).text = TIMEOUT_MINUTES
    linking = etree.SubElement(medcom, q(MEDCOM, "Linking"))
    etree.SubElement(linking, q(MEDCOM, "MessageID")).text = message_id
    etree.SubElement(medcom, q(MEDCOM, "FlowStatus")).text = "flow_running"
    body = etree.SubElement(envelope, q(SOAP, "Body"))
    body.set(q(WSU, "Id"), BODY_ID)
    body.append(body_root)
    references = [
        xmldsig.Reference(f"#{BODY_ID}", body),
        xmldsig.Reference(f"#{TIMESTAMP_ID}", timestamp),
        xmldsig.Reference(f"#{HEADER_ID}", medcom),
    ]
    security.append(xmldsig.sign(references, signer.key, signer.chain, signer.digest))
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
