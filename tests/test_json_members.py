"""Splicing a top-level member into JSON text leaves every other byte where it was."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.security.json_members import append, members, remove

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
OBJECTS = st.dictionaries(st.text(max_size=6).filter(lambda n: n != "sig"), VALUES, max_size=5)
LAYOUTS = st.sampled_from([(None, (",", ":")), (2, (",", ": ")), (None, (" , ", " : "))])


def _text(value: dict[str, Any], layout: tuple[int | None, tuple[str, str]]) -> str:
    indent, separators = layout
    return json.dumps(value, indent=indent, separators=separators, ensure_ascii=False)


@given(OBJECTS, LAYOUTS)
def test_append_adds_the_member_and_touches_nothing_else(
    value: dict[str, Any], layout: tuple[int | None, tuple[str, str]]
) -> None:
    text = _text(value, layout)
    spliced = append(text, "sig", '{"a":[1,"}"]}')
    assert json.loads(spliced) == {**value, "sig": {"a": [1, "}"]}}
    assert remove(spliced, "sig") == text


@given(OBJECTS, LAYOUTS, st.integers(min_value=0, max_value=5))
def test_remove_cuts_one_member_wherever_it_is(
    value: dict[str, Any], layout: tuple[int | None, tuple[str, str]], position: int
) -> None:
    items = list(value.items())
    items.insert(min(position, len(items)), ("sig", [1, {"x": "y"}]))
    text = _text(dict(items), layout)
    assert json.loads(remove(text, "sig")) == value


def test_members_reports_names_and_spans() -> None:
    text = ' { "a" : [1, {"b": "]"}] , "c":"d" } '
    found, close = members(text)
    assert [(m.name, text[m.start : m.end]) for m in found] == [
        ("a", '"a" : [1, {"b": "]"}]'),
        ("c", '"c":"d"'),
    ]
    assert text[close] == "}"


@pytest.mark.parametrize("text", ["[1]", '"x"', ""], ids=["array", "string", "empty"])
def test_only_objects_have_members(text: str) -> None:
    with pytest.raises(ValueError):
        members(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"s":1,"a":2,"s":3}', '{"a":2}'),
        ('{"s":1}', "{}"),
        ('{ "a" : 1 ,\n "s" : 2 }', '{ "a" : 1 }'),
        ('{"a":1}', '{"a":1}'),
    ],
    ids=["twice", "only", "last-with-blanks", "absent"],
)
def test_remove_cuts_every_occurrence(text: str, expected: str) -> None:
    assert remove(text, "s") == expected
