"""`labgw validate` gives the same verdict as lxml with the official MedCom schema.

On the XR0131K bases (derived example, XR0131K versions of the official RPT01_2/RPT01_3 test
messages), the official receipts, and every mutant of them (tests/xml_mutants.py), the whole
validator (hardened parse, schema choice by namespace and VersionCode, our XSD, business rules)
must agree with the official EMessage.xsd. Where the official schema accepts what our business
rules refuse, only a business rule (MC-*) may be the reason, never our schema.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from gateway.xml.validate import XmlValidator
from tests.test_schema_agreement import LAB_CASES, RECEIPT_CASES

OFFICIAL = {
    "2014": "medcom-xml/schemas/2014-10-08/EMessage.xsd",
    "2005": "medcom-xml/schemas/2005-08-07/EMessage.xsd",
}
CASES = {
    **{k: ("2014", v) for k, v in LAB_CASES.items()},
    **{k: ("2005", v) for k, v in RECEIPT_CASES.items()},
}


@pytest.fixture(scope="module")
def official(reference_dir: Path) -> dict[str, etree.XMLSchema]:
    return {
        key: etree.XMLSchema(etree.parse(str(reference_dir / path)))
        for key, path in OFFICIAL.items()
    }


@pytest.fixture(scope="module")
def verdicts(official: dict[str, etree.XMLSchema]) -> dict[str, tuple[bool, bool, list[str]]]:
    """case → (official valid, labgw valid, labgw blocking rules)."""
    if not CASES:
        pytest.skip("official reference material not found")
    validator = XmlValidator()
    out = {}
    for case, (generation, data) in CASES.items():
        ok = official[generation].validate(etree.fromstring(data))
        rules = [i.rule for i in validator.iter_issues(data) if i.blocking]
        out[case] = (ok, not rules, rules)
    return out


def test_verdicts_agree_with_the_official_schema(
    verdicts: dict[str, tuple[bool, bool, list[str]]],
) -> None:
    wrong = {
        case: rules
        for case, (ok, ours, rules) in verdicts.items()
        if ok != ours and not (ok and rules and all(r.startswith("MC-") for r in rules))
    }
    assert wrong == {}


def test_enough_cases_agree_exactly(verdicts: dict[str, tuple[bool, bool, list[str]]]) -> None:
    invalid_agreeing = sum(1 for ok, ours, _ in verdicts.values() if not ok and not ours)
    valid_agreeing = sum(1 for ok, ours, _ in verdicts.values() if ok and ours)
    assert invalid_agreeing >= 30
    assert valid_agreeing >= 30


def test_business_rules_only_add_to_what_the_schema_allows(
    verdicts: dict[str, tuple[bool, bool, list[str]]],
) -> None:
    """Cases the official schema accepts and our rules refuse are few, and each is a rule."""
    stricter = {case: rules for case, (ok, ours, rules) in verdicts.items() if ok and not ours}
    assert len(stricter) <= len(verdicts) // 10, stricter
