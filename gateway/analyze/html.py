"""One standalone HTML page for a `labgw analyze` report.

The page is read by people deciding whether an extract is ready to share, often on machines
that cannot (or must not) reach the internet, and it may be mailed around as a single file.
So it carries its CSS and SVG charts inline, needs no JavaScript and refers to nothing
outside itself (the house style of `gateway.htmlpage`). Every string taken from the report is
HTML-escaped, because codes and names come from practice systems and are not trusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.htmlpage import cards as _cards
from gateway.htmlpage import esc as _e
from gateway.htmlpage import num as _num
from gateway.htmlpage import page
from gateway.htmlpage import table as _table

_SVG_NS = "http://www.w3.org/2000/svg"
_TOP_CODES = 15

_CSS = """
svg{background:#fff;border:1px solid #d0d7de}svg text{font-size:11px;fill:#1b1f23}
.bar{fill:#0969da}
"""


def _month_chart(per_month: Mapping[str, Any]) -> str:
    """Vertical bars per month show gaps and spikes in an extract better than a table."""
    if not per_month:
        return '<p class="muted">none found</p>'
    items = sorted(per_month.items())
    top = max(int(v) for _, v in items) or 1
    bw, gap, h, pad = 40, 8, 200, 30
    width = len(items) * (bw + gap) + gap
    parts = []
    for i, (month, count) in enumerate(items):
        bh = int(count) * h / top
        x = gap + i * (bw + gap)
        parts.append(
            f'<rect class="bar" x="{x}" y="{pad + h - bh:.1f}" width="{bw}" height="{bh:.1f}">'
            f"<title>{_e(month)}: {_num(count)}</title></rect>"
            f'<text x="{x + bw / 2}" y="{pad + h - bh - 4:.1f}" text-anchor="middle">'
            f"{_num(count)}</text>"
            f'<text x="{x + bw / 2}" y="{pad + h + 16}" text-anchor="middle">{_e(month)}</text>'
        )
    return (
        f'<svg xmlns="{_SVG_NS}" width="{width}" height="{h + 2 * pad}" role="img" '
        f'aria-label="records per month">{"".join(parts)}</svg>'
    )


def _codes_chart(codes: Sequence[Mapping[str, Any]]) -> str:
    """Horizontal bars for the most used codes: these decide most of what gets shared."""
    top = sorted(codes, key=lambda c: int(c["count"]), reverse=True)[:_TOP_CODES]
    if not top:
        return '<p class="muted">none found</p>'
    most = max(int(c["count"]) for c in top) or 1
    label_w, bar_w, row_h = 260, 700, 22
    parts = []
    for i, c in enumerate(top):
        y = 10 + i * row_h
        w = int(c["count"]) * bar_w / most
        label = f"{c['system']} {c['code']}" + (f" · {c['name']}" if c.get("name") else "")
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{_e(label[:40])}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 4}">'
            f"<title>{_e(label)}: {_num(c['count'])}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{_num(c["count"])}</text>'
        )
    height = 20 + len(top) * row_h
    return (
        f'<svg xmlns="{_SVG_NS}" width="{label_w + bar_w + 60}" height="{height}" role="img" '
        f'aria-label="top codes by count">{"".join(parts)}</svg>'
    )


def _routing(routing: Mapping[str, Any]) -> str:
    """Where accepted results would go, and why others would not be sent at all."""
    letters: Mapping[str, Any] = routing.get("letters") or {}
    rows: list[tuple[str, Any]] = [
        ("LSP (Laboratoriesvarportalen): results", routing.get("lsp", 0)),
        ("LSP: letters", letters.get("lsp", 0)),
        ("MiBa: results", routing.get("miba", 0)),
        ("MiBa: letters", letters.get("miba", 0)),
    ]
    filtered: Mapping[str, Any] = routing.get("filtered") or {}
    rows += [(f"filtered: {reason}", n) for reason, n in sorted(filtered.items())]
    if not filtered:
        rows.append(("filtered", 0))
    rows += [
        ("notifiable", routing.get("notifiable", 0)),
        ("consent refused", routing.get("consent_refused", 0)),
    ]
    return _table(["Route", "Records"], rows, {1})


def render_html(report: Mapping[str, Any]) -> str:
    """Render the analysis report as one self-contained HTML5 document."""
    vol: Mapping[str, Any] = report["volume"]
    codes: Sequence[Mapping[str, Any]] = report["codes"]
    span = f"{vol['first'] or '–'} – {vol['last'] or '–'}"
    cards = [
        ("records", vol["records"]),
        ("accepted", vol["accepted"]),
        ("rejected", vol["rejected"]),
        ("practices", vol["practices"]),
        ("date span", span),
    ]
    vendors = ", ".join(f"{v}: {n:,}" for v, n in sorted(vol["vendors"].items())) or "none"
    sections = [
        _cards(cards),
        f'<p class="muted">Vendors: {_e(vendors)}</p>',
        "<h2>Records per month</h2>",
        _month_chart(vol["per_month"]),
        f"<h2>Top {_TOP_CODES} codes</h2>",
        _codes_chart(codes),
        "<h2>Routing preview</h2>",
        _routing(report["routing"]),
        "<h2>Codes</h2>",
        _table(
            ["System", "Code", "Count", "Practices", "NPU", "Name", "Domain", "Shareable", "To"],
            (
                [
                    c["system"],
                    c["code"],
                    c["count"],
                    c["practices"],
                    *(c.get(k) for k in ("npu", "name", "domain", "shareable", "destination")),
                ]
                for c in codes
            ),
            {2, 3},
        ),
        "<h2>Unmapped codes</h2>",
        _table(
            ["System", "Code", "Count", "Practices"],
            ([u["system"], u["code"], u["count"], u["practices"]] for u in report["unmapped"]),
            {2, 3},
        ),
        "<h2>Unit mismatches</h2>",
        _table(
            ["System", "Code", "NPU", "Unit", "Expected", "Count"],
            (
                [m["system"], m["code"], m.get("npu"), m["unit"], m["expected"], m["count"]]
                for m in report["unit_mismatches"]
            ),
            {5},
        ),
        "<h2>Data quality findings</h2>",
        _table(
            ["Code", "Finding", "Count", "Share", "Examples", "Recommendation"],
            (
                [
                    q["code"],
                    q["title"],
                    q["count"],
                    f"{float(q['share']) * 100:.1f} %",
                    ", ".join(str(x) for x in q["examples"]),
                    q["recommendation"],
                ]
                for q in report["quality"]
            ),
            {2, 3},
        ),
    ]
    inputs = ", ".join(str(i) for i in report["inputs"]) or "none"
    body = (
        "<h1>Health Hub extract analysis</h1>"
        f'<p class="muted">Inputs: {_e(inputs)}</p>' + "\n".join(sections)
    )
    return page("labgw analyze", body, _CSS)
