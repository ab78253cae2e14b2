"""labgw's XRPT05 XR0532M schema (``schemas/medcom/2014-10-08/xr0532m.xsd``) agrees with the
official MedCom schema set.

For the XR0532M bases (an XR0532M conversion of the official XR0530M example ``6092035412.xml``,
letters written for labgw) and every mutant of each (``tests/xrpt05_mutants.py``), the
valid/invalid verdict of our schema must equal the verdict of the official ``EMessage.xsd`` - with
lxml, and with ``xmllint --schema`` where xmllint is installed. Every code list of ours must be one
of the official code lists, value for value.

The official material lives outside the repository; the tests that need it skip cleanly when it is
absent (fixtures in ``conftest.py``).
"""

from __future__ import annotations

import shutil
import tomllib
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
from tests.xml_mutants import NS_2014
from tests.xrpt05_mutants import xrpt05_bases, xrpt05_mutants

OUR_SCHEMA = "2014-10-08/xr0532m.xsd"
BASE_IDS = {
    "6092035412-XR0532M",
    "urine-culture-ecoli",
    "strep-a-antigen",
    "urine-culture-all-elements",
}
XS = "{http://www.w3.org/2001/XMLSchema}"

# Where conftest.py looks for the reference folder. Used only to build the parameter list at
# collection time; the tests receive the folder through the ``reference_dir`` fixture.
_REFERENCE = REFERENCE


def _cases() -> dict[str, bytes]:
    cases: dict[str, bytes] = {}
    for base_id, base in xrpt05_bases(_REFERENCE):
        cases[f"{base_id}/base"] = base
        for mutant_id, data in xrpt05_mutants(base):
            cases[f"{base_id}/{mutant_id}"] = data
    return cases


CASES = load(_cases)


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def our_schema(repo_dir: Path) -> etree.XMLSchema:
    return compile_schema(repo_dir / "schemas" / "medcom" / OUR_SCHEMA)


@pytest.fixture(scope="session")
def official_2014(official_2014_xsd: Path) -> etree.XMLSchema:
    return compile_schema(official_2014_xsd)


@pytest.fixture(scope="module")
def official_xmllint(
    official_2014_xsd: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bool]:
    """All cases through ``xmllint --schema`` (official) in one run."""
    if shutil.which("xmllint") is None:
        pytest.skip("xmllint not installed")
    return xmllint_verdicts(official_2014_xsd, CASES, tmp_path_factory.mktemp("xr0532m"))


# --------------------------------------------------------------------------------------------
# (a) our schema compiles and is in the catalogue
# --------------------------------------------------------------------------------------------


def test_our_schema_compiles(repo_dir: Path) -> None:
    schema = compile_schema(repo_dir / "schemas" / "medcom" / OUR_SCHEMA)
    assert isinstance(schema, etree.XMLSchema)


def test_catalogue_names_xr0532m(repo_dir: Path) -> None:
    catalogue = repo_dir / "schemas" / "medcom" / "catalog.toml"
    entries = tomllib.loads(catalogue.read_text(encoding="utf-8"))["schema"]
    (entry,) = [e for e in entries if e["version_code"] == "XR0532M"]
    assert entry["namespace"] == NS_2014
    assert (entry["letter"], entry["type_code"], entry["file"]) == (
        "MicrobiologyWebReport",
        "XRPT05",
        OUR_SCHEMA,
    )
    assert (catalogue.parent / entry["file"]).is_file()


# --------------------------------------------------------------------------------------------
# (b) same verdict as the official schema, with lxml and with xmllint
# --------------------------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("case_id", params(CASES))
def test_xr0532m_agrees_with_official_lxml(
    case_id: str, our_schema: etree.XMLSchema, official_2014: etree.XMLSchema
) -> None:
    data = CASES[case_id]
    ours, our_error = verdict(our_schema, data)
    official, official_error = verdict(official_2014, data)
    assert ours == official, f"ours: {our_error or 'valid'} | official: {official_error or 'valid'}"


@pytest.mark.reference
@pytest.mark.parametrize("case_id", params(CASES))
def test_xr0532m_agrees_with_official_xmllint(
    case_id: str, our_schema: etree.XMLSchema, official_xmllint: dict[str, bool]
) -> None:
    ours, our_error = verdict(our_schema, CASES[case_id])
    assert ours == official_xmllint[case_id], f"ours: {our_error or 'valid'}"


# --------------------------------------------------------------------------------------------
# (c) the bases and mutants are what they claim to be
# --------------------------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("case_id", params(CASES))
def test_xr0532m_case_label_matches_official(case_id: str, official_2014: etree.XMLSchema) -> None:
    """Bases and ``valid-...`` mutants are valid by the official schema, every other one invalid."""
    official, error = verdict(official_2014, CASES[case_id])
    assert official == expected_valid(case_id), error or "official schema says valid"


