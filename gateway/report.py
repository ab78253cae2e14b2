"""Issues as people and programs read them: text, FHIR OperationOutcome JSON, JUnit XML.

One shape in (`Verdict`: a named input and its Issues), three shapes out, so `labgw validate`, the
HTTP API and the conformance runner report the same findings the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from gateway.issues import Issue, Severity

RULE_SYSTEM = "urn:labgw:issue-rule"


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    issues: tuple[Issue, ...]

    @property
    def valid(self) -> bool:
        return not any(issue.blocking for issue in self.issues)


def operation_outcome(issues: Sequence[Issue]) -> dict[str, object]:
    """A FHIR R4 OperationOutcome; the labgw rule code goes in issue.details.coding."""
    entries: list[dict[str, object]] = []
    for issue in issues:
        entry: dict[str, object] = {
            "severity": issue.severity.value,
            "code": issue.code.value,
            "details": {
                "coding": [{"system": RULE_SYSTEM, "code": issue.rule}],
                "text": issue.message,
            },
        }
        if issue.location:
            key = "location" if issue.location.startswith("/") else "expression"
            entry[key] = [issue.location]
        where = [
            part
            for part in (
                issue.source,
                f"line {issue.line}" if issue.line else None,
                f"record {issue.record}" if issue.record else None,
            )
            if part
        ]
        if where:
            entry["diagnostics"] = ", ".join(where)
        entries.append(entry)
    if not entries:
        entries.append(
            {
                "severity": "information",
                "code": "informational",
                "details": {"text": "no issues found"},
            }
        )
    return {"resourceType": "OperationOutcome", "issue": entries}


def text_report(verdicts: Sequence[Verdict], *, verbose: bool = False) -> str:
    """One line per input, then its issues; information issues only when `verbose`."""
    lines: list[str] = []
    for verdict in verdicts:
        lines.append(f"{verdict.name}: {'valid' if verdict.valid else 'INVALID'}")
        lines.extend(
            f"  {issue}"
            for issue in verdict.issues
            if verbose or issue.severity is not Severity.INFORMATION
        )
    valid = sum(1 for verdict in verdicts if verdict.valid)
    lines.append(f"{valid} valid, {len(verdicts) - valid} invalid")
    return "\n".join(lines) + "\n"


def junit_report(verdicts: Sequence[Verdict], suite: str = "labgw.validate") -> bytes:
    """JUnit XML: one testcase per input; blocking Issues are failures."""
    failures = sum(1 for verdict in verdicts if not verdict.valid)
    root = etree.Element("testsuites", name=suite, tests=str(len(verdicts)), failures=str(failures))
    node = etree.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(verdicts)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for verdict in verdicts:
        case = etree.SubElement(node, "testcase", classname=suite, name=verdict.name)
        blocking = [issue for issue in verdict.issues if issue.blocking]
        if blocking:
            failure = etree.SubElement(
                case, "failure", type=blocking[0].rule, message=blocking[0].message[:200]
            )
            failure.text = "\n".join(str(issue) for issue in blocking)
        others = [issue for issue in verdict.issues if not issue.blocking]
        if others:
            etree.SubElement(case, "system-out").text = "\n".join(str(i) for i in others)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
