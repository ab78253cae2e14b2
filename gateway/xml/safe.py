"""Hardened XML parsing for anything that comes from outside.

No DTD (a DOCTYPE is refused outright), no entity expansion, no network, a size limit before
parsing and a depth limit after it. Failures are Issues, never exceptions: a hostile or broken
document is a finding about that document, not a crash of the worker reading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from lxml import etree

from gateway.issues import Issue, IssueType, Severity


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 10 * 1024 * 1024  # a 99-result letter is ~60 KB; 10 MiB is generous
    max_depth: int = 32  # the deepest MedCom lab path is under 12 levels


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
    )


def _fatal(
    code: IssueType, rule: str, message: str, source: str | None, line: int | None = None
) -> Issue:
    return Issue(Severity.FATAL, code, rule, message, source=source, line=line)


@cache
def _deeper_than(levels: int) -> etree.XPath:
    """An XPath that finds any element below `levels` levels: libxml2 walks it in C and stops
    at the first one (a Python walk over every element costs more than the parse itself)."""
    return etree.XPath("boolean(/" + "/".join(["*"] * (levels + 1)) + ")")


def parse_untrusted(
    data: bytes, source: str | None = None, limits: Limits | None = None
) -> tuple[etree._Element | None, list[Issue]]:
    """Parse bytes from outside; return the root element, or None and the reason."""
    limits = limits or Limits()
    if len(data) > limits.max_bytes:
        return None, [
            _fatal(
                IssueType.TOO_COSTLY,
                "XML-TOO-LARGE",
                f"{len(data)} bytes is more than the {limits.max_bytes} allowed",
                source,
            )
        ]
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        return None, [
            _fatal(
                IssueType.STRUCTURE,
                "XML-SYNTAX",
                f"not well-formed XML: {exc.msg}",
                source,
                exc.lineno,
            )
        ]
    if root.getroottree().docinfo.doctype:
        return None, [
            _fatal(
                IssueType.SECURITY,
                "XML-DTD",
                "a DOCTYPE is not allowed in MedCom messages (DTDs and entities are refused)",
                source,
            )
        ]
    if _deeper_than(limits.max_depth)(root):
        return None, [
            _fatal(
                IssueType.TOO_COSTLY,
                "XML-TOO-DEEP",
                f"elements nested deeper than {limits.max_depth} levels",
                source,
            )
        ]
    return root, []
