"""The house style of labgw's standalone HTML reports (`labgw analyze`, `labgw conformance`).

A report page is read on machines that cannot (or must not) reach the internet and is mailed
around as one file. So a page carries its CSS inline, needs no JavaScript and refers to nothing
outside itself. Every string put on a page goes through `esc`, because codes, names, titles and
messages come from practice systems, vendors and suites and are not trusted; only text built
here from escaped parts is marked `Html` and passed through as it is.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from html import escape
from typing import Any

BASE_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f23;background:#fafbfc}
h1{margin:0 0 .3rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de}
.muted{color:#57606a}.cards{display:flex;flex-wrap:wrap;gap:1rem}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.8rem 1.2rem}
.card b{display:block;font-size:1.6rem}
table{border-collapse:collapse;background:#fff;margin-top:.5rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
"""


class Html(str):
    """Markup built from escaped parts: `esc` leaves it as it is."""

    __slots__ = ()


def esc(value: Any) -> str:
    """Escape anything for HTML; None and booleans read as a dash and yes/no, not Python."""
    if isinstance(value, Html):
        return value
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(str(value))


def num(value: Any) -> str:
    """Thousands separators make large counts readable at a glance."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else esc(value)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    numeric: Collection[int] = (),
    empty: str = "none found",
) -> Html:
    """A plain table, or `empty` so an empty section is visibly empty rather than missing."""
    body = [
        "<tr>"
        + "".join(
            f'<td class="n">{num(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    ]
    if not body:
        return Html(f'<p class="muted">{esc(empty)}</p>')
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return Html(f"<table><tr>{head}</tr>{''.join(body)}</table>")


def cards(items: Iterable[tuple[str, Any]]) -> Html:
    """Big numbers with their labels, the first thing a reader sees."""
    inner = "".join(f'<div class="card"><b>{num(v)}</b>{esc(k)}</div>' for k, v in items)
    return Html(f'<div class="cards">{inner}</div>')


def page(title: str, body: str, css: str = "") -> str:
    """One self-contained HTML5 document: `body` is markup, `title` is text (escaped)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{BASE_CSS}{css}</style></head><body>"
        f"{body}</body></html>\n"
    )
