"""Namespaces and fixed values of the DGWS envelope (notes/security-transport.md §2.2), once."""

from __future__ import annotations

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
MEDCOM = "http://www.medcom.dk/dgws/2006/04/dgws-1.0.xsd"
SOSI = "http://www.sosi.dk/sosi/2006/04/sosi-1.0.xsd"
NSMAP = {
    "soapenv": SOAP,
    "wsse": WSSE,
    "wsu": WSU,
    "saml": SAML,
    "ds": DS,
    "medcom": MEDCOM,
    "sosi": SOSI,
}

ID_CARD = "IDCard"  # Assertion/@id, the ID card signature's reference (#IDCard)
BODY_ID = "body"  # wsu:Id of soapenv:Body
TIMESTAMP_ID = "ts"  # wsu:Id of wsu:Timestamp
HEADER_ID = "medcomheader"  # wsu:Id of medcom:Header
ENVELOPE_REFERENCES = (f"#{BODY_ID}", f"#{TIMESTAMP_ID}", f"#{HEADER_ID}")
SECURITY_LEVEL = "5"  # DGWS level 5, "Digital signatur": the whole message is signed
AUTHENTICATION_LEVEL = "3"  # system ID card, signed with the organisation certificate (VOCES/OCES3)
ID_CARD_VERSION = "1.0.1"
TIMEOUT_MINUTES = "1440"  # medcom:TimeOut: the card lives 24 h (DGWS timeout 1)
HOLDER_OF_KEY = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"
