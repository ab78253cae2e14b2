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


@dataclass(slots=True)
class CoverageBuilder:
    """Collects field uses while a message is rendered; identical uses are merged."""

    _uses: dict[tuple[str, Action, str | None, str | None], list[str]] = field(default_factory=dict)

    def use(
        self,
        record: str,
        field_path: str,
        action: Action,
        target: str | None = None,
        note: str | None = None,
    ) -> None:
        self._uses.setdefault((field_path, action, target, note), []).append(record)

    def build(self) -> tuple[FieldUse, ...]:
        return tuple(
            FieldUse(path, action, target, note, tuple(records))
            for (path, action, target, note), records in sorted(
                self._uses.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")
            )
        )
