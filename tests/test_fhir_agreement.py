"""labgw's base R4 verdicts agree with FHIR.js (npm `fhir` 4.12.0), an independent implementation.

FHIR.js knows R4 core structure and R4's required value sets but no profiles, so labgw is run
here without packages (base R4 only). On MedCom's examples and on the structural mutants both
must say valid / invalid alike. The differences are listed, each with its reason, and pinned:
labgw is stricter on R4 JSON rules FHIR.js does not check, and FHIR.js checks base reference
targets that labgw leaves to profiles (R4B's target lists, labgw's source, are wider than R4's).
Skipped when node or `tools/fhirjs/node_modules` is missing (`npm ci --prefix tools/fhirjs`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.fhir.packages import PackageSet
from gateway.fhir.validate import FhirValidator
from tests.fhir_mutants import MUTANTS, mutated
from tests.test_fhir_validate import examples_dir  # noqa: F401  (fixture)

TOOL = Path(__file__).resolve().parent.parent / "tools" / "fhirjs"
EXAMPLE_SETS = ("homecareobservation-1.2.1", "acknowledgement-2.0.3", "messaging-4.0.2")

BOTH_INVALID = (
    "observation-status-missing",
    "observation-code-missing",
    "provenance-without-agent",
    "observation-status-unknown",
    "ack-response-code-unknown",
    "r4-name-use-unknown",
    "quantity-comparator-unknown",
    "unknown-element",
    "single-as-array",
    "array-as-single",
    "decimal-as-string",
    "unknown-resource-type",
)
# R4 rules FHIR.js does not check: one value per choice (§2.6.2.7), no empty objects or strings
# (ele-1), primitive lexical forms (dateTime, id), narrative XHTML (txt-1/2), Bundle rules.
ONLY_LABGW = (
    "two-values",
    "empty-object",
    "empty-string",
    "month-13",
    "time-without-zone",
    "id-with-slash",
    "narrative-script",
    "narrative-blank",
    "messageheader-not-first",
    "fullurl-twice",
    "subject-urn-uuid-missing",
)
# Base R4 reference target types: labgw checks targets where a profile lists them.
ONLY_FHIRJS = ("performer-is-patient", "subject-is-organization")


@pytest.fixture(scope="module")
def fhirjs() -> Path:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (TOOL / "node_modules" / "fhir").is_dir():
        pytest.skip("FHIR.js is not installed (npm ci --prefix tools/fhirjs)")
    return TOOL / "validate.js"


@pytest.fixture(scope="module")
def base_only() -> FhirValidator:
    return FhirValidator(packages=PackageSet([]))


def _fhirjs_verdicts(script: Path, files: list[Path]) -> dict[str, bool]:
    run = subprocess.run(
        ["node", str(script), *map(str, files)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    return {Path(line["file"]).name: bool(line["valid"]) for line in lines}


def test_published_examples_are_valid_for_both(
    fhirjs: Path,
    base_only: FhirValidator,
    examples_dir: Path,  # noqa: F811
) -> None:
    files = [p for s in EXAMPLE_SETS for p in sorted((examples_dir / s).glob("*.json"))]
    theirs = _fhirjs_verdicts(fhirjs, files)
    ours = {p.name: base_only.is_valid(p.read_bytes()) for p in files}
    assert ours == theirs == {p.name: True for p in files}


def test_structural_mutants_get_the_same_verdict_or_a_documented_difference(
    fhirjs: Path,
    base_only: FhirValidator,
    examples_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    chosen = [m for m in MUTANTS if m.id in (*BOTH_INVALID, *ONLY_LABGW, *ONLY_FHIRJS)]
    files = []
    for mutant in chosen:
        path = tmp_path / f"{mutant.id}.json"
        path.write_bytes(mutated(examples_dir, mutant))
        files.append(path)
    theirs = _fhirjs_verdicts(fhirjs, files)
    verdicts = {
        m.id: (base_only.is_valid(p.read_bytes()), theirs[p.name])
        for m, p in zip(chosen, files, strict=True)
    }
    expected = {
        **{i: (False, False) for i in BOTH_INVALID},
        **{i: (False, True) for i in ONLY_LABGW},
        **{i: (True, False) for i in ONLY_FHIRJS},
    }
    assert verdicts == expected
