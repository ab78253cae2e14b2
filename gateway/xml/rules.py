"""Business rules for XRPT01 and XRPT05 letters that an XSD cannot express.

Both letters share the patient and time rules (MC-CPR, MC-CONSENT-ABSENT, MC-DATE-ORDER) and the
NPU code rules; XRPT01 results add the numeric value and unit rules, XRPT05 susceptibility
patterns add their own: a category that is not S, I or R (MC-SUSCEPTIBILITY) and a PatternEntry
that points at an organism or antibiotic the pattern does not have (MC-PATTERN-REF); the schema
only bounds those references to 1-10 and 1-80.

Each rule yields Issues; none raises. Severities follow what a receiver can do with the letter:
a CPR number that is no date, a numeric result that is not a number, a sample taken after its
result or a susceptibility table that cannot be read are errors; a code or unit our tables do not
know is a warning (the tables may be behind); a letter that does not state consent is
information (absent means not refused, DESIGN §2).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from lxml import etree

from gateway.cpr import is_cpr
from gateway.issues import Issue, IssueType, Severity
from gateway.mapping.resolve import SUSCEPTIBILITY_VALUES
from gateway.mapping.tables import AnalysisDef, Mappings
from gateway.xml.ns import NPU_CODE_TYPE, q
from gateway.xml.paths import readable_path
from gateway.xml.xrpt01 import CANCELLED_VALUE
from gateway.xml.xrpt05 import CANCELLED_SUSCEPTIBILITY

_NPU = re.compile(r"^(NPU|DNK)[0-9]{5}$")
_RECEIVED_PLACEHOLDER = "*****"  # value of a "proeve_modtaget" line (notes/medcom-xml.md §3, §4)
_CORRECTED = "svar_rettet"  # the status a cancellation is sent with (no XML code of its own)


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
    yield from _patient_rules(report, ns, source)
    yield from _date_rules(report, ns, source)
    for result in report.iterfind(f"{q('LaboratoryResults', ns)}/{q('Result', ns)}"):
        yield from _result_rules(result, ns, mappings, source)


def microbiology_report_rules(
    report: etree._Element, ns: str, mappings: Mappings, source: str | None
) -> Iterator[Issue]:
    """Rules for one schema-valid `MicrobiologyWebReport` letter (XRPT05)."""
    yield from _patient_rules(report, ns, source)
    yield from _date_rules(report, ns, source)
    status = report.findtext(
        f"{q('LaboratoryResults', ns)}/{q('GeneralResultInformation', ns)}/"
        f"{q('ResultStatusCode', ns)}"
    )
    for investigation in report.iterfind(f"{q('LaboratoryResults', ns)}/{q('Investigation', ns)}"):
        yield from _investigation_rules(investigation, ns, mappings, status, source)


def _patient_rules(letter: etree._Element, ns: str, source: str | None) -> Iterator[Issue]:
    patient = letter.find(q("Patient", ns))
    if patient is None:
        return
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


def _date_rules(letter: etree._Element, ns: str, source: str | None) -> Iterator[Issue]:
    """Nothing happens to a sample before it is taken: no result (XRPT01, XRPT05) and no
    reception at the laboratory (XRPT05 `SampleReceivedDateTime`) dated earlier."""
    sample = letter.find(f"{q('RequisitionInformation', ns)}/{q('Sample', ns)}")
    sampled = _stamp(sample.find(q("SamplingDateTime", ns)) if sample is not None else None, ns)
    if not sampled:
        return
    received = sample.find(q("SampleReceivedDateTime", ns)) if sample is not None else None
    general = letter.find(f"{q('LaboratoryResults', ns)}/{q('GeneralResultInformation', ns)}")
    results = general.find(q("ResultsDateTime", ns)) if general is not None else None
    # (where a finding is placed, the element holding the stamp, its name)
    checks = ((received, received, "SampleReceivedDateTime"), (general, results, "ResultsDateTime"))
    for place, holder, name in checks:
        stamp = _stamp(holder, ns)
        if stamp and stamp < sampled and place is not None:
            yield _issue(
                Severity.ERROR,
                IssueType.VALUE,
                "MC-DATE-ORDER",
                place,
                f"{name} {stamp} is before the SamplingDateTime {sampled}",
                source,
            )


def _code_rules(
    code_el: etree._Element | None,
    code_type: etree._Element | None,
    name: str,
    mappings: Mappings,
    source: str | None,
) -> tuple[list[Issue], AnalysisDef | None]:
    """MC-NPU-CODE / MC-NPU-UNKNOWN for a code of AnalysisCodeType iupac; its analysis, if known.

    `name` is the code element's name in the messages ("AnalysisCodeType iupac needs …")."""
    code = code_el.text if code_el is not None else None
    if code_el is None or not code or code_type is None or code_type.text != NPU_CODE_TYPE:
        return [], None
    if not _NPU.match(code):
        return [
            _issue(
                Severity.ERROR,
                IssueType.CODE_INVALID,
                "MC-NPU-CODE",
                code_el,
                f"{name} iupac needs an NPU or DNK code, found {code!r}",
                source,
            )
        ], None
    analysis = mappings.analyses.get(code)
    if analysis is None:
        return [
            _issue(
                Severity.WARNING,
                IssueType.CODE_INVALID,
                "MC-NPU-UNKNOWN",
                code_el,
                f"{code} is not in labgw's analysis table",
                source,
            )
        ], None
    return [], analysis


