"""The FHIR validator on MedCom's published examples and on mutants of them.

Every published example of the HomeCareObservation 1.2.1, Acknowledgement 2.0.3 and Messaging
4.0.2 packages validates without errors against the packages; every mutant in
tests/fhir_mutants.py is reported with its rule at its place. The messages of Issues are
checked only where a key (an invariant's, a slice's name) is the point. labgw's own lab message
with one defect is judged alike with labgw's profiles alone and with the MedCom packages.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import InvalidMessageError
from gateway.fhir.profiles import CORE_PREFIX, KNOWN_TARGET_TYPES
from gateway.fhir.validate import FhirValidator
from gateway.issues import Issue, Severity
from tests.fhir_mutants import MUTANTS, Mutant, base_document, mutated, put
from tests.records import fhir_validator, record, translate

VALID_SETS = ("homecareobservation-1.2.1", "acknowledgement-2.0.3", "messaging-4.0.2")


@pytest.fixture(scope="session")
def fhir_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private package cache, so tests neither read nor write the user's."""
    folder = tmp_path_factory.mktemp("fhir-cache")
    before = os.environ.get("LABGW_CACHE_DIR")
    os.environ["LABGW_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("LABGW_CACHE_DIR", None)
    else:
        os.environ["LABGW_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def packages_dir(reference_dir: Path) -> Path:
    return reference_dir / "medcom-fhir" / "packages"


@pytest.fixture(scope="session")
def examples_dir(reference_dir: Path) -> Path:
    return reference_dir / "medcom-fhir" / "examples"


@pytest.fixture(scope="session")
def validator(packages_dir: Path, fhir_cache: Path) -> FhirValidator:
    return FhirValidator(ig_paths=[packages_dir])


def _examples() -> list[tuple[str, str]]:
    from tests.conftest import REFERENCE

    root = REFERENCE / "medcom-fhir" / "examples"
    return [
        (folder, path.name)
        for folder in VALID_SETS
        for path in sorted((root / folder).glob("*.json"))
    ] or [("none", "none")]


def blocking(issues: list[Issue]) -> list[str]:
    return [str(issue) for issue in issues if issue.blocking]


@pytest.mark.parametrize(("folder", "name"), _examples(), ids=[f"{f}/{n}" for f, n in _examples()])
def test_published_example_validates_without_errors(
    validator: FhirValidator, examples_dir: Path, folder: str, name: str
) -> None:
    path = examples_dir / folder / name
    if not path.is_file():
        pytest.skip("examples not present")
    issues = list(validator.iter_issues(path.read_bytes(), name))
    assert blocking(issues) == []
    assert not [i for i in issues if i.rule in ("FHIR-INVARIANT-ERROR", "FHIR-PROFILE-UNKNOWN")]


def test_dk_core_3_7_examples_validate_where_their_package_is_present(
    validator: FhirValidator, examples_dir: Path, packages_dir: Path
) -> None:
    """DK-core 3.7.0's own examples: checked against its profiles once that package is given."""
    if not list(packages_dir.glob("hl7.fhir.dk.core-3.7.0*")):
        pytest.skip("hl7.fhir.dk.core 3.7.0 is not among the reference packages")
    for path in sorted((examples_dir / "dk-core-3.7.0").glob("*.json")):
        assert blocking(list(validator.iter_issues(path.read_bytes(), path.name))) == []


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_is_reported_with_its_rule_at_its_place(
    validator: FhirValidator, examples_dir: Path, mutant: Mutant
) -> None:
    issues = [i for i in validator.iter_issues(mutated(examples_dir, mutant)) if i.blocking]
    hits = [
        i
        for i in issues
        if i.rule == mutant.rule and i.location == mutant.location and mutant.says in i.message
    ]
    assert hits, f"expected {mutant.rule} at {mutant.location}; got:\n" + "\n".join(
        map(str, issues)
    )


def test_invariant_messages_name_the_key_and_never_echo_the_value(
    validator: FhirValidator, examples_dir: Path
) -> None:
    """A CPR number must not leak into logs through an Issue message."""
    doc = base_document(examples_dir, "hco")
    doc["entry"][1]["resource"]["identifier"][0]["value"] = "3213779999"
    issues = list(validator.iter_issues(json.dumps(doc).encode()))
    cpr = [i for i in issues if i.rule == "FHIR-INVARIANT" and i.message.startswith("cpr:")]
    assert cpr and all("3213779999" not in str(i) for i in issues)


def test_choice_type_invariant_fires_through_fhirpathpy(
    validator: FhirValidator, examples_dir: Path
) -> None:
    """anchors.md §2.5: `value.ofType(Quantity)` must see valueQuantity (the R4 model is used)."""
    doc = base_document(examples_dir, "hco")
    del doc["entry"][8]["resource"]["valueQuantity"]["unit"]
    keys = [i.message.split(":")[0] for i in validator.iter_issues(json.dumps(doc).encode())]
    assert "dk-core-observation-mandatory-units" in keys


def test_touchstone_fixture_uses_a_code_no_medcom_value_set_has(
    validator: FhirValidator, examples_dir: Path
) -> None:
    """The older Touchstone ack fixture is not valid against Acknowledgement 2.0.3: its
    `message-development-error` is in no published issue-details value set."""
    path = examples_dir / "acknowledgement-testscripts" / "Binary-Ack-AE_C.json"
    issues = [i for i in validator.iter_issues(path.read_bytes()) if i.blocking]
    assert ("FHIR-BINDING", "Bundle.entry[1].resource.issue[0].details.coding[0]") in {
        (i.rule, i.location) for i in issues
    }


def test_unknown_profile_is_a_warning_and_base_rules_still_apply(
    validator: FhirValidator, examples_dir: Path
) -> None:
    doc = base_document(examples_dir, "hco")
    patient = doc["entry"][1]["resource"]
    patient["meta"]["profile"] = ["http://example.org/StructureDefinition/not-loaded"]
    patient["gender"] = "mal"
    issues = list(validator.iter_issues(json.dumps(doc).encode()))
    unknown = [i for i in issues if i.rule == "FHIR-PROFILE-UNKNOWN"]
    assert [(i.severity, i.location) for i in unknown] == [
        (Severity.WARNING, "Bundle.entry[1].resource.meta.profile[0]")
    ]
    assert ("FHIR-BINDING", "Bundle.entry[1].resource.gender") in {
        (i.rule, i.location) for i in issues
    }


def test_relative_reference_to_an_earlier_message_is_only_a_warning(
    validator: FhirValidator, examples_dir: Path
) -> None:
    """Provenance.entity.what points at the previous message's MessageHeader (not bundled)."""
    path = (
        examples_dir
        / "homecareobservation-1.2.1"
        / "Bundle-73996cdc-3192-4d15-bd16-c365ef0085e7.json"
    )
    issues = [i for i in validator.iter_issues(path.read_bytes()) if i.rule == "FHIR-REFERENCE"]
    assert issues and all(i.severity is Severity.WARNING for i in issues)
    assert issues[0].location == "Bundle.entry[7].resource.entity[0].what.reference"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (b"{", "FHIR-JSON"),
        (b'{"resourceType": "Patient", "active": NaN}', "FHIR-JSON"),
        (b"\xff\xfe{}", "FHIR-JSON"),
        (b"[" * 100 + b"]" * 100, "FHIR-TOO-DEEP"),
        (b"[" * 5000 + b"]" * 5000, "FHIR-TOO-DEEP"),
    ],
    ids=["truncated", "nan", "utf16", "deep", "very-deep"],
)
def test_unreadable_json_is_one_fatal_issue(
    validator: FhirValidator, raw: bytes, rule: str
) -> None:
    issues = list(validator.iter_issues(raw, "in.json"))
    assert [(i.rule, i.severity, i.source) for i in issues] == [(rule, Severity.FATAL, "in.json")]


