"""MedCom XML receipts: XCTL03 PositiveReceipt (XC0330Q) and XCTL02 NegativeReceipt (XC0230Q).

notes/medcom-xml.md §6: an Emessage of the 2005/08/07 generation whose letter names itself
(Identifier, VersionCode, StatisticalCode), its Sender and Receiver by EAN only, and the
receipted envelope and letter (`OriginalEmessage`). The receipt goes back the way the letter
came, so its Sender is the letter's Receiver and its Receiver the letter's Sender. A receipt asks
for no receipt itself (AcknowledgementCode `minuspositivkvitt`): receipts are never receipted.

A negative receipt says why in RefuseCode (one of five) and RefuseText, at the level of the
letter: labgw sends one letter per envelope, so the letter is what was refused. Each Issue is one
RefuseText line (`issue_text.to_line`), the lines separated by `<Break/>`. The schema sets no
length on RefuseText, so every Issue is written whole.

XML has no transient answer: a receiver that cannot process a letter now sends nothing, and the
sender's 30-minute resend rule covers it (notes/security-transport.md §5.1).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from lxml import etree

from gateway.fhir_message.render import FHIR_KIND
from gateway.issues import Issue, IssueType, Severity
from gateway.receipts import issue_text, rules
from gateway.receipts.model import Original, Receipt, ReceiptOutcome
from gateway.receipts.reading import RECEIPT_XML, read_xml
from gateway.xml import ns
from gateway.xml.letter_parts import date_time
from gateway.xml.validate import XmlValidator
from gateway.xml.writer import XmlWriter

POSITIVE_VERSION, POSITIVE_TYPE = "XC0330Q", "XCTL03"
NEGATIVE_VERSION, NEGATIVE_TYPE = "XC0230Q", "XCTL02"
NO_RECEIPT_WANTED = "minuspositivkvitt"
REFUSE_CODES = (
    "ikke_specificeret",
    "ukendt_lokationsnummer",
    "problem_med_modtagerID",
    "problem_med_version",
    "syntaksfejl",
)
_LETTERS = {
    "PositiveReceipt": (ReceiptOutcome.POSITIVE, POSITIVE_TYPE),
    "NegativeReceipt": (ReceiptOutcome.NEGATIVE, NEGATIVE_TYPE),
}
_ID_MAX, _EAN_MAX, _VERSION_MAX = 14, 35, 7


def render_xctl(
    outcome: ReceiptOutcome,
    original: Original,
    *,
    receipt_id: str,
    envelope_id: str,
    sent: datetime,
    issues: Sequence[Issue] = (),
    refuse_code: str | None = None,
) -> bytes:
    """The receipt for one received XML letter, as the bytes to send and store.

    Raises:
        ValueError: a receipt the schema would refuse: a FHIR original, a transient outcome,
            refusal details on a positive receipt, an unknown refuse code, an identifier or EAN
            too long or empty, text XML cannot carry, or a naive `sent`.
    """
    _check(outcome, original, receipt_id, envelope_id, sent, issues, refuse_code)
    positive = outcome is ReceiptOutcome.POSITIVE
    out = XmlWriter()
    out.start("Emessage", ns.NS_2005)
    out.start("Envelope")
    date_time(out, "Sent", sent)
    out.leaf("Identifier", envelope_id)
    out.leaf("AcknowledgementCode", NO_RECEIPT_WANTED)
    out.end()
    out.start("PositiveReceipt" if positive else "NegativeReceipt")
    out.start("Letter")
    out.leaf("Identifier", receipt_id)
    out.leaf("VersionCode", POSITIVE_VERSION if positive else NEGATIVE_VERSION)
    out.leaf("StatisticalCode", POSITIVE_TYPE if positive else NEGATIVE_TYPE)
    out.end()
    _party(out, "Sender", original.receiver)
    _party(out, "Receiver", original.sender)
    out.start("OriginalEmessage")
    out.leaf("OriginalEnvelopeIdentifier", original.envelope_id)
    _party(out, "OriginalSender", original.sender)
    _party(out, "OriginalReceiver", original.receiver)
    out.start("OriginalLetter")
    out.leaf("OriginalLetterIdentifier", original.message_id)
    out.leaf("OriginalVersionCode", original.version_code)
    if refuse_code:
        out.leaf("RefuseCode", refuse_code)
    if issues:
        out.lines("RefuseText", "\n".join(issue_text.to_line(issue) for issue in issues))
    out.end()
    out.end()
    out.end()
    out.end()
    return out.to_bytes()


def _party(out: XmlWriter, name: str, ean: str) -> None:
    out.start(name)
    out.leaf("EANIdentifier", ean)
    out.end()


def _check(
    outcome: ReceiptOutcome,
    original: Original,
    receipt_id: str,
    envelope_id: str,
    sent: datetime,
    issues: Sequence[Issue],
    refuse_code: str | None,
) -> None:
    if original.kind == FHIR_KIND:
        raise ValueError("a FHIR message is answered with a FHIR acknowledgement, not XCTL")
    if outcome is ReceiptOutcome.TRANSIENT:
        raise ValueError("XCTL has no transient receipt: send none, the sender resends")
    if outcome is ReceiptOutcome.POSITIVE and (issues or refuse_code):
        raise ValueError("an XCTL03 positive receipt carries no refuse code and no Issues")
    if refuse_code is not None and refuse_code not in REFUSE_CODES:
        raise ValueError(f"RefuseCode {refuse_code!r} is not one of {', '.join(REFUSE_CODES)}")
    if sent.tzinfo is None:
        raise ValueError("`sent` must be timezone-aware (Danish local time is derived from it)")
    for name, value, limit in (
        ("receipt_id", receipt_id, _ID_MAX),
        ("envelope_id", envelope_id, _ID_MAX),
        ("original.message_id", original.message_id, _ID_MAX),
        ("original.envelope_id", original.envelope_id, _ID_MAX),
        ("original.version_code", original.version_code, _VERSION_MAX),
        ("original.sender", original.sender, _EAN_MAX),
        ("original.receiver", original.receiver, _EAN_MAX),
    ):
        if not 1 <= len(value) <= limit or not issue_text.writable(value):
            raise ValueError(f"{name} must be 1-{limit} characters XML can carry: {value!r}")


def parse_xctl(data: bytes) -> Receipt | tuple[Issue, ...]:
    """A received XCTL03 or XCTL02, validated against labgw's schema; Issues when it is not one."""
    root, problems = read_xml(data, RECEIPT_XML)
    if root is None:
        return problems
    return read_xctl(root, data)


