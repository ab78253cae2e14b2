"""Golden files: the messages rendered from examples/records, byte for byte.

A change to the renderer that alters output shows up here as a diff to review. After an intended
change, regenerate with `LABGW_UPDATE_GOLDEN=1 pytest tests/test_golden.py` and commit the files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.intake import IntakeBatch, read_records
from tests.records import assert_officially_valid, translator

GOLDEN = Path(__file__).parent / "golden"


def rendered(repo_dir: Path) -> dict[str, bytes]:
    batch = IntakeBatch()
    for path in sorted((repo_dir / "examples/records").iterdir()):
        batch.extend(read_records(path.read_bytes(), path.name, now=translator().clock.now()))
    result = translator().translate(batch)
    assert_officially_valid(result)
    return {m.filename: m.content for m in result.messages}


def test_golden_messages(repo_dir: Path) -> None:
    messages = rendered(repo_dir)
    if os.environ.get("LABGW_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        for old in GOLDEN.glob("*.xml"):
            old.unlink()
        for name, content in messages.items():
            (GOLDEN / name).write_bytes(content)
        pytest.skip("golden files rewritten")
    expected = {p.name: p.read_bytes() for p in GOLDEN.glob("*.xml")}
    assert sorted(messages) == sorted(expected)
    for name, content in messages.items():
        assert content == expected[name], f"{name} differs from tests/golden/{name}"
