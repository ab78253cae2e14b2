"""The XML validator: hardened parsing, schema choice, XSD findings and business rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from gateway.errors import InvalidMessageError
from gateway.issues import Severity
from gateway.xml.ns import NS_2014
from gateway.xml.paths import strip_namespaces
from gateway.xml.safe import Limits
from gateway.xml.validate import XmlValidator
from tests.records import translate
from tests.test_render_xrpt05 import culture, local

DERIVED = "medcom-xml/derived/XRPT01_XR0131K_example_derived.xml"
CPR = b"<CivilRegistrationNumber>1212778221</CivilRegistrationNumber>"


@pytest.fixture(scope="module")
def validator() -> XmlValidator:
    return XmlValidator()


@pytest.fixture(scope="module")
def derived(reference_dir: Path) -> bytes:
    return (reference_dir / DERIVED).read_bytes()


def rules(validator: XmlValidator, data: bytes) -> list[str]:
    return [issue.rule for issue in validator.iter_issues(data) if issue.blocking]


def test_derived_example_is_valid(validator: XmlValidator, derived: bytes) -> None:
    assert validator.is_valid(derived)
    validator.validate(derived)


def test_missing_cpr_is_invalid_and_named(validator: XmlValidator, derived: bytes) -> None:
    issues = [i for i in validator.iter_issues(derived.replace(CPR, b"")) if i.blocking]
    assert [i.rule for i in issues] == ["XSD"]
    assert "CivilRegistrationNumber" in issues[0].message
    assert issues[0].location == "/Emessage/LaboratoryReport/Patient/PersonSurnameName"
    assert issues[0].line is not None
    with pytest.raises(InvalidMessageError) as raised:
        validator.validate(derived.replace(CPR, b""))
    assert raised.value.issues == tuple(issues)


@pytest.mark.parametrize(
    "cpr",
    [b"3213779999", b"3002779999", b"3104779999", b"2902770000", b"2902003000"],
    ids=["day-32-month-13", "30-february", "31-april", "29-february-1977", "29-february-1900"],
)
def test_cpr_that_is_no_date_breaks_a_business_rule(
    validator: XmlValidator, derived: bytes, cpr: bytes
) -> None:
    bad = derived.replace(b"1212778221", cpr)
    assert rules(validator, bad) == ["MC-CPR"]
    assert all(cpr.decode() not in i.message for i in validator.iter_issues(bad))


@pytest.mark.parametrize("cpr", [b"2902484000", b"2902004000", b"3112999999", b"0101709999"])
def test_cpr_of_a_real_date_passes_without_modulus_11(
    validator: XmlValidator, derived: bytes, cpr: bytes
) -> None:
    assert rules(validator, derived.replace(b"1212778221", cpr)) == []


@pytest.mark.parametrize(
    ("old", "new", "rule", "severity"),
    [
        (b"<Value>128</Value>", b"<Value>12x8</Value>", "MC-VALUE-NUMERIC", Severity.ERROR),
        (
            b"<AnalysisCode>NPU19748</AnalysisCode>",
            b"<AnalysisCode>ABC19748</AnalysisCode>",
            "MC-NPU-CODE",
            Severity.ERROR,
        ),
        (
            b"<AnalysisCode>NPU19748</AnalysisCode>",
            b"<AnalysisCode>NPU99999</AnalysisCode>",
            "MC-NPU-UNKNOWN",
            Severity.WARNING,
        ),
        (b"<Unit>mg/l</Unit>", b"<Unit>mmol/l</Unit>", "MC-UNIT", Severity.WARNING),
        (b"<Date>1998-08-27</Date>", b"<Date>2001-08-27</Date>", "MC-DATE-ORDER", Severity.ERROR),
    ],
    ids=[
        "numeric-value-not-a-number",
        "iupac-code-not-npu",
        "npu-unknown",
        "unit-mismatch",
        "sampled-after-result",
    ],
)
def test_business_rules(
    validator: XmlValidator, derived: bytes, old: bytes, new: bytes, rule: str, severity: Severity
) -> None:
    assert old in derived
    found = [i for i in validator.iter_issues(derived.replace(old, new, 1)) if i.rule == rule]
    assert [i.severity for i in found] == [severity]
    assert found[0].location and found[0].location.startswith("/Emessage/LaboratoryReport")


def test_absent_consent_is_only_information(validator: XmlValidator, derived: bytes) -> None:
    found = [i for i in validator.iter_issues(derived) if i.rule == "MC-CONSENT-ABSENT"]
    assert [i.severity for i in found] == [Severity.INFORMATION]


def test_older_generation_is_reported_as_not_supported(
    validator: XmlValidator, reference_dir: Path
) -> None:
    data = (reference_dir / "medcom-xml/examples/xml/RPT01_2.xml").read_bytes()
    (issue,) = list(validator.iter_issues(data))
    assert issue.rule == "XML-NO-SCHEMA"
    assert "XR0130K" in issue.message and "XR0131K" in issue.message


@pytest.mark.parametrize("name", ["CTL02_1.xml", "CTL03_1.xml"])
def test_official_receipts_are_valid(
    validator: XmlValidator, reference_dir: Path, name: str
) -> None:
    assert validator.is_valid((reference_dir / "medcom-xml/examples/xml" / name).read_bytes())


def test_not_an_emessage(validator: XmlValidator) -> None:
    assert rules(validator, b"<Bundle xmlns='http://hl7.org/fhir'/>") == ["XML-UNKNOWN-MESSAGE"]


def test_letters_of_two_versions(validator: XmlValidator, derived: bytes) -> None:
    twice = derived.replace(
        b"</LaboratoryReport>",
        b"</LaboratoryReport>"
        + derived.split(b"<LaboratoryReport>")[1]
        .split(b"</LaboratoryReport>")[0]
        .replace(b"XR0131K", b"XR0130K")
        .join([b"<LaboratoryReport>", b"</LaboratoryReport>"]),
    )
    (issue,) = [i for i in validator.iter_issues(twice) if i.blocking]
    assert issue.rule == "XML-NO-SCHEMA" and "different versions" in issue.message


# --- XRPT05 letters: patient and time rules, and their susceptibility tables -------------

MIC = "/Emessage/MicrobiologyWebReport"
RESULTS = f"{MIC}/LaboratoryResults"
PATTERN = f"{RESULTS}/Investigation/CultureFindings/Pattern"


@pytest.fixture(scope="module")
def miba() -> bytes:
    """labgw's own XRPT05 letter: a culture with three susceptibility results (S, R, S)."""
    result = translate(
        culture(),
        local("RES-MEC", "S", "S1"),
        local("RES-SUL", "R", "S2"),
        local("RES-NIT", "S", "S3"),
    )
    (message,) = result.messages
    return message.content


