"""Renders MedCom XRPT05 `MicrobiologyWebReport` (XR0532M) letters for MiBa.

The microbiology a practice produces: cultures (organism as found, with a susceptibility pattern
when the practice tested antibiotics), antigen and rapid tests (strep A, mononucleosis,
SARS-CoV-2) and the odd numeric finding. Structure and limits are the standard's
(notes/medcom-xml.md §4): one result status per letter, at most 90 investigations, texts as
paragraphs of at most 500 characters. Susceptibility results belong to the culture of the same
letter; one without a culture has nothing to attach to and is refused (`record_problems`).

A cancellation has no XRPT05 code either (notes/medcom-xml.md §5); as in XRPT01 it is a
corrected letter (`svar_rettet`) whose results say `annulleret`: a culture's organism and a
finding's interpretation are that word, with no value, unit, interval or flag of the withdrawn
result. A susceptibility cell has room for eight characters, so it does not cut the word: its
`Susceptibility` is `-` (no category) and its `SusceptibilityValue` carries `annulleret` as the
value (Operator `ikke_angivet`) and the sentence that the sender cancelled it.
"""

from __future__ import annotations

from datetime import datetime

from gateway.config import Receiver
from gateway.coverage import Action, CoverageBuilder, Use
from gateway.issues import Issue, IssueType, Severity
from gateway.letters import LetterPlan, Rendered
from gateway.mapping.resolve import Mapped
from gateway.mapping.tables import ResultType
from gateway.model import Abnormal, Status
from gateway.values import Comparator
from gateway.xml import ns
from gateway.xml.letter_coverage import LetterShape, letter_uses
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
from gateway.xml.writer import XmlWriter, text_lines
from gateway.xml.xrpt01 import CANCELLED_TEXT, CANCELLED_VALUE
from gateway.xml.xrpt01_coverage import limit_text

_ROOT = "MicrobiologyWebReport"
_INV = f"{_ROOT}/LaboratoryResults/Investigation"
_STATUS = {
    Status.PRELIMINARY: "svar_midlertidigt",
    Status.FINAL: "svar_endeligt",
    Status.CORRECTED: "svar_rettet",
    Status.CANCELLED: "svar_rettet",
}
_OPERATOR = {Comparator.LT: "mindre_end", Comparator.GT: "stoerre_end", None: "lig_med"}
_VALIDATION = {Abnormal.HIGH: "for_hoej", Abnormal.LOW: "for_lav", Abnormal.ABNORMAL: "unormal"}
SUSCEPTIBILITY_KEY = "S: følsom. I: følsom ved øget eksponering. R: resistent."
CANCELLED_SUSCEPTIBILITY = "-"  # the category of a cancelled cell; SusceptibilityValue says why
NOT_STATED = "ikke_angivet"  # Operator of a Value that is no measurement
T, C, L = Action.TRANSFORMED, Action.CARRIED, Action.LEFT_OUT


def is_susceptibility(mapped: Mapped) -> bool:
    return mapped.analysis.result_type is ResultType.SUSCEPTIBILITY


def record_problems(mapped: Mapped, letter: tuple[Mapped, ...]) -> tuple[Issue, ...]:
    """What keeps one record out of its XRPT05 letter, judged with the letter's other results."""
    record = mapped.record
    if is_susceptibility(mapped) and not any(
        m.analysis.result_type is ResultType.TAXON for m in letter
    ):
        return (
            Issue(
                Severity.ERROR,
                IssueType.INVARIANT,
                "XRPT05-NO-CULTURE",
                f"susceptibility {mapped.analysis.short_name} has no culture result for sample "
                f"{record.sample.id} in the same version to belong to",
                location="analysis.code",
                record=record.key,
            ),
        )
    for name, limit in (
        ("referenceLow", record.result.reference_low),
        ("referenceHigh", record.result.reference_high),
    ):
        if limit and len(limit_text(limit)) > ns.MIC_LIMIT_MAX:
            return (
                Issue(
                    Severity.ERROR,
                    IssueType.TOO_LONG,
                    "XRPT05-VALUE-LENGTH",
                    f"reference limit {limit!r} is longer than the {ns.MIC_LIMIT_MAX} "
                    "characters XRPT05 allows",
                    location=f"result.{name}",
                    record=record.key,
                ),
            )
    value = mapped.value
    if value.number is not None and len(value.decimal_text()) > ns.VALUE_MAX:
        return (
            Issue(
                Severity.ERROR,
                IssueType.TOO_LONG,
                "XRPT05-VALUE-LENGTH",
                f"the number has {len(value.decimal_text())} characters; Findings/Value holds "
                f"at most {ns.VALUE_MAX} and labgw never rounds",
                location="result.value",
                record=record.key,
            ),
        )
    return ()


