"""The reports of a conformance run and its certification evidence bundle.

Real suites run through the real runner: the packaged `lps-intake` suite, and a suite written
here with a hostile title, a deliberately wrong expectation (so one case fails), a case whose
target breaks (error) and one that does not apply (skipped). The JUnit file is read by an
independent JUnit parser (junitparser), the HTML page is checked for escaping and for anything
it would fetch, and rendered by headless Chromium; the evidence bundle's manifest must match its
files and its detached JWS must verify, and stop verifying after a one-byte change.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from junitparser import Error, Failure, JUnitXml, Skipped

from gateway.cli import main
from gateway.conformance.evidence import (
    MANIFEST,
    SIGNATURE,
    safe_name,
    verify_evidence,
    write_evidence,
)
from gateway.conformance.html import html_report
from gateway.conformance.reports import json_report, junit_report
from gateway.conformance.result import CaseResult, Observation, Status
from gateway.conformance.run import NotApplicable, SelfTarget, run_suites
from gateway.conformance.suite import Case, Suite, load_suite
from gateway.errors import UsageError
from gateway.pki import TestPki
from gateway.security.trust import TrustStore
from tests.chromium import screenshot
from tests.pki_fixture import PASSWORD, pki_session  # noqa: F401  (the `pki` fixture)
from tests.records import record

STARTED = datetime(2025, 6, 3, 8, 0, 5, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & <img src="https://evil.example/x.png">'


class _Target:
    """labgw itself, except that one case breaks the target and one does not apply to it."""

    name = "self"

    def __init__(self) -> None:
        self.inner = SelfTarget()

    def observe(self, suite: Suite, case: Case) -> Observation:
        if case.id == "receive-tec-02":
            raise RuntimeError("the endpoint hung up <b>rudely</b>")
        if case.id == "receive-tec-03":
            raise NotApplicable("judged live only")
        return self.inner.observe(suite, case)


def _suite_folder(root: Path) -> Path:
    """A small intake suite: one pass (hostile title), one wrong expectation, error, skip."""
    folder = root / "lps-intake"
    (folder / "inputs").mkdir(parents=True)
    good = json.dumps(record()).encode()
    (folder / "inputs" / "good.json").write_bytes(good)
    (folder / "inputs" / "bad-cpr.json").write_bytes(
        json.dumps(record(patient__cpr="12345")).encode()
    )

    def case(id_: str, title: str, records: str, expect: dict[str, object]) -> dict[str, object]:
        return {
            "id": id_,
            "title": title,
            "requirement": f"requirement of {id_}",
            "source": f"source of {id_}",
            "precondition": "",
            "records": records,
            "expect": expect,
        }

    manifest = {
        "suite": "lps-intake",
        "version": "1.0.0",
        "title": "reports test suite",
        "kind": "intake",
        "description": "built by tests/test_conformance_reports.py",
        "now": "2025-06-03T08:00:00+00:00",
        "cases": [
            case("S1", HOSTILE, "inputs/good.json", {"valid": True, "outcome": "accepted"}),
            case(
                "S1.A1",
                "a CPR number of the wrong form (expected at the wrong place)",
                "inputs/bad-cpr.json",
                {"valid": False, "issues": [{"rule": "LPS-CPR", "location": "patient.name"}]},
            ),
            case("receive-tec-02", "target breaks", "inputs/good.json", {"valid": True}),
            case("receive-tec-03", "does not apply", "inputs/good.json", {"valid": True}),
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> list[CaseResult]:
    """Passed, failed, error and skipped cases from the runner."""
    root = _suite_folder(tmp_path_factory.mktemp("suites"))
    return run_suites([load_suite("lps-intake", root)], _Target())


@pytest.fixture(scope="module")
def real() -> list[CaseResult]:
    """The packaged lps-intake suite against labgw itself."""
    return run_suites([load_suite("lps-intake")], SelfTarget())


def _by_id(results: list[CaseResult]) -> dict[str, CaseResult]:
    return {r.case.id: r for r in results}


def test_the_mixed_suite_has_every_status(mixed: list[CaseResult]) -> None:
    status = {r.case.id: r.status for r in mixed}
    assert status == {
        "S1": Status.PASSED,
        "S1.A1": Status.FAILED,
        "receive-tec-02": Status.ERROR,
        "receive-tec-03": Status.SKIPPED,
    }
    failed = _by_id(mixed)["S1.A1"]
    assert "expected LPS-CPR at patient.name, not found" in failed.problems
    assert [(i.rule, i.location) for i in failed.observation.issues] == [("LPS-CPR", "patient.cpr")]


@pytest.mark.parametrize("which", ["real", "mixed"])
def test_junit_report_parses_and_its_counts_and_names_match(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    results: list[CaseResult] = request.getfixturevalue(which)
    path = tmp_path / "report.junit.xml"
    path.write_bytes(junit_report(results, "self", STARTED))
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert [s.name for s in suites] == sorted({r.case.suite for r in results})
    (suite,) = suites
    cases = list(suite)
    assert [c.name for c in cases] == [r.case.id for r in results]
    assert suite.tests == len(results)
    for status, attribute in (
        (Status.FAILED, "failures"),
        (Status.ERROR, "errors"),
        (Status.SKIPPED, "skipped"),
    ):
        assert getattr(suite, attribute) == sum(r.status is status for r in results)
    kinds = {Status.FAILED: Failure, Status.ERROR: Error, Status.SKIPPED: Skipped}
    for case, result in zip(cases, results, strict=True):
        if result.status is Status.PASSED:
            assert case.is_passed
        else:
            (outcome,) = case.result
            assert isinstance(outcome, kinds[result.status])
            assert outcome.message == result.problems[0]
    # a whole run: the totals on <testsuites> as well
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (
        suite.tests,
        suite.failures,
        suite.errors,
        suite.skipped,
    )


def test_json_report_carries_expected_and_actual(mixed: list[CaseResult]) -> None:
    data = json.loads(json_report(mixed, "self", STARTED))
    assert data["counts"] == {"total": 4, "passed": 1, "failed": 1, "skipped": 1, "error": 1}
    assert data["suites"]["lps-intake"] == data["counts"]
    assert data["started"] == "2025-06-03T08:00:05+00:00"
    cases = {c["id"]: c for c in data["cases"]}
    assert list(cases) == ["S1", "S1.A1", "receive-tec-02", "receive-tec-03"]
    assert cases["S1"]["title"] == HOSTILE
    failed = cases["S1.A1"]
    assert failed["status"] == "failed"
    assert failed["expected"]["issues"] == [{"rule": "LPS-CPR", "location": "patient.name"}]
    assert [(i["rule"], i["location"]) for i in failed["actual"]["issues"]] == [
        ("LPS-CPR", "patient.cpr")
    ]
    assert cases["receive-tec-02"]["problems"] == [
        "RuntimeError: the endpoint hung up <b>rudely</b>"
    ]


class _Elements(HTMLParser):
    """Every tag with its attributes, and the text of <style>, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


