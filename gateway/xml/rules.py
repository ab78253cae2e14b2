"""Business rules for XRPT01 letters that an XSD cannot express.

Each rule yields Issues; none raises. Severities follow what a receiver can do with the letter:
a CPR number that is no date, a numeric result that is not a number, or a sample taken after its
result are errors; a code or unit our tables do not know is a warning (the tables may be behind);
a letter that does not state consent is information (absent means not refused, DESIGN §2).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from lxml import etree

from gateway.cpr import is_cpr
from gateway.issues import Issue, IssueType, Severity
from gateway.mapping.tables import Mappings
from gateway.xml.ns import NPU_CODE_TYPE, q
from gateway.xml.paths import readable_path

_NPU = re.compile(r"^(NPU|DNK)[0-9]{5}$")
_RECEIVED_PLACEHOLDER = "*****"  # value of a "proeve_modtaget" line (notes/medcom-xml.md §3, §4)


def _issue(
    severity: Severity,
    code: IssueType,
    rule: str,
    element: etree._Element,
    message: str,
    source: str | None,
) -> Issue:
    return Issue(
        severity,
        code,
        rule,
        message,
        location=readable_path(element),
        source=source,
        line=element.sourceline,
    )


def _stamp(element: etree._Element | None, ns: str) -> str | None:
    if element is None:
        return None
    date, time = element.findtext(q("Date", ns)), element.findtext(q("Time", ns))
    return f"{date}T{time}" if date and time else None


def laboratory_report_rules(
    report: etree._Element, ns: str, mappings: Mappings, source: str | None
) -> Iterator[Issue]:
    """Rules for one schema-valid `LaboratoryReport` letter (XRPT01)."""
    patient = report.find(q("Patient", ns))
    if patient is not None:
        cpr = patient.find(q("CivilRegistrationNumber", ns))
        if cpr is not None and cpr.text and not is_cpr(cpr.text):
            yield _issue(
                Severity.ERROR,
                IssueType.VALUE,
                "MC-CPR",
                cpr,
                "not a CPR number: the first six digits must be a date of birth (DDMMYY, "
                "the 7th digit gives the century)",
                source,
            )
        if patient.find(q("Consent", ns)) is None:
            yield _issue(
                Severity.INFORMATION,
                IssueType.INFORMATIONAL,
                "MC-CONSENT-ABSENT",
                patient,
                "Patient/Consent is absent: consent is not stated "
                "(receivers treat the results as not restricted)",
                source,
            )
    sampled = _stamp(
        report.find(
            f"{q('RequisitionInformation', ns)}/{q('Sample', ns)}/{q('SamplingDateTime', ns)}"
        ),
        ns,
    )
    general = report.find(f"{q('LaboratoryResults', ns)}/{q('GeneralResultInformation', ns)}")
    resulted = _stamp(general.find(q("ResultsDateTime", ns)) if general is not None else None, ns)
    if sampled and resulted and sampled > resulted and general is not None:
        yield _issue(
            Severity.ERROR,
            IssueType.VALUE,
            "MC-DATE-ORDER",
            general,
            f"ResultsDateTime {resulted} is before the SamplingDateTime {sampled}",
            source,
        )
    for result in report.iterfind(f"{q('LaboratoryResults', ns)}/{q('Result', ns)}"):
        yield from _result_rules(result, ns, mappings, source)


def _children(element: etree._Element, skip: int) -> dict[str, etree._Element]:
    """Child elements by local name (first of each); `skip` is len("{namespace}")."""
    found: dict[str, etree._Element] = {}
    for child in element:
        tag = child.tag
        if isinstance(tag, str):
            found.setdefault(tag[skip:], child)
    return found


def _result_rules(
    result: etree._Element, ns: str, mappings: Mappings, source: str | None
) -> Iterator[Issue]:
    skip = len(ns) + 2
    parts = _children(result, skip)
    analysis_el = parts.get("Analysis")
    codes = _children(analysis_el, skip) if analysis_el is not None else {}
    code_el = codes.get("AnalysisCode")
    code_type = codes.get("AnalysisCodeType")
    code = code_el.text if code_el is not None else None
    analysis = None
    if code_el is not None and code and code_type is not None and code_type.text == NPU_CODE_TYPE:
        if not _NPU.match(code):
            yield _issue(
                Severity.ERROR,
                IssueType.CODE_INVALID,
                "MC-NPU-CODE",
                code_el,
                f"AnalysisCodeType iupac needs an NPU or DNK code, found {code!r}",
                source,
            )
        else:
            analysis = mappings.analyses.get(code)
            if analysis is None:
                yield _issue(
                    Severity.WARNING,
                    IssueType.CODE_INVALID,
                    "MC-NPU-UNKNOWN",
                    code_el,
                    f"{code} is not in labgw's analysis table",
                    source,
                )
    value_el = parts.get("Value")
    value = value_el.text if value_el is not None else None
    status_el, type_el = parts.get("ResultStatusCode"), parts.get("ResultType")
    if (
        value_el is not None
        and value
        and type_el is not None
        and type_el.text == "numerisk"
        and not (
            status_el is not None
            and status_el.text == "proeve_modtaget"
            and value == _RECEIVED_PLACEHOLDER
        )
        and not _is_number(value)
    ):
        yield _issue(
            Severity.ERROR,
            IssueType.VALUE,
            "MC-VALUE-NUMERIC",
            value_el,
            f"ResultType numerisk but Value {value!r} is not a number",
            source,
        )
    unit_el = parts.get("Unit")
    if analysis is not None and unit_el is not None and unit_el.text:
        ucum = mappings.ucum_for(unit_el.text)
        if analysis.ucum is None:
            yield _issue(
                Severity.WARNING,
                IssueType.VALUE,
                "MC-UNIT",
                unit_el,
                f"{analysis.npu_code} has no unit; found {unit_el.text!r}",
                source,
            )
        elif ucum != analysis.ucum:
            yield _issue(
                Severity.WARNING,
                IssueType.VALUE,
                "MC-UNIT",
                unit_el,
                f"{analysis.npu_code} ({analysis.short_name}) is measured in "
                f"{analysis.ucum}, found {unit_el.text!r}",
                source,
            )


def _is_number(text: str) -> bool:
    try:
        Decimal(text.replace(",", "."))
    except InvalidOperation:
        return False
    return True