def paragraphs(out: XmlWriter, name: str, text: str) -> None:
    """ParagraphedText: one paragraph per line; lines over 500 characters are split."""
    pieces: list[str] = []
    for line in text_lines(text):
        pieces.extend(
            line[i : i + ns.PARAGRAPH_MAX] for i in range(0, max(len(line), 1), ns.PARAGRAPH_MAX)
        )
    if len(pieces) > ns.PARAGRAPHS_MAX:
        head = pieces[: ns.PARAGRAPHS_MAX - 1]
        tail = " ".join(pieces[ns.PARAGRAPHS_MAX - 1 :])
        pieces = head + [
            tail[i : i + ns.PARAGRAPH_MAX] for i in range(0, len(tail), ns.PARAGRAPH_MAX)
        ]
        pieces = pieces[: ns.PARAGRAPHS_MAX]
    out.start(name)
    for piece in pieces:
        out.leaf("Paragraph", piece)
    out.end()


def _identification(out: XmlWriter, name: str, text: str, mapped: Mapped | None = None) -> None:
    """IdentificationBasicType: optional code triple, then the text as paragraphs."""
    out.start(name)
    if mapped is not None:
        out.leaf("Code", mapped.analysis.npu_code)
        out.leaf("CodeType", mapped.analysis.code_type)
        out.leaf("CodeResponsible", mapped.analysis.responsible)
    paragraphs(out, "Text", text)
    out.end()


def render_xrpt05(
    plan: LetterPlan, to: Receiver, producer_code: str, sent: datetime, envelope_id: str
) -> Rendered:
    """Render one XRPT05 letter in its own `Emessage`."""
    cov = CoverageBuilder()
    out = XmlWriter()
    first = plan.first
    issued = max(m.record.performed_at for m in plan.results)
    envelope(out, sent, envelope_id)
    out.start(_ROOT)
    letter_header(out, plan.letter_id, ns.XRPT05_VERSION, ns.XRPT05_TYPE, issued)
    sender(out, first, producer_code)
    receiver(out, to)
    patient(out, first)
    out.start("RequisitionInformation")
    out.start("Sample")
    out.leaf("LaboratoryInternalSampleIdentifier", first.sample.id)
    date_time(out, "SamplingDateTime", first.sample.collected_at)
    date_time(out, "SampleReceivedDateTime", first.sample.collected_at)
    out.end()
    out.end()
    out.start("LaboratoryResults")
    out.start("GeneralResultInformation")
    out.leaf(
        "ReportStatusCode", "del_svar" if first.status is Status.PRELIMINARY else "komplet_svar"
    )
    out.leaf("ResultStatusCode", _STATUS[first.status])
    out.leaf("LaboratoryInternalProductionIdentifier", first.sample.id)
    date_time(out, "ResultsDateTime", issued)
    out.end()
    susceptibility = [m for m in plan.results if is_susceptibility(m)]
    pattern_placed = False
    for mapped in plan.results:
        if is_susceptibility(mapped):
            continue
        culture = mapped.analysis.result_type is ResultType.TAXON
        with_pattern = culture and not pattern_placed and bool(susceptibility)
        _investigation(out, mapped, producer_code, susceptibility if with_pattern else [])
        pattern_placed = pattern_placed or with_pattern
        cov.add(mapped.record.key, _uses(mapped))
    for mapped in susceptibility:
        cov.add(mapped.record.key, _uses(mapped))
    out.end()
    out.end()
    out.end()
    return Rendered(out.to_bytes(), cov.build())


def _examination_type(mapped: Mapped) -> str:
    kind = mapped.analysis.result_type
    if kind is ResultType.TAXON:
        return "dyrkning"
    return "maalbar_kvantitet" if kind is ResultType.NUMERIC else "observerbar_egenskab"


def _investigation(
    out: XmlWriter, mapped: Mapped, producer_code: str, susceptibility: list[Mapped]
) -> None:
    record, analysis = mapped.record, mapped.analysis
    out.start("Investigation")
    out.start("Examination")
    out.leaf("ExaminationTypeCode", _examination_type(mapped))
    out.leaf("MICAnalysisCode", analysis.npu_code)
    out.leaf("AnalysisCodeType", analysis.code_type)
    out.leaf("AnalysisCodeResponsible", analysis.responsible)
    out.leaf("AnalysisShortName", analysis.short_name[: ns.SHORT_NAME_MAX])
    out.start("AnalysisMDSName")
    out.leaf("Examination", analysis.name[: ns.MDS_NAME_MAX])
    if record.sample.material:
        out.leaf("Material", record.sample.material[: ns.MDS_NAME_MAX])
    out.end()
    out.leaf("Examinator", record.practice.name[: ns.MDS_NAME_MAX])
    out.start("ProducerOfLabResult")
    out.leaf("Identifier", producer_identifier(record, ns.MIC_PRODUCER_ID_MAX))
    out.leaf("IdentifierCode", producer_code)
    out.end()
    out.end()
    text = CANCELLED_VALUE if record.status is Status.CANCELLED else record.result.value.text
    if analysis.result_type is ResultType.TAXON:
        out.start("CultureFindings")
        out.leaf("Headline", "Dyrkning")
        out.start("Microorganism")
        _identification(out, "Identification", text)
        out.end()
        if susceptibility:
            _pattern(out, susceptibility)
        if record.result.comment:
            _identification(out, "Comments", record.result.comment)
        out.end()
    else:
        out.start("QuantitativeFindings")
        out.start("AnalysisFindings")
        _identification(out, "Analysis", analysis.name, mapped)
        _findings(out, mapped, text)
        out.end()
        out.end()
    out.end()


