"""The documentation keeps up with the code: every rule code used is documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

_PREFIXES = (
    "LPS",
    "MAP",
    "MC",
    "XML",
    "ROUTE",
    "XRPT01",
    "XRPT05",
    "FHIR",
    "CHECK",
    "PKI",
    "TRUST",
    "DGWS",
    "JWS",
    "AQ",
    "RECEIPT",
    "RECEIVER",
    "DELIVERY",
    "SERVICE",
)
PREFIXES = "|".join(_PREFIXES)
RULE = re.compile(rf'"((?:{PREFIXES})-[A-Z0-9-]+|XSD)"')


def test_every_rule_code_is_in_docs_issue_codes(repo_dir: Path) -> None:
    used = set()
    for path in (repo_dir / "gateway").rglob("*.py"):
        used |= set(RULE.findall(path.read_text(encoding="utf-8")))
    schema = json.loads((repo_dir / "schemas/lps-record.schema.json").read_text("utf-8"))
    used |= set(RULE.findall(json.dumps(schema)))
    expected = set()  # what the conformance suites expect must be documented too
    for manifest in (repo_dir / "conformance").glob("*/manifest.json"):
        for case in json.loads(manifest.read_text("utf-8"))["cases"]:
            expected |= {issue["rule"] for issue in case["expect"].get("issues", [])}
    assert expected - used == set(), "suites expect rules labgw never reports"
    documented = set(
        re.findall(
            r"^\| `([A-Z0-9-]+)` \|", (repo_dir / "docs/issue-codes.md").read_text("utf-8"), re.M
        )
    )
    assert used - documented == set()
    assert documented - used == set()


def test_every_test_the_threat_model_names_exists(repo_dir: Path) -> None:
    """docs/security.md names the test behind each control; a renamed test must not leave the
    threat model pointing at nothing."""
    text = (repo_dir / "docs" / "security.md").read_text(encoding="utf-8")
    named = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", text)
    assert named
    for path, function in named:
        source = (repo_dir / path).read_text(encoding="utf-8")
        if function:
            assert re.search(rf"^(async )?def {function}\(", source, re.M), f"{path}::{function}"