def _unit_rules(
    analysis: AnalysisDef | None,
    unit_el: etree._Element | None,
    mappings: Mappings,
    source: str | None,
) -> Iterator[Issue]:
    if analysis is None or unit_el is None or not unit_el.text:
        return
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


def _investigation_rules(
    investigation: etree._Element,
    ns: str,
    mappings: Mappings,
    status: str | None,
    source: str | None,
) -> Iterator[Issue]:
    examination = investigation.find(q("Examination", ns))
    analysis = None
    if examination is not None:
        found, analysis = _code_rules(
            examination.find(q("MICAnalysisCode", ns)),
            examination.find(q("AnalysisCodeType", ns)),
            "AnalysisCodeType",
            mappings,
            source,
        )
        yield from found
    findings = f"{q('QuantitativeFindings', ns)}/{q('AnalysisFindings', ns)}/{q('Findings', ns)}"
    for finding in investigation.iterfind(findings):
        yield from _unit_rules(analysis, finding.find(q("Unit", ns)), mappings, source)
    pattern = investigation.find(f"{q('CultureFindings', ns)}/{q('Pattern', ns)}")
    if pattern is not None:
        yield from _pattern_rules(pattern, ns, status, source)


def _pattern_rules(
    pattern: etree._Element, ns: str, status: str | None, source: str | None
) -> Iterator[Issue]:
    """A susceptibility table: each PatternEntry is the cell of one organism (a Microorganism of
    the same CultureFindings, counted from 1) and one antibiotic (an Antibiotic row of the
    Pattern, counted from 1), with a category S, I or R."""
    culture = pattern.getparent()
    organisms = len(culture.findall(q("Microorganism", ns))) if culture is not None else 0
    antibiotics = len(pattern.findall(q("Antibiotic", ns)))
    for entry in pattern.iterfind(q("PatternEntry", ns)):
        for name, count, what in (
            ("RefMicroorganism", organisms, "Microorganism"),
            ("RefAntibiotic", antibiotics, "Antibiotic"),
        ):
            ref = entry.find(q(name, ns))
            if ref is not None and ref.text and int(ref.text) > count:
                yield _issue(
                    Severity.ERROR,
                    IssueType.INVARIANT,
                    "MC-PATTERN-REF",
                    ref,
                    f"{name} {int(ref.text)} points at no {what}: "
                    f"there {'is' if count == 1 else 'are'} {count}",
                    source,
                )
        category = entry.find(q("Susceptibility", ns))
        if category is None or (category.text or "").upper() in SUSCEPTIBILITY_VALUES:
            continue
        cancelled = (
            category.text == CANCELLED_SUSCEPTIBILITY
            and status == _CORRECTED
            and entry.findtext(f"{q('SusceptibilityValue', ns)}/{q('Value', ns)}")
            == CANCELLED_VALUE
        )
        if not cancelled:
            yield _issue(
                Severity.ERROR,
                IssueType.CODE_INVALID,
                "MC-SUSCEPTIBILITY",
                category,
                f"Susceptibility is S, I or R, found {category.text!r} (a cancelled result is "
                f"{CANCELLED_SUSCEPTIBILITY!r} with SusceptibilityValue/Value "
                f"{CANCELLED_VALUE!r} in a svar_rettet letter)",
                source,
            )


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
    found, analysis = _code_rules(
        codes.get("AnalysisCode"),
        codes.get("AnalysisCodeType"),
        "AnalysisCodeType",
        mappings,
        source,
    )
    yield from found
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
    yield from _unit_rules(analysis, parts.get("Unit"), mappings, source)


def _is_number(text: str) -> bool:
    try:
        Decimal(text.replace(",", "."))
    except InvalidOperation:
        return False
    return True
