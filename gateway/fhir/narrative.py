"""Narrative XHTML checks: the base invariants txt-1 and txt-2, done in Python.

fhirpathpy has no `htmlChecks()` (python-stack.md §3), so txt-1 cannot run as FHIRPath. R4 says
(Narrative.div, txt-1): "The narrative SHALL contain only the basic html formatting elements and
attributes described in chapters 7-11 (except section 4 of chapter 9) and 12 of the HTML 4.0
standard, <a> elements (either name or href), images and internally contained style attributes";
txt-2: "The narrative SHALL have some non-whitespace content". MedCom governance adds "no
scripts, forms or iframes" (medcom-fhir.md §10). The div is parsed with the same hardened
parser settings as XML messages: no DTD, no entities, no network.

A well-formed div is cleared by comparing the set of its element tags and the set of its
attribute names with the allow-lists; only a div that fails that (or could hold a javascript:
link) is walked element by element to name each problem. Verdicts depend on the div text alone,
so they are kept for a bounded number of recently seen divs (the same Organization, the same
generated table in every message).
"""

from __future__ import annotations

from lxml import etree

XHTML = "http://www.w3.org/1999/xhtml"

# HTML 4.0 chapters 7-12 (less 9.4), plus a and img; the R4 validator's list.
ALLOWED_ELEMENTS = frozenset(
    str.split(
        "p br div h1 h2 h3 h4 h5 h6 a span b em i strong small big tt small dfn q var abbr acronym "
        "cite blockquote hr address bdo kbd code samp sub sup pre ins del ul ol li dl dt dd table "
        "caption colgroup col thead tr tfoot tbody th td img map area"
    )
)
ALLOWED_ATTRIBUTES = frozenset(
    str.split(
        "title style class id lang xml:lang dir accesskey tabindex href name src alt width height "
        "border colspan rowspan align valign cellpadding cellspacing span summary headers scope "
        "abbr axis char charoff frame rules start type value datetime cite shape coords usemap "
        "nowrap compact hspace vspace"
    )
)
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, collect_ids=False
)


_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_TAGS = frozenset(f"{{{XHTML}}}{name}" for name in ALLOWED_ELEMENTS)
_ATTRIBUTE_KEYS = frozenset(ALLOWED_ATTRIBUTES - {"xml:lang"}) | {_XML_LANG}
_LINKS = ("href", "src")

# Verdicts by div text: narratives repeat (the same Organization, the same generated table),
# and a verdict depends on the text alone. Bounded; a div longer than _CACHE_TEXT is not kept.
_CACHE: dict[str, tuple[tuple[str, str], ...]] = {}
_CACHE_ENTRIES = 512
_CACHE_TEXT = 64 * 1024


def _attribute_name(name: str) -> str:
    return "xml:lang" if name == _XML_LANG else name


def check_div(div: str) -> list[tuple[str, str]]:
    """(invariant key, message) for each problem of one Narrative.div (empty when fine)."""
    found = _CACHE.get(div)
    if found is None:
        found = tuple(_check(div))
        if len(div) <= _CACHE_TEXT:
            if len(_CACHE) >= _CACHE_ENTRIES:
                _CACHE.clear()  # start over (no iteration: safe with other threads)
            _CACHE[div] = found
    return list(found)


def _check(div: str) -> list[tuple[str, str]]:
    try:
        root = etree.fromstring(div.encode("utf-8"), _PARSER)
    except UnicodeEncodeError:  # JSON's \ud800 escapes can name a surrogate XML cannot hold
        return [("txt-1", "the narrative is not well-formed XHTML: it holds a lone surrogate")]
    except etree.XMLSyntaxError as exc:
        return [("txt-1", f"the narrative is not well-formed XHTML: {exc.msg}")]
    if root.getroottree().docinfo.doctype:
        return [("txt-1", "the narrative must not contain a DOCTYPE")]
    if root.tag != f"{{{XHTML}}}div":
        return [("txt-1", "the narrative must be an XHTML <div> in the XHTML namespace")]
    elements = list(root.iter(etree.Element))  # elements only: no comments, PIs or entities
    # An lxml element's keys() are its attribute names (iterating it yields its children).
    names = {name for element in elements for name in element.keys()}  # noqa: SIM118
    if (
        {element.tag for element in elements} <= _TAGS
        and names <= _ATTRIBUTE_KEYS
        and (not any(link in names for link in _LINKS) or not _may_link_javascript(div))
    ):
        problems = []  # the common case, decided by two set comparisons
    else:
        problems = _element_problems(root)
    has_text = any(text.strip() for text in root.itertext())
    if not has_text and root.find(f".//{{{XHTML}}}img") is None:
        problems.append(("txt-2", "the narrative has no non-whitespace content"))
    return problems


def _may_link_javascript(div: str) -> bool:
    """Whether an href or src could read `javascript:`. Without a character reference (`&#`),
    an attribute value is its text in the div (the predefined entities make no letters), and
    the check lower-cases it as `div.lower()` does: no "javascript" there, none in a link."""
    return "&#" in div or "javascript" in div.lower()


def _element_problems(root: etree._Element) -> list[tuple[str, str]]:
    """Each disallowed element or attribute and each javascript: link, in document order."""
    problems: list[tuple[str, str]] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions are harmless
        namespace, _, local = element.tag[1:].partition("}")
        if namespace != XHTML or local not in ALLOWED_ELEMENTS:
            problems.append(("txt-1", f"the narrative must not contain <{local}> elements"))
            continue
        for name, value in element.attrib.items():
            attribute = _attribute_name(name)
            if attribute not in ALLOWED_ATTRIBUTES:
                problems.append(("txt-1", f"the narrative must not use the {attribute} attribute"))
            elif attribute in ("href", "src") and value.strip().lower().startswith("javascript:"):
                problems.append(("txt-1", "the narrative must not link to javascript:"))
    return problems
