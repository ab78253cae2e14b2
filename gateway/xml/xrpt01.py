"""Renders MedCom XRPT01 `LaboratoryReport` (XR0131K) letters for Laboratoriesvarportalen.

Pure: a planned letter, the receiver, the producer code, a send time and an envelope id in; the
message bytes and their mapping-coverage record out. The rules are the standard's
(notes/medcom-xml.md §2, DESIGN §4): `Value` ≤ 12 characters (longer text goes to
`ResultTextValue`), times are Danish local `hh:mm`, `<`/`>` become `Operator`, `abnormal`
becomes `ResultValidation`, consent becomes `Patient/Consent/Given`. A cancellation has no
XRPT01 code: it is sent as a corrected result whose value says it is cancelled (DESIGN §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.config import Receiver
from gateway.coverage import CoverageBuilder, FieldUse
from gateway.intake.record import DANISH_TIME
from gateway.issues import Issue, IssueType, Severity
from gateway.mapping.resolve import Mapped
from gateway.model import Abnormal, Consent, LabRecord, Status
from gateway.values import Comparator
from gateway.xml import ns
from gateway.xml.writer import XmlWriter
from gateway.xml.xrpt01_coverage import limit_text, uses

_RESULT_STATUS = {
    Status.PRELIMINARY: "svar_midlertidigt",
    Status.FINAL: "svar_endeligt",
    Status.CORRECTED: "svar_rettet",
    Status.CANCELLED: "svar_rettet",
}
_VALIDATION = {Abnormal.HIGH: "for_hoej", Abnormal.LOW: "for_lav", Abnormal.ABNORMAL: "unormal"}
_OPERATOR = {Comparator.LT: "mindre_end", Comparator.GT: "stoerre_end"}
CANCELLED_VALUE = "annulleret"
CANCELLED_TEXT = "Svaret er annulleret af afsender."
LONG_TEXT_VALUE = "Se tekst"


@dataclass(frozen=True, slots=True)
class LetterPlan:
    """One letter: results of one patient and sample in one version, at most 99 of them."""

    letter_id: str
    results: tuple[Mapped, ...]

    @property
    def first(self) -> LabRecord:
        return self.results[0].record


@dataclass(frozen=True, slots=True)
class RenderedXml:
    content: bytes
    coverage: tuple[FieldUse, ...]


def record_problems(mapped: Mapped) -> tuple[Issue, ...]:
    """What keeps one record out of an XRPT01 letter although it passed intake and mapping.

    Checked per record before letters are formed, so one unfit result never takes the other
    results of its letter down with it.
    """
    value = mapped.record.result.value
    if value.number is not None and len(value.decimal_text()) > ns.VALUE_MAX:
        return (
            Issue(
                Severity.ERROR,
                IssueType.TOO_LONG,
                "XRPT01-VALUE-LENGTH",
                f"the number has {len(value.decimal_text())} characters; XRPT01 Value holds "
                f"at most {ns.VALUE_MAX} and labgw never rounds",
                location="result.value",
                record=mapped.record.key,
            ),
        )
    return ()


def local_date_time(moment: datetime) -> tuple[str, str]:
    """MedCom DateTimeType: Danish local date and `hh:mm` (no seconds, no offset)."""
    local = moment.astimezone(DANISH_TIME)
    return local.date().isoformat(), local.strftime("%H:%M")


def _date_time(out: XmlWriter, name: str, moment: datetime) -> None:
    out.start(name)
    date, time = local_date_time(moment)
    out.leaf("Date", date)
    out.leaf("Time", time)
    out.end()


def envelope(out: XmlWriter, sent: datetime, envelope_id: str) -> None:
    """Open the `Emessage` root and write its `Envelope` (the transport "kuvert")."""
    out.start("Emessage", ns.NS_2014)
    out.start("Envelope")
    _date_time(out, "Sent", sent)
    out.leaf("Identifier", envelope_id)
    out.leaf("AcknowledgementCode", ns.ACK_POSITIVE_WANTED)
    out.end()


def render_xrpt01(
    plan: LetterPlan, receiver: Receiver, producer_code: str, sent: datetime, envelope_id: str
) -> RenderedXml:
    """Render one XRPT01 letter in its own `Emessage`."""
    cov = CoverageBuilder()
    out = XmlWriter()
    envelope(out, sent, envelope_id)
    out.start("LaboratoryReport")
    first = plan.first
    issued = max(m.record.performed_at for m in plan.results)
    out.start("Letter")
    out.leaf("Identifier", plan.letter_id)
    out.leaf("VersionCode", ns.XRPT01_VERSION)
    out.leaf("StatisticalCode", ns.XRPT01_STATISTICAL)
    _date_time(out, "Authorisation", issued)
    out.leaf("TypeCode", ns.XRPT01_TYPE)
    out.end()
    _sender(out, first, producer_code)
    _receiver(out, receiver)
    _patient(out, first)
    out.start("RequisitionInformation")
    out.start("Sample")
    out.leaf("LaboratoryInternalSampleIdentifier", first.sample.id)
    _date_time(out, "SamplingDateTime", first.sample.collected_at)
    out.end()
    out.end()
    out.start("LaboratoryResults")
    out.start("GeneralResultInformation")
    partial = any(m.record.status is Status.PRELIMINARY for m in plan.results)
    out.leaf("ReportStatusCode", "del_svar" if partial else "komplet_svar")
    out.leaf("LaboratoryInternalProductionIdentifier", first.sample.id)
    _date_time(out, "ResultsDateTime", issued)
    out.end()
    for mapped in plan.results:
        _result(out, mapped, producer_code)
        cov.add(mapped.record.key, uses(mapped))
    out.end()
    out.end()
    out.end()
    return RenderedXml(out.to_bytes(), cov.build())


def _sender(out: XmlWriter, record: LabRecord, producer_code: str) -> None:
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


def _receiver(out: XmlWriter, receiver: Receiver) -> None:
    out.start("Receiver")
    out.leaf("EANIdentifier", receiver.gln)
    out.leaf("Identifier", receiver.identifier)
    out.leaf("IdentifierCode", receiver.identifier_code)
    out.leaf("OrganisationName", receiver.name)
    out.end()


def _patient(out: XmlWriter, record: LabRecord) -> None:
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


def _producer_identifier(record: LabRecord) -> str:
    practice = record.practice
    return f"{practice.ydernummer or practice.sor} {practice.name}"[: ns.PRODUCER_ID_MAX]


def _result(out: XmlWriter, mapped: Mapped, producer_code: str) -> None:
    record, analysis = mapped.record, mapped.analysis
    out.start("Result")
    out.leaf("ResultStatusCode", _RESULT_STATUS[record.status])
    out.start("Analysis")
    out.leaf("AnalysisCode", analysis.npu_code)
    out.leaf("AnalysisCodeType", ns.NPU_CODE_TYPE)
    out.leaf("AnalysisCodeResponsible", ns.NPU_RESPONSIBLE)
    out.leaf("AnalysisShortName", analysis.short_name[: ns.SHORT_NAME_MAX])
    out.lines("AnalysisCompleteName", analysis.name)
    out.end()
    out.start("ProducerOfLabResult")
    out.leaf("Identifier", _producer_identifier(record))
    out.leaf("IdentifierCode", producer_code)
    out.end()
    low, high = record.result.reference_low, record.result.reference_high
    if low or high:
        out.start("ReferenceInterval")
        out.leaf("TypeOfInterval", "uspecificeret")
        if low:
            out.leaf("LowerLimit", limit_text(low))
        if high:
            out.leaf("UpperLimit", limit_text(high))
        out.end()
    value = record.result.value
    long_text: str | None = None
    if record.status is Status.CANCELLED:
        out.leaf("ResultType", "alfanumerisk")
        out.leaf("Value", CANCELLED_VALUE)
        long_text = CANCELLED_TEXT
    elif value.number is not None:
        out.leaf("ResultType", "numerisk")
        if value.comparator is not None:
            out.leaf("Operator", _OPERATOR[value.comparator])
        out.leaf("Value", value.decimal_text())
    else:
        out.leaf("ResultType", "alfanumerisk")
        fits = len(value.text) <= ns.VALUE_MAX
        out.leaf("Value", value.text if fits else LONG_TEXT_VALUE)
        long_text = None if fits else value.text
    if analysis.medcom_unit and mapped.ucum and record.status is not Status.CANCELLED:
        out.leaf("Unit", analysis.medcom_unit)
    validation = _VALIDATION.get(record.result.abnormal) if record.result.abnormal else None
    if validation:
        out.leaf("ResultValidation", validation)
    if long_text:
        out.lines("ResultTextValue", long_text)
    if record.result.comment:
        out.lines("ResultComments", record.result.comment)
    out.end()