def read_xctl(root: etree._Element, content: bytes) -> Receipt | tuple[Issue, ...]:
    """The receipt in a parsed `Emessage` (a whole document, or a SOAP Body's child)."""
    name = etree.QName(root)
    letters = [c for c in root if isinstance(c.tag, str) and etree.QName(c).localname in _LETTERS]
    if name.localname != "Emessage" or name.namespace != ns.NS_2005 or not letters:
        return (
            rules.fatal(
                IssueType.NOT_SUPPORTED,
                rules.KIND,
                f"not an XCTL receipt: {name.localname} in {name.namespace or 'no namespace'} "
                "(expected an Emessage of 2005/08/07 with a PositiveReceipt or NegativeReceipt)",
            ),
        )
    document = root if root.getparent() is None else copy.deepcopy(root)
    invalid = tuple(
        Issue(
            Severity.FATAL,
            issue.code,
            rules.SCHEMA,
            issue.message,
            location=issue.location,
            line=issue.line,
        )
        for issue in _validator().iter_tree_issues(document)
        if issue.blocking
    )
    if invalid:
        return invalid
    originals = letters[0].findall(_path("OriginalEmessage", "OriginalLetter"))
    if len(letters) > 1 or len(originals) > 1:
        return (
            rules.fatal(
                IssueType.NOT_SUPPORTED,
                rules.MULTIPLE,
                f"{len(letters)} receipts for {len(originals)} letters in one Emessage; labgw "
                "sends one letter per envelope and reads one receipt for it",
                "/Emessage",
            ),
        )
    letter = letters[0]
    outcome, kind = _LETTERS[etree.QName(letter).localname]
    envelope_level = letter.find(_path("OriginalEmessage"))
    levels = [e for e in (envelope_level, *originals) if e is not None]
    codes = [code for e in reversed(levels) if (code := e.findtext(_path("RefuseCode")))]
    # An envelope-level receipt names no letter: the envelope id is then all there is to match.
    letter_id = originals[0].findtext(_path("OriginalLetterIdentifier")) if originals else ""
    return Receipt(
        kind=kind,
        outcome=outcome,
        message_id=letter_id or "",
        envelope_id=letter.findtext(_path("OriginalEmessage", "OriginalEnvelopeIdentifier")) or "",
        receipt_id=letter.findtext(_path("Letter", "Identifier")) or "",
        refuse_code=codes[0] if codes else None,
        issues=tuple(
            issue
            for level in levels
            for text in level.iterfind(_path("RefuseText"))
            for issue in issue_text.from_text(_breakable(text))
        ),
        content=content,
    )


def _breakable(element: etree._Element) -> str:
    """MedCom BreakableText as plain text: `Break` is a line break, `Space` a space."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            parts.append("\n" if etree.QName(child).localname == "Break" else " ")
        parts.append(child.tail or "")
    return "".join(parts)


def _path(*names: str) -> str:
    return "/".join(ns.q(name, ns.NS_2005) for name in names)


@cache
def _validator() -> XmlValidator:
    """One validator for receipts: the schemas compile once per process."""
    return XmlValidator()
