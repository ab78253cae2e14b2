"""Hardened JSON parsing for FHIR messages from outside.

A size limit before parsing, a nesting limit (the C parser itself stops runaway nesting with a
RecursionError; the limit then keeps labgw's own recursive walks shallow), UTF-8 only (a BOM is
tolerated), no NaN/Infinity, decimals kept exact (`8.10` stays `Decimal("8.10")`), and
duplicate keys reported where they are instead of silently keeping the last one, as Python's
json does. Failures are Issues, never exceptions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.fhir import rules
from gateway.issues import Issue, IssueType, Severity


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024  # a 99-result message is ~150 KB; attachments make more
    max_depth: int = 48  # JSON nesting; MedCom messages stay under 16


class DuplicateKeys(dict[str, Any]):
    """A JSON object in which at least one key occurred twice (the last value is kept)."""

    duplicates: tuple[str, ...] = ()


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    dupes = []
    for key, _ in pairs:
        if key in seen:
            dupes.append(key)
        seen.add(key)
    flagged = DuplicateKeys(out)
    flagged.duplicates = tuple(dupes)
    return flagged


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _fatal(code: IssueType, rule: str, message: str, line: int | None = None) -> Issue:
    return Issue(Severity.FATAL, code, rule, message, line=line)


_CONTAINERS = frozenset({dict, list, DuplicateKeys})  # the only containers json.loads builds


def nesting_depth(value: Any, stop: int | None = None) -> int:
    """The deepest nesting of arrays and objects in a parsed value (iterative: no recursion).

    Level by level: one pass over each level's children, no per-node bookkeeping. With `stop`,
    counting ends as soon as the depth exceeds it.
    """
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if stop is not None and depth > stop:
            break
        below: list[Any] = []
        for item in level:
            below.extend(item.values() if isinstance(item, dict) else item)
        level = [child for child in below if type(child) in _CONTAINERS]
    return depth


def parse_json(data: bytes, limits: Limits | None = None) -> tuple[Any, list[Issue]]:
    """Parse bytes from outside; return the value (None when unreadable) and the Issues."""
    limits = limits or Limits()
    if len(data) > limits.max_bytes:
        message = f"{len(data)} bytes is more than the {limits.max_bytes} allowed"
        return None, [_fatal(IssueType.TOO_COSTLY, rules.TOO_LARGE, message)]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 (byte {exc.start}): FHIR JSON is always UTF-8"
        return None, [_fatal(IssueType.STRUCTURE, rules.JSON, message)]
    too_deep = False
    try:
        value = json.loads(
            text, object_pairs_hook=_pairs, parse_float=Decimal, parse_constant=_no_constants
        )
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        return None, [_fatal(IssueType.STRUCTURE, rules.JSON, message, exc.lineno)]
    except RecursionError:
        value, too_deep = None, True
    except ValueError as exc:
        return None, [_fatal(IssueType.STRUCTURE, rules.JSON, f"not valid JSON: {exc}")]
    if too_deep or nesting_depth(value, limits.max_depth) > limits.max_depth:
        message = f"JSON nested deeper than {limits.max_depth} levels"
        return None, [_fatal(IssueType.TOO_COSTLY, rules.TOO_DEEP, message)]
    return value, []
