"""Readable locations in XML documents: `/Emessage/LaboratoryReport/Patient` instead of `/*/*[2]`.

Namespaces are dropped (every MedCom message has one default namespace) and a position is added
only where an element has same-named siblings, so a vendor can find the place by eye.
"""

from __future__ import annotations

import re

from lxml import etree

# A namespace URI in Clark notation: `{scheme:…}` directly before the local name it qualifies.
# Only that is removed: libxml2 also quotes facets with braces of their own, a pattern's
# quantifier (`[0-9]{10}`) and an enumeration's set (`{'numerisk', 'alfanumerisk'}`), and
# those are what tells a vendor what was expected.
_CLARK = re.compile(r"\{[A-Za-z][A-Za-z0-9+.-]*:[^{}\s]*\}(?=[^\W\d])")


def local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else str(tag)


def readable_path(element: etree._Element) -> str:
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        name = local(node.tag)
        if parent is not None:
            same = [child for child in parent if child.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


def resolve_error_path(root: etree._Element, path: str | None) -> str | None:
    """Turn libxml2's positional path (`/*/*[2]/*[4]`) into a readable one."""
    if not path:
        return None
    try:
        found = root.xpath(path)
    except etree.XPathError:
        return path
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return readable_path(found[0])
    return path


def strip_namespaces(message: str) -> str:
    """libxml2 messages name elements in Clark notation (`{uri}Name`); keep just the local
    names. Every other brace (a pattern's `{10}`, an enumeration's `{'a', 'b'}`) stays."""
    return _CLARK.sub("", message)


def explain_xsd_message(message: str) -> str:
    """libxml2's schema message with namespaces dropped and, where it helps, what it means.

    "This element is not expected. Expected is ( X )" is what libxml2 says about an element
    that stands where a required one is missing, so that reading is spelled out.
    """
    text = strip_namespaces(message).strip()
    if "This element is not expected. Expected is" in text:
        text += " A required element is missing before it, or the elements are out of order."
    return text
