"""`labgw conformance`: list the suites and run them against labgw, a folder or an endpoint."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from gateway.conformance.evidence import write_file
from gateway.conformance.reports import by_suite, counts, json_report, junit_report
from gateway.conformance.result import CaseResult, Status
from gateway.conformance.run import FolderTarget, SelfTarget, Target, passed, run_suites
from gateway.conformance.suite import SUITES, load_suites
from gateway.errors import ExitCode, UsageError

_MARK = {Status.PASSED: "ok  ", Status.FAILED: "FAIL", Status.SKIPPED: "skip", Status.ERROR: "ERR "}


@click.group()
def conformance() -> None:
    """Conformance suites per interface (DESIGN §9), MedCom-style case ids."""


@conformance.command("list")
@click.argument("suites", nargs=-1)
def list_cases(suites: tuple[str, ...]) -> None:
    """The suites with their case counts; with SUITE names, their cases."""
    loaded = load_suites(suites)
    for suite in loaded:
        click.echo(f"{suite.name:<16} {len(suite.cases):>4} cases  {suite.title}")
        if suites:
            for case in suite.cases:
                click.echo(f"  {case.id:<18} {case.title}")


def _target(text: str, config: Path | None) -> Target:
    if text == "self":
        return SelfTarget()
    if text.startswith(("https://", "http://")):
        from gateway.conformance.live import LiveTarget  # the HTTP stack: only when used

        if config is None:
            raise UsageError("--target URL needs --config: the identity and TLS to send with")
        return LiveTarget.from_config(text, config)
    folder = Path(text)
    if not folder.is_dir():
        raise UsageError(f"--target {text}: not self, a folder, or an http(s) URL")
    return FolderTarget(folder)


def _print(results: list[CaseResult], verbose: bool) -> None:
    for result in results:
        if verbose or result.status in (Status.FAILED, Status.ERROR):
            click.echo(f"{_MARK[result.status]} {result.case.full_id}  {result.case.title}")
            if result.status is not Status.PASSED:
                for problem in result.problems:
                    click.echo(f"       {problem}")
    for name, suite_results in by_suite(results).items():
        tally = counts(suite_results)
        click.echo(
            f"{name:<16} {tally['passed']:>4} passed {tally['failed']:>4} failed "
            f"{tally['error']:>3} errors {tally['skipped']:>3} skipped"
        )


@conformance.command("run")
@click.argument("suites", nargs=-1, required=True)
@click.option(
    "--target",
    default="self",
    show_default=True,
    help="self (labgw's own pipeline), a folder of a vendor's files named by case id, "
    "or the https URL of a receiver under test.",
)
@click.option("-k", "patterns", multiple=True, help="Only cases whose id or title matches.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="JUnit XML here.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="One HTML file.")
@click.option(
    "--evidence",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for reports, inputs, outputs and a SHA-256 manifest, for certification.",
)
@click.option(
    "--sign",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --evidence: sign the manifest with this service configuration's identity.",
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Service configuration (TOML) whose identity and TLS a URL target is driven with.",
)
@click.option("-v", "--verbose", is_flag=True, help="A line for every case, not only failures.")
def run(
    suites: tuple[str, ...],
    target: str,
    patterns: tuple[str, ...],
    junit: Path | None,
    json_out: Path | None,
    html: Path | None,
    evidence: Path | None,
    sign: Path | None,
    config: Path | None,
    verbose: bool,
) -> None:
    """Run SUITE… (or `all`) against a target; exit 1 when any case fails."""
    unknown = [s for s in suites if s != "all" and s not in SUITES]
    if unknown:
        raise UsageError(f"no suite {', '.join(unknown)}; there are all, {', '.join(SUITES)}")
    if sign is not None and evidence is None:
        raise UsageError("--sign signs the evidence bundle: give --evidence too")
    if evidence is not None:
        from gateway.conformance.evidence import check_folder

        check_folder(evidence)  # before the run: a refused folder wastes no run
    loaded = load_suites(suites)
    runner = _target(target, config)
    started = datetime.now(UTC)
    results = run_suites(loaded, runner, patterns)
    if not results:
        raise UsageError(f"no case matches {' '.join(patterns)}")
    reports: dict[str, bytes] = {
        "report.junit.xml": junit_report(results, runner.name, started),
        "report.json": json_report(results, runner.name, started),
    }
    if html or evidence:
        from gateway.conformance.html import html_report

        reports["report.html"] = html_report(results, runner.name, started)
    for path, name in (
        (junit, "report.junit.xml"),
        (json_out, "report.json"),
        (html, "report.html"),
    ):
        if path is not None:
            write_file(path, reports[name])
    if evidence is not None:
        from gateway.conformance.evidence import write_evidence

        write_evidence(evidence, results, reports, sign)
    _print(results, verbose)
    if not passed(results):
        sys.exit(ExitCode.INVALID)


@conformance.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--trust",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Pinned roots and issuing CAs (PEM bundle) the signer must chain to.",
)
@click.option(
    "--crl",
    "crls",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CRL to check revocation against (repeatable).",
)
@click.option("--unsigned", is_flag=True, help="Accept a bundle without manifest.json.jws.")
def verify(folder: Path, trust: Path, crls: tuple[Path, ...], unsigned: bool) -> None:
    """Check an evidence bundle: every file against manifest.json, the manifest against its
    signature; exit 1 when anything differs."""
    from gateway.conformance.evidence import verify_evidence
    from gateway.security.trust import TrustStore

    check = verify_evidence(folder, TrustStore.from_files(trust, crls), None, not unsigned)
    for problem in check.problems:
        click.echo(f"  {problem}")
    for issue in check.issues:
        click.echo(f"  {issue}")
    if not check.ok:
        click.echo(f"{folder}: REFUSED")
        sys.exit(ExitCode.INVALID)
    files = len(check.manifest.get("files", []))
    signer = check.signer.subject.rfc4514_string() if check.signer else "nobody (unsigned)"
    click.echo(f"{folder}: {files} files intact, signed by {signer}")
