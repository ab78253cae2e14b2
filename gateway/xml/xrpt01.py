"""Renders MedCom XRPT01 `LaboratoryReport` (XR0131K) letters for Laboratoriesvarportalen.

Pure: a planned letter, the receiver, the producer code, a send time and an envelope id in; an
lxml tree and its mapping-coverage record out. The rules are the standard's (notes/medcom-xml.md
§2, DESIGN §4): `Value` ≤ 12 characters (longer text goes to `ResultTextValue`), times are Danish
local `hh:mm`, `<`/`>` become `Operator`, `abnormal` becomes `ResultValidation`, consent becomes
`Patient/Consent/Given`. A cancellation has no XRPT01 code: it is sent as a corrected result
whose value says it is cancelled (DESIGN §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from gateway.config import Receiver
from gateway.coverage import CoverageBuilder, FieldUse
from gateway.intake.record import DANISH_TIME
from gateway.issues import Issue, IssueType, Severity
from gateway.mapping.resolve import Mapped
from gateway.model import Abnormal, Consent, LabRecord, Status
from gateway.values import Comparator
from gateway.xml import ns
from gateway.xml.ns import q
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
    root: etree._Element
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


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, q(name))
    if text is not None:
        element.text = text
    return element


def _date_time(parent: etree._Element, name: str, moment: datetime) -> None:
    element = _sub(parent, name)
    date, time = local_date_time(moment)
    _sub(element, "Date", date)
    _sub(element, "Time", time)


def _breakable(parent: etree._Element, name: str, text: str) -> None:
    """Text with line breaks as MedCom formatted text (`<Break/>` between lines)."""
    element = _sub(parent, name)
    lines = text.splitlines() or [""]
    element.text = lines[0]
    for line in lines[1:]:
        _sub(element, "Break").tail = line


def envelope(sent: datetime, envelope_id: str) -> etree._Element:
    """The `Emessage` root with its `Envelope` (the transport "kuvert")."""
    root = etree.Element(q("Emessage"), nsmap={None: ns.NS_2014})
    env = _sub(root, "Envelope")
    _date_time(env, "Sent", sent)
    _sub(env, "Identifier", envelope_id)
    _sub(env, "AcknowledgementCode", ns.ACK_POSITIVE_WANTED)
    return root


def render_xrpt01(
    plan: LetterPlan, receiver: Receiver, producer_code: str, sent: datetime, envelope_id: str
) -> RenderedXml:
    """Render one XRPT01 letter in its own `Emessage`."""
    cov = CoverageBuilder()
    root = envelope(sent, envelope_id)
    report = _sub(root, "LaboratoryReport")
    first = plan.first
    issued = max(m.record.performed_at for m in plan.results)
    letter = _sub(report, "Letter")
    _sub(letter, "Identifier", plan.letter_id)
    _sub(letter, "VersionCode", ns.XRPT01_VERSION)
    _sub(letter, "StatisticalCode", ns.XRPT01_STATISTICAL)
    _date_time(letter, "Authorisation", issued)
    _sub(letter, "TypeCode", ns.XRPT01_TYPE)
    _sender(report, first, producer_code)
    _receiver(report, receiver)
    _patient(report, first)
    requisition = _sub(report, "RequisitionInformation")
    sample = _sub(requisition, "Sample")
    _sub(sample, "LaboratoryInternalSampleIdentifier", first.sample.id)
    _date_time(sample, "SamplingDateTime", first.sample.collected_at)
    results = _sub(report, "LaboratoryResults")
    general = _sub(results, "GeneralResultInformation")
    partial = any(m.record.status is Status.PRELIMINARY for m in plan.results)
    _sub(general, "ReportStatusCode", "del_svar" if partial else "komplet_svar")
    _sub(general, "LaboratoryInternalProductionIdentifier", first.sample.id)
    _date_time(general, "ResultsDateTime", issued)
    for mapped in plan.results:
        _result(results, mapped, producer_code)
        cov.add(mapped.record.key, uses(mapped))
    return RenderedXml(root, cov.build())


def _sender(report: etree._Element, record: LabRecord, producer_code: str) -> None:
    practice = record.practice
    sender = _sub(report, "Sender")
    _sub(sender, "EANIdentifier", practice.gln)
    if practice.ydernummer:
        _sub(sender, "Identifier", practice.ydernummer)
        _sub(sender, "IdentifierCode", "ydernummer")
    else:
        _sub(sender, "Identifier", practice.sor)
        _sub(sender, "IdentifierCode", "sorkode")
    _sub(sender, "OrganisationName", practice.name)
    _sub(sender, "MedicalSpecialityCode", ns.SPECIALITY_GP)
    _sub(sender, "FromLabIdentifier", producer_code)


def _receiver(report: etree._Element, receiver: Receiver) -> None:
    element = _sub(report, "Receiver")
    _sub(element, "EANIdentifier", receiver.gln)
    _sub(element, "Identifier", receiver.identifier)
    _sub(element, "IdentifierCode", receiver.identifier_code)
    _sub(element, "OrganisationName", receiver.name)


def _patient(report: etree._Element, record: LabRecord) -> None:
    patient = record.patient
    element = _sub(report, "Patient")
    if patient.cpr:
        _sub(element, "CivilRegistrationNumber", patient.cpr)
    else:
        _sub(element, "AlternativeIdentifier", patient.replacement_id)
    _sub(element, "PersonSurnameName", patient.family)
    if patient.given:
        _sub(element, "PersonGivenName", patient.given)
    if record.consent is not Consent.UNKNOWN:
        consent = _sub(element, "Consent")
        _sub(consent, "Given", "true" if record.consent is Consent.GIVEN else "false")


def _producer_identifier(record: LabRecord) -> str:
    practice = record.practice
    return f"{practice.ydernummer or practice.sor} {practice.name}"[: ns.PRODUCER_ID_MAX]


def _result(results: etree._Element, mapped: Mapped, producer_code: str) -> None:
    record, analysis = mapped.record, mapped.analysis
    result = _sub(results, "Result")
    _sub(result, "ResultStatusCode", _RESULT_STATUS[record.status])
    element = _sub(result, "Analysis")
    _sub(element, "AnalysisCode", analysis.npu_code)
    _sub(element, "AnalysisCodeType", ns.NPU_CODE_TYPE)
    _sub(element, "AnalysisCodeResponsible", ns.NPU_RESPONSIBLE)
    _sub(element, "AnalysisShortName", analysis.short_name[: ns.SHORT_NAME_MAX])
    _breakable(element, "AnalysisCompleteName", analysis.name)
    producer = _sub(result, "ProducerOfLabResult")
    _sub(producer, "Identifier", _producer_identifier(record))
    _sub(producer, "IdentifierCode", producer_code)
    low, high = record.result.reference_low, record.result.reference_high
    if low or high:
        interval = _sub(result, "ReferenceInterval")
        _sub(interval, "TypeOfInterval", "uspecificeret")
        if low:
            _sub(interval, "LowerLimit", limit_text(low))
        if high:
            _sub(interval, "UpperLimit", limit_text(high))
    value = record.result.value
    long_text: str | None = None
    if record.status is Status.CANCELLED:
        _sub(result, "ResultType", "alfanumerisk")
        _sub(result, "Value", CANCELLED_VALUE)
        long_text = CANCELLED_TEXT
    elif value.number is not None:
        _sub(result, "ResultType", "numerisk")
        if value.comparator is not None:
            _sub(result, "Operator", _OPERATOR[value.comparator])
        _sub(result, "Value", value.decimal_text())
    else:
        _sub(result, "ResultType", "alfanumerisk")
        fits = len(value.text) <= ns.VALUE_MAX
        _sub(result, "Value", value.text if fits else LONG_TEXT_VALUE)
        long_text = None if fits else value.text
    if analysis.medcom_unit and mapped.ucum and record.status is not Status.CANCELLED:
        _sub(result, "Unit", analysis.medcom_unit)
    validation = _VALIDATION.get(record.result.abnormal) if record.result.abnormal else None
    if validation:
        _sub(result, "ResultValidation", validation)
    if long_text:
        _breakable(result, "ResultTextValue", long_text)
    if record.result.comment:
        _breakable(result, "ResultComments", record.result.comment)
