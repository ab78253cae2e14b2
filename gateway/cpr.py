"""Danish CPR numbers (personnumre): is this one, and which date of birth does it state.

A CPR number is ten digits, DDMMYY and a four-digit serial (CPR-kontoret, "Opbygning af
CPR-nummeret"). The first six digits must be a real calendar date: a day the month has, and
29 February only in a leap year. The year's century is not written; CPR-kontoret's rule reads it
from the two year digits and the 7th digit (the first of the serial):

| 7th digit | year 00–36 | year 37–57 | year 58–99 |
|---|---|---|---|
| 0–3 | 1900s | 1900s | 1900s |
| 4, 9 | 2000s | 1900s | 1900s |
| 5–8 | 2000s | 2000s | 1800s |

The century matters for the date only once: 29 February of year 00 is a date in 2000 (a leap
year) and none in 1900 (7th digit 0–3), so 290200-1234 is refused and 290200-4234 is not.

Modulus 11 is deliberately not checked: numbers issued since 1 October 2007 need not satisfy it
(CPR-kontoret; DESIGN §2). A date in the future is not refused either: the check must not
depend on the clock of whoever validates.

This is the exact check for *validation* (intake `LPS-CPR`, XML `MC-CPR`). Redaction of text for
people (`gateway.privacy`) deliberately uses a looser shape, so that it never misses a number
this check would accept.
"""

from __future__ import annotations

import re
from datetime import date

_TEN_DIGITS = re.compile(r"[0-9]{10}\Z")


def century(year: int, seventh: int) -> int:
    """The century (1800, 1900 or 2000) of two year digits `year` and the 7th digit."""
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if year <= 36 else 1900
    return 2000 if year <= 57 else 1800


def birth_date(cpr: str) -> date | None:
    """The date of birth a CPR number (ten digits, no dash) states; None when it is not ten
    digits or its first six digits are no calendar date."""
    if not _TEN_DIGITS.match(cpr):
        return None
    day, month, year = int(cpr[0:2]), int(cpr[2:4]), int(cpr[4:6])
    try:
        return date(century(year, int(cpr[6])) + year, month, day)
    except ValueError:
        return None


def is_cpr(cpr: str) -> bool:
    """Ten digits whose first six are a date of birth (modulus 11 is not required)."""
    return birth_date(cpr) is not None
