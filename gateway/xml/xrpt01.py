"""Renders MedCom XRPT01 `LaboratoryReport` (XR0131K) letters for Laboratoriesvarportalen.

Pure: a planned letter, the receiver, the producer code, a send time and an envelope id in; the
message bytes and their mapping-coverage record out. The rules are the standard's
(notes/medcom-xml.md §2, DESIGN §4): `Value` ≤ 12 characters (longer text goes to
`ResultTextValue`), times are Danish local `hh:mm`, `<`/`>` become `Operator`, `abnormal`
becomes `ResultValidation`, consent becomes `Patient/Consent/Given`. A cancellation has no
XRPT01 code (notes/medcom-xml.md §5): it is sent as a corrected result (`svar_rettet`) whose
alphanumeric `Value` is `annulleret` with a `ResultTextValue` saying so (DESIGN §4). Nothing of
the withdrawn value stays: no `Operator`, `Unit`, `ReferenceInterval` or `ResultValidation`,
which would describe a value the letter no longer has.
"""

from __future__ import annotations

from datetime import datetime

from gateway.config import Receiver
from gateway.coverage import CoverageBuilder
from gateway.issues import Issue, IssueType, Severity
from gateway.letters import LetterPlan, Rendered
from gateway.mapping.resolve import Mapped
from gateway.model import Abnormal, Status
from gateway.values import Comparator
from gateway.xml import ns
from gateway.xml.letter_parts import (
    date_time,
    envelope,
    letter_header,
    patient,
    producer_identifier,
    receiver,
    reference_interval,
    sender,
)
from gateway.xml.writer import XmlWriter
from gateway.xml.xrpt01_coverage import uses

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


def record_problems(mapped: Mapped) -> tuple[Issue, ...]:
    """What keeps one record out of an XRPT01 letter although it passed intake and mapping.

    Checked per record before letters are formed, so one unfit result never takes the other
    results of its letter down with it.
    """
    value = mapped.value
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


def render_xrpt01(
    plan: LetterPlan, to: Receiver, producer_code: str, sent: datetime, envelope_id: str
) -> Rendered:
    """Render one XRPT01 letter in its own `Emessage`."""
    cov = CoverageBuilder()
    out = XmlWriter()
    envelope(out, sent, envelope_id)
    out.start("LaboratoryReport")
    first = plan.first
    issued = max(m.record.performed_at for m in plan.results)
    letter_header(out, plan.letter_id, ns.XRPT01_VERSION, ns.XRPT01_TYPE, issued)
    sender(out, first, producer_code)
    receiver(out, to)
    patient(out, first)
    out.start("RequisitionInformation")
    out.start("Sample")
    out.leaf("LaboratoryInternalSampleIdentifier", first.sample.id)
    date_time(out, "SamplingDateTime", first.sample.collected_at)
    out.end()
    out.end()
    out.start("LaboratoryResults")
    out.start("GeneralResultInformation")
    partial = any(m.record.status is Status.PRELIMINARY for m in plan.results)
    out.leaf("ReportStatusCode", "del_svar" if partial else "komplet_svar")
    out.leaf("LaboratoryInternalProductionIdentifier", first.sample.id)
    date_time(out, "ResultsDateTime", issued)
    out.end()
    for mapped in plan.results:
        _result(out, mapped, producer_code)
        cov.add(mapped.record.key, uses(mapped))
    out.end()
    out.end()
    out.end()
    return Rendered(out.to_bytes(), cov.build())


def _result(out: XmlWriter, mapped: Mapped, producer_code: str) -> None:
    record, analysis = mapped.record, mapped.analysis
    out.start("Result")
    out.leaf("ResultStatusCode", _RESULT_STATUS[record.status])
    out.start("Analysis")
    out.leaf("AnalysisCode", analysis.npu_code)
    out.leaf("AnalysisCodeType", analysis.code_type)
    out.leaf("AnalysisCodeResponsible", analysis.responsible)
    out.leaf("AnalysisShortName", analysis.short_name[: ns.SHORT_NAME_MAX])
    out.lines("AnalysisCompleteName", analysis.name)
    out.end()
    out.start("ProducerOfLabResult")
    out.leaf("Identifier", producer_identifier(record, ns.PRODUCER_ID_MAX))
    out.leaf("IdentifierCode", producer_code)
    out.end()
    cancelled = record.status is Status.CANCELLED
    if not cancelled:
        reference_interval(out, record)
    value = mapped.value
    long_text: str | None = None
    if cancelled:
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
    if analysis.medcom_unit and mapped.ucum and not cancelled:
        out.leaf("Unit", analysis.medcom_unit)
    abnormal = None if cancelled else record.result.abnormal
    validation = _VALIDATION.get(abnormal) if abnormal else None
    if validation:
        out.leaf("ResultValidation", validation)
    if long_text:
        out.lines("ResultTextValue", long_text)
    if record.result.comment:
        out.lines("ResultComments", record.result.comment)
    out.end()
