"""Result values (gateway.values): the exact text is kept, the typed reading never rounds.

DESIGN §2: `45`, `4,5` (Danish decimal comma), `<5`, `>100`, `Positiv` … The gateway keeps the
exact value and derives the typed one (number + comparator, or text); it never rounds.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.values import Comparator, ResultValue, format_decimal, parse_number, parse_value

# --- unit tests -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "number", "decimal_text"),
    [
        pytest.param("45", Decimal("45"), "45", id="integer"),
        pytest.param("4,5", Decimal("4.5"), "4.5", id="danish-decimal-comma"),
        pytest.param("4.5", Decimal("4.5"), "4.5", id="decimal-point"),
        pytest.param("8,10", Decimal("8.10"), "8.10", id="comma-trailing-zero-kept"),
        pytest.param("8.10", Decimal("8.10"), "8.10", id="point-trailing-zero-kept"),
        pytest.param("0,050", Decimal("0.050"), "0.050", id="leading-and-trailing-zeros"),
        pytest.param("-3,2", Decimal("-3.2"), "-3.2", id="negative"),
        pytest.param("+7", Decimal("7"), "7", id="explicit-plus"),
        pytest.param(" 45 ", Decimal("45"), "45", id="surrounding-blanks"),
        pytest.param("100", Decimal("100"), "100", id="no-exponent"),
        pytest.param(
            "123456789012345678901234567890123456789,0123456789",
            Decimal("123456789012345678901234567890123456789.0123456789"),
            "123456789012345678901234567890123456789.0123456789",
            id="more-digits-than-decimal-context-precision",
        ),
    ],
)
def test_plain_numbers_parse_to_the_digits_as_typed(
    raw: str, number: Decimal, decimal_text: str
) -> None:
    value = parse_value(raw)
    assert value.raw == raw
    assert value.is_numeric
    assert value.comparator is None
    assert value.number == number
    assert value.number is not None
    assert value.number.as_tuple() == number.as_tuple(), "digits (and trailing zeros) as typed"
    assert value.decimal_text() == decimal_text
    assert parse_number(raw) == number


@pytest.mark.parametrize(
    ("raw", "comparator", "number"),
    [
        pytest.param("<5", Comparator.LT, Decimal("5"), id="less-than"),
        pytest.param(">100", Comparator.GT, Decimal("100"), id="greater-than"),
        pytest.param("<0,5", Comparator.LT, Decimal("0.5"), id="less-than-decimal-comma"),
        pytest.param(">2.50", Comparator.GT, Decimal("2.50"), id="greater-than-trailing-zero"),
        pytest.param("< 5", Comparator.LT, Decimal("5"), id="blank-after-comparator"),
        pytest.param(" >100 ", Comparator.GT, Decimal("100"), id="surrounding-blanks"),
    ],
)
def test_comparators(raw: str, comparator: Comparator, number: Decimal) -> None:
    value = parse_value(raw)
    assert value.raw == raw
    assert value.comparator is comparator
    assert value.number == number
    assert value.number is not None
    assert value.number.as_tuple() == number.as_tuple()
    assert parse_number(raw) is None, "parse_number reads plain numbers only"


def test_comparator_values_are_the_xrpt01_operators() -> None:
    assert Comparator.LT.value == "<"
    assert Comparator.GT.value == ">"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("Positiv", id="positiv"),
        pytest.param("Negativ", id="negativ"),
        pytest.param("1+", id="stix-1plus"),
        pytest.param("neg", id="neg"),
        pytest.param("Ingen vækst", id="taxon-danish-letters"),
        pytest.param("4,5,6", id="two-decimal-marks"),
        pytest.param("1.000,5", id="thousands-separator"),
        pytest.param("5.", id="trailing-decimal-mark"),
        pytest.param(",5", id="leading-decimal-mark"),
        pytest.param("4 5", id="inner-blank"),
        pytest.param("<<5", id="double-comparator"),
        pytest.param("5<", id="comparator-after"),
        pytest.param("<", id="comparator-alone"),
        pytest.param("<=5", id="less-or-equal-not-supported"),
        pytest.param("1e3", id="exponent-is-text"),
        pytest.param("1E3", id="exponent-upper-is-text"),
        pytest.param("NaN", id="nan-is-text"),
        pytest.param("Infinity", id="infinity-is-text"),
        pytest.param("  Positiv \t", id="blanks-around-text"),
    ],
)
def test_text_results_stay_text(raw: str) -> None:
    value = parse_value(raw)
    assert value == ResultValue(raw=raw)
    assert not value.is_numeric
    assert value.number is None
    assert value.comparator is None
    assert value.text == raw.strip()
    assert parse_number(raw) is None
    with pytest.raises(ValueError):
        value.decimal_text()


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param(" ", id="space"),
        pytest.param("\t\n\r ", id="tab-newline"),
        pytest.param("\u00a0", id="no-break-space"),
    ],
)
def test_blank_value_raises(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_value(raw)
    with pytest.raises(ValueError):
        parse_number(raw)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        pytest.param(Decimal("1E+2"), "100", id="positive-exponent"),
        pytest.param(Decimal("1E-7"), "0.0000001", id="negative-exponent"),
        pytest.param(Decimal("8.10"), "8.10", id="trailing-zero-kept"),
        pytest.param(Decimal("0E-3"), "0.000", id="zero-with-places"),
        pytest.param(Decimal("-4.5"), "-4.5", id="negative"),
        pytest.param(Decimal("12345678901234567890123456789012.5"), None, id="beyond-precision"),
    ],
)
def test_format_decimal_plain_notation(number: Decimal, text: str | None) -> None:
    shown = format_decimal(number)
    if text is not None:
        assert shown == text
    assert "e" not in shown.lower()
    assert Decimal(shown) == number


# --- property tests -------------------------------------------------------------------------

_digits = st.text(alphabet="0123456789", min_size=1, max_size=40)


@st.composite
def typed_decimals(draw: st.DrawFn) -> tuple[str, str]:
    """A decimal as a practice might type it, and the same number written with `.`.

    Returns (typed, dotted): `typed` uses `,` or `.` as decimal mark, maybe a sign.
    """
    sign = draw(st.sampled_from(["", "-", "+"]))
    whole = draw(_digits)
    fraction = draw(st.none() | _digits)
    mark = draw(st.sampled_from([",", "."]))
    typed = sign + whole + (mark + fraction if fraction is not None else "")
    dotted = sign + whole + ("." + fraction if fraction is not None else "")
    return typed, dotted


def _plain(dotted: str) -> str:
    """How a typed number reads back in plain notation: no `+`, no superfluous leading zeros."""
    sign = "-" if dotted.startswith("-") else ""
    body = dotted.lstrip("+-")
    whole, _, fraction = body.partition(".")
    whole = whole.lstrip("0") or "0"
    return sign + whole + ("." + fraction if fraction else "")


@given(typed_decimals())
def test_comma_and_point_give_the_same_decimal_digits(pair: tuple[str, str]) -> None:
    typed, dotted = pair
    value = parse_value(typed)
    expected = Decimal(dotted)
    assert value.raw == typed
    assert value.comparator is None
    assert value.number is not None
    assert value.number.as_tuple() == expected.as_tuple(), "same digits, trailing zeros kept"
    assert value.decimal_text() == _plain(dotted)
    assert parse_number(typed) == expected
    other = typed.replace(",", ".") if "," in typed else typed.replace(".", ",")
    assert parse_value(other).number.as_tuple() == expected.as_tuple()  # type: ignore[union-attr]


@given(
    typed_decimals(),
    st.sampled_from(["<", ">"]),
    st.sampled_from(["", " "]),
    st.sampled_from(["", " ", "\t"]),
)
def test_comparator_prefix_keeps_the_number(
    pair: tuple[str, str], mark: str, gap: str, pad: str
) -> None:
    typed, dotted = pair
    raw = f"{pad}{mark}{gap}{typed}{pad}"
    value = parse_value(raw)
    assert value.raw == raw
    assert value.comparator is Comparator(mark)
    assert value.number is not None
    assert value.number.as_tuple() == Decimal(dotted).as_tuple()
    assert parse_number(raw) is None


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Any text holding at least one letter: it can never be a number."""
    letter = draw(st.characters(categories=["L"]))
    return draw(st.text(max_size=20)) + letter + draw(st.text(max_size=20))


