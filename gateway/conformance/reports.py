"""JUnit XML and JSON reports of a conformance run.

JUnit because every CI system reads it (one testsuite per suite, one testcase per case, the case
id as its name); JSON for tools, with the expected and actual outcome of every case.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from gateway.conformance.result import CaseResult, Status


def counts(results: list[CaseResult]) -> dict[str, int]:
    tally = Counter(r.status.value for r in results)
    return {"total": len(results), **{s.value: tally.get(s.value, 0) for s in Status}}


def by_suite(results: list[CaseResult]) -> dict[str, list[CaseResult]]:
    grouped: dict[str, list[CaseResult]] = {}
    for result in results:
        grouped.setdefault(result.case.suite, []).append(result)
    return grouped


def summary(results: list[CaseResult], target: str, started: datetime) -> dict[str, Any]:
    return {
        "tool": "labgw conformance",
        "target": target,
        "started": started.isoformat(timespec="seconds"),
        "counts": counts(results),
        "suites": {name: counts(rs) for name, rs in by_suite(results).items()},
    }


def json_report(results: list[CaseResult], target: str, started: datetime) -> bytes:
    data = summary(results, target, started) | {"cases": [r.to_dict() for r in results]}
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def junit_report(results: list[CaseResult], target: str, started: datetime) -> bytes:
    total = counts(results)
    root = etree.Element(
        "testsuites",
        name=f"labgw conformance ({target})",
        tests=str(total["total"]),
        failures=str(total["failed"]),
        errors=str(total["error"]),
        skipped=str(total["skipped"]),
        time=f"{sum(r.seconds for r in results):.3f}",
        timestamp=started.astimezone(UTC).isoformat(timespec="seconds"),
    )
    for name, suite_results in by_suite(results).items():
        tally = counts(suite_results)
        node = etree.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(tally["total"]),
            failures=str(tally["failed"]),
            errors=str(tally["error"]),
            skipped=str(tally["skipped"]),
            time=f"{sum(r.seconds for r in suite_results):.3f}",
        )
        for result in suite_results:
            case = etree.SubElement(
                node,
                "testcase",
                classname=f"conformance.{name}",
                name=result.case.id,
                time=f"{result.seconds:.3f}",
            )
            text = "\n".join(result.problems)
            if result.status is Status.FAILED:
                failure = etree.SubElement(
                    case, "failure", message=result.problems[0][:300], type="nonconformance"
                )
                failure.text = text
            elif result.status is Status.ERROR:
                error = etree.SubElement(case, "error", message=result.problems[0][:300])
                error.text = text
            elif result.status is Status.SKIPPED:
                etree.SubElement(case, "skipped", message=result.problems[0][:300])
            etree.SubElement(case, "system-out").text = (
                f"{result.case.title}\nrequirement: {result.case.requirement} "
                f"({result.case.source})"
            )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
