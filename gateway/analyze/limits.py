"""Site-tunable judgements the analysis makes beyond the contract: plausible ranges, notifiability.

Both are tables in mappings/ so a region can set its own limits without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from gateway.errors import ConfigError
from gateway.mapping.tables import TableInfo, read_table
from gateway.resources import mappings_dir


@dataclass(frozen=True, slots=True)
class Limits:
    plausible: dict[str, tuple[Decimal, Decimal]]  # NPU code → (low, high) in its UCUM unit
    notifiable: dict[str, frozenset[str]]  # NPU code → result texts (casefolded) to notify
    tables: tuple[TableInfo, ...]


def load_limits(folder: Path | None = None) -> Limits:
    folder = folder or mappings_dir()
    info_p, rows = read_table(folder / "plausibility.csv", ("npu_code", "low", "high"))
    plausible: dict[str, tuple[Decimal, Decimal]] = {}
    for number, row in enumerate(rows, start=1):
        try:
            low, high = Decimal(row["low"]), Decimal(row["high"])
        except InvalidOperation as exc:
            raise ConfigError(f"plausibility.csv row {number}: low and high are numbers") from exc
        if low > high:
            raise ConfigError(f"plausibility.csv row {number}: low {low} is above high {high}")
        plausible[row["npu_code"]] = (low, high)
    info_n, rows = read_table(folder / "notifiable.csv", ("npu_code", "positive_values"))
    notifiable = {
        row["npu_code"]: frozenset(v.strip().casefold() for v in row["positive_values"].split("|"))
        for row in rows
    }
    return Limits(plausible, notifiable, (info_p, info_n))


@cache
def default_limits() -> Limits:
    return load_limits()
