"""Any receipt, whatever arrived: a FHIR acknowledgement, a bare XCTL, or a DGWS answer.

The sender of a message meets receipts in three shapes: the JSON acknowledgement of a FHIR
message, an XCTL03/XCTL02 Emessage POSTed on its own, and the SOAP answer to a DGWS request
whose Body holds the receipt, or a SOAP fault instead. `parse_receipt` tells them apart by
their first bytes and their root element and hands each to its reader.

It never raises, whatever the bytes: a size limit before anything is looked at, the hardened
XML parser, strict JSON with a nesting limit; everything wrong comes back as Issues. A SOAP
fault is one `RECEIPT-FAULT` Issue per fault: its location is the medcom:FaultCode, so the
caller can ask `fault_is_transient` whether to send the same bytes again.

Verifying a signed answer is the transport's job (`gateway.security`); this reads content.
"""

from __future__ import annotations

from lxml import etree

from gateway.issues import Issue, IssueType
from gateway.receipts import rules
from gateway.receipts.fhir_ack import parse_fhir_ack
from gateway.receipts.model import Receipt
from gateway.receipts.reading import RECEIPT_BYTES, RECEIPT_XML, read_xml
from gateway.receipts.soap import fault_is_transient
from gateway.receipts.xctl import read_xctl
from gateway.security.dgws_ns import MEDCOM, SOAP, q

__all__ = ["fault_is_transient", "parse_receipt"]

_FAULT_TYPES = {
    "syntax_error": IssueType.STRUCTURE,
    "missing_required_header": IssueType.REQUIRED,
    "illegal_HTTP_method": IssueType.NOT_SUPPORTED,
    "nonrepudiation_not_supported": IssueType.NOT_SUPPORTED,
}


def parse_receipt(data: bytes) -> Receipt | tuple[Issue, ...]:
    """The receipt in `data`, its `content` the exact bytes given; or the Issues why not."""
    if len(data) > RECEIPT_BYTES:
        message = f"{len(data)} bytes is more than the {RECEIPT_BYTES} a receipt may have"
        return (rules.fatal(IssueType.TOO_COSTLY, rules.TOO_LARGE, message),)
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start in (b"{", b"["):
        return parse_fhir_ack(data)
    if start != b"<" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        what = "nothing" if not start else "neither JSON nor XML"
        return (rules.fatal(IssueType.STRUCTURE, rules.SYNTAX, f"not a receipt: {what}"),)
    root, problems = read_xml(data, RECEIPT_XML)
    if root is None:
        return problems
    if root.tag == q(SOAP, "Envelope"):
        return _soap(root, data)
    return read_xctl(root, data)


def _soap(envelope: etree._Element, data: bytes) -> Receipt | tuple[Issue, ...]:
    """The receipt in a SOAP 1.1 Body, or the faults the Body holds instead."""
    bodies = envelope.findall(q(SOAP, "Body"))
    payload = [c for b in bodies for c in b if isinstance(c.tag, str)]
    faults = [c for c in payload if c.tag == q(SOAP, "Fault")]
    if faults:
        return tuple(_fault(f) for f in faults)
    if len(bodies) != 1 or len(payload) != 1:
        message = (
            f"a SOAP envelope with {len(bodies)} Body and {len(payload)} elements in it; a "
            "DGWS answer holds one receipt"
        )
        return (rules.fatal(IssueType.STRUCTURE, rules.KIND, message, "/Envelope/Body"),)
    return read_xctl(payload[0], data)


def _fault(element: etree._Element) -> Issue:
    code = (element.findtext(f".//{q(MEDCOM, 'FaultCode')}") or "").strip()
    text = element.findtext("faultstring") or element.findtext(q(SOAP, "faultstring")) or ""
    if not code:
        return rules.fatal(
            IssueType.SECURITY, rules.FAULT, f"SOAP fault without a medcom:FaultCode: {text}"
        )
    transient = fault_is_transient(code)
    fate = "transient: send it again later" if transient else "do not send it again unchanged"
    return rules.fatal(
        IssueType.PROCESSING if transient else _FAULT_TYPES.get(code, IssueType.SECURITY),
        rules.FAULT,
        f"SOAP fault {code} ({fate}): {text.strip()}",
        code,
    )
