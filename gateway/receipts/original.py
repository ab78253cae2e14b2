"""What a receipt must echo, read from the message it answers.

A receiver reads these facts before it knows whether the message is any good: a letter that
fails its schema still gets a negative receipt, and that receipt still has to name the letter,
its envelope and both parties. So nothing here validates the message; it only insists on the
facts the receipt cannot be made without, and on their fitting the receipt (an XCTL identifier
holds 14 characters, a FHIR `response.identifier` must be an `id`). A receipt is never answered
with a receipt (MedCom KR2: "never ack an ack"), so a receipt given here is refused.

MedCom XML: XRPT01 LaboratoryReport and XRPT05 MicrobiologyWebReport in the 2014/10/08
namespace, one letter per Emessage (what labgw renders). FHIR: a message Bundle; the primary
destination is the one MedCom's destinationUse extension marks, else the first.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from gateway.fhir_message import systems
from gateway.fhir_message.render import FHIR_KIND
from gateway.issues import Issue, IssueType
from gateway.receipts import bundle as b
from gateway.receipts import rules
from gateway.receipts.issue_text import clean
from gateway.receipts.model import Original, Party
from gateway.receipts.reading import ORIGINAL_JSON, ORIGINAL_XML, read_json, read_xml
from gateway.xml import ns

_LETTERS = {"LaboratoryReport": ns.XRPT01_TYPE, "MicrobiologyWebReport": ns.XRPT05_TYPE}
_GLN_SYSTEMS = (systems.GLN, "http://www.gs1.org/gln")  # DK-core ≥ 3.5.0 writes http
# XCTL limits on what it echoes (receipts-common.xsd): identifiers 14, version code 7, EAN 35.
_XCTL_LIMITS = {"Envelope/Identifier": 14, "Letter/Identifier": 14, "Letter/VersionCode": 7}
_EAN_MAX = 35


def original_of(payload: bytes) -> Original | tuple[Issue, ...]:
    """The facts of a received MedCom XML letter or FHIR message; Issues when there are none."""
    if payload.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return _from_fhir(payload)
    return _from_xml(payload)


def _kind(message: str) -> tuple[Issue, ...]:
    return (rules.fatal(IssueType.NOT_SUPPORTED, rules.KIND, message),)


def _missing(names: list[str]) -> tuple[Issue, ...]:
    message = f"the message has no {', '.join(names)}: a receipt must echo it"
    return (rules.fatal(IssueType.REQUIRED, rules.MISSING, message),)


def _echo(message: str, location: str) -> Issue:
    return rules.fatal(IssueType.TOO_LONG, rules.ECHO, message, location)


def _from_xml(payload: bytes) -> Original | tuple[Issue, ...]:
    root, problems = read_xml(payload, ORIGINAL_XML)
    if root is None:
        return problems
    name = etree.QName(root)
    if name.localname != "Emessage" or name.namespace != ns.NS_2014:
        if name.namespace == ns.NS_2005:
            return _kind(
                "a MedCom 2005/08/07 Emessage: labgw receipts XRPT01 and XRPT05 letters of "
                "2014/10/08, and a receipt is never answered with a receipt"
            )
        return _kind(f"not a MedCom 2014/10/08 Emessage: the root is {name.text!r}")
    letters = [
        child
        for child in root
        if isinstance(child.tag, str)
        and etree.QName(child).localname not in ("Envelope", "Local_Elements")
    ]
    if len(letters) != 1:
        return (
            rules.fatal(
                IssueType.NOT_SUPPORTED,
                rules.MULTIPLE,
                f"the Emessage holds {len(letters)} letters; labgw receipts one letter per "
                "Emessage",
                "/Emessage",
            ),
        )
    letter = letters[0]
    kind = _LETTERS.get(etree.QName(letter).localname)
    if kind is None:
        return _kind(f"{etree.QName(letter).localname} is not a lab letter labgw receipts")
    facts = {
        "Envelope/Identifier": root.findtext(_path("Envelope", "Identifier")),
        "Letter/Identifier": letter.findtext(_path("Letter", "Identifier")),
        "Letter/VersionCode": letter.findtext(_path("Letter", "VersionCode")),
        "Sender/EANIdentifier": letter.findtext(_path("Sender", "EANIdentifier")),
        "Receiver/EANIdentifier": letter.findtext(_path("Receiver", "EANIdentifier")),
    }
    absent = [where for where, value in facts.items() if not value]
    if absent:
        return _missing(absent)
    too_long = tuple(
        _echo(f"{len(value)} characters; the receipt echoes it in at most {limit}", where)
        for where, value in facts.items()
        if value and len(value) > (limit := _XCTL_LIMITS.get(where, _EAN_MAX))
    )
    if too_long:
        return too_long
    return Original(
        kind=kind,
        message_id=facts["Letter/Identifier"] or "",
        envelope_id=facts["Envelope/Identifier"] or "",
        version_code=facts["Letter/VersionCode"] or "",
        sender=facts["Sender/EANIdentifier"] or "",
        receiver=facts["Receiver/EANIdentifier"] or "",
    )


def _path(*names: str) -> str:
    return "/".join(ns.q(name, ns.NS_2014) for name in names)


def _from_fhir(payload: bytes) -> Original | tuple[Issue, ...]:
    value, problems = read_json(payload, ORIGINAL_JSON, strict=False)
    if problems:
        return problems
    message = b.obj(value)
    head = b.header(message)
    if not head:
        return _kind(
            "not a FHIR message: a Bundle of type message whose first entry is its MessageHeader"
        )
    if b.is_ack(head):
        return _kind("an acknowledgement is never acknowledged (MedCom KR2)")
    destination = _primary(b.items(head.get("destination")))
    facts = {
        "MessageHeader.id": b.text(head.get("id")),
        "Bundle.id": b.text(message.get("id")),
        "MessageHeader.sender.reference": b.text(b.obj(head.get("sender")).get("reference")),
        "MessageHeader.source.endpoint": b.text(b.obj(head.get("source")).get("endpoint")),
        "MessageHeader.destination.receiver.reference": b.text(
            b.obj(destination.get("receiver")).get("reference")
        ),
        "MessageHeader.destination.endpoint": b.text(destination.get("endpoint")),
    }
    absent = [where for where, fact in facts.items() if not fact]
    if absent:
        return _missing(absent)
    bad_ids = tuple(
        rules.fatal(
            IssueType.VALUE,
            rules.ECHO,
            "not a FHIR id (1-64 of A-Z a-z 0-9 - .): the acknowledgement echoes it as one",
            where,
        )
        for where in ("MessageHeader.id", "Bundle.id")
        if not b.is_id(facts[where])
    )
    if bad_ids:
        return bad_ids
    # The rest is echoed as text: JSON can hold what no FHIR string may (controls, a lone
    # surrogate written as \ud800), and the acknowledgement must still be writable.
    sender, receiver = (
        clean(facts["MessageHeader.sender.reference"]),
        clean(facts["MessageHeader.destination.receiver.reference"]),
    )
    return Original(
        kind=FHIR_KIND,
        message_id=facts["MessageHeader.id"],
        envelope_id=facts["Bundle.id"],
        version_code="",
        sender=sender,
        receiver=receiver,
        sender_party=_party(message, sender, clean(facts["MessageHeader.source.endpoint"])),
        receiver_party=_party(
            message, receiver, clean(facts["MessageHeader.destination.endpoint"])
        ),
    )


def _primary(destinations: list[Any]) -> dict[str, Any]:
    """MedCom's primary destination (destinationUse `primary`), else the first there is."""
    candidates = [b.obj(d) for d in destinations if b.obj(d)]
    for destination in candidates:
        for extension in b.items(destination.get("extension")):
            if b.obj(b.obj(extension).get("valueCoding")).get("code") == "primary":
                return destination
    return candidates[0] if candidates else {}


def _party(message: dict[str, Any], reference: str, endpoint: str) -> Party:
    organization = b.resolve(message, reference)
    organization_id = b.text(organization.get("id"))
    if organization.get("resourceType") != "Organization" or not b.is_id(organization_id):
        return Party(endpoint)
    found = {
        b.text(b.obj(i).get("system")): b.text(b.obj(i).get("value"))
        for i in b.items(organization.get("identifier"))
    }
    return Party(
        endpoint,
        organization_id=organization_id,
        name=clean(b.text(organization.get("name"))),
        sor=clean(found.get(systems.SOR, "")),
        gln=clean(next((found[s] for s in _GLN_SYSTEMS if found.get(s)), "")),
    )
