"""XML and FHIR say the same thing: the equivalence check behind `labgw translate --check`.

For one record version the MedCom XML letter (XRPT01 or XRPT05) and the FHIR message must carry
the same patient, analyses, values (digit for digit), comparators, units, reference limits,
statuses and consent flag. Both are read back with the format's own reader and reduced to the
same plain facts; any difference is an Issue naming the letter and what differs. A cancelled
result is `annulleret` in both, with no unit or limits: the XML letters send nothing of the
withdrawn value (the FHIR Observation may still carry its reference range).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from gateway.fhir_message.reader import read_message
from gateway.issues import Issue, IssueType, Severity
from gateway.mapping.tables import Mappings
from gateway.pipeline import Translation
from gateway.values import format_decimal
from gateway.xml.xrpt01 import CANCELLED_VALUE
from gateway.xml.xrpt01_reader import read_letters
from gateway.xml.xrpt05_reader import read_micro_letters

_XML_STATUS = {
    "svar_midlertidigt": "preliminary",
    "svar_endeligt": "final",
    "svar_rettet": "corrected",
}
_OPERATOR = {"mindre_end": "<", "stoerre_end": ">"}


@dataclass(frozen=True, slots=True, order=True)
class ResultFacts:
    code: str
    status: str
    value: str
    comparator: str
    unit: str
    low: str
    high: str


@dataclass(frozen=True, slots=True)
class LetterFacts:
    patient: str
    refused: bool
    results: tuple[ResultFacts, ...]  # sorted, so the order of elements does not matter


def _number(text: str | None) -> str:
    if text is None:
        return ""
    try:
        return format_decimal(Decimal(text))
    except InvalidOperation:
        return text


def _unit(written: str | None, code: str, numeric: bool, mappings: Mappings) -> str:
    """The UCUM unit of an XML result: as written, else the one its NPU code defines (INR's
    `1` has no MedCom spelling, so XRPT01 writes no Unit for it)."""
    if written:
        return mappings.ucum_for(written) or written
    analysis = mappings.analyses.get(code)
    return analysis.ucum or "" if numeric and analysis is not None else ""


def xml_facts(content: bytes, mappings: Mappings) -> LetterFacts:
    root = etree.fromstring(content)
    if root.find("{*}LaboratoryReport") is not None:
        (letter,) = read_letters(root)
        results = []
        for r in letter.results:
            cancelled = r.value == CANCELLED_VALUE and r.status == "svar_rettet"
            if cancelled:
                value = CANCELLED_VALUE
            elif r.result_type == "numerisk":
                value = _number(r.value)
            else:
                value = r.text_value or r.value
            unit = _unit(
                r.unit, r.analysis_code, r.result_type == "numerisk" and not cancelled, mappings
            )
            results.append(
                ResultFacts(
                    r.analysis_code,
                    _XML_STATUS[r.status],
                    value,
                    _OPERATOR.get(r.operator or "", ""),
                    unit,
                    _number(r.lower),
                    _number(r.upper),
                )
            )
        return LetterFacts(
            letter.cpr or letter.alternative_id or "",
            letter.consent_given is False,
            tuple(sorted(results)),
        )
    (micro,) = read_micro_letters(root)
    status = _XML_STATUS[micro.status]
    results = []
    for f in micro.findings:
        value = _number(f.value) if f.value is not None else f.text
        unit = _unit(f.unit, f.code, f.value is not None, mappings)
        results.append(
            ResultFacts(
                f.code,
                status,
                value,
                _OPERATOR.get(f.operator or "", ""),
                unit,
                _number(f.lower),
                _number(f.upper),
            )
        )
        results.extend(
            ResultFacts(code, status, sir, "", "", "", "") for code, sir in f.susceptibility
        )
    return LetterFacts(
        micro.cpr or micro.alternative_id or "",
        micro.consent_given is False,
        tuple(sorted(results)),
    )


def fhir_facts(content: bytes) -> LetterFacts:
    message = read_message(content)
    results = []
    for o in message.observations:
        cancelled = o.status == "cancelled"
        status = "corrected" if cancelled else o.status
        if cancelled:
            value = CANCELLED_VALUE
        elif isinstance(o.value, Decimal):
            value = format_decimal(o.value)
        else:
            value = o.value or ""
        results.append(
            ResultFacts(
                o.code,
                status,
                value,
                o.comparator or "",
                "" if cancelled else o.unit or "",
                format_decimal(o.low) if o.low is not None and not cancelled else "",
                format_decimal(o.high) if o.high is not None and not cancelled else "",
            )
        )
    refused = any(o.restricted for o in message.observations)
    return LetterFacts(message.patient_id, refused, tuple(sorted(results)))


def differences(xml: LetterFacts, fhir: LetterFacts, letter: str) -> Iterator[Issue]:
    """Every way the two readings of one letter differ."""

    def issue(message: str) -> Issue:
        return Issue(Severity.ERROR, IssueType.INVARIANT, "CHECK-DIFFERENT", message, source=letter)

    if xml.patient != fhir.patient:
        yield issue("the XML and FHIR messages name different patients")
    if xml.refused != fhir.refused:
        yield issue(f"consent refused is {xml.refused} in XML, {fhir.refused} in FHIR")
    if xml.results != fhir.results:
        only_xml = sorted(set(xml.results) - set(fhir.results))
        only_fhir = sorted(set(fhir.results) - set(xml.results))
        yield issue(f"results differ: only in XML {only_xml}, only in FHIR {only_fhir}")


def compare_translations(
    xml: Translation, fhir: Translation, mappings: Mappings
) -> tuple[int, list[Issue]]:
    """Pair the XML and FHIR messages that carry the same records and compare each pair.

    Returns the number of pairs compared and the Issues found (a message without a partner is
    an Issue too).
    """
    fhir_by_records = {m.records: m for m in fhir.messages}
    issues: list[Issue] = []
    pairs = 0
    for message in xml.messages:
        partner = fhir_by_records.pop(message.records, None)
        if partner is None:
            issues.append(
                Issue(
                    Severity.ERROR,
                    IssueType.NOT_FOUND,
                    "CHECK-DIFFERENT",
                    "no FHIR message carries the same records",
                    source=message.filename,
                )
            )
            continue
        pairs += 1
        issues.extend(
            differences(
                xml_facts(message.content, mappings), fhir_facts(partner.content), message.filename
            )
        )
    issues.extend(
        Issue(
            Severity.ERROR,
            IssueType.NOT_FOUND,
            "CHECK-DIFFERENT",
            "no XML message carries the same records",
            source=m.filename,
        )
        for m in fhir_by_records.values()
    )
    return pairs, issues
