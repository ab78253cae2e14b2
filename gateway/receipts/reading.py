"""Hardened reading of receipts and of the messages they answer, with receipt rule codes.

The parsing itself is labgw's one hardened XML parser (`gateway.xml.safe`: no DTD, no entities,
no network, size and depth limits) and its one strict JSON parser (`gateway.fhir.jsonparse`:
size and nesting limits, UTF-8 only, no NaN, exact decimals). This module only sets the limits
a receipt deserves and renames their findings to `RECEIPT-*`, so a caller of the receipts
package meets one family of codes whatever went wrong.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lxml import etree

from gateway.fhir import jsonparse
from gateway.fhir import rules as fhir_rules
from gateway.fhir.jsonparse import DuplicateKeys
from gateway.issues import Issue, IssueType, Severity
from gateway.receipts import rules
from gateway.xml import safe

# A receipt is a few KB, a signed SOAP answer under 20 KB; 1 MiB leaves room for a negative
# receipt listing thousands of Issues and still stops a flood before parsing.
RECEIPT_BYTES = 1024 * 1024
RECEIPT_XML = safe.Limits(max_bytes=RECEIPT_BYTES, max_depth=24)  # SOAP + XCTL: under 10 levels
RECEIPT_JSON = jsonparse.Limits(max_bytes=RECEIPT_BYTES, max_depth=24)  # an ack: under 10
# The messages that get receipts are letters and Bundles of up to 99 results: their own limits.
ORIGINAL_XML = safe.Limits()
ORIGINAL_JSON = jsonparse.Limits()

_RENAMED = {
    "XML-TOO-LARGE": rules.TOO_LARGE,
    "XML-SYNTAX": rules.SYNTAX,
    "XML-DTD": rules.UNSAFE,
    "XML-TOO-DEEP": rules.TOO_DEEP,
    fhir_rules.TOO_LARGE: rules.TOO_LARGE,
    fhir_rules.JSON: rules.SYNTAX,
    fhir_rules.TOO_DEEP: rules.TOO_DEEP,
}


def _renamed(issues: list[Issue]) -> tuple[Issue, ...]:
    return tuple(replace(issue, rule=_RENAMED.get(issue.rule, rules.SYNTAX)) for issue in issues)


def read_xml(data: bytes, limits: safe.Limits) -> tuple[etree._Element | None, tuple[Issue, ...]]:
    """The root element of untrusted XML bytes, or None and why not."""
    root, problems = safe.parse_untrusted(data, limits=limits)
    return root, _renamed(problems)


def read_json(
    data: bytes, limits: jsonparse.Limits, *, strict: bool
) -> tuple[Any, tuple[Issue, ...]]:
    """The value of untrusted JSON bytes, or None and why not.

    `strict` also refuses a member name that occurs twice in one object: in a receipt that
    decides a message's fate, "the last one wins" is not a reading anyone should rely on.
    """
    value, problems = jsonparse.parse_json(data, limits)
    if problems:
        return None, _renamed(problems)
    if strict:
        twice = _duplicated(value)
        if twice:
            message = f"a member name occurs twice in one JSON object: {', '.join(twice)}"
            return None, (Issue(Severity.FATAL, IssueType.STRUCTURE, rules.SYNTAX, message),)
    return value, ()


def _duplicated(value: Any) -> list[str]:
    """The names that occur twice in some object of a parsed value (iterative walk)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, DuplicateKeys):
            found.extend(item.duplicates)
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(set(found))
