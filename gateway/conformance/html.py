"""One standalone HTML page for a conformance run, for the people who certify against it.

The page answers, top to bottom: did the target pass (the verdict and totals), where it failed
(a table per suite), and, for each failing or errored case, what was required, where the
requirement comes from, what was expected and what was found, Issue by Issue side by side, with
the start of the message the target produced. Passed cases are listed compactly per suite and
skipped ones with the reason.

House style of `gateway.htmlpage`: inline CSS, no scripts, nothing fetched from outside the
file. Everything shown comes from suites, targets and vendors' files and is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from gateway import __version__
from gateway.conformance.reports import by_suite, counts
from gateway.conformance.result import CaseResult, Status
from gateway.conformance.run import passed
from gateway.htmlpage import Html, cards, esc, page, table

_CSS = """
.verdict{display:inline-block;font-weight:700;font-size:1.3rem;padding:.3rem 1rem;
border-radius:6px;color:#fff;margin:.6rem 0}
.PASS{background:#1a7f37}.FAIL{background:#cf222e}
.st{font-weight:600;padding:0 .4rem;border-radius:4px;color:#fff;font-size:.85rem}
.st-passed{background:#1a7f37}.st-failed{background:#cf222e}.st-error{background:#9a6700}
.st-skipped{background:#6e7781}
.case{background:#fff;border:1px solid #d0d7de;border-left:6px solid #cf222e;border-radius:6px;
padding:.6rem 1rem;margin:1rem 0}
.case.error{border-left-color:#9a6700}
.case h3{margin:.2rem 0 .5rem;font-size:1.05rem}
.case dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.4rem 0}
.case dt{color:#57606a}.case dd{margin:0}
.problems{color:#cf222e;margin:.4rem 0}
.sides{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem}
.sides h4{margin:.4rem 0 0}.sides table{width:100%}.sides td{overflow-wrap:anywhere}
.sides td:last-child{min-width:7rem}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:.5rem;overflow-x:auto;
white-space:pre-wrap;word-break:break-all;font-size:.8rem;max-height:16rem}
details{margin:.4rem 0}summary{cursor:pointer}
code{font-size:.9em}
"""

_PROBLEM = (Status.FAILED, Status.ERROR)


def html_report(results: list[CaseResult], target: str, started: datetime) -> bytes:
    """The run as one self-contained HTML5 document, UTF-8."""
    total = counts(results)
    verdict = "PASS" if passed(results) else "FAIL"
    grouped = by_suite(results)
    body = [
        "<h1>labgw conformance report</h1>",
        f'<p class="muted">Target <code>{esc(target)}</code> · started '
        f"{esc(started.isoformat(timespec='seconds'))} · labgw {esc(__version__)}</p>",
        f'<div class="verdict {verdict}">{verdict}</div>',
        cards(
            [
                ("cases", total["total"]),
                ("passed", total["passed"]),
                ("failed", total["failed"]),
                ("errors", total["error"]),
                ("skipped", total["skipped"]),
            ]
        ),
        "<h2>Suites</h2>",
        _suites_table(grouped),
        "<h2>Failures and errors</h2>",
        "".join(_problem_case(r) for r in results if r.status in _PROBLEM)
        or '<p class="muted">none: every case that ran passed</p>',
        "<h2>Skipped</h2>",
        table(
            ["Case", "Title", "Why"],
            (
                [r.case.full_id, r.case.title, "; ".join(r.problems)]
                for r in results
                if r.status is Status.SKIPPED
            ),
        ),
        "<h2>Passed</h2>",
        "".join(_passed(name, rs) for name, rs in grouped.items())
        or '<p class="muted">none found</p>',
    ]
    return page(f"labgw conformance: {verdict}", "\n".join(body), _CSS).encode("utf-8")


def _suites_table(grouped: dict[str, list[CaseResult]]) -> Html:
    rows = []
    for name, results in grouped.items():
        tally = counts(results)
        failing = not passed(results)
        rows.append(
            [
                name,
                tally["total"],
                tally["passed"],
                tally["failed"],
                tally["error"],
                tally["skipped"],
                _badge(Status.FAILED if failing else Status.PASSED, "FAIL" if failing else "PASS"),
            ]
        )
    return table(
        ["Suite", "Cases", "Passed", "Failed", "Errors", "Skipped", "Verdict"],
        rows,
        {1, 2, 3, 4, 5},
    )


def _badge(status: Status, text: str | None = None) -> Html:
    return Html(f'<span class="st st-{status.value}">{esc(text or status.value)}</span>')


def _problem_case(result: CaseResult) -> str:
    case = result.case
    seen = result.observation
    expect = case.expect
    details = [
        ("Requirement", case.requirement),
        ("Source", case.source),
        ("Precondition", case.precondition or None),
        ("Target", result.target),
        ("Inputs", ", ".join(f"{n} ({len(d):,} bytes)" for n, d in seen.inputs.items()) or None),
    ]
    expected_issues = table(
        ["Rule", "Location"],
        ([i["rule"], i.get("location", "(any)")] for i in expect.get("issues", [])),
        empty="none" if "issues" in expect or expect["valid"] else "not named: any blocking Issue",
    )
    actual_issues = table(
        ["Severity", "Rule", "Location", "Message"],
        ([i.severity.value, i.rule, i.location, i.message] for i in seen.issues),
        empty="none",
    )
    excerpt = result.excerpt()
    return (
        f'<section class="case {esc(result.status.value)}">'
        f"<h3>{_badge(result.status)} <code>{esc(case.full_id)}</code> {esc(case.title)}</h3>"
        "<dl>"
        + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in details if v is not None)
        + "</dl>"
        '<ul class="problems">' + "".join(f"<li>{esc(p)}</li>" for p in result.problems) + "</ul>"
        '<div class="sides"><div><h4>Expected</h4>'
        f"{table(['What', 'Expected'], _expected_facts(expect))}"
        f"<h4>Expected Issues</h4>{expected_issues}</div>"
        f"<div><h4>Actual</h4>{table(['What', 'Found'], _actual_facts(result))}"
        f"<h4>Actual Issues</h4>{actual_issues}</div></div>"
        + (
            f"<details open><summary>Message excerpt</summary><pre>{esc(excerpt)}</pre></details>"
            if excerpt
            else '<p class="muted">no message was produced</p>'
        )
        + "</section>"
    )


def _expected_facts(expect: dict[str, Any]) -> Iterable[list[Any]]:
    yield ["valid", expect["valid"]]
    for key in ("outcome", "destinations", "messages"):
        if key in expect:
            yield [key, _text(expect[key])]
    for kind in ("xpath", "fhirpath"):
        for assertion in expect.get(kind, []):
            yield [f"{kind} {assertion['path']}", _text(assertion["equals"])]


def _actual_facts(result: CaseResult) -> Iterable[list[Any]]:
    seen = result.observation
    if result.status is Status.ERROR:
        yield ["ran", "no: the case could not be run"]
        return
    yield ["blocking Issues", len(seen.blocking)]
    yield ["outcome", seen.outcome]
    yield ["destinations", _text(list(seen.destinations))]
    yield ["messages", seen.messages]
    for note in seen.notes:
        yield ["note", note]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _passed(name: str, results: list[CaseResult]) -> str:
    done = [r for r in results if r.status is Status.PASSED]
    if not done:
        return ""
    rows = ([r.case.id, r.case.title, r.case.source, f"{r.seconds:.3f} s"] for r in done)
    return (
        f"<details><summary><b>{esc(name)}</b>: {len(done)} passed</summary>"
        f"{table(['Case', 'Title', 'Source', 'Time'], rows)}</details>"
    )
