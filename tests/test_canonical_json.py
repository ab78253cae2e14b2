"""RFC 8785 canonical JSON: the RFC's own examples, and the invariances it promises."""

from __future__ import annotations

import json
import random
import struct
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.security.canonical_json import (
    CanonicalizationError,
    DuplicateKeyError,
    LossyNumberError,
    canonicalize,
    format_number,
    loads,
)

# RFC 8785 Appendix B: IEEE-754 bit patterns and the text ECMAScript writes for them.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B, ids=[b for b, _ in APPENDIX_B])
def test_numbers_are_written_as_ecmascript_writes_them(bits: str, expected: str) -> None:
    """RFC 8785 Appendix B, row by row."""
    assert format_number(_double(bits)) == expected


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000"], ids=["NaN", "Infinity"])
def test_nan_and_infinity_have_no_canonical_form(bits: str) -> None:
    """RFC 8785 Appendix B: NaN and Infinity are errors."""
    with pytest.raises(CanonicalizationError):
        format_number(_double(bits))


def test_rfc_8785_section_3_2_2_example() -> None:
    """The §3.2.2 sample: whitespace gone, numbers as doubles, strings as JSON.stringify writes."""
    source = (
        '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n'
        '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n'
        '  "literals": [null, true, false]\n}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(loads(source), exact_numbers=False) == expected.encode("utf-8")


def test_rfc_8785_section_3_2_3_sorting_example() -> None:
    """§3.2.3: members sorted by UTF-16 code units, so the emoji (a surrogate pair) sorts
    before U+FB33 although its code point is larger."""
    source = (
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", '
        '"\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", '
        '"\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", '
        '"\\u00f6": "Latin Small Letter O With Diaeresis"}'
    )
    names = list(json.loads(canonicalize(loads(source))))
    assert names == ["\r", "1", "\u0080", "ö", "€", "😀", "\ufb33"]
    assert canonicalize(loads(source)).startswith(b'{"\\r":"Carriage Return","1":"One"')


@pytest.mark.parametrize(
    "text",
    ["333333333.33333329", "0.10000000000000001", "9007199254740993", "1e400", "-1e400"],
    ids=["17-digits", "0.1-plus-1e-17", "2^53+1", "beyond-double", "beyond-double-negative"],
)
def test_numbers_a_double_cannot_carry_are_refused_for_signing(text: str) -> None:
    """Two documents differing in such a number would share a canonical form (and a signature)."""
    with pytest.raises(LossyNumberError):
        canonicalize(loads(f"[{text}]"))


def test_trailing_zeros_are_not_part_of_the_canonical_form() -> None:
    """The documented JCS limit: 8.10, 8.1 and 81e-1 are one double, one canonical text."""
    assert {canonicalize(loads(f"[{text}]")) for text in ("8.10", "8.1", "81e-1")} == {b"[8.1]"}


def test_lone_surrogates_are_refused() -> None:
    """RFC 8785 §3.2.2.2 (I-JSON): strings must be valid Unicode."""
    with pytest.raises(CanonicalizationError):
        canonicalize(loads('["\\ud800"]'))


def test_control_characters_are_escaped_in_lower_case_and_del_is_not() -> None:
    assert canonicalize(["\x1f\x7f\b\t"]) == b'["\\u001f\x7f\\b\\t"]'


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"a": 1, "a": 2}', DuplicateKeyError),
        ("[NaN]", ValueError),
        ("[Infinity]", ValueError),
        ("[1,]", json.JSONDecodeError),
    ],
    ids=["duplicate-name", "NaN", "Infinity", "trailing-comma"],
)
def test_loads_refuses_what_i_json_forbids(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        loads(text)


def test_absurd_nesting_is_refused_not_recursed_into() -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize(loads("[" * 100 + "]" * 100))


@pytest.mark.parametrize(
    "value", [{1: 2}, {"a": object()}, [b"bytes"]], ids=["int-key", "obj", "b"]
)
def test_non_json_values_are_refused(value: object) -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize(value)


# Hypothesis: JSON values as `loads` would give them back (safe integers, finite doubles, text).
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=24,
)


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        names = list(value)
        rng.shuffle(names)
        return {name: _shuffled(value[name], rng) for name in names}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


@given(JSON_VALUES)
def test_canonicalisation_is_idempotent(value: Any) -> None:
    once = canonicalize(value)
    assert canonicalize(loads(once)) == once


@given(JSON_VALUES, st.randoms(use_true_random=False))
def test_member_order_does_not_matter(value: Any, rng: random.Random) -> None:
    assert canonicalize(_shuffled(value, rng)) == canonicalize(value)


@given(JSON_VALUES, st.sampled_from([None, 0, 1, 4]), st.booleans())
def test_whitespace_and_escaping_do_not_matter(
    value: Any, indent: int | None, ascii_only: bool
) -> None:
    """Pretty-printed or compact, `\\u00e9` or `é`: one canonical form."""
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only, separators=(" , ", " : "))
    assert canonicalize(loads(text)) == canonicalize(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_number_reads_back_as_the_same_double(number: float) -> None:
    assert float(format_number(number)) == number


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12
    )
)
def test_decimals_with_few_digits_are_exact(number: Decimal) -> None:
    """Lab values (≤ 15 significant digits) always have an exact canonical form."""
    assert Decimal(format_number(number)) == number
