"""Fuzzing in CI: every fuzz target for a small budget, every seed, every regression input.

The long runs are `make fuzz` (`tests/fuzz/run.py`); this file stays well under 90 s on two
cores. Each input runs under `time_limit`, so a hanging input fails instead of hanging the run.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from gateway.security.dgws_verify import verify_envelope
from gateway.security.jws import verify_bundle
from tests.fuzz.targets import (
    FUZZ,
    REGRESSIONS,
    TARGETS,
    VERIFY_AT,
    Hang,
    fhir_validator,
    guarded,
    mutated,
    time_limit,
)

PER_INPUT = 10.0  # seconds; far above any real input, far below a CI job's patience
REGRESSION_FILES = sorted(path for path in REGRESSIONS.iterdir() if path.is_file())


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target_for_a_small_budget(name: str) -> None:
    target = TARGETS[name]
    target.run(b"")  # build the validators outside the deadline

    @settings(
        max_examples=2000,
        deadline=timedelta(seconds=5),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutated(target.seeds()))
    def fuzz(data: bytes) -> None:
        guarded(target, data, PER_INPUT)

    fuzz()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_seed_passes_its_target(name: str) -> None:
    seeds = TARGETS[name].seeds()
    assert seeds, f"tests/fuzz/corpus/{name}/ holds no seeds"
    for seed in seeds:
        guarded(TARGETS[name], seed, PER_INPUT)


def test_the_corpus_stays_small() -> None:
    files = [path for path in (FUZZ / "corpus").rglob("*") if path.is_file()]
    assert len(files) <= 60
    assert sum(path.stat().st_size for path in files) < 2**20


@pytest.mark.parametrize("path", REGRESSION_FILES, ids=[p.name for p in REGRESSION_FILES])
def test_regression_input_is_answered(path: Path) -> None:
    """Each file is named `<target>--<what went wrong>`: an input that once crashed the target."""
    name, _, _ = path.name.partition("--")
    assert name in TARGETS, f"{path.name}: no fuzz target {name!r}"
    guarded(TARGETS[name], path.read_bytes(), PER_INPUT)


def test_dgws_signature_value_that_is_not_base64_is_refused() -> None:
    """A SignatureValue with broken base64 padding raised binascii.Error out of verify_envelope."""
    data = (REGRESSIONS / "dgws_verify--signature-value-not-base64.xml").read_bytes()
    result = verify_envelope(data, now=VERIFY_AT, trust=None)
    assert result.envelope is None
    assert [issue.rule for issue in result.issues] == ["DGWS-SIGNATURE"]
    assert "not base64" in result.issues[0].message


def test_dgws_signer_certificate_with_an_unreadable_key_is_refused() -> None:
    """A certificate whose key bits were damaged parsed, then raised ValueError at public_key()."""
    data = (REGRESSIONS / "dgws_verify--signer-key-unreadable.xml").read_bytes()
    result = verify_envelope(data, now=VERIFY_AT, trust=None)
    assert result.envelope is None
    assert [issue.rule for issue in result.issues] == ["DGWS-NO-CERTIFICATE"]


def test_dgws_signed_xml_that_exc_c14n_refuses_is_refused() -> None:
    """A relative namespace URI in the signed Body raised lxml's C14NError out of verification."""
    data = (REGRESSIONS / "dgws_verify--relative-namespace-uri.xml").read_bytes()
    result = verify_envelope(data, now=VERIFY_AT, trust=None)
    assert result.envelope is None
    assert [issue.rule for issue in result.issues] == ["DGWS-SIGNATURE"]
    assert "exc-c14n" in result.issues[0].message


def test_dgws_signature_value_outside_ascii_is_refused() -> None:
    """A non-ASCII character in SignatureValue raised ValueError out of base64.b64decode."""
    data = (REGRESSIONS / "dgws_verify--signature-value-not-ascii.xml").read_bytes()
    result = verify_envelope(data, now=VERIFY_AT, trust=None)
    assert [issue.rule for issue in result.issues] == ["DGWS-SIGNATURE"]


def test_jws_certificate_with_an_invalid_x509_version_is_refused() -> None:
    """An x5c certificate with version 66 raised cryptography's InvalidVersion out of verify."""
    data = (REGRESSIONS / "jws_verify--certificate-version-invalid.json").read_bytes()
    result = verify_bundle(data, None)
    assert isinstance(result, tuple)
    assert [issue.rule for issue in result] == ["JWS-CERTIFICATE"]


def test_fhir_lone_surrogate_in_a_narrative_is_an_issue() -> None:
    """`"\\ud800"` in a narrative div raised UnicodeEncodeError out of the FHIR validator."""
    data = (REGRESSIONS / "fhir_validate--lone-surrogate-in-narrative.json").read_bytes()
    found = [issue for issue in fhir_validator().iter_issues(data, "fuzz") if issue.blocking]
    assert any("lone surrogate" in issue.message for issue in found), [str(i) for i in found]


def test_a_hanging_input_fails_instead_of_hanging() -> None:
    with pytest.raises(Hang), time_limit(0.2):
        while True:
            pass


def _run(*args: str) -> str:
    """The runner's output; it must exit 0 (no crash)."""
    found = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", "--seconds", "2", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=FUZZ.parent.parent,
    )
    assert found.returncode == 0, found.stdout + found.stderr
    return found.stdout


def test_runner_with_hypothesis_reports_inputs_and_no_crashes() -> None:
    out = _run("--engine", "hypothesis", "--target", "receipt")
    line = next(x for x in out.splitlines() if x.startswith("receipt"))
    assert int(line.split()[1]) > 0 and line.endswith("0 crashes")


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_runner_with_atheris_reports_inputs_and_no_crashes() -> None:
    out = _run("--engine", "atheris", "--target", "jws_verify")
    line = next(x for x in out.splitlines() if x.startswith("jws_verify"))
    assert int(line.split()[1]) > 0 and line.endswith("0 crashes")
