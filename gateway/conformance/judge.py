"""One judge for every target: how an Observation differs from a case's expectation.

Each difference is a sentence a vendor can act on ("expected LPS-CPR at patient.cpr, not
found"), and an empty list is a pass. Issues match on rule and, where the case names one, on
location; blocking Issues must match exactly, expected non-blocking ones need only be present.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from lxml import etree

from gateway.conformance.result import Observation
from gateway.conformance.suite import Case, Suite
from gateway.issues import Issue
from gateway.xml.safe import parse_untrusted


def judge(suite: Suite, case: Case, seen: Observation) -> list[str]:
    if seen.live:
        wanted = case.live["receipt"]
        if seen.outcome == wanted:
            return []
        return [f"expected the receiver to answer {wanted}, it answered {seen.outcome}"]
    expect = case.expect
    problems: list[str] = []
    valid = not seen.blocking and seen.outcome not in ("rejected",)
    # A vendor's finished message for a records case: the pipeline's Issues are not in it.
    pipeline_issues = seen.one_message and case.records is not None
    if "issues" in expect and not pipeline_issues:
        problems += _issue_problems(expect["issues"], seen.issues)
    elif expect["valid"] and seen.blocking:
        problems += [f"expected no blocking issue, found {_show(i)}" for i in seen.blocking]
    if expect["valid"] != valid and not problems:
        problems.append(f"expected {'valid' if expect['valid'] else 'invalid'}, it was not")
    if seen.one_message:
        problems += _assertion_problems(suite, expect, seen)
        return problems
    if "outcome" in expect and seen.outcome != expect["outcome"]:
        problems.append(f"expected outcome {expect['outcome']}, found {seen.outcome}")
    if "destinations" in expect and sorted(seen.destinations) != sorted(expect["destinations"]):
        problems.append(
            f"expected destinations {sorted(expect['destinations'])}, "
            f"found {sorted(seen.destinations)}"
        )
    if "messages" in expect and seen.messages != expect["messages"]:
        problems.append(f"expected {expect['messages']} message(s), found {seen.messages}")
    for fact, wanted in expect.get("read", {}).items():
        if seen.facts.get(fact) != wanted:
            problems.append(
                f"expected labgw to read {fact} {wanted!r}, it read {seen.facts.get(fact)!r}"
            )
    return problems + _assertion_problems(suite, expect, seen)


def _assertion_problems(suite: Suite, expect: dict[str, Any], seen: Observation) -> list[str]:
    problems = []
    if "xpath" in expect:
        problems += _assertions(expect["xpath"], seen.output, suite.namespaces, xpath=True)
    if "fhirpath" in expect:
        problems += _assertions(expect["fhirpath"], seen.output, suite.namespaces, xpath=False)
    return problems


def _show(issue: Issue) -> str:
    where = f" at {issue.location}" if issue.location else ""
    return f"{issue.rule}{where} ({issue.message})"


def _issue_problems(expected: list[dict[str, str]], actual: Iterable[Issue]) -> list[str]:
    left = list(actual)
    problems = []
    for wanted in expected:
        match = next(
            (
                issue
                for issue in left
                if issue.rule == wanted["rule"]
                and ("location" not in wanted or issue.location == wanted["location"])
            ),
            None,
        )
        if match is None:
            where = f" at {wanted['location']}" if "location" in wanted else ""
            problems.append(f"expected {wanted['rule']}{where}, not found")
        else:
            left.remove(match)
    problems += [f"unexpected {_show(issue)}" for issue in left if issue.blocking]
    return problems


def _assertions(
    assertions: list[dict[str, Any]], output: bytes | None, namespaces: dict[str, str], xpath: bool
) -> list[str]:
    if output is None:
        return [f"{len(assertions)} assertion(s) on the output, but there is no output"]
    problems = []
    try:
        evaluate = _xpath_evaluator(output, namespaces) if xpath else _fhirpath_evaluator(output)
    except ValueError as exc:  # not XML / not JSON: every assertion fails, with the reason
        return [f"{len(assertions)} assertion(s) cannot be evaluated: {exc}"]
    for assertion in assertions:
        try:
            found = evaluate(assertion["path"])
        except Exception as exc:  # a broken path in a case is a failed case, not a crash
            problems.append(f"{assertion['path']}: cannot evaluate: {exc}")
            continue
        if found != _normal(assertion["equals"]):
            problems.append(
                f"{assertion['path']}: expected {assertion['equals']!r}, found {found!r}"
            )
    return problems


def _normal(value: Any) -> Any:
    """Results compared as strings (XPath gives strings and floats, FHIRPath lists)."""
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xpath_evaluator(output: bytes, namespaces: dict[str, str]) -> Any:
    root, issues = parse_untrusted(output)
    if root is None:
        raise ValueError("; ".join(i.message for i in issues))

    def evaluate(path: str) -> Any:
        found = root.xpath(path, namespaces=namespaces)
        if isinstance(found, list):
            values = [
                node.text or "" if isinstance(node, etree._Element) else str(node) for node in found
            ]
            return _normal(values[0] if len(values) == 1 else values)
        return _normal(found)

    return evaluate


def _fhirpath_evaluator(output: bytes) -> Any:
    """FHIRPath over the R4 model (so `value`, `ofType()` and `%resource` resolve), with
    decimals kept as written (`8.10` stays 8.10)."""
    from fhirpathpy import evaluate as fhirpath  # slow to import: only for FHIR suites
    from fhirpathpy.models import models

    resource = json.loads(output, parse_float=Decimal)
    environment = {"resource": resource, "rootResource": resource}

    def evaluate(path: str) -> Any:
        found = fhirpath(resource, path, environment, models["r4"])
        return _normal(found[0] if len(found) == 1 else found)

    return evaluate
