"""The conformance suites (DESIGN §9, issue 7): every case as a pytest test with its case id,
run against labgw itself; a vendor's broken folder judged case by case; the transport suites
driven against live reference receivers, conforming and with fault switches on."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.conformance.live import LiveTarget
from gateway.conformance.result import CaseResult, Status
from gateway.conformance.run import FolderTarget, SelfTarget, run_case, run_suites
from gateway.conformance.suite import SUITES, Case, Suite, load_suite, suites_dir
from gateway.conformance.transport import pki_kit
from gateway.delivery.sender import TransportConfig
from gateway.demo import service_toml
from gateway.pki import TestPki
from gateway.receiver.config import Faults
from gateway.routing import Destination
from tests.delivery_harness import Chain, start_chain
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parent.parent
# A suite missing from conformance/ fails test_every_suite_has_25_cases… by name.
LOADED = {
    name: load_suite(name) for name in SUITES if (suites_dir() / name / "manifest.json").is_file()
}
CASES = [(LOADED[case.suite], case) for suite in LOADED.values() for case in suite.cases]
BROKEN = REPO / "tests" / "data" / "vendor-broken"


@pytest.fixture(scope="module")
def target(pki: TestPki) -> SelfTarget:
    """One target for the module: validators and the signing kit are built once."""
    return SelfTarget(pki=pki)


@pytest.mark.parametrize(("suite", "case"), CASES, ids=[case.full_id for _, case in CASES])
def test_case(suite: Suite, case: Case, target: SelfTarget) -> None:
    result = run_case(suite, case, target)
    assert result.status is Status.PASSED, "\n".join(result.problems)


@pytest.mark.parametrize("name", SUITES)
def test_every_suite_has_25_cases_positive_and_negative(name: str) -> None:
    assert name in LOADED, f"no suite conformance/{name}"
    cases = LOADED[name].cases
    assert len(cases) >= 25
    assert any(case.positive for case in cases) and any(not case.positive for case in cases)


def test_a_vendor_folder_fails_exactly_the_broken_cases() -> None:
    expected = json.loads((BROKEN / "expected.json").read_text("utf-8"))
    for name, verdicts in expected.items():
        results = run_suites([LOADED[name]], FolderTarget(BROKEN))
        found: dict[str, list[str]] = {}
        for result in results:
            found.setdefault(result.status.value, []).append(result.case.id)
        for status in ("failed", "passed", "skipped"):
            assert sorted(found.get(status, [])) == sorted(verdicts[status]), (name, status)
        assert "error" not in found, found.get("error")


@dataclass
class Live:
    chain: Chain
    loop: asyncio.AbstractEventLoop  # the receivers' loop: it runs while a case is driven


@pytest.fixture
def live(pki: TestPki, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Live]:
    """LSP and MiBa reference receivers on loopback, with the faults the test asks for."""
    faults: Faults = getattr(request, "param", Faults())
    loop = asyncio.new_event_loop()
    chain = loop.run_until_complete(
        start_chain(pki, tmp_path, start_gateway=False, faults={Destination.LSP: faults})
    )
    try:
        yield Live(chain, loop)
    finally:
        loop.run_until_complete(chain.stop())
        loop.close()


def _live_target(chain: Chain) -> LiveTarget:
    tls = chain.pki["practice-platform-tls"]
    transport = TransportConfig(
        trust=chain.pki.trust_path, client_cert=tls.cert_path, client_key=tls.key_path
    )
    url = chain.receivers[Destination.LSP].url
    return LiveTarget(url, pki_kit(chain.pki), transport, "test")


def _run_live(live: Live) -> dict[str, CaseResult]:
    """In a thread: the receivers' loop must keep running while the target drives them."""
    suites = [LOADED["transport-dgws"], LOADED["transport-fhir"]]
    target = _live_target(live.chain)
    results = live.loop.run_until_complete(asyncio.to_thread(run_suites, suites, target))
    return {result.case.full_id: result for result in results}


def test_the_reference_receiver_passes_the_transport_suites(live: Live) -> None:
    results = _run_live(live)
    failed = {k: r.problems for k, r in results.items() if r.status is not Status.PASSED}
    assert not failed
    assert len(results) == len(LOADED["transport-dgws"].cases) + len(LOADED["transport-fhir"].cases)


@pytest.mark.parametrize(
    ("live", "failing"),
    [
        # positive receipts to invalid messages: the invalid-payload cases fail
        (Faults(accept_invalid=True), {"transport-dgws::receive-tec-27",
                                       "transport-fhir::receive-tec-28"}),
        # the other outcome for a duplicate: the send-twice cases fail
        (Faults(vary_duplicate_receipt=True), {"transport-dgws::receive-tec-28",
                                               "transport-fhir::receive-tec-29"}),
    ],
    ids=["accept-invalid", "vary-duplicate-receipt"],
    indirect=["live"],
)  # fmt: skip
def test_a_receiver_with_a_fault_fails_exactly_the_cases_it_breaks(
    live: Live, failing: set[str]
) -> None:
    results = _run_live(live)
    assert {k for k, r in results.items() if r.status is Status.FAILED} == failing
    assert all(r.status is Status.PASSED for k, r in results.items() if k not in failing)


def test_the_cli_writes_reports_and_exits_1_on_failure(tmp_path: Path) -> None:
    junit, report = tmp_path / "r.xml", tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "conformance", "run", "lsp-xrpt01",
         "--target", str(BROKEN), "--junit", str(junit), "--json", str(report)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    data = json.loads(report.read_text("utf-8"))
    expected = json.loads((BROKEN / "expected.json").read_text("utf-8"))["lsp-xrpt01"]
    assert data["counts"]["failed"] == len(expected["failed"])
    assert junit.read_bytes().startswith(b"<?xml")


def test_the_cli_refuses_a_foreign_evidence_folder_before_running(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", "utf-8")
    cases = [
        (["--evidence", str(tmp_path)], "holds no evidence bundle"),
        (["--sign", str(REPO / "pyproject.toml")], "give --evidence too"),
    ]
    for options, said in cases:
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "conformance", "run", "all", *options],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 2 and said in done.stderr, done.stderr
        assert "passed" not in done.stdout  # refused before any case ran
    assert (tmp_path / "notes.txt").read_text("utf-8") == "mine"


def test_the_readme_gives_each_suites_case_count() -> None:
    text = (REPO / "README.md").read_text("utf-8")
    stated = {m[0]: int(m[1]) for m in re.findall(r"^\| `([a-z0-9-]+)` \| (\d+) \|", text, re.M)}
    assert stated == {name: len(suite.cases) for name, suite in LOADED.items()}


def test_the_cli_drives_a_live_receiver_with_a_service_configuration(
    live: Live, tmp_path: Path
) -> None:
    endpoints = {d.value: r.url for d, r in live.chain.receivers.items()}
    config = tmp_path / "labgw.toml"
    store = f"sqlite:///{tmp_path / 'unused.db'}"
    config.write_text(service_toml(live.chain.pki, 0, store, endpoints, tmp_path / "k"), "utf-8")
    report = tmp_path / "r.json"
    target = ["--target", endpoints["lsp"], "--config", str(config), "--json", str(report)]
    command = [sys.executable, "-m", "gateway", "conformance", "run", "transport-dgws", *target]
    done = live.loop.run_until_complete(
        asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, check=False)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    counts = json.loads(report.read_text("utf-8"))["counts"]
    assert counts["passed"] == len(LOADED["transport-dgws"].cases), counts
