"""Reads XRPT05 `MicrobiologyWebReport` letters back into plain values.

The counterpart of `xrpt05.py` for reference receivers, round-trip tests and the XML ↔ FHIR
equivalence check. It expects schema-valid input.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from gateway.xml.ns import q
from gateway.xml.reading import find, head_fields, text
from gateway.xml.xrpt01 import CANCELLED_VALUE


@dataclass(frozen=True, slots=True)
class ReadFinding:
    """One investigation's result: its code and what was found."""

    code: str
    code_type: str
    examination: str  # ExaminationTypeCode
    text: str  # organism, or the interpretation text
    operator: str | None
    value: str | None
    unit: str | None
    lower: str | None
    upper: str | None
    validation: str | None
    comments: tuple[str, ...]
    susceptibility: tuple[tuple[str, str], ...]  # (antibiotic code, S/I/R or annulleret)


@dataclass(frozen=True, slots=True)
class ReadMicroLetter:
    letter_id: str
    cpr: str | None
    alternative_id: str | None
    consent_given: bool | None
    sample_id: str
    status: str
    findings: tuple[ReadFinding, ...]


def _paragraphs(element: etree._Element | None) -> str:
    if element is None:
        return ""
    return "\n".join(p.text or "" for p in element.iterfind(f"{q('Text')}/{q('Paragraph')}"))


def read_micro_letters(root: etree._Element) -> list[ReadMicroLetter]:
    letters = []
    for report in root.iterfind(q("MicrobiologyWebReport")):
        letters.append(
            ReadMicroLetter(
                **head_fields(report),
                status=text(report, "LaboratoryResults/GeneralResultInformation/ResultStatusCode")
                or "",
                findings=tuple(
                    _finding(i)
                    for i in report.iterfind(f"{q('LaboratoryResults')}/{q('Investigation')}")
                ),
            )
        )
    return letters


def _category(entry: etree._Element) -> str:
    """A PatternEntry's S, I or R; `annulleret` for a cancelled cell (its SusceptibilityValue
    says so: the Susceptibility itself is only `-`)."""
    if text(entry, "SusceptibilityValue/Value") == CANCELLED_VALUE:
        return CANCELLED_VALUE
    return text(entry, "Susceptibility") or ""


def _finding(investigation: etree._Element) -> ReadFinding:
    culture = find(investigation, "CultureFindings")
    base = {
        "code": text(investigation, "Examination/MICAnalysisCode") or "",
        "code_type": text(investigation, "Examination/AnalysisCodeType") or "",
        "examination": text(investigation, "Examination/ExaminationTypeCode") or "",
    }
    if culture is not None:
        codes = [
            text(a, "AntibioticName/Code") or ""
            for a in culture.iterfind(f"{q('Pattern')}/{q('Antibiotic')}")
        ]
        pairs = tuple(
            (codes[int(text(e, "RefAntibiotic") or "0") - 1], _category(e))
            for e in culture.iterfind(f"{q('Pattern')}/{q('PatternEntry')}")
        )
        return ReadFinding(
            **base,
            text=_paragraphs(find(culture, "Microorganism/Identification")),
            operator=None,
            value=None,
            unit=None,
            lower=None,
            upper=None,
            validation=None,
            comments=tuple(_paragraphs(c) for c in culture.iterfind(q("Comments"))),
            susceptibility=pairs,
        )
    findings = find(investigation, "QuantitativeFindings/AnalysisFindings/Findings")
    assert findings is not None, "schema-valid XRPT05 investigations have findings or a culture"
    return ReadFinding(
        **base,
        text=_paragraphs(find(findings, "InterPretation")),
        operator=text(findings, "Operator"),
        value=text(findings, "Value"),
        unit=text(findings, "Unit"),
        lower=text(findings, "ReferenceInterval/LowerLimit"),
        upper=text(findings, "ReferenceInterval/UpperLimit"),
        validation=text(findings, "ResultValidation"),
        comments=tuple(_paragraphs(c) for c in findings.iterfind(q("Comments"))),
        susceptibility=(),
    )
