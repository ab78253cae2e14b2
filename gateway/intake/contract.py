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
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from gateway.issues import Issue, IssueType, Severity
from gateway.privacy import redact
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
    "maximum",
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
            redact(self.message),  # it may quote a value: a CPR number in the wrong field
            location=redact(self.path) or None,  # an unknown field is named by its name
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
    "maximum": IssueType.VALUE,
    "minLength": IssueType.REQUIRED,
    "oneOf": IssueType.INVARIANT,
    "anyOf": IssueType.INVARIANT,
}


StringCheck = Callable[[str, str], "Violation | None"]


class _Node:
    """One schema node compiled once: its facts looked up ahead, not per record."""

    __slots__ = (
        "additional",
        "any_of",
        "enum",
        "max_len",
        "maximum",
        "message",
        "min_len",
        "minimum",
        "one_of",
        "path",
        "pattern",
        "pattern_text",
        "properties",
        "required",
        "rule",
        "sensitive",
        "types",
    )

    def __init__(self, node: dict[str, Any], rule: str, sensitive: bool, path: str) -> None:
        self.path = path  # records have no arrays, so every node has one fixed path
        self.rule = node.get("x-rule", rule)
        self.sensitive = sensitive or bool(node.get("x-sensitive"))
        allowed = node.get("type")
        self.types: frozenset[str] | None = (
            None
            if allowed is None
            else frozenset(allowed if isinstance(allowed, list) else [allowed])
        )
        self.enum: list[Any] | None = node.get("enum")
        self.min_len: int = node.get("minLength", 0)
        self.max_len: int | None = node.get("maxLength")
        self.pattern_text: str | None = node.get("pattern")
        self.pattern = ecma_pattern(self.pattern_text) if self.pattern_text else None
        self.minimum: int | float | None = node.get("minimum")
        self.maximum: int | float | None = node.get("maximum")
        prefix = f"{path}." if path else ""
        self.properties = {
            name: _Node(child, self.rule, self.sensitive, f"{prefix}{name}")
            for name, child in node.get("properties", {}).items()
        }
        self.required: tuple[str, ...] = tuple(node.get("required", ()))
        self.additional: bool = node.get("additionalProperties", True) is not False
        self.one_of = [_Node(sub, self.rule, self.sensitive, path) for sub in node.get("oneOf", ())]
        self.any_of = [_Node(sub, self.rule, self.sensitive, path) for sub in node.get("anyOf", ())]
        self.message: str | None = node.get("x-message")

    def check(self, value: object, out: list[Violation], strings: StringCheck | None) -> None:
        path = self.path
        found_type = _TYPE_OF.get(type(value)) or json_type(value)
        if found_type == "number" and isinstance(value, float) and value.is_integer():
            found_type = "integer"
        types = self.types
        if (
            types is not None
            and found_type not in types
            and not (found_type == "integer" and "number" in types)
        ):
            wanted = " or ".join(sorted(t for t in types if t != "null"))
            out.append(Violation(path, "type", self.rule, f"expected {wanted}, found {found_type}"))
            return
        if self.enum is not None and value not in self.enum:
            options = ", ".join(str(v) for v in self.enum if v is not None)
            shown = "" if self.sensitive else f", found {value!r}"
            out.append(Violation(path, "enum", self.rule, f"expected one of {options}{shown}"))
        if found_type == "string":
            self._string(value, out, strings)  # type: ignore[arg-type]
        elif found_type == "object":
            self._object(value, out, strings)  # type: ignore[arg-type]
        elif found_type in ("integer", "number"):
            self._number(value, out)  # type: ignore[arg-type]

    def _number(self, value: float, out: list[Violation]) -> None:
        if self.minimum is not None and value < self.minimum:
            message = f"must be at least {self.minimum}, found {value}"
            out.append(Violation(self.path, "minimum", self.rule, message))
        if self.maximum is not None and value > self.maximum:
            message = f"must be at most {self.maximum}, found {value}"
            out.append(Violation(self.path, "maximum", self.rule, message))

    def _string(self, value: str, out: list[Violation], strings: StringCheck | None) -> None:
        path = self.path
        if len(value) < self.min_len:
            out.append(Violation(path, "minLength", self.rule, "must not be empty"))
        if self.max_len is not None and len(value) > self.max_len:
            out.append(
                Violation(
                    path,
                    "maxLength",
                    self.rule,
                    f"at most {self.max_len} characters, found {len(value)}",
                )
            )
        if self.pattern is not None and not self.pattern.search(value):
            shown = "" if self.sensitive else f"; found {redact(value)[:40]!r}"
            out.append(
                Violation(
                    path,
                    "pattern",
                    self.rule,
                    f"does not have the required form {self.pattern_text}{shown}",
                )
            )
        if strings is not None:
            extra = strings(value, path)
            if extra is not None:
                out.append(extra)

    def _object(
        self, value: dict[str, Any], out: list[Violation], strings: StringCheck | None
    ) -> None:
        path = self.path
        prefix = f"{path}." if path else ""
        properties = self.properties
        for name in self.required:
            if name not in value:
                child = properties.get(name)
                out.append(
                    Violation(
                        f"{prefix}{name}",
                        "required",
                        child.rule if child else self.rule,
                        "required field is missing",
                    )
                )
        for name, item in value.items():
            child = properties.get(name)
            if child is not None:
                child.check(item, out, strings)
            elif not self.additional:
                out.append(
                    Violation(
                        f"{prefix}{name}",
                        "additionalProperties",
                        "LPS-UNKNOWN-FIELD",
                        f"unknown field; the contract has {', '.join(properties)}",
                    )
                )
        for keyword, subs in (("oneOf", self.one_of), ("anyOf", self.any_of)):
            if not subs:
                continue
            matches = sum(not sub.violations(value) for sub in subs)
            if (keyword == "oneOf" and matches != 1) or (keyword == "anyOf" and matches == 0):
                out.append(
                    Violation(
                        path, keyword, self.rule, self.message or f"does not satisfy {keyword}"
                    )
                )

    def violations(self, value: object) -> list[Violation]:
        out: list[Violation] = []
        self.check(value, out, None)
        return out


