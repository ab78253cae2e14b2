"""The DGWS synchronous answer: a receipt in a SOAP 1.1 envelope, or a SOAP fault.

DGWS 1.0 (notes/security-transport.md §2.1, §2.2): a provider answers HTTP 200 with a SOAP
envelope whose `medcom:Header` carries the SecurityLevel, `Linking/MessageID` (every response
has its own) and `FlowStatus`, or HTTP 500 with a `soap:Fault` whose `detail/medcom:FaultCode`
says what was wrong. Signing a response belongs to the transport (`gateway.security`), not here.

The fault codes are DGWS's list plus `processing_problem`, the one a provider gives when it
could not process a request that was in order: the only fault worth sending again unchanged
(notes/security-transport.md §5.3: "stop on SOAP Fault codes that are not transient").

Pure: bytes in, bytes out. The MessageID of an answer is derived from the receipt it carries,
so the same receipt always travels in the same bytes (DGWS: a retransmitted request gets the
stored answer again).
"""

from __future__ import annotations

import hashlib

from lxml import etree

from gateway.fhir_message.render import uuid_for
from gateway.receipts.issue_text import clean
from gateway.receipts.reading import RECEIPT_XML
from gateway.security.dgws_ns import MEDCOM, SECURITY_LEVEL, SOAP, q
from gateway.xml.safe import parse_untrusted

FLOW_RUNNING = "flow_running"
FLOW_FINALIZED = "flow_finalized_succesfully"  # sic: DGWS 1.0 spells it so
FLOW_STATUSES = frozenset({FLOW_RUNNING, FLOW_FINALIZED})
TRANSIENT_FAULT = "processing_problem"
FAULT_CODES = frozenset(
    {
        "syntax_error",
        "missing_required_header",
        "security_level_failed",
        "invalid_username_password",
        "invalid_signature",
        "invalid_idcard",
        "invalid_certificate",
        "expired_idcard",
        "not_authorized",
        "illegal_HTTP_method",
        "nonrepudiation_not_supported",
        TRANSIENT_FAULT,
    }
)
_NSMAP = {"soapenv": SOAP, "medcom": MEDCOM}


def fault_is_transient(code: str) -> bool:
    """Whether a request refused with this medcom:FaultCode may be sent again unchanged."""
    return code == TRANSIENT_FAULT


def wrap(receipt_xml: bytes, flow_status: str = FLOW_FINALIZED) -> bytes:
    """The receipt as the Body of a DGWS answer.

    Raises:
        ValueError: an unknown flow status, or a receipt that is not well-formed, safe XML.
    """
    if flow_status not in FLOW_STATUSES:
        raise ValueError(f"FlowStatus {flow_status!r} is not one of {sorted(FLOW_STATUSES)}")
    receipt, problems = parse_untrusted(receipt_xml, "receipt", RECEIPT_XML)
    if receipt is None:
        raise ValueError(f"the receipt cannot be wrapped: {problems[0]}")
    envelope = etree.Element(q(SOAP, "Envelope"), nsmap=_NSMAP)
    header = etree.SubElement(envelope, q(SOAP, "Header"))
    medcom = etree.SubElement(header, q(MEDCOM, "Header"))
    etree.SubElement(medcom, q(MEDCOM, "SecurityLevel")).text = SECURITY_LEVEL
    linking = etree.SubElement(medcom, q(MEDCOM, "Linking"))
    digest = hashlib.sha256(receipt_xml).hexdigest()
    etree.SubElement(linking, q(MEDCOM, "MessageID")).text = uuid_for("DGWS answer", digest)
    etree.SubElement(medcom, q(MEDCOM, "FlowStatus")).text = flow_status
    etree.SubElement(envelope, q(SOAP, "Body")).append(receipt)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def fault(code: str, text: str) -> bytes:
    """A SOAP 1.1 Fault (faultcode Server, as DGWS has it) naming the medcom:FaultCode.

    Raises:
        ValueError: a code that is not a DGWS fault code.
    """
    if code not in FAULT_CODES:
        raise ValueError(f"{code!r} is not a DGWS fault code: {', '.join(sorted(FAULT_CODES))}")
    envelope = etree.Element(q(SOAP, "Envelope"), nsmap=_NSMAP)
    body = etree.SubElement(envelope, q(SOAP, "Body"))
    soap_fault = etree.SubElement(body, q(SOAP, "Fault"))
    etree.SubElement(soap_fault, "faultcode").text = "soapenv:Server"
    etree.SubElement(soap_fault, "faultstring").text = clean(text)
    detail = etree.SubElement(soap_fault, "detail")
    etree.SubElement(detail, q(MEDCOM, "FaultCode")).text = code
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
