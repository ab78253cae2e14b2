"""A small writer of indented XML text, for messages whose every element name we define.

Rendering to text and parsing that text once for validation is several times faster than
building an lxml tree element by element, and it means the bytes that were validated are the very
bytes that are signed, stored and sent (DESIGN §6: never re-serialise). Element names are
trusted constants; every text passes through `escape`.
"""

from __future__ import annotations

_INDENT = "  "


def escape(text: str) -> str:
    """Character data: `&`, `<`, `>` as entities, and `\\r` as a reference so parsers keep it."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def text_lines(text: str) -> list[str]:
    """Lines of a multi-line text: split on line feeds only (`\\r\\n` too), as intake does."""
    return [line.removesuffix("\r") for line in text.split("\n")]


class XmlWriter:
    """Appends elements to a document; `start`/`end` nest, `leaf` and `lines` hold text."""

    __slots__ = ("_depth", "_open", "_parts")

    def __init__(self) -> None:
        self._parts: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']
        self._open: list[str] = []
        self._depth = ""

    def start(self, name: str, namespace: str | None = None) -> None:
        declared = f' xmlns="{namespace}"' if namespace else ""
        self._parts.append(f"{self._depth}<{name}{declared}>\n")
        self._open.append(name)
        self._depth += _INDENT

    def end(self) -> None:
        name = self._open.pop()
        self._depth = self._depth[: -len(_INDENT)]
        self._parts.append(f"{self._depth}</{name}>\n")

    def leaf(self, name: str, text: str) -> None:
        self._parts.append(f"{self._depth}<{name}>{escape(text)}</{name}>\n")

    def lines(self, name: str, text: str, separator: str = "<Break/>") -> None:
        """Mixed content: the lines of `text` with `separator` (MedCom `<Break/>`) between."""
        body = separator.join(escape(line) for line in text_lines(text))
        self._parts.append(f"{self._depth}<{name}>{body}</{name}>\n")

    def to_bytes(self) -> bytes:
        if self._open:
            raise ValueError(f"unclosed elements: {self._open}")
        return "".join(self._parts).encode("utf-8")