@pytest.mark.reference
def test_xr0532m_mutant_sets_are_rich(reference_dir: Path, official_2014: etree.XMLSchema) -> None:
    bases = dict(xrpt05_bases(reference_dir))
    assert set(bases) == BASE_IDS
    for base_id, base in bases.items():
        found = xrpt05_mutants(base)
        ids = [mutant_id for mutant_id, _ in found]
        assert len(ids) == len(set(ids)), f"{base_id}: mutant ids must be unique"
        assert len(found) >= 60, base_id
        invalid = [m for m, data in found if not official_2014.validate(etree.fromstring(data))]
        assert len(invalid) >= 40, base_id
        assert len(found) - len(invalid) >= 20, base_id
    ids = {mutant_id for mutant_id, _ in xrpt05_mutants(bases["urine-culture-ecoli"])}
    for required in (
        "missing-Sender-MedicalSpecialityCode",
        "missing-Sender-FromLabIdentifier",
        "missing-GeneralResultInformation-ReportStatusCode",
        "missing-Examination-ProducerOfLabResult",
        "missing-Sample-SampleReceivedDateTime",
        "missing-Pattern-SusceptibilityInterpretation",
        "enum-Sender-IdentifierCode-lokal_kode",
        "enum-Receiver-IdentifierCode-lokal",
        "valid-enum-Receiver-IdentifierCode-lokal_kode",
        "valid-enum-Receiver-IdentifierCode-amt",
        "enum-ReportStatusCode-komplet",
        "enum-VersionCode-XR0531M",
        "enum-Operator-lig",
        "dropped-ResultStatus-XR0530M",
        "Sender-IdentifierLocal",
        "too-long-ProductionIdentifier-21",
        "too-long-Paragraph-501",
        "valid-empty-Paragraph",
        "too-long-UpperLimit-9",
        "too-long-ReferenceInterval-LowerLimit-9-XR0131K-allows-12",
        "order-PatternEntry-before-Antibiotic",
        "order-SampleReceivedDateTime-before-SamplingDateTime",
        "ns-all-2007",
        "ns-all-2011",
        "date-Sent-2025-13-01",
        "time-Sent-24-00",
        "dup-Sender-FromLabIdentifier",
        "valid-dup-Pattern-Antibiotic",
        "valid-count-Antibiotic-80",
        "count-Antibiotic-81",
        "count-Investigation-91",
        "RefMicroorganism-11",
        "Value-without-Operator",
        "text-Break-in-Paragraph",
        "valid-Consent-false",
        "valid-AlternativeIdentifier",
    ):
        assert required in ids, required


@pytest.mark.reference
def test_every_xr0532m_mutant_changes_its_base() -> None:
    if not CASES:
        pytest.skip(MISSING)

    def c14n(data: bytes) -> str:
        return str(etree.canonicalize(etree.fromstring(data)))

    for case_id, data in CASES.items():
        base_id = case_id.split("/")[0]
        if not case_id.endswith("/base"):
            assert c14n(data) != c14n(CASES[f"{base_id}/base"]), f"{case_id} is a no-op"


@pytest.mark.reference
def test_converted_example_is_xr0532m_and_keeps_its_encoding(reference_dir: Path) -> None:
    data = dict(xrpt05_bases(reference_dir))["6092035412-XR0532M"]
    assert data.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    assert "Antibiotikafølsomhed".encode("iso-8859-1") in data
    root = etree.fromstring(data)
    ns = {"m": NS_2014}
    assert root.xpath("string(m:MicrobiologyWebReport/m:Letter/m:VersionCode)", namespaces=ns) == (
        "XR0532M"
    )
    general = root.find(
        f"{{{NS_2014}}}MicrobiologyWebReport/{{{NS_2014}}}LaboratoryResults/"
        f"{{{NS_2014}}}GeneralResultInformation"
    )
    assert general is not None
    assert general[0].tag == f"{{{NS_2014}}}ReportStatusCode" and general[0].text == "komplet_svar"
    assert general.find(f"{{{NS_2014}}}ResultStatus") is None
    assert len(root.xpath("//m:Examination/m:ProducerOfLabResult", namespaces=ns)) == 2


# --------------------------------------------------------------------------------------------
# (d) code lists
# --------------------------------------------------------------------------------------------


def _code_lists(files: list[Path]) -> set[frozenset[str]]:
    """Every enumeration (named or anonymous) in the files, as a set of values."""
    lists: set[frozenset[str]] = set()
    for path in files:
        for restriction in etree.parse(str(path)).iter(f"{XS}restriction"):
            values = [e.get("value", "") for e in restriction.iterfind(f"{XS}enumeration")]
            if values:
                lists.add(frozenset(values))
    return lists


@pytest.mark.reference
def test_every_code_list_is_an_official_one(repo_dir: Path, official_2014_xsd: Path) -> None:
    """Each code list of ours equals, value for value, a code list of the official 2014/10/08 set
    (VersionCode / TypeCode are single values there via a pattern, and are left to the mutants)."""
    ours = _code_lists(
        [repo_dir / "schemas" / "medcom" / "2014-10-08" / n for n in ("common.xsd", "xr0532m.xsd")]
    )
    official = _code_lists(sorted(official_2014_xsd.parent.rglob("*.xsd")))
    unmatched = [sorted(values) for values in ours if len(values) > 1 and values not in official]
    assert not unmatched, unmatched
