"""`labgw validate` on FHIR JSON: detection, --ig, exit codes, the CPR acceptance case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import is_fhir_json, main
from tests.test_fhir_validate import examples_dir, fhir_cache, packages_dir  # noqa: F401

HCO = "homecareobservation-1.2.1"


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_published_homecareobservation_examples_are_valid(
    runner: CliRunner,
    examples_dir: Path,  # noqa: F811
    packages_dir: Path,  # noqa: F811
    fhir_cache: Path,  # noqa: F811
) -> None:
    files = sorted(str(p) for p in (examples_dir / HCO).glob("*.json"))
    result = runner.invoke(main, ["validate", *files, "--ig", str(packages_dir)])
    assert result.exit_code == 0, result.output
    assert f"{len(files)} valid, 0 invalid" in result.output
    assert " error " not in result.output


def test_cpr_12345_is_reported_at_the_cpr_identifier(
    runner: CliRunner,
    examples_dir: Path,  # noqa: F811
    packages_dir: Path,  # noqa: F811
    fhir_cache: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    source = examples_dir / HCO / "Bundle-ReceiveTestExample1.json"
    doc = json.loads(source.read_text(encoding="utf-8"))
    entry = next(
        i for i, e in enumerate(doc["entry"]) if e["resource"]["resourceType"] == "Patient"
    )
    patient = doc["entry"][entry]["resource"]
    index = next(
        i for i, x in enumerate(patient["identifier"]) if x["system"] == "urn:oid:1.2.208.176.1.2"
    )
    patient["identifier"][index]["value"] = "12345"
    bad = tmp_path / "bad-cpr.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(
        main, ["validate", str(bad), "--ig", str(packages_dir), "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    issues = json.loads(result.stdout)["outcome"]["issue"]
    where = f"Bundle.entry[{entry}].resource.identifier[{index}].value"
    cpr = [i for i in issues if i["details"]["coding"][0]["code"] == "FHIR-INVARIANT"]
    assert [i["expression"] for i in cpr] == [[where]]
    assert cpr[0]["details"]["text"].startswith("cpr:")


def test_folders_are_searched_for_json_and_xml(
    runner: CliRunner,
    examples_dir: Path,  # noqa: F811
    packages_dir: Path,  # noqa: F811
    fhir_cache: Path,  # noqa: F811
) -> None:
    result = runner.invoke(
        main, ["validate", str(examples_dir / "messaging-4.0.2"), "--ig", str(packages_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "1 valid, 0 invalid" in result.output


def test_a_missing_ig_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    target.write_text("{}", encoding="utf-8")
    result = runner.invoke(main, ["validate", str(target), "--ig", str(tmp_path / "nope.tgz")])
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("name", "data", "fhir"),
    [
        ("m.json", b"<x/>", True),
        ("m.xml", b'\xef\xbb\xbf \n {"resourceType": "Bundle"}', True),
        ("m.xml", b"<?xml version='1.0'?><Emessage/>", False),
        ("m.txt", b"\t{", True),
    ],
    ids=["json-suffix", "bom-and-brace", "xml", "brace-without-suffix"],
)
def test_fhir_json_is_detected_by_suffix_or_first_character(
    name: str, data: bytes, fhir: bool
) -> None:
    assert is_fhir_json(Path(name), data) is fhir