_TYPE_OF: dict[type, str] = {
    str: "string",
    int: "integer",
    dict: "object",
    list: "array",
    bool: "boolean",
    type(None): "null",
    float: "number",
}


class Contract:
    """A compiled record schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        _check_supported(schema, "#")
        self.schema = schema
        self.version = str(schema.get("version", ""))
        self._root = _Node(schema, "LPS-SCHEMA", False, "")

    def violations(self, value: object, strings: StringCheck | None = None) -> list[Violation]:
        """Every rule the value breaks (empty when it fits the contract).

        Args:
            value: the decoded record.
            strings: an extra check run on every string the schema accepts by type; labgw's
                own rules beyond JSON Schema hook in here, so a record is walked once.
        """
        out: list[Violation] = []
        self._root.check(value, out, strings)
        return out

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


def ecma_pattern(pattern: str) -> re.Pattern[str]:
    r"""Compile a JSON Schema (ECMA-262) pattern with ECMA's meaning in Python's engine.

    Two differences matter for a contract: Python's `$` also matches before a final newline
    (so `"2509479989\n"` would pass `^[0-9]{10}$`), and Python's `\d` matches any Unicode digit.
    Unescaped `$` outside a character class becomes `\Z`, and classes are ASCII-only.
    """
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            out.append(r"\Z")
            continue
        out.append(char)
    return re.compile("".join(out), re.ASCII)


def _compiles(pattern: str) -> bool:
    try:
        ecma_pattern(pattern)
    except re.error:
        return False
    return True


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# The forms of each keyword the interpreter understands; anything else is refused at load.
_FORMS: dict[str, Callable[[object], bool]] = {
    "type": lambda v: (
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(t, str) for t in v))
    ),
    "enum": lambda v: isinstance(v, list),
    "minLength": _is_count,
    "maxLength": _is_count,
    "pattern": lambda v: isinstance(v, str) and _compiles(v),
    "minimum": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "maximum": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "required": lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v),
    "properties": lambda v: isinstance(v, dict),
    "additionalProperties": lambda v: isinstance(v, bool),
    "oneOf": lambda v: isinstance(v, list) and bool(v),
    "anyOf": lambda v: isinstance(v, list) and bool(v),
}


def _check_supported(node: object, where: str) -> None:
    if not isinstance(node, dict):
        raise ConfigError(f"record schema {where}: a schema must be an object")
    unknown = set(node) - _KEYWORDS - _ANNOTATIONS
    if unknown:
        raise ConfigError(f"record schema {where}: unsupported keyword(s) {sorted(unknown)}")
    for keyword, value in node.items():
        form = _FORMS.get(keyword)
        if form is not None and not form(value):
            raise ConfigError(
                f"record schema {where}: {keyword} in a form labgw does not interpret ({value!r})"
            )
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
