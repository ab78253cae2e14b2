"""RFC 8785 JSON Canonicalization Scheme (JCS): the bytes a FHIR signature is computed over.

DESIGN §6: `Bundle.signature` signs "the RFC 8785 canonical JSON of the Bundle without its
signature". The canonical form is the *signature input only*. labgw sends, stores and forwards
its exact JSON (`gateway.fhir_message.json_text`: numbers with the digits they were typed with,
`8.10` stays `8.10`); it never sends canonical JSON.

What JCS keeps and what it drops (RFC 8785 §3.2):

- whitespace and member order are not signed: members are sorted by the UTF-16 code units of
  their names (§3.2.3), with no whitespace between tokens (§3.2.1);
- strings are written as ECMAScript's JSON.stringify writes them (§3.2.2.2): `"` and `\\` escaped,
  U+0008/09/0A/0C/0D as `\\b \\t \\n \\f \\r`, other controls below U+0020 as `\\u00hh`
  (lower-case hex), everything else as the UTF-8 character itself;
- numbers are IEEE-754 doubles written as ECMAScript's Number.prototype.toString writes them
  (§3.2.2.3): the shortest digits that read back as the same double, so `8.10`, `8.1` and `81e-1`
  all canonicalise to `8.1`. **The significance of trailing zeros is not signed**;
- a number that a double cannot carry exactly enough to read back as the same value (more than
  ~15–17 significant digits, or beyond ±1.8e308) would let two different documents share one
  signature; `canonicalize` refuses it (`LossyNumberError`) instead of rounding silently.

Input is a value parsed with `loads` (numbers as `int` and `Decimal`, duplicate member names
refused, RFC 8785 §3.1: I-JSON, RFC 7493) or built in Python (`float` is accepted too).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from json.encoder import encode_basestring  # the C string writer of json.dumps(ensure_ascii=False)
from typing import Any

MAX_DEPTH = 64  # FHIR JSON nests far less; deeper input is refused, never recursed into


class CanonicalizationError(ValueError):
    """The value has no RFC 8785 canonical form (a lone surrogate, NaN, a non-JSON type …)."""


class LossyNumberError(CanonicalizationError):
    """A number that a double cannot carry exactly: its digits would not be covered."""


class DuplicateKeyError(ValueError):
    """A JSON object names one member twice (I-JSON, RFC 7493 §2.3, forbids it)."""


def loads(text: str | bytes) -> Any:
    """Parse JSON for canonicalisation: decimals as `Decimal`, duplicate names refused.

    Raises:
        ValueError: not JSON (`json.JSONDecodeError`), NaN/Infinity, or a duplicate member name
            (`DuplicateKeyError`); RecursionError for absurdly deep nesting.
    """
    return json.loads(
        text,
        parse_float=Decimal,
        parse_constant=_refuse_constant,
        object_pairs_hook=_unique_members,
    )


def canonicalize(value: object, *, exact_numbers: bool = True) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    Args:
        value: a JSON value (see the module docstring).
        exact_numbers: refuse numbers a double cannot carry exactly (the default, for signing);
            False rounds them to the nearest double as RFC 8785 itself does.

    Raises:
        LossyNumberError: a number a double cannot carry exactly.
        CanonicalizationError: a value JCS cannot express (lone surrogate, NaN, non-JSON type,
            non-string member name, nesting deeper than MAX_DEPTH).
    """
    parts: list[str] = []
    _write(value, parts, 0, exact_numbers)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as error:  # RFC 8785 §3.2.2.2: lone surrogates are not allowed
        raise CanonicalizationError("a string holds a lone UTF-16 surrogate") from error


def format_number(number: int | float | Decimal, *, exact: bool = True) -> str:
    """A number as ECMAScript's Number.prototype.toString writes the nearest double.

    Raises:
        LossyNumberError: beyond the double range; with `exact`, also a number whose double
            does not read back as the same value (too many significant digits).
    """
    try:
        double = float(number)
    except OverflowError as error:  # int beyond the double range
        raise LossyNumberError(f"{number} is outside the range of an IEEE-754 double") from error
    if not math.isfinite(double):
        raise (
            CanonicalizationError(f"{number} is not a finite number")
            if isinstance(number, float) or not Decimal(number).is_finite()
            else LossyNumberError(f"{number} is outside the range of an IEEE-754 double")
        )
    text = _ecmascript(double)
    if exact and not isinstance(number, float) and Decimal(text) != Decimal(number):
        raise LossyNumberError(
            f"{number} has more digits than an IEEE-754 double carries (it would be signed as "
            f"{text}); send it as a string or with fewer digits"
        )
    return text


def _ecmascript(double: float) -> str:
    """ECMA-262 Number::toString(x) for radix 10, x finite (RFC 8785 §3.2.2.3)."""
    if double == 0:
        return "0"  # also for -0
    sign = "-" if double < 0 else ""
    # repr() gives the shortest digits that round-trip, as ECMAScript requires (k minimal).
    _, digit_tuple, exponent = Decimal(repr(abs(double))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    k = len(digits)
    n = exponent + k  # the value is 0.digits × 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def _write(value: object, out: list[str], depth: int, exact: bool) -> None:
    if isinstance(value, str):
        out.append(encode_basestring(value))  # JSON.stringify's escapes, see the module docstring
    elif isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise CanonicalizationError(f"JSON nested deeper than {MAX_DEPTH} levels")
        separator = "{"
        for name in _sorted_names(value):
            out.append(separator)
            out.append(encode_basestring(name))
            out.append(":")
            item = value[name]
            if type(item) is str:  # the common case, without a call
                out.append(encode_basestring(item))
            else:
                _write(item, out, depth + 1, exact)
            separator = ","
        out.append("}" if separator == "," else "{}")
    elif isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            raise CanonicalizationError(f"JSON nested deeper than {MAX_DEPTH} levels")
        separator = "["
        for item in value:
            out.append(separator)
            _write(item, out, depth + 1, exact)
            separator = ","
        out.append("]" if separator == "," else "[]")
    elif value is None or isinstance(value, bool):
        out.append("null" if value is None else "true" if value else "false")
    elif isinstance(value, int | float | Decimal):
        out.append(format_number(value, exact=exact))
    else:
        raise CanonicalizationError(f"{type(value).__name__} is not a JSON value")


def _sorted_names(members: dict[Any, Any]) -> list[str]:
    """Member names in RFC 8785 §3.2.3 order: by UTF-16 code units.

    Code-point order (Python's) differs from UTF-16 order only between a character above U+FFFF
    and one in U+E000–U+FFFF, so ASCII names need no re-sort.
    """
    if not all(type(name) is str for name in members):
        raise CanonicalizationError("an object member name that is not a string")
    names = sorted(members)
    if not all(name.isascii() for name in names):
        names.sort(key=_utf16_key)  # big-endian UTF-16 bytes sort as the code units do
    return names


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for key, item in pairs:
        if key in members:
            raise DuplicateKeyError(f"member {key!r} occurs twice in one object")
        members[key] = item
    return members


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
