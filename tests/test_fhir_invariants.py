"""FHIRPath invariants: fastpath agrees with fhirpathpy, native base invariants agree too.

fhirpathpy (with the R4 model and labgw's workarounds) is the reference; `fastpath` compiles
its parse tree to closures for speed and the `NATIVE` table answers a few base invariants in
plain Python. Both must give the very same Issues on every published example and every mutant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fhirpathpy
import pytest

from gateway.fhir.checker import NATIVE
from gateway.fhir.fastpath import compile_fast
from gateway.fhir.fhirpath import Environment, FhirPath
from gateway.fhir.validate import FhirValidator
from tests.fhir_mutants import MUTANTS, mutated
from tests.test_fhir_validate import examples_dir, fhir_cache, packages_dir  # noqa: F401

SETS = ("homecareobservation-1.2.1", "acknowledgement-2.0.3", "messaging-4.0.2")
NO_HOOKS = Environment(lambda ref: None, lambda value, url: False, lambda value, url: False)


def _findings(validator: FhirValidator, data: bytes) -> list[tuple[str, str, str | None, str]]:
    return sorted(
        (i.severity.value, i.rule, i.location, i.message) for i in validator.iter_issues(data)
    )


def test_fastpath_and_fhirpathpy_give_the_same_issues_everywhere(
    packages_dir: Path,  # noqa: F811
    examples_dir: Path,  # noqa: F811
    fhir_cache: Path,  # noqa: F811
) -> None:
    fast = FhirValidator(ig_paths=[packages_dir])
    slow = FhirValidator(ig_paths=[packages_dir])
    slow.checker.fhirpath = FhirPath(fast=False)
    inputs = [p.read_bytes() for s in SETS for p in sorted((examples_dir / s).glob("*.json"))]
    inputs += [mutated(examples_dir, m) for m in MUTANTS]
    differences = [
        index for index, data in enumerate(inputs) if _findings(fast, data) != _findings(slow, data)
    ]
    assert differences == []


def test_every_packaged_constraint_but_four_compiles_to_the_fast_path(
    packages_dir: Path,  # noqa: F811
    fhir_cache: Path,  # noqa: F811
) -> None:
    """Left to fhirpathpy: ele-1, txt-1, txt-2 (native) and dom-3 (descendants(); native when
    there are no contained resources)."""
    validator = FhirValidator(ig_paths=[packages_dir])
    constraints = {
        (constraint["key"], constraint["expression"])
        for package in validator.packages.packages.values()
        for resource in package.resources
        for element in resource.get("snapshot") or ()
        for constraint in element.get("constraint") or ()
    }
    left = {key for key, expression in constraints if compile_fast(expression) is None}
    assert left == {"ele-1", "txt-1", "txt-2", "dom-3"}


OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
CASES: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("ext-1", "Extension", {"url": "u", "valueString": "v"}, OBSERVATION),
    ("ext-1", "Extension", {"url": "u"}, OBSERVATION),
    (
        "ext-1",
        "Extension",
        {"url": "u", "valueString": "v", "extension": [{"url": "w"}]},
        OBSERVATION,
    ),
    (
        "ext-1",
        "Extension",
        {"url": "u", "extension": [{"url": "w", "valueCode": "c"}]},
        OBSERVATION,
    ),
    ("dom-6", "Observation", OBSERVATION, OBSERVATION),
    ("dom-6", "Observation", {**OBSERVATION, "text": {"status": "generated", "div": "<div/>"}}, {}),
    ("dom-2", "Observation", OBSERVATION, OBSERVATION),
    ("dom-4", "Observation", OBSERVATION, OBSERVATION),
    ("dom-5", "Observation", OBSERVATION, OBSERVATION),
]
R4_EXPRESSIONS = {
    "ext-1": "extension.exists() != value.exists()",
    "dom-6": "text.`div`.exists()",
    "dom-2": "contained.contained.empty()",
    "dom-4": "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    "dom-5": "contained.meta.security.empty()",
}
SOURCES = {
    "ext-1": "Extension",
    "dom-6": "DomainResource",
    "dom-2": "DomainResource",
    "dom-4": "DomainResource",
    "dom-5": "DomainResource",
}


@pytest.mark.parametrize(
    ("key", "type_path", "value", "resource"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_native_base_invariants_agree_with_fhirpathpy(
    key: str, type_path: str, value: Any, resource: dict[str, Any]
) -> None:
    native = NATIVE[(key, f"http://hl7.org/fhir/StructureDefinition/{SOURCES[key]}")]
    resource = resource or value
    reference = FhirPath(fast=False).holds(
        R4_EXPRESSIONS[key], value, type_path, resource, NO_HOOKS
    )
    assert native(value, resource) == reference


def test_choice_types_need_the_r4_model(  # anchors.md §2.5
) -> None:
    both = {
        "resourceType": "Observation",
        "dataAbsentReason": {"text": "x"},
        "valueQuantity": {"value": 1},
    }
    expression = "dataAbsentReason.empty() or value.empty()"
    assert fhirpathpy.evaluate(both, expression) == [True]  # the pitfall: silently wrong
    assert FhirPath(fast=False).holds(expression, both, "Observation", both, NO_HOOKS) is False
    assert FhirPath(fast=True).holds(expression, both, "Observation", both, NO_HOOKS) is False