def test_too_large_is_refused_before_parsing(packages_dir: Path, fhir_cache: Path) -> None:
    from gateway.fhir.jsonparse import Limits

    small = FhirValidator(ig_paths=[packages_dir], limits=Limits(max_bytes=100))
    assert [i.rule for i in small.iter_issues(b" " * 101)] == ["FHIR-TOO-LARGE"]


def test_duplicate_keys_are_reported_where_they_are(validator: FhirValidator) -> None:
    raw = b'{"resourceType": "Patient", "id": "a", "active": true, "active": false}'
    issues = list(validator.iter_issues(raw))
    assert [(i.rule, i.location) for i in issues] == [("FHIR-DUPLICATE-KEY", "Patient.active")]


def test_a_bom_is_tolerated(validator: FhirValidator) -> None:
    assert validator.is_valid(b'\xef\xbb\xbf{"resourceType": "Patient", "id": "a"}')


def test_validate_raises_with_every_blocking_issue(
    validator: FhirValidator, examples_dir: Path
) -> None:
    mutant = next(m for m in MUTANTS if m.id == "cpr-too-short")
    data = mutated(examples_dir, mutant)
    assert not validator.is_valid(data)
    with pytest.raises(InvalidMessageError) as caught:
        validator.validate(data, "m.json")
    assert caught.value.issues and all(
        isinstance(i, Issue) and i.blocking for i in caught.value.issues
    )
    validator.validate((examples_dir / "messaging-4.0.2").glob("*.json").__next__().read_bytes())