_FETCHING_TAGS = {"script", "link", "img", "iframe", "object", "embed", "video", "audio", "base"}
_FETCHING_ATTRIBUTES = {"src", "href", "srcset", "action", "poster", "data", "background"}


def resources(html: str) -> list[str]:
    """Whatever in the page would make a browser fetch something (or run a script)."""
    parsed = _Elements()
    parsed.feed(html)
    found = [f"<{tag}>" for tag, _ in parsed.tags if tag in _FETCHING_TAGS]
    for tag, attributes in parsed.tags:
        found += [f"{tag} {name}=" for name in attributes if name in _FETCHING_ATTRIBUTES]
        found += [f"{tag} {name}=" for name in attributes if name.startswith("on")]
        style = attributes.get("style") or ""
        found += [f"{tag} style url(" for _ in re.findall(r"url\(|@import", style, re.I)]
    for css in parsed.styles:
        found += re.findall(r"url\(|@import", css, re.I)
    return found


@pytest.mark.parametrize("which", ["real", "mixed"])
def test_html_report_refers_to_nothing_outside_itself(
    which: str, request: pytest.FixtureRequest
) -> None:
    results: list[CaseResult] = request.getfixturevalue(which)
    html = html_report(results, "self", STARTED).decode("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in html
    assert resources(html) == []
    assert "<style>" in html and "<script" not in html


def test_html_report_escapes_a_hostile_title(mixed: list[CaseResult]) -> None:
    html = html_report(mixed, "<target>", STARTED).decode("utf-8")
    assert "<script" not in html and "<img" not in html and "<b>rudely" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in html
    assert "the endpoint hung up &lt;b&gt;rudely&lt;/b&gt;" in html
    assert "<code>&lt;target&gt;</code>" in html


def test_html_report_shows_the_verdict_totals_and_suites(
    mixed: list[CaseResult], real: list[CaseResult]
) -> None:
    html = html_report(mixed, "self", STARTED).decode("utf-8")
    assert '<div class="verdict FAIL">FAIL</div>' in html
    assert "2025-06-03T08:00:05+00:00" in html
    for label in ("cases", "passed", "failed", "errors", "skipped"):
        assert f"</b>{label}</div>" in html
    assert (
        '<tr><td>lps-intake</td><td class="n">4</td><td class="n">1</td><td class="n">1</td>'
        '<td class="n">1</td><td class="n">1</td>'
    ) in html
    assert "judged live only" in html  # the skipped case, with why
    assert "<details><summary><b>lps-intake</b>: 1 passed</summary>" in html
    everything_passed = [r for r in real if r.status is Status.PASSED]
    if everything_passed:
        page = html_report(everything_passed, "self", STARTED).decode("utf-8")
        assert '<div class="verdict PASS">PASS</div>' in page
        assert "none: every case that ran passed" in page


def test_html_report_shows_the_failing_case_expected_against_actual(
    mixed: list[CaseResult],
) -> None:
    html = html_report(mixed, "self", STARTED).decode("utf-8")
    start = html.index('<section class="case failed">')
    section = html[start : html.index("</section>", start)]
    assert "<code>lps-intake::S1.A1</code>" in section
    assert "<dd>requirement of S1.A1</dd>" in section
    assert "<dd>source of S1.A1</dd>" in section
    assert "<li>expected LPS-CPR at patient.name, not found</li>" in section
    assert "<li>unexpected LPS-CPR at patient.cpr" in section
    expected, actual = section.split("<h4>Actual</h4>")
    assert "<h4>Expected Issues</h4><table><tr><th>Rule</th><th>Location</th></tr>" in expected
    assert "<tr><td>LPS-CPR</td><td>patient.name</td></tr>" in expected
    assert "<td>error</td><td>LPS-CPR</td><td>patient.cpr</td><td>does not have" in actual
    assert "bad-cpr.json (" in section  # the input it read
    assert "no message was produced" in section  # intake makes no message to excerpt
    errored = html[html.index('<section class="case error">') :]
    assert "the case could not be run" in errored


def test_html_report_shows_the_message_excerpt(mixed: list[CaseResult]) -> None:
    """A failing case whose target produced a message shows its start, escaped."""
    failed = _by_id(mixed)["S1.A1"]
    message = b'<?xml version="1.0"?><Emessage xmlns="http://rep.oio.dk/medcom.dk/xml/schemas/'
    seen = Observation(issues=failed.observation.issues, outputs={"m.xml": message * 40})
    with_output = CaseResult(failed.case, Status.FAILED, failed.problems, seen, 0.1, "self")
    html = html_report([with_output], "self", STARTED).decode("utf-8")
    assert "<summary>Message excerpt</summary><pre>&lt;?xml version=&quot;1.0&quot;?&gt;" in html
    assert "\n…</pre>" in html  # cut at the excerpt's limit
    assert resources(html) == []


def test_html_report_renders_in_headless_chromium(mixed: list[CaseResult], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_bytes(html_report(mixed, "self", STARTED))
    data = screenshot(page, tmp_path / "shot.png", tmp_path / "profile")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1600)
    assert len(data) > 10_000  # a page with text and colour, not a blank frame


def _reports(results: list[CaseResult]) -> dict[str, bytes]:
    return {
        "report.junit.xml": junit_report(results, "self", STARTED),
        "report.json": json_report(results, "self", STARTED),
        "report.html": html_report(results, "self", STARTED),
    }


def _service_config(folder: Path, pki: TestPki, name: str = "practice-platform") -> Path:
    """A service configuration whose signing identity is a test-PKI PKCS#12 file; the password
    in a file beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
    (folder / "pw").chmod(0o600)  # a secret file: labgw refuses one others may read
    path = folder / "service.toml"
    path.write_text(
        f'[signing]\nidentity = "{pki[name].p12_path}"\npassword_file = "pw"\n', encoding="utf-8"
    )
    return path


def test_evidence_bundle_holds_reports_inputs_and_a_manifest_that_matches(
    mixed: list[CaseResult], tmp_path: Path
) -> None:
    folder = tmp_path / "evidence"
    write_evidence(folder, mixed, _reports(mixed), None)
    manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    assert manifest["format"] == "labgw-conformance-evidence/1"
    assert manifest["labgw_version"]
    assert manifest["target"] == "self"
    assert manifest["started"] == "2025-06-03T08:00:05+00:00"
    assert datetime.fromisoformat(manifest["created"]).tzinfo is not None
    assert manifest["verdict"] == "FAIL"
    assert manifest["counts"]["failed"] == 1
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == {
        "report.junit.xml",
        "report.json",
        "report.html",
        "inputs/lps-intake/S1/good.json",
        "inputs/lps-intake/S1.A1/bad-cpr.json",
    }
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {
        MANIFEST
    }
    assert on_disk == set(listed)
    for name, entry in listed.items():
        data = (folder / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    assert (folder / "report.html").read_bytes() == _reports(mixed)["report.html"]
    check = verify_evidence(folder, None, require_signature=False)
    assert check.ok and check.signer is None
    # unsigned is a problem when a signature is required
    assert verify_evidence(folder, None).problems == [
        f"{SIGNATURE}: missing; the bundle is not signed"
    ]
    # a changed, removed or added file is named
    (folder / "inputs/lps-intake/S1/good.json").write_bytes(b"{}")
    (folder / "report.json").unlink()
    (folder / "extra.txt").write_text("x", encoding="utf-8")
    assert verify_evidence(folder, None, require_signature=False).problems == [
        "report.json: listed, but missing",
        "inputs/lps-intake/S1/good.json: its SHA-256 or size differs from the manifest",
        "extra.txt: in the folder, but not in the manifest",
    ]


def test_evidence_signature_verifies_and_fails_after_a_one_byte_change(
    mixed: list[CaseResult], pki: TestPki, tmp_path: Path
) -> None:
    folder = tmp_path / "evidence"
    write_evidence(folder, mixed, _reports(mixed), _service_config(tmp_path / "cfg", pki))
    trust = TrustStore.from_files(pki.trust_path, [pki.crl_path])
    check = verify_evidence(folder, trust)
    assert check.ok, (check.problems, check.issues)
    assert check.signer == pki["practice-platform"].certificate
    assert check.signed is not None
    assert check.signed.chain == pki["practice-platform"].chain  # x5c: leaf, then its issuer
    assert check.signed.algorithm == "RS256"
    compact = (folder / SIGNATURE).read_text("ascii").strip()
    header, payload, signature = compact.split(".")
    assert payload == "" and header and signature  # RFC 7515 compact, detached payload
    # without a trust store the signature still verifies, with a warning
    untrusted = verify_evidence(folder, None)
    assert untrusted.ok
    assert [(i.rule, i.location) for i in untrusted.issues] == [("JWS-UNTRUSTED", SIGNATURE)]
    # one byte of the manifest changed: the signature no longer covers it
    original = (folder / MANIFEST).read_bytes()
    at = original.index(b'"verdict": "FAIL"') + len(b'"verdict": "')
    (folder / MANIFEST).write_bytes(original[:at] + b"P" + original[at + 1 :])
    broken = verify_evidence(folder, trust)
    assert not broken.ok
    assert [(i.rule, i.location) for i in broken.issues] == [("JWS-SIGNATURE", SIGNATURE)]
    (folder / MANIFEST).write_bytes(original)
    assert verify_evidence(folder, trust).ok
    # another signer's certificate is refused by the pinned trust store
    write_evidence(
        folder, mixed, _reports(mixed), _service_config(tmp_path / "bad", pki, "untrusted")
    )
    assert [i.rule for i in verify_evidence(folder, trust).issues] == ["TRUST-UNTRUSTED"]


def test_evidence_refuses_a_foreign_folder_and_replaces_an_earlier_bundle(
    mixed: list[CaseResult], real: list[CaseResult], tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError, match="holds no evidence bundle"):
        write_evidence(foreign, mixed, _reports(mixed), None)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]

    folder = tmp_path / "evidence"
    write_evidence(folder, mixed, _reports(mixed), None)
    write_evidence(folder, real, _reports(real), None)  # an earlier bundle is replaced whole
    manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    assert manifest["counts"]["total"] == len(real)
    assert not (folder / "inputs/lps-intake/S1/good.json").exists()  # nothing of the first run
    assert verify_evidence(folder, None, require_signature=False).ok

    (folder / "stray.txt").write_text("not listed", encoding="utf-8")
    with pytest.raises(UsageError, match=r"stray\.txt"):
        write_evidence(folder, mixed, _reports(mixed), None)
    assert (folder / MANIFEST).exists()  # refused before anything was touched


def test_evidence_names_cannot_leave_the_folder(mixed: list[CaseResult], tmp_path: Path) -> None:
    case = _by_id(mixed)["S1"].case
    hostile = Case(
        "../../up", "../../x", case.title, case.requirement, case.source, "", case.expect
    )
    seen = Observation(
        inputs={"../../../evil.json": b"1", "/etc/passwd": b"2", "..": b"3", "a\\..\\b": b"4"},
        outputs={"manifest.json": b"5", "": b"6", ".hidden": b"7", "x.xml": b"8"},
    )
    result = CaseResult(hostile, Status.PASSED, [], seen, 0.0, "self")
    folder = tmp_path / "bundle" / "evidence"
    write_evidence(folder, [result], {"../report.json": b"{}"}, None)
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert written == [
        "inputs/up/x/_",
        "inputs/up/x/b",
        "inputs/up/x/evil.json",
        "inputs/up/x/passwd",
        "manifest.json",
        "outputs/up/x/_",
        "outputs/up/x/hidden",
        "outputs/up/x/manifest-2.json",
        "outputs/up/x/x.xml",
        "report.json",
    ]
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == ["evidence"]
    assert verify_evidence(folder, None, require_signature=False).ok
    assert safe_name("..") == "_" and safe_name("a b/c d.xml") == "c_d.xml"


def test_cli_run_writes_the_reports_and_a_signed_bundle_that_verify_accepts(
    pki: TestPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _service_config(tmp_path / "cfg", pki, "practice-platform-ec")
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        main,
        [
            "conformance",
            "run",
            "lps-intake",
            "--target",
            "self",
            "--junit",
            str(out / "r.xml"),
            "--html",
            str(out / "r.html"),
            "--evidence",
            str(out / "evidence"),
            "--sign",
            str(config),
        ],
    )
    assert result.exit_code in (0, 1), result.output  # 1 when a case of the packaged suite fails
    assert (out / "r.html").read_bytes() == (out / "evidence" / "report.html").read_bytes()
    assert (out / "r.xml").read_bytes() == (out / "evidence" / "report.junit.xml").read_bytes()
    verified = runner.invoke(
        main, ["conformance", "verify", str(out / "evidence"), "--trust", str(pki.trust_path)]
    )
    assert verified.exit_code == 0, verified.output
    assert "intact, signed by" in verified.output
    assert "practice-platform" in verified.output
    (out / "evidence" / "report.json").write_bytes(b"{}")
    refused = runner.invoke(
        main, ["conformance", "verify", str(out / "evidence"), "--trust", str(pki.trust_path)]
    )
    assert refused.exit_code == 1
    assert "report.json: its SHA-256 or size differs from the manifest" in refused.output
    assert "REFUSED" in refused.output
