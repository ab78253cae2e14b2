"""Result values as the practice typed them, and the typed value derived from them.

DESIGN §2: the gateway keeps the exact value and derives the typed one (number + comparator, or
text); it never rounds. `4,5` (Danish decimal comma) and `4.5` are the same number; `<5` and `>100`
carry a comparator (XRPT01 `Operator` mindre_end / stoerre_end); anything else is text
(`Positiv`, `Negativ`, `1+`). Numbers are `Decimal`s made from the digits as typed, so `8,10`
keeps its trailing zero.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from decimal import Decimal


class Comparator(enum.StrEnum):
    LT = "<"
    GT = ">"


# ASCII digits only: "٤٥" or "４５" are text, not 45. \Z, not $: a trailing newline is no number.
_NUMBER = re.compile(r"^(?P<cmp>[<>])?\s*(?P<sign>[+-])?(?P<int>[0-9]+)(?:[.,](?P<frac>[0-9]+))?\Z")


@dataclass(frozen=True, slots=True)
class ResultValue:
    """A result value: `raw` exactly as entered, plus its typed reading.

    Either `number` is set (a numeric result, maybe with a comparator) or it is None and the
    result is text (`raw` stripped).
    """

    raw: str
    number: Decimal | None = None
    comparator: Comparator | None = None

    @property
    def is_numeric(self) -> bool:
        return self.number is not None

    @property
    def text(self) -> str:
        """The value as text, for text results (surrounding blanks removed)."""
        return self.raw.strip()

    def decimal_text(self) -> str:
        """The number in plain decimal notation with `.`, digits as typed (`4,50` → `4.50`)."""
        if self.number is None:
            raise ValueError(f"{self.raw!r} is not a numeric result")
        return format_decimal(self.number)


def format_decimal(number: Decimal) -> str:
    """Plain notation, never an exponent, never rounded (`Decimal('1E+2')` → `100`)."""
    return format(number, "f")


def parse_number(text: str) -> Decimal | None:
    """A plain number with `.` or `,` as decimal mark, no comparator; None when it is not one."""
    value = parse_value(text)
    return value.number if value.comparator is None else None


def parse_value(raw: str) -> ResultValue:
    """Read a result value as typed in the practice system.

    Raises:
        ValueError: the value is empty or blank.
    """
    stripped = raw.strip()
    if not stripped:
        raise ValueError("result value is empty")
    match = _NUMBER.match(stripped)
    if match is None:
        return ResultValue(raw=raw)
    digits = match["int"] + (f".{match['frac']}" if match["frac"] is not None else "")
    number = Decimal(f"{match['sign'] or ''}{digits}")
    comparator = Comparator(match["cmp"]) if match["cmp"] else None
    return ResultValue(raw=raw, number=number, comparator=comparator)
