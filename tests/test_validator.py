"""The XML validator: hardened parsing, schema choice, XSD findings and business rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InvalidMessageError
from gateway.issues import Severity
from gateway.xml.paths import strip_namespaces
from gateway.xml.safe import Limits
from gateway.xml.validate import XmlValidator

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
