"""Reads XRPT01 `LaboratoryReport` letters back into plain values.

The receiving side of `xrpt01.py`: reference receivers, round-trip tests and `labgw analyze` read
letters through this one module. It expects a message that passed `XmlValidator` (schema-valid),
so it does not re-check structure.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from gateway.xml.ns import q
from gateway.xml.reading import find, head_fields


@dataclass(frozen=True, slots=True)
class ReadResult:
    status: str
    analysis_code: str
    code_type: str
    result_type: str
    value: str
    operator: str | None
    unit: str | None
    lower: str | None
    upper: str | None
    validation: str | None
    text_value: str | None
    comments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReadLetter:
    letter_id: str
    sender_ean: str
    cpr: str | None
    alternative_id: str | None
    consent_given: bool | None
    sample_id: str
    sampled: str
    report_status: str
    results: tuple[ReadResult, ...]


def _text(parent: etree._Element, path: str) -> str | None:
    """Formatted text at `path`, with `<Break/>` read back as line ends."""
    found = find(parent, path)
    return None if found is None else _flat(found)


def _flat(element: etree._Element) -> str:
    """Formatted text with `<Break/>` read back as lines."""
    parts = [element.text or ""]
    for child in element:
        if etree.QName(child).localname == "Break":
            parts.append("\n")
        parts.append(child.tail or "")
    return "".join(parts)


def read_letters(root: etree._Element) -> list[ReadLetter]:
    """Every `LaboratoryReport` letter in an `Emessage` (2014/10/08 namespace)."""
    letters = []
    for report in root.iterfind(q("LaboratoryReport")):
        letters.append(
            ReadLetter(
                **head_fields(report),
                sender_ean=_text(report, "Sender/EANIdentifier") or "",
                sampled=" ".join(
                    filter(
                        None,
                        (
                            _text(report, "RequisitionInformation/Sample/SamplingDateTime/Date"),
                            _text(report, "RequisitionInformation/Sample/SamplingDateTime/Time"),
                        ),
                    )
                ),
                report_status=_text(
                    report, "LaboratoryResults/GeneralResultInformation/ReportStatusCode"
                )
                or "",
                results=tuple(
                    _result(r) for r in report.iterfind(f"{q('LaboratoryResults')}/{q('Result')}")
                ),
            )
        )
    return letters


def _result(result: etree._Element) -> ReadResult:
    return ReadResult(
        status=_text(result, "ResultStatusCode") or "",
        analysis_code=_text(result, "Analysis/AnalysisCode") or "",
        code_type=_text(result, "Analysis/AnalysisCodeType") or "",
        result_type=_text(result, "ResultType") or "",
        value=_text(result, "Value") or "",
        operator=_text(result, "Operator"),
        unit=_text(result, "Unit"),
        lower=_text(result, "ReferenceInterval/LowerLimit"),
        upper=_text(result, "ReferenceInterval/UpperLimit"),
        validation=_text(result, "ResultValidation"),
        text_value=_text(result, "ResultTextValue"),
        comments=tuple(_flat(c) for c in result.iterfind(q("ResultComments"))),
    )
