"""Add or remove one member of a JSON text's top-level object, leaving every other byte as it was.

labgw signs and sends the exact bytes it rendered (DESIGN §6, `gateway.fhir_message.json_text`);
attaching `Bundle.signature` must not re-serialise the Bundle. These functions find the spans of
the top-level members in the text itself and splice there. The text must already be known to be
valid JSON whose top level is an object (callers parse it first).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_SPACE = re.compile(r"[ \t\n\r]*")  # RFC 8259 §2: the four insignificant whitespace characters
_SCANNER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class Member:
    """One top-level member: its name and where it lies, `start` at the name's opening quote,
    `end` just after its value."""

    name: str
    start: int
    end: int


def members(text: str) -> tuple[list[Member], int]:
    """The top-level members of a JSON object text, and the index of its closing brace.

    Raises:
        ValueError: the text is not a JSON object.
    """
    index = _skip(text, 0)
    _expect(text, index, "{")
    index = _skip(text, index + 1)
    found: list[Member] = []
    if text.startswith("}", index):
        return found, index
    while True:
        start = index
        name, index = _SCANNER.raw_decode(text, index)
        if not isinstance(name, str):
            raise ValueError(f"expected a member name at {start}")
        index = _skip(text, index)
        _expect(text, index, ":")
        _, end = _SCANNER.raw_decode(text, _skip(text, index + 1))
        found.append(Member(name, start, end))
        index = _skip(text, end)
        if text.startswith(",", index):
            index = _skip(text, index + 1)
            continue
        _expect(text, index, "}")
        return found, index


def remove(text: str, name: str) -> str:
    """The text without every top-level member called `name` (and the comma that joined it)."""
    found, _ = members(text)
    while any(member.name == name for member in found):
        position = max(i for i, member in enumerate(found) if member.name == name)
        member = found[position]
        if position + 1 < len(found):  # cut up to the next member's name: `"a":1, ` goes
            text = text[: member.start] + text[found[position + 1].start :]
        elif position > 0:  # the last one: cut from the end of the previous value
            text = text[: found[position - 1].end] + text[member.end :]
        else:
            text = text[: member.start] + text[member.end :]
        del found[position]  # spans before the cut are unchanged
    return text


def append(text: str, name: str, value_json: str) -> str:
    """The text with `"name":value_json` added as the last top-level member.

    `value_json` must be JSON text; it is inserted as given, right after the last value.
    """
    found, close = members(text)
    where = found[-1].end if found else close
    member = ("," if found else "") + json.dumps(name, ensure_ascii=False) + ":" + value_json
    return text[:where] + member + text[where:]


def _skip(text: str, index: int) -> int:
    match = _SPACE.match(text, index)
    assert match is not None  # `*` always matches
    return match.end()


def _expect(text: str, index: int, char: str) -> None:
    if not text.startswith(char, index):
        raise ValueError(f"expected {char!r} at {index}")


def replace_value(text: str, name: str, value_json: str) -> str:
    """The text with the value of the top-level member `name` replaced by `value_json`.

    Every other byte stays where it was (a MedCom resend changes only the envelope fields).

    Raises:
        ValueError: the text is not a JSON object, or has no such member.
    """
    found, _ = members(text)
    member = next((m for m in found if m.name == name), None)
    if member is None:
        raise ValueError(f"no top-level member {name!r}")
    _, after_name = _SCANNER.raw_decode(text, member.start)
    colon = _skip(text, after_name)
    _expect(text, colon, ":")
    start = _skip(text, colon + 1)
    return text[:start] + value_json + text[member.end :]
