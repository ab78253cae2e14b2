"""Shared test fixtures: where the repository and the official reference material are.

The official MedCom material lives outside the repository (`../shared/reference`); tests that need
it take the `reference_dir` fixture and are skipped cleanly where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REFERENCE = Path(os.environ.get("LABGW_REFERENCE", REPO.parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"official reference material not found at {REFERENCE}")
    return REFERENCE


def official_xsd(reference_dir: Path, generation: str) -> Path:
    """The official EMessage.xsd of one schema generation, or a clean skip."""
    path = reference_dir / "medcom-xml" / "schemas" / generation / "EMessage.xsd"
    if not path.is_file():
        pytest.skip(f"official {generation} schema set not found at {path}")
    return path


@pytest.fixture(scope="session")
def official_2014_xsd(reference_dir: Path) -> Path:
    return official_xsd(reference_dir, "2014-10-08")


@pytest.fixture(scope="session")
def official_2005_xsd(reference_dir: Path) -> Path:
    return official_xsd(reference_dir, "2005-08-07")
