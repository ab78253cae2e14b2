"""`GET /metrics` in the Prometheus text format (version 0.0.4), from the store and the worker."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from gateway.outbox.states import State


def _labels(**pairs: str) -> str:
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in pairs.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(
    messages: Mapping[tuple[str, State], int],
    sends: Mapping[tuple[str, str], int],
    records: Counter[str],
    receipts: Counter[str],
    destinations: list[str],
) -> str:
    lines = [
        "# HELP labgw_outbox_messages Messages in the outbox by destination and state.",
        "# TYPE labgw_outbox_messages gauge",
    ]
    for destination in destinations:
        for state in State:
            labels = _labels(destination=destination, state=state.value)
            lines.append(f"labgw_outbox_messages{labels} {messages.get((destination, state), 0)}")
    lines += [
        "# HELP labgw_sends_total HTTP sends by this process, by destination and verdict.",
        "# TYPE labgw_sends_total counter",
    ]
    for (destination, verdict), count in sorted(sends.items()):
        lines.append(
            f"labgw_sends_total{_labels(destination=destination, verdict=verdict)} {count}"
        )
    lines += [
        "# HELP labgw_records_total Records posted to this process, by outcome.",
        "# TYPE labgw_records_total counter",
    ]
    for outcome, count in sorted(records.items()):
        lines.append(f"labgw_records_total{_labels(outcome=outcome)} {count}")
    lines += [
        "# HELP labgw_receipts_total Receipts posted to this process, by what they did.",
        "# TYPE labgw_receipts_total counter",
    ]
    for taken, count in sorted(receipts.items()):
        lines.append(f"labgw_receipts_total{_labels(result=taken)} {count}")
    return "\n".join(lines) + "\n"
