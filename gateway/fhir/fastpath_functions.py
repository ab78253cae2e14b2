"""The values and functions of the fast FHIRPath evaluator (fastpath.py compiles to these).

A collection is a list of (JSON value, type path) items; the type path (`Observation.component`,
`Quantity`) lets choice types resolve with fhirpathpy's R4 model, as in fhirpathpy. Boolean
logic follows FHIRPath's singleton evaluation with empty propagation; each function takes its
input collection, its unevaluated arguments, the focus and the environment. Anything outside what
is implemented raises `Unsupported`, and the caller then asks fhirpathpy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from gateway.fhir import base

Item = tuple[Any, str]  # a JSON value and its type path (`Observation.referenceRange`, `Quantity`)
Coll = list[Item]


class Unsupported(Exception):
    """This expression (or this input) is left to fhirpathpy."""


@dataclass(slots=True)
class Env:
    context: Item
    resource: Item
    hooks: Any  # fhirpath.Environment: resolve, conforms, member_of
    this: Coll | None = None
    memo: dict[int, Coll] | None = None  # hoisted subexpressions (fastpath.py), made on first use


Fn = Callable[[Coll, Env], Coll]
Compiled = Callable[[Any, str, dict[str, Any], Any], list[Any]]

TRUE: Coll = [(True, "boolean")]
FALSE: Coll = [(False, "boolean")]


def boolean(value: bool) -> Coll:
    return TRUE if value else FALSE


def truth(coll: Coll) -> bool | None:
    """FHIRPath singleton evaluation of a collection as a boolean (None: empty)."""
    if not coll:
        return None
    if len(coll) == 1 and isinstance(coll[0][0], bool):
        return bool(coll[0][0])
    if len(coll) == 1:
        return True
    raise Unsupported("a collection where a boolean is expected")


_ABSENT = object()


def type_of(value: Any, type_path: str) -> str:
    if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        return str(value["resourceType"])
    return type_path


# The names of all R4 choice elements (`value`, `effective`, `onset`…).
_CHOICE_STEMS = frozenset(path.rpartition(".")[2] for path in base.CHOICES)


@lru_cache(maxsize=4096)  # type paths come from messages (resourceType): bounded
def _choice_types(path: str) -> frozenset[str]:
    return frozenset(base.CHOICES.get(path, ()))


def children(item: Item, name: str) -> Coll:
    """The children called `name` (or, for a choice element, `nameType`) of one item."""
    value, type_path = item
    if not isinstance(value, dict):
        return []
    child = value.get(name, _ABSENT)
    if child is not _ABSENT:
        child_type = base.fhirpath_type(type_path, name)
        if isinstance(child, list):
            return [(one, type_of(one, child_type)) for one in child if one is not None]
        if child is None:
            return []
        if isinstance(child, dict):
            return [(child, type_of(child, child_type))]
        return [(child, child_type)]  # a primitive: its type is the element's
    out: Coll = []
    if name not in _CHOICE_STEMS:
        return out
    owner = base.ELSEWHERE.get(type_path, type_path)
    if _choice_types(f"{owner}.{name}"):
        for key, child in value.items():
            if key.startswith(name) and len(key) > len(name) and key[len(name)].isupper():
                child_type = base.fhirpath_type(type_path, key)
                for one in child if isinstance(child, list) else [child]:
                    out.append((one, type_of(one, child_type)))
    return out


def step(coll: Coll, name: str) -> Coll:
    """`children(item, name)` of every item, in order (the common direct key inline)."""
    out: Coll = []
    for item in coll:
        value, type_path = item
        if isinstance(value, dict) and name in value:
            child = value[name]
            child_type = base.fhirpath_type(type_path, name)
            if isinstance(child, list):
                out.extend((one, type_of(one, child_type)) for one in child if one is not None)
            elif isinstance(child, dict):
                out.append((child, type_of(child, child_type)))
            elif child is not None:
                out.append((child, child_type))
        else:
            out.extend(children(item, name))
    return out


def same(a: Any, b: Any) -> bool:
    if type(a) is str and type(b) is str:
        return a == b  # the common case, decided as below
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | Decimal | float) and isinstance(b, int | Decimal | float):
        return Decimal(str(a)) == Decimal(str(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def single(coll: Coll) -> Any:
    if len(coll) != 1:
        raise Unsupported("not a single value")
    return coll[0][0]


def string(coll: Coll) -> str | None:
    if not coll:
        return None
    value = single(coll)
    if not isinstance(value, str):
        raise Unsupported("not a string")
    return value


def number(value: Any) -> int | Decimal:
    kind = type(value)
    if kind is int or kind is Decimal:
        return value  # (a Decimal's str() round trip gives an equal Decimal: skipped)
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise Unsupported("not a number")
    return value if isinstance(value, int) else Decimal(str(value))


# --- functions: (input, unevaluated arguments, focus, env) → result ---------------------------

Args = list[Fn]


def _arg(arg: Fn, focus: Coll, env: Env) -> Coll:
    return arg(env.this if env.this is not None else focus, env)


def _each(arg: Fn, coll: Coll, env: Env) -> list[Coll]:
    """The argument's result for each item (the item as focus and as $this)."""
    outer = env.this
    out = []
    try:
        for item in coll:
            one = [item]
            env.this = one
            out.append(arg(one, env))
    finally:
        env.this = outer
    return out


