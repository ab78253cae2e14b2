"""Shared test fixtures: where the repository and the official reference material are.

The official MedCom material lives outside the repository (`../shared/reference`); tests that need
it take the `reference_dir` fixture and are skipped cleanly where it is absent.

The whole run's log output is scanned for CPR numbers: a session-wide handler on the root logger
sees every record at DEBUG, and the run fails, naming the tests, when a line holds one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from gateway.privacy import find_cpr, redact

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


# ---------------------------------------------------------------- no CPR number in any log line


class CprScan(logging.Handler):
    """Formats every log record it is given and keeps those that hold a CPR-shaped number
    (`gateway.privacy.find_cpr`), redacted, with the test that logged them. Only the findings
    are kept, not every line: a run formats hundreds of thousands."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.scanned = 0
        self.findings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.scanned += 1
        if find_cpr(line):
            test = os.environ.get("PYTEST_CURRENT_TEST", "outside any test")
            self.findings.append(f"{test}: {redact(line)[:300]}")


_SCAN = CprScan()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Every record of the run, from every logger, at every level, goes through the scan."""
    root = logging.getLogger()
    root.addHandler(_SCAN)
    root.setLevel(logging.DEBUG)


def pytest_sessionfinish(session: pytest.Session) -> None:
    logging.getLogger().removeHandler(_SCAN)
    if _SCAN.findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SCAN.findings:
        terminalreporter.section("CPR numbers in log output", red=True)
        for finding in _SCAN.findings:
            terminalreporter.write_line(finding)


def assert_no_cpr(text: str, where: str) -> None:
    """For output the session's log handler does not see: a subprocess's log file, its stderr,
    a CLI's output. The numbers themselves are not repeated in the failure."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if find_cpr(line)]
    assert not lines, f"{where}: CPR-shaped numbers on lines {lines[:20]}"
