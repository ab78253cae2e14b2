"""FHIR R4 primitive types in JSON: which JSON type each must be, and its lexical rule.

Regular expressions are those of the R4 specification's datatypes page (§2.24.0.1, "Primitive
Types"); dates and times are also checked against the calendar (`2024-02-30` is refused, as by
the HL7 validator). `check(type, value)` answers with a message, or None when the value fits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_MONTH = r"(0[1-9]|1[0-2])"
_DAY = r"(0[1-9]|[1-2][0-9]|3[0-1])"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"

_PATTERNS: dict[str, re.Pattern[str]] = {
    "date": re.compile(rf"{_YEAR}(-{_MONTH}(-{_DAY})?)?"),
    "dateTime": re.compile(rf"{_YEAR}(-{_MONTH}(-{_DAY}(T{_TIME}{_ZONE})?)?)?"),
    "instant": re.compile(rf"{_YEAR}-{_MONTH}-{_DAY}T{_TIME}{_ZONE}"),
    "time": re.compile(_TIME),
    "code": re.compile(r"[^\s]+(\s[^\s]+)*"),
    "id": re.compile(r"[A-Za-z0-9\-\.]{1,64}"),
    "oid": re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+"),
    "uuid": re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    "base64Binary": re.compile(r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+"),
    "uri": re.compile(r"\S*"),
}
_PATTERNS["url"] = _PATTERNS["canonical"] = _PATTERNS["uri"]

STRING_TYPES = frozenset(
    {
        "string",
        "markdown",
        "code",
        "id",
        "uri",
        "url",
        "canonical",
        "oid",
        "uuid",
        "base64Binary",
        "date",
        "dateTime",
        "instant",
        "time",
        "xhtml",
    }
)
_INT_RANGE = (-(2**31), 2**31 - 1)


def _calendar(value: str) -> str | None:
    if len(value) >= 10:
        try:
            date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
        except ValueError:
            return f"{value[:10]!r} is not a calendar date"
    return None


def _string_checker(fhir_type: str) -> Callable[[Any], str | None]:
    """The check of one string-based type, with its rules looked up once."""
    blank_ok = fhir_type == "xhtml"
    limited = fhir_type in ("string", "markdown")
    pattern = _PATTERNS.get(fhir_type)
    calendar = fhir_type in ("date", "dateTime", "instant")

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"a {fhir_type} must be a JSON string, not {_json_kind(value)}"
        if not blank_ok and not value.strip():
            return f"an empty or blank {fhir_type} is not allowed (ele-1: use no element instead)"
        if limited and len(value) > 1024 * 1024:
            return "a string longer than 1 MiB"
        if pattern is not None and not pattern.fullmatch(value):
            return f"{value[:60]!r} is not a valid {fhir_type}"
        if calendar:
            return _calendar(value)
        return None

    return check


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _integer(minimum: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"an integer must be a JSON number without a fraction, not {_json_kind(value)}"
        if not max(minimum, _INT_RANGE[0]) <= value <= _INT_RANGE[1]:
            return f"{value} is outside {max(minimum, _INT_RANGE[0])}…{_INT_RANGE[1]}"
        return None

    return check


def _boolean(value: Any) -> str | None:
    if not isinstance(value, bool):
        return f"a boolean must be JSON true or false, not {_json_kind(value)}"
    return None


def _decimal(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return f"a decimal must be a JSON number, not {_json_kind(value)}"
    return None


_OTHER: dict[str, Callable[[Any], str | None]] = {
    "boolean": _boolean,
    "integer": _integer(-(2**31)),
    "unsignedInt": _integer(0),
    "positiveInt": _integer(1),
    "decimal": _decimal,
}


def check(fhir_type: str, value: Any) -> str | None:
    """Why `value` is not a valid JSON form of the primitive `fhir_type`, or None."""
    checker = CHECKERS.get(fhir_type)
    return checker(value) if checker else None


# The check of each primitive type with rules (the others accept any value).
CHECKERS: dict[str, Callable[[Any], str | None]] = {
    **{name: _string_checker(name) for name in STRING_TYPES},
    **_OTHER,
}
