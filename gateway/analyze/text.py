"""The terminal summary of an analysis report: the few numbers a project group asks first."""

from __future__ import annotations

from typing import Any

TOP = 10


def text_summary(report: dict[str, Any]) -> str:
    volume, routing = report["volume"], report["routing"]
    out = [
        f"{volume['records']:,} records from {volume['practices']:,} practices "
        f"({volume['first'] or '–'} to {volume['last'] or '–'}): "
        f"{volume['accepted']:,} accepted, {volume['rejected']:,} rejected",
        "vendors: " + (", ".join(f"{k} {v:,}" for k, v in volume["vendors"].items()) or "none"),
        f"would send: {routing['lsp']:,} results in {routing['letters']['lsp']:,} letters to LSP,"
        f" {routing['miba']:,} in {routing['letters']['miba']:,} to MiBa "
        f"({routing['notifiable']:,} notifiable, {routing['consent_refused']:,} with refused "
        "consent, flagged and sent)",
    ]
    out += [f"  not sent, {reason}: {count:,}" for reason, count in routing["filtered"].items()]
    out.append(f"codes in use: {len(report['codes'])}, unmapped: {len(report['unmapped'])}")
    out += [
        f"  unmapped {c['system']} {c['code']}: {c['count']:,} in {c['practices']} practices"
        for c in report["unmapped"][:TOP]
    ]
    out += [
        f"  unit {u['unit']!r} for {u['system']} {u['code']} (expected {u['expected'] or 'none'})"
        f": {u['count']:,}"
        for u in report["unit_mismatches"][:TOP]
    ]
    out.append("data quality:" if report["quality"] else "data quality: no findings")
    out += [
        f"  {q['code']} {q['title']}: {q['count']:,} ({q['share']:.2%}), e.g. "
        f"{', '.join(q['examples'][:3])}"
        for q in report["quality"]
    ]
    out += [f"file: {i.get('source')}: {i['message']}" for i in report["file_issues"]]
    return "\n".join(out) + "\n"