def changed(data: bytes, *changes: tuple[str, str | None]) -> bytes:
    """`data` with the text of the element at each readable path set (None: removed)."""
    root = etree.fromstring(data)
    for path, value in changes:
        steps = "/".join(f"m:{step}" for step in path.strip("/").split("/"))
        (element,) = root.xpath(f"/{steps}", namespaces={"m": NS_2014})
        if value is None:
            element.getparent().remove(element)
        else:
            element.text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def blocking(validator: XmlValidator, data: bytes) -> list[tuple[str, str | None]]:
    return [(i.rule, i.location) for i in validator.iter_issues(data) if i.blocking]


def test_labgws_xrpt05_letter_breaks_no_rule(validator: XmlValidator, miba: bytes) -> None:
    assert [str(i) for i in validator.iter_issues(miba)] == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            ((f"{MIC}/Patient/CivilRegistrationNumber", "2513479989"),),
            [("MC-CPR", f"{MIC}/Patient/CivilRegistrationNumber")],
        ),
        (
            ((f"{MIC}/Patient/CivilRegistrationNumber", "3002479989"),),
            [("MC-CPR", f"{MIC}/Patient/CivilRegistrationNumber")],
        ),
        (
            ((f"{RESULTS}/GeneralResultInformation/ResultsDateTime/Date", "2025-05-01"),),
            [("MC-DATE-ORDER", f"{RESULTS}/GeneralResultInformation")],
        ),
        (
            ((f"{MIC}/RequisitionInformation/Sample/SampleReceivedDateTime/Time", "00:01"),),
            [("MC-DATE-ORDER", f"{MIC}/RequisitionInformation/Sample/SampleReceivedDateTime")],
        ),
        (
            ((f"{RESULTS}/Investigation/Examination/MICAnalysisCode", "ABC16328"),),
            [("MC-NPU-CODE", f"{RESULTS}/Investigation/Examination/MICAnalysisCode")],
        ),
        (
            ((f"{PATTERN}/PatternEntry[2]/Susceptibility", "resisten"),),
            [("MC-SUSCEPTIBILITY", f"{PATTERN}/PatternEntry[2]/Susceptibility")],
        ),
        (
            ((f"{PATTERN}/PatternEntry[1]/Susceptibility", "-"),),
            [("MC-SUSCEPTIBILITY", f"{PATTERN}/PatternEntry[1]/Susceptibility")],
        ),
        (
            ((f"{PATTERN}/PatternEntry[3]/RefAntibiotic", "4"),),
            [("MC-PATTERN-REF", f"{PATTERN}/PatternEntry[3]/RefAntibiotic")],
        ),
        (
            ((f"{PATTERN}/PatternEntry[1]/RefMicroorganism", "2"),),
            [("MC-PATTERN-REF", f"{PATTERN}/PatternEntry[1]/RefMicroorganism")],
        ),
    ],
    ids=[
        "cpr-month-13",
        "cpr-30-february",
        "results-before-sampling",
        "received-before-sampling",
        "iupac-code-not-npu",
        "susceptibility-not-s-i-r",
        "susceptibility-dash-but-not-cancelled",
        "ref-antibiotic-beyond-the-rows",
        "ref-microorganism-beyond-the-organisms",
    ],
)
def test_xrpt05_business_rules(
    validator: XmlValidator,
    miba: bytes,
    changes: tuple[tuple[str, str], ...],
    expected: list[tuple[str, str]],
) -> None:
    assert blocking(validator, changed(miba, *changes)) == expected