# --- labgw's own message, with and without the MedCom packages ---------------------------------


@pytest.fixture(scope="module", params=["labgw-profiles-only", "medcom-packages"])
def any_validator(request: pytest.FixtureRequest) -> FhirValidator:
    """labgw's profiles alone (what `labgw validate` has without --ig), or with MedCom's."""
    if request.param == "labgw-profiles-only":
        return fhir_validator()
    return request.getfixturevalue("validator")


@pytest.fixture(scope="module")
def lab_message() -> dict[str, Any]:
    """labgw's valid S1 message: 0 MessageHeader, 1 Provenance, 2 the practice, 3 the databank,
    4 Patient, 5 DiagnosticReport, 6 Observation, 7 Specimen."""
    (message,) = translate(record(), syntax="fhir").messages
    doc: dict[str, Any] = json.loads(message.content)
    assert [e["resource"]["resourceType"] for e in doc["entry"]] == [
        "MessageHeader",
        "Provenance",
        "Organization",
        "Organization",
        "Patient",
        "DiagnosticReport",
        "Observation",
        "Specimen",
    ]
    return doc


def _blocking_at(validator: FhirValidator, doc: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(i.rule, i.location) for i in validator.iter_resource_issues(doc) if i.blocking]


@pytest.mark.parametrize("comparator", ["<", "<=", ">=", ">"])
def test_r4_quantity_comparators_are_accepted(
    any_validator: FhirValidator, lab_message: dict[str, Any], comparator: str
) -> None:
    doc = copy.deepcopy(lab_message)
    doc["entry"][6]["resource"]["valueQuantity"]["comparator"] = comparator
    assert _blocking_at(any_validator, doc) == []


@pytest.mark.parametrize("comparator", ["<<", "=", "lt", "ad"])
def test_a_comparator_outside_r4s_required_code_list_is_a_binding_error(
    any_validator: FhirValidator, lab_message: dict[str, Any], comparator: str
) -> None:
    """Quantity.comparator has a required binding to QuantityComparator (<, <=, >=, >) in R4;
    R4B's models list no codes for it, so base.py spells them out."""
    doc = copy.deepcopy(lab_message)
    doc["entry"][6]["resource"]["valueQuantity"]["comparator"] = comparator
    assert _blocking_at(any_validator, doc) == [
        ("FHIR-BINDING", "Bundle.entry[6].resource.valueQuantity.comparator")
    ]


# (path of the reference, the entry it is pointed at instead). The targets are MedCom profiles
# (messaging organization, messageHeader; core patient): judged by their resource type even when
# the MedCom packages are not loaded.
WRONG_TARGETS = {
    "messageheader-sender-is-patient": ("entry[0].resource.sender", 4),
    "messageheader-receiver-is-patient": ("entry[0].resource.destination[0].receiver", 4),
    "provenance-agent-is-patient": ("entry[1].resource.agent[0].who", 4),
    "provenance-target-is-observation": ("entry[1].resource.target[0]", 6),
    "observation-subject-is-organization": ("entry[6].resource.subject", 2),
}


@pytest.mark.parametrize("case", sorted(WRONG_TARGETS))
def test_a_reference_to_the_wrong_resource_type_is_an_error_with_or_without_the_packages(
    any_validator: FhirValidator, lab_message: dict[str, Any], case: str
) -> None:
    path, entry = WRONG_TARGETS[case]
    doc = copy.deepcopy(lab_message)
    target = doc["entry"][entry]["resource"]
    put(doc, f"{path}.reference", f"{target['resourceType']}/{target['id']}")
    assert _blocking_at(any_validator, doc) == [("FHIR-REFERENCE", f"Bundle.{path}.reference")]


def test_every_target_profile_our_profiles_name_has_a_known_resource_type(repo_dir: Path) -> None:
    """Without the packages the checker knows a MedCom/DK-core target's type from
    KNOWN_TARGET_TYPES only: every targetProfile in schemas/fhir/ that is not R4 core is there."""
    named = set()
    for path in (repo_dir / "schemas" / "fhir").glob("StructureDefinition-*.json"):
        definition = json.loads(path.read_text("utf-8"))
        for element in definition["snapshot"]["element"]:
            for type_ref in element.get("type", ()):
                named.update(type_ref.get("targetProfile", ()))
    foreign = {url.partition("|")[0] for url in named if not url.startswith(CORE_PREFIX)}
    assert foreign and foreign <= set(KNOWN_TARGET_TYPES), foreign - set(KNOWN_TARGET_TYPES)
