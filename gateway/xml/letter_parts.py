"""The parts every MedCom 2014/10/08 lab letter shares: envelope, letter header, parties, times.

XRPT01 (LaboratoryReport) and XRPT05 (MicrobiologyWebReport) use the same Envelope, Letter,
Sender, Receiver and Patient content (notes/medcom-xml.md §2, §4), so both renderers write them
here, once.
"""

from __future__ import annotations

from datetime import datetime

from gateway.config import Receiver
from gateway.intake.record import DANISH_TIME
from gateway.model import Consent, LabRecord
from gateway.xml import ns
from gateway.xml.writer import XmlWriter
from gateway.xml.xrpt01_coverage import limit_text


def local_date_time(moment: datetime) -> tuple[str, str]:
    """MedCom DateTimeType: Danish local date and `hh:mm` (no seconds, no offset)."""
    local = moment.astimezone(DANISH_TIME)
    return local.date().isoformat(), local.strftime("%H:%M")


def date_time(out: XmlWriter, name: str, moment: datetime) -> None:
    out.start(name)
    date, time = local_date_time(moment)
    out.leaf("Date", date)
    out.leaf("Time", time)
    out.end()


def envelope(out: XmlWriter, sent: datetime, envelope_id: str) -> None:
    """Open the `Emessage` root and write its `Envelope` (the transport "kuvert")."""
    out.start("Emessage", ns.NS_2014)
    out.start("Envelope")
    date_time(out, "Sent", sent)
    out.leaf("Identifier", envelope_id)
    out.leaf("AcknowledgementCode", ns.ACK_POSITIVE_WANTED)
    out.end()


def letter_header(
    out: XmlWriter, letter_id: str, version: str, type_code: str, issued: datetime
) -> None:
    """`Letter`: identifier, VersionCode, StatisticalCode (= TypeCode), Authorisation, TypeCode."""
    out.start("Letter")
    out.leaf("Identifier", letter_id)
    out.leaf("VersionCode", version)
    out.leaf("StatisticalCode", type_code)
    date_time(out, "Authorisation", issued)
    out.leaf("TypeCode", type_code)
    out.end()


def sender(out: XmlWriter, record: LabRecord, producer_code: str) -> None:
    practice = record.practice
    out.start("Sender")
    out.leaf("EANIdentifier", practice.gln)
    if practice.ydernummer:
        out.leaf("Identifier", practice.ydernummer)
        out.leaf("IdentifierCode", "ydernummer")
    else:
        out.leaf("Identifier", practice.sor or "")
        out.leaf("IdentifierCode", "sorkode")
    out.leaf("OrganisationName", practice.name)
    out.leaf("MedicalSpecialityCode", ns.SPECIALITY_GP)
    out.leaf("FromLabIdentifier", producer_code)
    out.end()


def receiver(out: XmlWriter, to: Receiver) -> None:
    out.start("Receiver")
    out.leaf("EANIdentifier", to.gln)
    out.leaf("Identifier", to.identifier)
    out.leaf("IdentifierCode", to.identifier_code)
    out.leaf("OrganisationName", to.name)
    out.end()


def patient(out: XmlWriter, record: LabRecord) -> None:
    patient = record.patient
    out.start("Patient")
    if patient.cpr:
        out.leaf("CivilRegistrationNumber", patient.cpr)
    else:
        out.leaf("AlternativeIdentifier", patient.replacement_id or "")
    out.leaf("PersonSurnameName", patient.family)
    if patient.given:
        out.leaf("PersonGivenName", patient.given)
    if record.consent is not Consent.UNKNOWN:
        out.start("Consent")
        out.leaf("Given", "true" if record.consent is Consent.GIVEN else "false")
        out.end()
    out.end()


def producer_identifier(record: LabRecord, limit: int) -> str:
    """ProducerOfLabResult/Identifier: the practice's ydernummer (or SOR id) and name."""
    practice = record.practice
    return f"{practice.ydernummer or practice.sor} {practice.name}"[:limit]


def reference_interval(out: XmlWriter, record: LabRecord) -> None:
    """`ReferenceInterval` with the practice's limits, when it gave any (type unspecified)."""
    low, high = record.result.reference_low, record.result.reference_high
    if not (low or high):
        return
    out.start("ReferenceInterval")
    out.leaf("TypeOfInterval", "uspecificeret")
    if low:
        out.leaf("LowerLimit", limit_text(low))
    if high:
        out.leaf("UpperLimit", limit_text(high))
    out.end()
