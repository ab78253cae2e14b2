"""Site-tunable judgements the analysis makes beyond the contract: plausible ranges.

They are a table in mappings/ so a region can set its own limits without touching code.
Notifiability is not here: it is part of routing (notifiable.csv, read with the other tables by
gateway.mapping.tables), so the preview and a translation can never disagree on it.
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
    tables: tuple[TableInfo, ...]


def load_limits(folder: Path | None = None) -> Limits:
    folder = folder or mappings_dir()
    info, rows = read_table(folder / "plausibility.csv", ("npu_code", "low", "high"))
    plausible: dict[str, tuple[Decimal, Decimal]] = {}
    for row in rows:
        try:
            low, high = Decimal(row["low"]), Decimal(row["high"])
        except InvalidOperation as exc:
            raise ConfigError(f"{row.where}: low and high are numbers") from exc
        if low > high:
            raise ConfigError(f"{row.where}: low {low} is above high {high}")
        plausible[row["npu_code"]] = (low, high)
    return Limits(plausible, (info,))


@cache
def default_limits() -> Limits:
    return load_limits()