def test_xrpt05_finding_codes_and_units_are_checked_like_xrpt01(validator: XmlValidator) -> None:
    """An iupac MICAnalysisCode must be an NPU code the tables know, and a Findings Unit must
    fit it: CRP (NPU19748) in mmol/l is MC-UNIT, an unknown NPU code MC-NPU-UNKNOWN (warnings)."""
    (message,) = translate(local("STREPA", "Positiv", "A1")).messages
    examination = f"{RESULTS}/Investigation/Examination"
    data = message.content.replace(
        b"</InterPretation>",
        b"</InterPretation><Operator>lig_med</Operator><Value>5</Value><Unit>mmol/l</Unit>",
    )
    crp = changed(
        data,
        (f"{examination}/MICAnalysisCode", "NPU19748"),
        (f"{examination}/AnalysisCodeType", "iupac"),
    )
    unknown = changed(crp, (f"{examination}/MICAnalysisCode", "NPU99999"))
    findings = f"{RESULTS}/Investigation/QuantitativeFindings/AnalysisFindings/Findings"
    assert [(i.rule, i.severity, i.location) for i in validator.iter_issues(crp)] == [
        ("MC-UNIT", Severity.WARNING, f"{findings}/Unit")
    ]
    assert [(i.rule, i.severity, i.location) for i in validator.iter_issues(unknown)] == [
        ("MC-NPU-UNKNOWN", Severity.WARNING, f"{examination}/MICAnalysisCode")
    ]


def test_xrpt05_consent_absent_is_only_information(validator: XmlValidator, miba: bytes) -> None:
    issues = list(validator.iter_issues(changed(miba, (f"{MIC}/Patient/Consent", None))))
    assert [(i.rule, i.severity) for i in issues] == [("MC-CONSENT-ABSENT", Severity.INFORMATION)]


def test_a_cancelled_susceptibility_is_no_broken_category(validator: XmlValidator) -> None:
    """labgw's cancellation (`-`, SusceptibilityValue `annulleret`, letter svar_rettet) passes;
    the same cell in a letter that is not svar_rettet is no category at all."""
    cancelled = {"version": 2, "status": "cancelled"}
    result = translate(culture(**cancelled), local("RES-MEC", "S", "S1", **cancelled))
    (message,) = result.messages
    assert blocking(validator, message.content) == []
    final = changed(
        message.content, (f"{RESULTS}/GeneralResultInformation/ResultStatusCode", "svar_endeligt")
    )
    assert blocking(validator, final) == [
        (
            "MC-SUSCEPTIBILITY",
            f"{RESULTS}/Investigation/CultureFindings/Pattern/PatternEntry/Susceptibility",
        )
    ]