def _findings(out: XmlWriter, mapped: Mapped, text: str) -> None:
    record = mapped.record
    value = mapped.value
    cancelled = record.status is Status.CANCELLED
    out.start("Findings")
    _identification(out, "InterPretation", text)
    if not cancelled:
        reference_interval(out, record)
    if value.number is not None and not cancelled:
        out.leaf("Operator", _OPERATOR[value.comparator])
        out.leaf("Value", value.decimal_text())
        if mapped.analysis.medcom_unit and mapped.ucum:
            out.leaf("Unit", mapped.analysis.medcom_unit)
    abnormal = None if cancelled else record.result.abnormal
    validation = _VALIDATION.get(abnormal) if abnormal else None
    if validation:
        out.leaf("ResultValidation", validation)
    if record.result.comment:
        _identification(out, "Comments", record.result.comment)
    out.end()


def _pattern(out: XmlWriter, susceptibility: list[Mapped]) -> None:
    out.start("Pattern")
    out.leaf("Headline", "Resistensbestemmelse")
    for mapped in susceptibility:
        out.start("Antibiotic")
        _identification(out, "AntibioticName", mapped.analysis.short_name, mapped)
        out.end()
    for number, mapped in enumerate(susceptibility, start=1):
        out.start("PatternEntry")
        out.leaf("RefMicroorganism", "1")
        out.leaf("RefAntibiotic", str(number))
        if mapped.record.status is Status.CANCELLED:
            out.leaf("Susceptibility", CANCELLED_SUSCEPTIBILITY)
            out.start("SusceptibilityValue")
            out.leaf("Operator", NOT_STATED)
            out.leaf("Value", CANCELLED_VALUE)
            _identification(out, "Comments", CANCELLED_TEXT)
            out.end()
        else:
            out.leaf("Susceptibility", mapped.value.text)  # S, I or R (mapping)
        out.end()
    paragraphs(out, "SusceptibilityInterpretation", SUSCEPTIBILITY_KEY)
    out.end()


def _uses(mapped: Mapped) -> tuple[Use, ...]:
    r = mapped.record
    kind = mapped.analysis.result_type
    if kind is ResultType.SUSCEPTIBILITY:
        code = f"{_INV}/CultureFindings/Pattern/Antibiotic/AntibioticName/Code"
        value: Use = (
            "result.value",
            C,
            f"{_INV}/CultureFindings/Pattern/PatternEntry/Susceptibility",
            None,
        )
    elif kind is ResultType.TAXON:
        code = f"{_INV}/Examination/MICAnalysisCode"
        value = (
            "result.value",
            C,
            f"{_INV}/CultureFindings/Microorganism/Identification/Text",
            None,
        )
    else:
        code = f"{_INV}/Examination/MICAnalysisCode"
        value = (
            "result.value",
            C if mapped.value.number is None else T,
            f"{_INV}/QuantitativeFindings/AnalysisFindings/Findings/InterPretation/Text",
            None if mapped.value.number is None else "also as Operator and Value",
        )
    out = letter_uses(_ROOT, "XRPT05", LetterShape.of(mapped), code)
    out.append(
        (
            "status",
            T,
            f"{_ROOT}/LaboratoryResults/GeneralResultInformation/ResultStatusCode",
            "one status per XRPT05 letter",
        )
    )
    cancelled = r.status is Status.CANCELLED
    out.append(
        value
        if not cancelled
        else ("result.value", L, None, "cancelled: the value is replaced by 'annulleret'")
    )
    if r.sample.material:
        out.append(
            (
                "sample.material",
                C if kind is not ResultType.SUSCEPTIBILITY else L,
                f"{_INV}/Examination/AnalysisMDSName/Material"
                if kind is not ResultType.SUSCEPTIBILITY
                else None,
                None
                if kind is not ResultType.SUSCEPTIBILITY
                else "given with the culture's examination",
            )
        )
    findings = f"{_INV}/QuantitativeFindings/AnalysisFindings/Findings"
    quantitative = kind not in (ResultType.TAXON, ResultType.SUSCEPTIBILITY)
    for name, given in (
        ("result.unit", r.result.unit),
        ("result.referenceLow", r.result.reference_low),
        ("result.referenceHigh", r.result.reference_high),
        ("result.abnormal", r.result.abnormal),
    ):
        if given and cancelled:
            out.append((name, L, None, "cancelled: nothing of the withdrawn value is sent"))
        elif given:
            out.append(
                (name, T, f"{findings}/{name.split('.')[1]}", None)
                if quantitative
                else (name, L, None, "a culture has no interval, unit or flag")
            )
    if r.result.comment:
        out.append(
            (
                "result.comment",
                C,
                f"{findings}/Comments" if quantitative else f"{_INV}/CultureFindings/Comments",
                None,
            )
        )
    return tuple(out)