def _where(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    outer = env.this
    out = []
    try:
        for item in coll:
            one = [item]
            env.this = one
            if truth(args[0](one, env)) is True:
                out.append(item)
    finally:
        env.this = outer
    return out


def _exists(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    return boolean(bool(_where(coll, args, focus, env) if args else coll))


def _all(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    outer = env.this
    try:
        for item in coll:
            one = [item]
            env.this = one
            if truth(args[0](one, env)) is not True:
                return FALSE
    finally:
        env.this = outer
    return TRUE


def _select(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    return [out for result in _each(args[0], coll, env) for out in result]


def _not(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    verdict = truth(coll)
    return [] if verdict is None else boolean(not verdict)


def _matches(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    text, pattern = string(coll), string(_arg(args[0], focus, env))
    if text is None or pattern is None:
        return []
    return boolean(re.search(pattern, text, re.DOTALL) is not None)


def _starts_with(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    text, prefix = string(coll), string(_arg(args[0], focus, env))
    return [] if text is None or prefix is None else boolean(text.startswith(prefix))


def _contains_text(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    text, part = string(coll), string(_arg(args[0], focus, env))
    return [] if text is None or part is None else boolean(part in text)


def _substring(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    text = string(coll)
    start = _arg(args[0], focus, env)
    if text is None or not start:
        return []
    begin = int(number(single(start)))
    if begin < 0 or begin >= len(text):
        return []
    if len(args) > 1:
        length = _arg(args[1], focus, env)
        if not length:
            return []
        return [(text[begin : begin + int(number(single(length)))], "string")]
    return [(text[begin:], "string")]


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _to_integer(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    if not coll:
        return []
    value = single(coll)
    if isinstance(value, bool):
        return [(int(value), "integer")]
    if isinstance(value, int):
        return [(value, "integer")]
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return [(int(value), "integer")]
    return []


def _of_type(name: str) -> Callable[[Coll, Args, Coll, Env], Coll]:
    def run(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
        return [item for item in coll if is_type(item, name)]

    return run


def is_type(item: Item, name: str) -> bool:
    value, type_path = item
    if isinstance(value, dict) and "resourceType" in value:
        return value["resourceType"] == name or name in ("Resource", "DomainResource")
    if "." in type_path or type_path.startswith("System"):
        return False
    return type_path == name


def _resolve(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    out: Coll = []
    for value, _ in coll:
        reference = value.get("reference") if isinstance(value, dict) else value
        if isinstance(reference, str):
            found = env.hooks.resolve(reference)
            if found is not None:
                out.append((found, str(found.get("resourceType"))))
    return out


def _conforms_to(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    url = string(_arg(args[0], focus, env))
    if not coll or url is None:
        return []
    return boolean(all(isinstance(v, dict) and env.hooks.conforms(v, url) for v, _ in coll))


def _member_of(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    url = string(_arg(args[0], focus, env))
    if len(coll) != 1 or url is None:
        return []
    return boolean(env.hooks.member_of(coll[0][0], url))


def _intersect(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    other = _arg(args[0], focus, env)
    out: Coll = []
    for item in coll:
        if any(same(item[0], o[0]) for o in other) and not any(same(item[0], k[0]) for k in out):
            out.append(item)
    return out


def _is_distinct(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    values = [value for value, _ in coll]
    if all(type(value) is str for value in values):
        return boolean(len(set(values)) == len(values))  # `same` on strings is `==`
    return boolean(
        all(not same(values[i], values[j]) for i in range(len(values)) for j in range(i))
    )


def _extension(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    url = string(_arg(args[0], focus, env))
    return [
        child
        for item in coll
        for child in children(item, "extension")
        if isinstance(child[0], dict) and child[0].get("url") == url
    ]


def _iif(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    verdict = truth(_arg(args[0], focus, env))
    if verdict:
        return _arg(args[1], focus, env)
    return _arg(args[2], focus, env) if len(args) > 2 else []


FUNCTIONS: dict[str, tuple[tuple[int, ...], Callable[[Coll, Args, Coll, Env], Coll]]] = {
    "exists": ((0, 1), _exists),
    "empty": ((0,), lambda coll, args, focus, env: boolean(not coll)),
    "not": ((0,), _not),
    "count": ((0,), lambda coll, args, focus, env: [(len(coll), "integer")]),
    "first": ((0,), lambda coll, args, focus, env: coll[:1]),
    "where": ((1,), _where),
    "all": ((1,), _all),
    "select": ((1,), _select),
    "matches": ((1,), _matches),
    "startsWith": ((1,), _starts_with),
    "contains": ((1,), _contains_text),
    "substring": ((1, 2), _substring),
    "toInteger": ((0,), _to_integer),
    "hasValue": (
        (0,),
        lambda coll, args, focus, env: boolean(
            len(coll) == 1 and not isinstance(coll[0][0], dict | list)
        ),
    ),
    "resolve": ((0,), _resolve),
    "conformsTo": ((1,), _conforms_to),
    "memberOf": ((1,), _member_of),
    "intersect": ((1,), _intersect),
    "isDistinct": ((0,), _is_distinct),
    "iif": ((2, 3), _iif),
    "extension": ((1,), _extension),
    "trace": ((1, 2), lambda coll, args, focus, env: coll),
}

# Functions that evaluate their argument once per input item, with that item as focus and $this:
# their result depends on the input alone, never on the focus of the call.
ITERATING = frozenset({"where", "all", "select", "exists"})
