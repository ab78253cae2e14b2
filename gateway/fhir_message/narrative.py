"""Narratives: every resource but the Bundle carries a human-readable XHTML summary.

MedCom governance requires a generated narrative on every resource of a message (notes/
medcom-fhir.md §0.7). Ours lists the facts a reader needs, escaped, in a plain `div`.
"""

from __future__ import annotations

from html import escape

XHTML = "http://www.w3.org/1999/xhtml"


def narrative(title: str, facts: list[tuple[str, str | None]]) -> dict[str, str]:
    """A `text` element: a heading and one line per fact that has a value."""
    lines = "".join(
        f"<p><b>{escape(label)}</b>: {escape(value)}</p>" for label, value in facts if value
    )
    return {
        "status": "generated",
        "div": f'<div xmlns="{XHTML}"><p>{escape(title)}</p>{lines}</div>',
    }
