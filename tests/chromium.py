"""Headless Chromium screenshots of our standalone HTML reports (analyze, conformance): the
proof that a page renders, taken the same way by every test that needs one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def screenshot(page: Path, shot: Path, profile: Path, height: int = 1600) -> bytes:
    """Headless Chromium's PNG of `page` (no network: the page needs none); skips the test
    when Chromium is not installed (.ci/run installs it)."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not installed")
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size=1280,{height}",
            f"--screenshot={shot}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert shot.exists(), "chromium wrote no screenshot"
    return shot.read_bytes()
