"""The `labgw` command line, run in-process: exit codes, files written, report formats."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from gateway.cli import main

NOW = "2025-12-01T08:00:00+00:00"
DERIVED = "medcom-xml/derived/XRPT01_XR0131K_example_derived.xml"


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_translate_examples_writes_valid_messages_and_a_summary(
    runner: CliRunner, repo_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        main, ["translate", str(repo_dir / "examples/records"), "-o", str(out), "--now", NOW]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    counts = summary["counts"]
    assert counts["input"] == counts["accepted"] + counts["rejected"] + counts["filtered"] == 22
    assert counts["filtered"] == 1 and counts["held"] == 0 and counts["rejected"] == 0
    kinds = {m["kind"] for m in summary["messages"]}
    assert kinds == {"XRPT01", "XRPT05"}
    files = sorted((out / "messages").glob("*.xml"))
    assert len(files) == counts["messages"] == len(summary["messages"])
    check = runner.invoke(main, ["validate", str(out / "messages")])
    assert check.exit_code == 0, check.output
    assert f"{len(files)} valid, 0 invalid" in check.output


def test_translate_is_reproducible_with_a_fixed_time(
    runner: CliRunner, repo_dir: Path, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        runner.invoke(
            main,
            [
                "translate",
                str(repo_dir / "examples/records"),
                "-o",
                str(tmp_path / name),
                "--now",
                NOW,
            ],
        )
    a = {p.name: p.read_bytes() for p in (tmp_path / "a/messages").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b/messages").iterdir()}
    assert a == b and a


def test_translate_rejections_exit_1_and_name_record_field_rule(
    runner: CliRunner, repo_dir: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        main, ["translate", str(repo_dir / "examples/rejected"), "-o", str(tmp_path), "--json"]
    )
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    counts = summary["counts"]
    assert counts["input"] == 7 and counts["rejected"] == 6 and counts["accepted"] == 1
    rejected = {r["record"]: r["issues"] for r in summary["records"] if r["outcome"] == "rejected"}
    cpr = rejected["BAD-0001/v1"][0]
    assert (cpr["rule"], cpr["location"], cpr["line"]) == ("LPS-CPR", "patient.cpr", 1)
    assert "3213779999" not in result.output  # CPR numbers never echoed


def test_translate_missing_input_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["translate", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_translate_rejects_a_bad_now(runner: CliRunner, repo_dir: Path) -> None:
    result = runner.invoke(
        main, ["translate", str(repo_dir / "examples/records"), "--now", "yesterday"]
    )
    assert result.exit_code == 2


def test_validate_acceptance_commands(
    runner: CliRunner, reference_dir: Path, tmp_path: Path
) -> None:
    derived = reference_dir / DERIVED
    assert runner.invoke(main, ["validate", str(derived)]).exit_code == 0
    broken = tmp_path / "no-cpr.xml"
    broken.write_bytes(
        derived.read_bytes().replace(
            b"<CivilRegistrationNumber>1212778221</CivilRegistrationNumber>", b""
        )
    )
    result = runner.invoke(main, ["validate", str(broken)])
    assert result.exit_code == 1
    assert "CivilRegistrationNumber" in result.output


def test_validate_json_is_an_operation_outcome(
    runner: CliRunner, reference_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "bad.xml"
    broken.write_bytes(
        (reference_dir / DERIVED)
        .read_bytes()
        .replace(b"<Value>128</Value>", b"<Value>1234567890123</Value>")
    )
    result = runner.invoke(main, ["validate", "--format", "json", str(broken)])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["valid"] is False
    issue = payload["outcome"]["issue"][0]
    assert payload["outcome"]["resourceType"] == "OperationOutcome"
    assert (issue["severity"], issue["code"]) == ("error", "too-long")
    assert issue["location"] == ["/Emessage/LaboratoryReport/LaboratoryResults/Result[1]/Value"]


def test_validate_junit(runner: CliRunner, reference_dir: Path, tmp_path: Path) -> None:
    good = reference_dir / DERIVED
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<Emessage>")
    result = runner.invoke(main, ["validate", "--format", "junit", str(good), str(bad)])
    assert result.exit_code == 1
    suite = etree.fromstring(result.stdout.encode())
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = suite.find(".//failure")
    assert failure is not None and failure.get("type") == "XML-SYNTAX"


def test_validate_empty_folder_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(main, ["validate", str(tmp_path)]).exit_code == 2


def test_python_dash_m_gateway(repo_dir: Path) -> None:
    python = repo_dir / ".venv/bin/python"
    if not python.exists():
        pytest.skip("no .venv")
    done = subprocess.run(
        [str(python), "-m", "gateway", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "labgw" in done.stdout


def test_translated_examples_pass_xmllint_with_the_official_schema(
    runner: CliRunner, repo_dir: Path, official_2014_xsd: Path, tmp_path: Path
) -> None:
    xmllint = shutil.which("xmllint")
    if xmllint is None:
        pytest.skip("xmllint not installed (Debian libxml2-utils)")
    runner.invoke(
        main, ["translate", str(repo_dir / "examples/records"), "-o", str(tmp_path), "--now", NOW]
    )
    files = sorted(str(p) for p in (tmp_path / "messages").glob("*.xml"))
    assert files
    done = subprocess.run(
        [xmllint, "--noout", "--schema", str(official_2014_xsd), *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("validates") == len(files)
