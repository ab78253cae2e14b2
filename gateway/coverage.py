"""The mapping-coverage record: which input fields went where in a message, and which did not.

DESIGN §4: no field disappears without a trace. The renderer reports every contract field it
carried, transformed or left out, with the target element and, where it matters, why.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Action(enum.StrEnum):
    CARRIED = "carried"  # copied as is
    TRANSFORMED = "transformed"  # converted (time zone, code mapping, decimal mark …)
    LEFT_OUT = "left-out"  # not in the message; `note` says why


@dataclass(frozen=True, slots=True)
class FieldUse:
    field: str
    action: Action
    target: str | None
    note: str | None
    records: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"field": self.field, "action": self.action.value}
        if self.target:
            out["target"] = self.target
        if self.note:
            out["note"] = self.note
        out["records"] = list(self.records)
        return out


# (field, action, target element, note): one use of one contract field in a message.
Use = tuple[str, Action, str | None, str | None]


@dataclass(slots=True)
class CoverageBuilder:
    """Collects field uses while a message is rendered; records with the same uses are grouped."""

    _groups: dict[tuple[Use, ...], list[str]] = field(default_factory=dict)

    def add(self, record: str, uses: tuple[Use, ...]) -> None:
        self._groups.setdefault(uses, []).append(record)

    def build(self) -> tuple[FieldUse, ...]:
        merged: dict[Use, list[str]] = {}
        for uses, records in self._groups.items():
            for use in uses:
                merged.setdefault(use, []).extend(records)
        return tuple(
            FieldUse(path, action, target, note, tuple(records))
            for (path, action, target, note), records in sorted(
                merged.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")
            )
        )
