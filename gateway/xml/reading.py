"""Small helpers the MedCom letter readers share: namespaced look-ups and the letter's head.

XRPT01 and XRPT05 letters start the same way (Letter, Sender, Receiver, Patient, Sample), so
the fields every reader needs from that head are read here, once.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from gateway.xml.ns import NS_2014, q


def find(parent: etree._Element, path: str) -> etree._Element | None:
    """`parent.find` with a slash path of local names in the 2014/10/08 namespace."""
    return parent.find("/".join(q(step, NS_2014) for step in path.split("/")))


def text(parent: etree._Element, path: str) -> str | None:
    found = find(parent, path)
    return None if found is None else found.text or ""


def head_fields(letter: etree._Element) -> dict[str, Any]:
    """letter_id, cpr, alternative_id, consent_given and sample_id of one letter."""
    consent = text(letter, "Patient/Consent/Given")
    return {
        "letter_id": text(letter, "Letter/Identifier") or "",
        "cpr": text(letter, "Patient/CivilRegistrationNumber"),
        "alternative_id": text(letter, "Patient/AlternativeIdentifier"),
        "consent_given": None if consent is None else consent in ("true", "1"),
        "sample_id": text(
            letter, "RequisitionInformation/Sample/LaboratoryInternalSampleIdentifier"
        )
        or "",
    }
