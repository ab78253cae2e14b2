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
    documented = set(
        re.findall(
            r"^\| `([A-Z0-9-]+)` \|", (repo_dir / "docs/issue-codes.md").read_text("utf-8"), re.M
        )
    )
    assert used - documented == set()
    assert documented - used == set()
