"""What the schema-agreement tests share: case tables, their labels, and the two oracles.

A case id is `base-id/mutant-id`; bases and `valid-…` mutants are valid by label. Verdicts come
from lxml with a compiled schema and from one `xmllint --schema` run over all cases.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

MISSING = "official reference material not found"


def expected_valid(case_id: str) -> bool:
    """The label a case carries: bases and ``valid-...`` mutants are valid, the rest invalid."""
    name = case_id.split("/", 1)[1]
    return name == "base" or name.startswith("valid-")


def load(build: Callable[[], dict[str, bytes]]) -> dict[str, bytes]:
    """Build a case table, or an empty one when the reference files are not there."""
    try:
        return build()
    except OSError:
        return {}


def params(cases: dict[str, bytes]) -> list[object]:
    """One pytest parameter per case, or one skipped placeholder without the reference files."""
    if not cases:
        return [pytest.param("none/base", id="reference-missing", marks=pytest.mark.skip(MISSING))]
    return [pytest.param(case_id, id=case_id) for case_id in cases]


def compile_schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


def verdict(schema: etree.XMLSchema, data: bytes) -> tuple[bool, str]:
    ok = schema.validate(etree.fromstring(data))
    return ok, "" if ok else str(schema.error_log.last_error)


def xmllint_verdicts(xsd: Path, cases: dict[str, bytes], workdir: Path) -> dict[str, bool]:
    """Validate all cases in one xmllint run (``<file> validates`` / ``fails to validate``)."""
    files: dict[str, str] = {}
    for i, (case_id, data) in enumerate(cases.items()):
        path = workdir / f"case{i:05d}.xml"
        path.write_bytes(data)
        files[str(path)] = case_id
    proc = subprocess.run(
        ["xmllint", "--noout", "--schema", str(xsd), *files],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    verdicts: dict[str, bool] = {}
    for line in proc.stderr.splitlines():
        for suffix, ok in ((" validates", True), (" fails to validate", False)):
            if line.endswith(suffix) and line[: -len(suffix)] in files:
                verdicts[files[line[: -len(suffix)]]] = ok
    missing = set(cases) - set(verdicts)
    assert not missing, f"xmllint gave no verdict for {sorted(missing)[:5]}: {proc.stderr[-2000:]}"
    return verdicts
