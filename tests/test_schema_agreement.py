"""labgw's own MedCom XML Schemas (``schemas/medcom``) agree with the official MedCom schema set.

For the XRPT01 XR0131K bases (derived example, XR0131K versions of the official RPT01_2/RPT01_3
test messages) and the official receipt examples CTL02_1/CTL03_1, plus every mutant of each
(``tests/xml_mutants.py``), the valid/invalid verdict of our schema must equal the verdict of the
official ``EMessage.xsd`` - with lxml, and with ``xmllint --schema`` where xmllint is installed.

The official material lives outside the repository; the tests that need it skip cleanly when it is
absent (fixtures in ``conftest.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import REFERENCE
from tests.schema_cases import (
    MISSING,
    compile_schema,
    expected_valid,
    load,
    params,
    verdict,
    xmllint_verdicts,
)
from tests.xml_mutants import mutants, receipt_mutants, xr0131k_variants

OUR_SCHEMAS = [
    "2014-10-08/common.xsd",
    "2014-10-08/xr0131k.xsd",
    "2005-08-07/receipts-common.xsd",
    "2005-08-07/xc0330q.xsd",
    "2005-08-07/xc0230q.xsd",
]
RECEIPT_SCHEMA = {"CTL02_1": "2005-08-07/xc0230q.xsd", "CTL03_1": "2005-08-07/xc0330q.xsd"}

# Where conftest.py looks for the reference folder. Used only to build the parameter lists at
# collection time; the tests receive the folder through the ``reference_dir`` fixture.
_REFERENCE = REFERENCE


def _lab_cases() -> dict[str, bytes]:
    cases: dict[str, bytes] = {}
    for base_id, base in xr0131k_variants(_REFERENCE):
        cases[f"{base_id}/base"] = base
        for mutant_id, data in mutants(base):
            cases[f"{base_id}/{mutant_id}"] = data
    return cases


def _receipt_cases() -> dict[str, bytes]:
    cases: dict[str, bytes] = {}
    for base_id in RECEIPT_SCHEMA:
        base = (_REFERENCE / "medcom-xml" / "examples" / "xml" / f"{base_id}.xml").read_bytes()
        cases[f"{base_id}/base"] = base
        for mutant_id, data in receipt_mutants(base):
            cases[f"{base_id}/{mutant_id}"] = data
    return cases


LAB_CASES = load(_lab_cases)
RECEIPT_CASES = load(_receipt_cases)


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def our_schemas(repo_dir: Path) -> dict[str, etree.XMLSchema]:
    root = repo_dir / "schemas" / "medcom"
    return {name: compile_schema(root / name) for name in OUR_SCHEMAS}


@pytest.fixture(scope="session")
def official_2014(official_2014_xsd: Path) -> etree.XMLSchema:
    return compile_schema(official_2014_xsd)


@pytest.fixture(scope="session")
def official_2005(official_2005_xsd: Path) -> etree.XMLSchema:
    return compile_schema(official_2005_xsd)


@pytest.fixture(scope="module")
def xmllint() -> str:
    path = shutil.which("xmllint")
    if path is None:
        pytest.skip("xmllint not installed")
    return path


@pytest.fixture(scope="module")
def xmllint_lab(
    xmllint: str, official_2014_xsd: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bool]:
    return xmllint_verdicts(official_2014_xsd, LAB_CASES, tmp_path_factory.mktemp("xr0131k"))


@pytest.fixture(scope="module")
def xmllint_receipts(
    xmllint: str, official_2005_xsd: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bool]:
    return xmllint_verdicts(official_2005_xsd, RECEIPT_CASES, tmp_path_factory.mktemp("xctl"))


# --------------------------------------------------------------------------------------------
# (a) our schemas compile
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", OUR_SCHEMAS)
def test_our_schema_compiles(repo_dir: Path, name: str) -> None:
    schema = compile_schema(repo_dir / "schemas" / "medcom" / name)
    assert isinstance(schema, etree.XMLSchema)


# --------------------------------------------------------------------------------------------
# (b) same verdict as the official schema, with lxml
# --------------------------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("case_id", params(LAB_CASES))
def test_xr0131k_agrees_with_official_lxml(
    case_id: str, our_schemas: dict[str, etree.XMLSchema], official_2014: etree.XMLSchema
) -> None:
    data = LAB_CASES[case_id]
    ours, our_error = verdict(our_schemas["2014-10-08/xr0131k.xsd"], data)
    official, official_error = verdict(official_2014, data)
    assert ours == official, f"ours: {our_error or 'valid'} | official: {official_error or 'valid'}"


@pytest.mark.reference
@pytest.mark.parametrize("case_id", params(RECEIPT_CASES))
def test_receipt_agrees_with_official_lxml(
    case_id: str, our_schemas: dict[str, etree.XMLSchema], official_2005: etree.XMLSchema
) -> None:
    data = RECEIPT_CASES[case_id]
    ours, our_error = verdict(our_schemas[RECEIPT_SCHEMA[case_id.split("/")[0]]], data)
    official, official_error = verdict(official_2005, data)
    assert ours == official, f"ours: {our_error or 'valid'} | official: {official_error or 'valid'}"


# --------------------------------------------------------------------------------------------
# (c) same verdict as the official schema run through xmllint
# --------------------------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("case_id", params(LAB_CASES))
def test_xr0131k_agrees_with_official_xmllint(
    case_id: str, our_schemas: dict[str, etree.XMLSchema], xmllint_lab: dict[str, bool]
) -> None:
    ours, our_error = verdict(our_schemas["2014-10-08/xr0131k.xsd"], LAB_CASES[case_id])
    assert ours == xmllint_lab[case_id], f"ours: {our_error or 'valid'}"


@pytest.mark.reference
@pytest.mark.parametrize("case_id", params(RECEIPT_CASES))
def test_receipt_agrees_with_official_xmllint(
    case_id: str, our_schemas: dict[str, etree.XMLSchema], xmllint_receipts: dict[str, bool]
) -> None:
    schema = our_schemas[RECEIPT_SCHEMA[case_id.split("/")[0]]]
    ours, our_error = verdict(schema, RECEIPT_CASES[case_id])
    assert ours == xmllint_receipts[case_id], f"ours: {our_error or 'valid'}"


# --------------------------------------------------------------------------------------------
# (d) the mutant set is meaningful
# --------------------------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("case_id", params(LAB_CASES))
def test_xr0131k_case_label_matches_official(case_id: str, official_2014: etree.XMLSchema) -> None:
    """A mutant called ``valid-...`` is valid by the official schema, every other one invalid."""
    official, error = verdict(official_2014, LAB_CASES[case_id])
    assert official == expected_valid(case_id), error or "official schema says valid"


@pytest.mark.reference
@pytest.mark.parametrize("case_id", params(RECEIPT_CASES))
def test_receipt_case_label_matches_official(case_id: str, official_2005: etree.XMLSchema) -> None:
    official, error = verdict(official_2005, RECEIPT_CASES[case_id])
    assert official == expected_valid(case_id), error or "official schema says valid"


def _c14n(data: bytes) -> str:
    return str(etree.canonicalize(etree.fromstring(data)))


@pytest.mark.reference
def test_mutant_sets_are_rich(reference_dir: Path, official_2014: etree.XMLSchema) -> None:
    bases = dict(xr0131k_variants(reference_dir))
    assert set(bases) == {"derived-example", "RPT01_2-XR0131K", "RPT01_3-XR0131K"}
    derived = mutants(bases["derived-example"])
    ids = [mutant_id for mutant_id, _ in derived]
    assert len(ids) == len(set(ids)), "mutant ids must be unique"
    assert len(derived) >= 40
    invalid = [m for m, data in derived if not official_2014.validate(etree.fromstring(data))]
    valid = [m for m, _ in derived if m not in invalid]
    assert len(invalid) >= 30, invalid
    assert len(valid) >= 10, valid
    for required in (
        "missing-Patient-CivilRegistrationNumber",
        "enum-ResultStatusCode",
        "too-long-Value-13",
        "too-long-Unit-17",
        "too-long-AnalysisCode-9",
        "too-long-Envelope-Identifier-15",
        "date-Sent-2025-13-01",
        "time-Sent-25-00",
        "time-Sent-12-5",
        "time-Sent-12-00-00",
        "count-Result-100",
        "cpr-9-digits",
        "cpr-letters",
        "enum-Consent-Given-maybe",
        "ns-root-2007",
        "valid-Consent-false",
        "valid-AlternativeIdentifier",
    ):
        assert required in ids, required
    for base_id, base in bases.items():
        assert len(mutants(base)) >= 40, base_id


@pytest.mark.reference
def test_every_mutant_changes_its_base() -> None:
    if not LAB_CASES or not RECEIPT_CASES:
        pytest.skip(MISSING)
    for cases in (LAB_CASES, RECEIPT_CASES):
        for case_id, data in cases.items():
            base_id = case_id.split("/")[0]
            if not case_id.endswith("/base"):
                assert _c14n(data) != _c14n(cases[f"{base_id}/base"]), f"{case_id} is a no-op"


@pytest.mark.reference
def test_receipt_mutant_sets_are_rich() -> None:
    if not RECEIPT_CASES:
        pytest.skip(MISSING)
    for base_id in RECEIPT_SCHEMA:
        ids = [c for c in RECEIPT_CASES if c.startswith(f"{base_id}/") and c != f"{base_id}/base"]
        assert len(ids) >= 10, base_id
        assert any(expected_valid(c) for c in ids) and not all(expected_valid(c) for c in ids)


@pytest.mark.reference
def test_xr0131k_variants_are_windows_1252_like_their_sources(reference_dir: Path) -> None:
    for base_id, data in xr0131k_variants(reference_dir):
        if base_id.startswith("RPT01_"):
            assert data.startswith(b"<?xml version='1.0' encoding='windows-1252'?>"), base_id
            assert "Lægehuset".encode("cp1252") in data, base_id
