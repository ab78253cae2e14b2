"""Exact JSON for FHIR: numbers are written with the digits they were typed with.

DESIGN §5: fhir.resources re-serialises lossily (`8.10` → `8.1`), so labgw writes FHIR JSON
itself and signs and sends exactly those bytes. `Decimal` values are written as JSON numbers in
plain notation; everything else as the stdlib writes it.
"""

from __future__ import annotations

import json
from decimal import Decimal

from gateway.values import format_decimal


def dumps(value: object) -> str:
    """Compact JSON text, key order as built, non-ASCII kept (UTF-8)."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: object, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, Decimal):
        out.append(format_decimal(value))
    else:
        out.append(json.dumps(value, ensure_ascii=False))