@given(texts())
def test_text_stays_text_and_raw_is_kept_exactly(raw: str) -> None:
    value = parse_value(raw)
    assert value.raw == raw
    assert value.number is None
    assert value.comparator is None
    assert value.text == raw.strip()
    assert parse_number(raw) is None


@given(st.text(min_size=1))
def test_raw_is_always_kept_exactly(raw: str) -> None:
    if not raw.strip():
        with pytest.raises(ValueError):
            parse_value(raw)
        return
    value = parse_value(raw)
    assert value.raw == raw
    assert value.is_numeric == (value.number is not None)
    if value.comparator is not None:
        assert value.number is not None


@given(st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\u2003\u3000", max_size=10))
def test_blank_always_raises(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_value(raw)


@st.composite
def decimals(draw: st.DrawFn) -> Decimal:
    """Finite Decimals of any digits and exponent (built from the tuple, so never rounded)."""
    sign = draw(st.integers(0, 1))
    digits = draw(st.lists(st.integers(0, 9), min_size=1, max_size=40))
    exponent = draw(st.integers(-40, 40))
    return Decimal((sign, tuple(digits), exponent))


@given(decimals())
def test_format_decimal_never_uses_an_exponent_and_round_trips(number: Decimal) -> None:
    shown = format_decimal(number)
    assert "e" not in shown.lower()
    assert Decimal(shown) == number, "no rounding"
    if number.as_tuple().exponent <= 0:  # type: ignore[operator]
        # Places as given are kept exactly (trailing zeros included).
        assert Decimal(shown).as_tuple() == number.as_tuple()
    assert parse_value(shown).number == number