@given(st.integers(1, 10), st.integers(1, 80), st.sampled_from(["S", "I", "R", "s", "r"]))
def test_pattern_references_point_at_rows_and_organisms_that_exist(
    validator: XmlValidator, miba: bytes, organism: int, antibiotic: int, category: str
) -> None:
    """The schema allows RefMicroorganism 1-10 and RefAntibiotic 1-80; the letter has one
    organism and three antibiotics, so exactly the references beyond them are refused."""
    data = changed(
        miba,
        (f"{PATTERN}/PatternEntry[2]/RefMicroorganism", str(organism)),
        (f"{PATTERN}/PatternEntry[2]/RefAntibiotic", str(antibiotic)),
        (f"{PATTERN}/PatternEntry[2]/Susceptibility", category),
    )
    entry = f"{PATTERN}/PatternEntry[2]"
    expected = [("MC-PATTERN-REF", f"{entry}/RefMicroorganism")] * (organism > 1) + [
        ("MC-PATTERN-REF", f"{entry}/RefAntibiotic")
    ] * (antibiotic > 3)
    assert blocking(validator, data) == expected


# --- libxml2's messages: namespaces dropped, nothing else ------------------------------


@pytest.mark.parametrize(
    ("old", "new", "kept"),
    [
        (CPR, CPR.replace(b"1212778221", b"12127782"), "pattern '[0-9]{10}'"),
        (
            b"<ResultType>numerisk</ResultType>",
            b"<ResultType>numerik</ResultType>",
            "not an element of the set {'numerisk', 'alfanumerisk'}",
        ),
    ],
    ids=["pattern-quantifier", "enumeration-set"],
)
def test_xsd_messages_keep_their_braces_and_lose_only_namespaces(
    validator: XmlValidator, derived: bytes, old: bytes, new: bytes, kept: str
) -> None:
    assert old in derived
    (issue,) = [i for i in validator.iter_issues(derived.replace(old, new, 1)) if i.blocking]
    assert issue.rule == "XSD"
    assert kept in issue.message
    assert "{http" not in issue.message and "medcom.dk" not in issue.message


_URIS = st.sampled_from(
    [
        "http://rep.oio.dk/medcom.dk/xml/schemas/2014/10/08/",
        "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/",
        "urn:oid:1.2.208.176",
        "http://hl7.org/fhir",
    ]
)
_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_NO_COLON = st.text(st.characters(exclude_characters=":", codec="utf-8"), max_size=60)


@given(st.lists(st.tuples(_NO_COLON, _URIS, _NAMES), max_size=4), _NO_COLON)
def test_strip_namespaces_drops_clark_uris_and_keeps_all_other_text(
    parts: list[tuple[str, str, str]], tail: str
) -> None:
    """Text without a namespace URI (no colon, so no `{scheme:…}`) comes back as it was, braces
    and all; each `{uri}Name` becomes `Name`."""
    message = "".join(f"{text}{{{uri}}}{name}" for text, uri, name in parts) + tail
    expected = "".join(f"{text}{name}" for text, _, name in parts) + tail
    assert strip_namespaces(message) == expected


# --- hardening ------------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Emessage [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Emessage xmlns="http://rep.oio.dk/medcom.dk/xml/schemas/2014/10/08/">&x;</Emessage>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Emessage>&lol3;</Emessage>"""


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (XXE, "XML-DTD"),
        (LAUGHS, "XML-DTD"),
        (b"<Emessage><Envelope>", "XML-SYNTAX"),
        (b"", "XML-SYNTAX"),
        (b"<a>" * 40 + b"</a>" * 40, "XML-TOO-DEEP"),
    ],
    ids=["external-entity", "entity-expansion", "not-well-formed", "empty", "too-deep"],
)
def test_hostile_or_broken_input_is_a_fatal_issue(
    validator: XmlValidator, data: bytes, rule: str
) -> None:
    issues = list(validator.iter_issues(data, source="x.xml"))
    assert [i.rule for i in issues] == [rule]
    assert issues[0].severity is Severity.FATAL
    assert "root:" not in issues[0].message  # nothing of /etc/passwd leaks


def test_size_limit_is_checked_before_parsing() -> None:
    small = XmlValidator(limits=Limits(max_bytes=100))
    assert rules(small, b"<Emessage>" + b" " * 200 + b"</Emessage>") == ["XML-TOO-LARGE"]
