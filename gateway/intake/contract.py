"""Checks a decoded record against `schemas/lps-record.schema.json`, the machine form of DESIGN §2.

The schema file is the contract; this module interprets the small, fixed subset of JSON Schema
(2020-12) it uses, so that a check runs in microseconds and each failure becomes an Issue with the
field path and the field's stable `x-rule` code. A schema that uses any other keyword is refused
at load time: the interpreter never silently ignores a rule. `tests/test_contract.py` shows that
this interpreter and the reference `jsonschema` implementation agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from gateway.issues import Issue, IssueType, Severity
from gateway.resources import schemas_dir

_ANNOTATIONS = {
    "$schema",
    "$id",
    "title",
    "description",
    "version",
    "format",
    "x-rule",
    "x-sensitive",
    "x-message",
}
_KEYWORDS = {
    "type",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "required",
    "properties",
    "additionalProperties",
    "oneOf",
    "anyOf",
}

_JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "object": "object",
    "null": "null",
    "number": "number",
    "boolean": "boolean",
    "array": "array",
}


def json_type(value: object) -> str:
    """The JSON Schema type name of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where, which keyword, which stable rule, and what was found."""

    path: str
    keyword: str
    rule: str
    message: str

    def to_issue(self, record: str | None, source: str | None, line: int | None) -> Issue:
        return Issue(
            Severity.ERROR,
            _ISSUE_TYPE.get(self.keyword, IssueType.INVALID),
            self.rule,
            self.message,
            location=self.path or None,
            record=record,
            source=source,
            line=line,
        )


_ISSUE_TYPE = {
    "required": IssueType.REQUIRED,
    "type": IssueType.STRUCTURE,
    "additionalProperties": IssueType.STRUCTURE,
    "maxLength": IssueType.TOO_LONG,
    "enum": IssueType.CODE_INVALID,
    "pattern": IssueType.VALUE,
    "minimum": IssueType.VALUE,
    "minLength": IssueType.REQUIRED,
    "oneOf": IssueType.INVARIANT,
    "anyOf": IssueType.INVARIANT,
}


class Contract:
    """A compiled record schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        _check_supported(schema, "#")
        self.schema = schema
        self.version = str(schema.get("version", ""))
        self._patterns: dict[str, re.Pattern[str]] = {}

    def violations(self, value: object) -> list[Violation]:
        """Every rule the value breaks (empty when it fits the contract)."""
        return list(self._walk(value, self.schema, "", "LPS-SCHEMA", False))

    def integer_fields(self) -> set[str]:
        """Dotted paths of integer fields (CSV cells are text and must be converted)."""
        found: set[str] = set()

        def visit(node: dict[str, Any], path: str) -> None:
            types = node.get("type")
            if types == "integer" or (isinstance(types, list) and "integer" in types):
                found.add(path)
            for name, child in node.get("properties", {}).items():
                visit(child, f"{path}.{name}" if path else name)

        visit(self.schema, "")
        return found

    def _walk(
        self, value: object, node: dict[str, Any], path: str, rule: str, sensitive: bool
    ) -> Iterator[Violation]:
        rule = node.get("x-rule", rule)
        sensitive = sensitive or bool(node.get("x-sensitive"))
        found_type = json_type(value)
        allowed = node.get("type")
        if allowed is not None:
            allowed_list = allowed if isinstance(allowed, list) else [allowed]
            if found_type not in allowed_list and not (
                found_type == "integer" and "number" in allowed_list
            ):
                wanted = " or ".join(t for t in allowed_list if t != "null")
                yield Violation(path, "type", rule, f"expected {wanted}, found {found_type}")
                return
        if "enum" in node and value not in node["enum"]:
            options = ", ".join(str(v) for v in node["enum"] if v is not None)
            shown = "" if sensitive else f", found {value!r}"
            yield Violation(path, "enum", rule, f"expected one of {options}{shown}")
        if isinstance(value, str):
            yield from self._string(value, node, path, rule, sensitive)
        if "minimum" in node and found_type in ("integer", "number") and value < node["minimum"]:
            yield Violation(
                path, "minimum", rule, f"must be at least {node['minimum']}, found {value}"
            )
        if isinstance(value, dict):
            yield from self._object(value, node, path, rule, sensitive)

    def _string(
        self, value: str, node: dict[str, Any], path: str, rule: str, sensitive: bool
    ) -> Iterator[Violation]:
        if len(value) < node.get("minLength", 0):
            yield Violation(path, "minLength", rule, "must not be empty")
        if "maxLength" in node and len(value) > node["maxLength"]:
            yield Violation(
                path,
                "maxLength",
                rule,
                f"at most {node['maxLength']} characters, found {len(value)}",
            )
        if "pattern" in node and not self._pattern(node["pattern"]).search(value):
            shown = "" if sensitive else f"; found {value[:40]!r}"
            yield Violation(
                path, "pattern", rule, f"does not have the required form {node['pattern']}{shown}"
            )

    def _object(
        self, value: dict[str, Any], node: dict[str, Any], path: str, rule: str, sensitive: bool
    ) -> Iterator[Violation]:
        prefix = f"{path}." if path else ""
        properties: dict[str, Any] = node.get("properties", {})
        for name in node.get("required", ()):
            if name not in value:
                child_rule = properties.get(name, {}).get("x-rule", rule)
                yield Violation(
                    f"{prefix}{name}", "required", child_rule, "required field is missing"
                )
        for name, child in value.items():
            if name in properties:
                yield from self._walk(child, properties[name], f"{prefix}{name}", rule, sensitive)
            elif node.get("additionalProperties", True) is False:
                known = ", ".join(properties)
                yield Violation(
                    f"{prefix}{name}",
                    "additionalProperties",
                    "LPS-UNKNOWN-FIELD",
                    f"unknown field; the contract has {known}",
                )
        for keyword in ("oneOf", "anyOf"):
            if keyword not in node:
                continue
            matches = sum(
                not any(True for _ in self._walk(value, sub, path, rule, sensitive))
                for sub in node[keyword]
            )
            if (keyword == "oneOf" and matches != 1) or (keyword == "anyOf" and matches == 0):
                message = node.get("x-message", f"does not satisfy {keyword}")
                yield Violation(path, keyword, rule, message)

    def _pattern(self, pattern: str) -> re.Pattern[str]:
        compiled = self._patterns.get(pattern)
        if compiled is None:
            compiled = self._patterns[pattern] = re.compile(pattern)
        return compiled


def _check_supported(node: object, where: str) -> None:
    if not isinstance(node, dict):
        raise ConfigError(f"record schema {where}: a schema must be an object")
    unknown = set(node) - _KEYWORDS - _ANNOTATIONS
    if unknown:
        raise ConfigError(f"record schema {where}: unsupported keyword(s) {sorted(unknown)}")
    for name, child in node.get("properties", {}).items():
        _check_supported(child, f"{where}/properties/{name}")
    for keyword in ("oneOf", "anyOf"):
        for index, child in enumerate(node.get(keyword, ())):
            _check_supported(child, f"{where}/{keyword}/{index}")
    types = node.get("type", [])
    for name in types if isinstance(types, list) else [types]:
        if name not in _JSON_TYPES:
            raise ConfigError(f"record schema {where}: unknown type {name!r}")


def load_contract(path: Path | None = None) -> Contract:
    """Load and compile a record schema (the default: schemas/lps-record.schema.json)."""
    path = path or schemas_dir() / "lps-record.schema.json"
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read record schema {path}: {exc}") from exc
    return Contract(schema)


@cache
def default_contract() -> Contract:
    """The packaged contract, compiled once per process."""
    return load_contract()
