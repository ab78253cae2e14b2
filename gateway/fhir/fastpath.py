"""A fast evaluator for the FHIRPath that invariants use, compiled from fhirpathpy's parse tree.

fhirpathpy interprets its parse tree anew on every call (≈50–200 µs for an invariant such as
obs-6), which makes invariants ~80 % of a message's validation time. This module compiles the
same parse tree once into Python closures over plain JSON values, for the subset of FHIRPath that
profile constraints are written in: paths (choice types resolved with fhirpathpy's R4 model, as
in fhirpathpy), indexers, literals, `%resource`/`%rootResource`/`%context`/`$this`, boolean logic
with empty propagation, (in)equality, arithmetic, `|`, `&`, `in`, `is`, and the functions in
`_FUNCTIONS`. Anything else is refused at compile time (`None`), and anything surprising at run
time raises `Unsupported`; either way the caller evaluates with fhirpathpy instead, which stays
the reference: tests/test_fhir_invariants.py runs every example and mutant both ways and
requires identical Issues.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from fhirpathpy.parser import parse

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


Fn = Callable[[Coll, Env], Coll]
Compiled = Callable[[Any, str, dict[str, Any], Any], list[Any]]

_TRUE: Coll = [(True, "boolean")]
_FALSE: Coll = [(False, "boolean")]


def _bool(value: bool) -> Coll:
    return _TRUE if value else _FALSE


def _truth(coll: Coll) -> bool | None:
    """FHIRPath singleton evaluation of a collection as a boolean (None: empty)."""
    if not coll:
        return None
    if len(coll) == 1 and isinstance(coll[0][0], bool):
        return bool(coll[0][0])
    if len(coll) == 1:
        return True
    raise Unsupported("a collection where a boolean is expected")


def _type_of(value: Any, type_path: str) -> str:
    if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        return str(value["resourceType"])
    return type_path


@cache
def _choice_types(path: str) -> frozenset[str]:
    return frozenset(base.CHOICES.get(path, ()))


def _children(item: Item, name: str) -> Coll:
    value, type_path = item
    if not isinstance(value, dict):
        return []
    out: Coll = []
    if name in value:
        child = value[name]
        child_type = base.fhirpath_type(type_path, name)
        for one in child if isinstance(child, list) else [child]:
            if one is not None:
                out.append((one, _type_of(one, child_type)))
        return out
    owner = base.ELSEWHERE.get(type_path, type_path)
    if _choice_types(f"{owner}.{name}"):
        for key, child in value.items():
            if key.startswith(name) and len(key) > len(name) and key[len(name)].isupper():
                child_type = base.fhirpath_type(type_path, key)
                for one in child if isinstance(child, list) else [child]:
                    out.append((one, _type_of(one, child_type)))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | Decimal | float) and isinstance(b, int | Decimal | float):
        return Decimal(str(a)) == Decimal(str(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


def _single(coll: Coll) -> Any:
    if len(coll) != 1:
        raise Unsupported("not a single value")
    return coll[0][0]


def _string(coll: Coll) -> str | None:
    if not coll:
        return None
    value = _single(coll)
    if not isinstance(value, str):
        raise Unsupported("not a string")
    return value


def _number(value: Any) -> int | Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise Unsupported("not a number")
    return value if isinstance(value, int) else Decimal(str(value))


# --- functions: (input, unevaluated arguments, focus, env) → result ---------------------------

Args = list[Fn]


def _arg(arg: Fn, focus: Coll, env: Env) -> Coll:
    return arg(env.this if env.this is not None else focus, env)


def _each(arg: Fn, item: Item, env: Env) -> Coll:
    outer, env.this = env.this, [item]
    try:
        return arg([item], env)
    finally:
        env.this = outer


def _where(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    return [item for item in coll if _truth(_each(args[0], item, env)) is True]


def _exists(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    return _bool(bool(_where(coll, args, focus, env) if args else coll))


def _all(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    return _bool(all(_truth(_each(args[0], item, env)) is True for item in coll))


def _select(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    return [out for item in coll for out in _each(args[0], item, env)]


def _not(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    truth = _truth(coll)
    return [] if truth is None else _bool(not truth)


def _matches(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    text, pattern = _string(coll), _string(_arg(args[0], focus, env))
    if text is None or pattern is None:
        return []
    return _bool(re.search(pattern, text, re.DOTALL) is not None)


def _starts_with(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    text, prefix = _string(coll), _string(_arg(args[0], focus, env))
    return [] if text is None or prefix is None else _bool(text.startswith(prefix))


def _contains_text(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    text, part = _string(coll), _string(_arg(args[0], focus, env))
    return [] if text is None or part is None else _bool(part in text)


def _substring(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    text = _string(coll)
    start = _arg(args[0], focus, env)
    if text is None or not start:
        return []
    begin = int(_number(_single(start)))
    if begin < 0 or begin >= len(text):
        return []
    if len(args) > 1:
        length = _arg(args[1], focus, env)
        if not length:
            return []
        return [(text[begin : begin + int(_number(_single(length)))], "string")]
    return [(text[begin:], "string")]


def _to_integer(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    if not coll:
        return []
    value = _single(coll)
    if isinstance(value, bool):
        return [(int(value), "integer")]
    if isinstance(value, int):
        return [(value, "integer")]
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value):
        return [(int(value), "integer")]
    return []


def _of_type(name: str) -> Callable[[Coll, Args, Coll, Env], Coll]:
    def run(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
        return [item for item in coll if _is(item, name)]

    return run


def _is(item: Item, name: str) -> bool:
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
    url = _string(_arg(args[0], focus, env))
    if not coll or url is None:
        return []
    return _bool(all(isinstance(v, dict) and env.hooks.conforms(v, url) for v, _ in coll))


def _member_of(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    url = _string(_arg(args[0], focus, env))
    if len(coll) != 1 or url is None:
        return []
    return _bool(env.hooks.member_of(coll[0][0], url))


def _intersect(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    other = _arg(args[0], focus, env)
    out: Coll = []
    for item in coll:
        if any(_same(item[0], o[0]) for o in other) and not any(_same(item[0], k[0]) for k in out):
            out.append(item)
    return out


def _is_distinct(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    return _bool(all(not _same(coll[i][0], coll[j][0]) for i in range(len(coll)) for j in range(i)))


def _extension(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    url = _string(_arg(args[0], focus, env))
    return [
        child
        for item in coll
        for child in _children(item, "extension")
        if isinstance(child[0], dict) and child[0].get("url") == url
    ]


def _iif(coll: Coll, args: Args, focus: Coll, env: Env) -> Coll:
    truth = _truth(_arg(args[0], focus, env))
    if truth:
        return _arg(args[1], focus, env)
    return _arg(args[2], focus, env) if len(args) > 2 else []


_FUNCTIONS: dict[str, tuple[tuple[int, ...], Callable[[Coll, Args, Coll, Env], Coll]]] = {
    "exists": ((0, 1), _exists),
    "empty": ((0,), lambda coll, args, focus, env: _bool(not coll)),
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
        lambda coll, args, focus, env: _bool(
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


# --- the compiler: parse-tree node → closure ---------------------------------------------------


def _kids(node: dict[str, Any]) -> list[dict[str, Any]]:
    return list(node.get("children") or [])


def _op(node: dict[str, Any]) -> str:
    return str((node.get("terminalNodeText") or [""])[0])


def _type_name(node: dict[str, Any]) -> str:
    text = str(node.get("text") or "").replace("`", "")
    if text.startswith("FHIR."):
        text = text[5:]
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", text):
        raise Unsupported(f"type {text!r}")
    return text


def _compile(node: dict[str, Any]) -> Fn:
    kind = node.get("type")
    handler = _NODES.get(str(kind))
    if handler is None:
        raise Unsupported(f"FHIRPath construct {kind}")
    return handler(node)


def _term(node: dict[str, Any]) -> Fn:
    return _compile(_kids(node)[0])


def _invocation_term(node: dict[str, Any]) -> Fn:
    child = _kids(node)[0]
    if child.get("type") == "MemberInvocation":
        name = str(_kids(child)[0].get("text"))
        if name[0].isupper():  # `Bundle.entry…`: a type name at the start of a path filters

            def by_type(focus: Coll, env: Env) -> Coll:
                return [item for item in focus if _is(item, name)]

            return by_type
        return lambda focus, env: [c for item in focus for c in _children(item, name)]
    if child.get("type") == "ThisInvocation":
        return lambda focus, env: env.this if env.this is not None else focus
    if child.get("type") == "FunctionInvocation":
        call = _function(child)
        return lambda focus, env: call(env.this if env.this is not None else focus, focus, env)
    raise Unsupported(f"invocation {child.get('type')}")


def _function(node: dict[str, Any]) -> Callable[[Coll, Coll, Env], Coll]:
    functn = _kids(node)[0]
    parts = _kids(functn)
    name = str(parts[0].get("text"))
    params = _kids(parts[1]) if len(parts) > 1 else []
    if name in ("ofType", "is", "as") and len(params) == 1:
        type_name = _type_name(params[0])
        if name == "ofType":
            filtered = _of_type(type_name)
            return lambda coll, focus, env: filtered(coll, [], focus, env)
        if name == "is":
            return lambda coll, focus, env: (
                [] if not coll else _bool(len(coll) == 1 and _is(coll[0], type_name))
            )
        return lambda coll, focus, env: [item for item in coll if _is(item, type_name)][:1]
    entry = _FUNCTIONS.get(name)
    if entry is None or len(params) not in entry[0]:
        raise Unsupported(f"function {name}/{len(params)}")
    args = [_compile(p) for p in params]
    impl = entry[1]
    return lambda coll, focus, env: impl(coll, args, focus, env)


def _invocation_expression(node: dict[str, Any]) -> Fn:
    left_node, right = _kids(node)
    left = _compile(left_node)
    if right.get("type") == "MemberInvocation":
        name = str(_kids(right)[0].get("text"))
        return lambda focus, env: [c for item in left(focus, env) for c in _children(item, name)]
    if right.get("type") == "FunctionInvocation":
        call = _function(right)
        return lambda focus, env: call(left(focus, env), focus, env)
    raise Unsupported(f"invocation {right.get('type')}")


def _indexer(node: dict[str, Any]) -> Fn:
    left, index = (_compile(k) for k in _kids(node))

    def run(focus: Coll, env: Env) -> Coll:
        position = index(focus, env)
        if not position:
            return []
        at = int(_number(_single(position)))
        return left(focus, env)[at : at + 1] if at >= 0 else []

    return run


def _literal(node: dict[str, Any]) -> Fn:
    literal = _kids(node)[0]
    kind, text = literal.get("type"), str(literal.get("text"))
    if kind == "StringLiteral":
        value = re.sub(
            r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), text[1:-1]
        )
        return lambda focus, env: [(value, "string")]
    if kind == "NumberLiteral":
        number: int | Decimal = Decimal(text) if "." in text else int(text)
        return lambda focus, env: [(number, "decimal" if "." in text else "integer")]
    if kind == "BooleanLiteral":
        return lambda focus, env: _bool(text == "true")
    if kind == "NullLiteral":
        return lambda focus, env: []
    raise Unsupported(f"literal {kind}")


def _external(node: dict[str, Any]) -> Fn:
    name = "%" + str(_kids(node)[0].get("text")).replace("`", "").replace("'", "")
    if name in ("%resource", "%rootResource"):
        return lambda focus, env: [env.resource]
    if name == "%context":
        return lambda focus, env: [env.context]
    if name == "%ucum":
        return lambda focus, env: [("http://unitsofmeasure.org", "string")]
    raise Unsupported(f"variable {name}")


def _logic(node: dict[str, Any]) -> Fn:
    left, right = (_compile(k) for k in _kids(node))
    op = _op(node)

    def run(focus: Coll, env: Env) -> Coll:
        a = _truth(left(focus, env))
        if op == "and":
            if a is False:
                return _FALSE
            b = _truth(right(focus, env))
            return _FALSE if b is False else (_TRUE if a and b else [])
        if op == "or":
            if a is True:
                return _TRUE
            b = _truth(right(focus, env))
            return _TRUE if b is True else (_FALSE if a is False and b is False else [])
        if op == "implies":
            if a is False:
                return _TRUE
            b = _truth(right(focus, env))
            if b is True:
                return _TRUE
            return _FALSE if a is True and b is False else []
        if op == "xor":
            b = _truth(right(focus, env))
            return [] if a is None or b is None else _bool(a != b)
        raise Unsupported(f"operator {op}")

    return run


def _equality(node: dict[str, Any]) -> Fn:
    left, right = (_compile(k) for k in _kids(node))
    op = _op(node)
    if op not in ("=", "!="):
        raise Unsupported(f"operator {op}")

    def run(focus: Coll, env: Env) -> Coll:
        a, b = left(focus, env), right(focus, env)
        if not a or not b:
            return []
        equal = len(a) == len(b) and all(_same(x[0], y[0]) for x, y in zip(a, b, strict=True))
        return _bool(equal if op == "=" else not equal)

    return run


def _binary(node: dict[str, Any]) -> Fn:
    left, right = (_compile(k) for k in _kids(node))
    op = _op(node)

    def run(focus: Coll, env: Env) -> Coll:
        a, b = left(focus, env), right(focus, env)
        if op == "|":
            out = list(a)
            for item in b:
                if not any(_same(item[0], o[0]) for o in out):
                    out.append(item)
            return out
        if op == "&":
            return [((_string(a) or "") + (_string(b) or ""), "string")]
        if op == "in" or op == "contains":
            needle, hay = (a, b) if op == "in" else (b, a)
            if not needle:
                return []
            return _bool(any(_same(_single(needle), h[0]) for h in hay))
        if not a or not b:
            return []
        x, y = _single(a), _single(b)
        if op == "+" and isinstance(x, str) and isinstance(y, str):
            return [(x + y, "string")]
        return _arithmetic(op, x, y)

    return run


def _arithmetic(op: str, x: Any, y: Any) -> Coll:
    if op in ("<", ">", "<=", ">="):
        if isinstance(x, str) and isinstance(y, str):
            raise Unsupported("string or date comparison")
        a, b = _number(x), _number(y)
        return _bool({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op])
    a, b = _number(x), _number(y)
    if op == "+":
        result = a + b
    elif op == "-":
        result = a - b
    elif op == "*":
        result = a * b
    elif op == "mod":
        if b == 0:
            return []
        result = a % b
    else:
        raise Unsupported(f"operator {op}")
    return [(result, "integer" if isinstance(result, int) else "decimal")]


def _polarity(node: dict[str, Any]) -> Fn:
    inner = _compile(_kids(node)[0])
    sign = -1 if _op(node) == "-" else 1
    return lambda focus, env: [(sign * _number(_single(inner(focus, env))), "decimal")]


def _type_expression(node: dict[str, Any]) -> Fn:
    left_node, spec = _kids(node)
    left, name, op = _compile(left_node), _type_name(spec), _op(node)
    if op == "is":
        return lambda focus, env: (
            lambda coll: [] if not coll else _bool(len(coll) == 1 and _is(coll[0], name))
        )(left(focus, env))
    return lambda focus, env: [item for item in left(focus, env) if _is(item, name)][:1]


_NODES: dict[str, Callable[[dict[str, Any]], Fn]] = {
    "TermExpression": _term,
    "ParenthesizedTerm": lambda node: _compile(_kids(node)[0]),
    "InvocationTerm": _invocation_term,
    "InvocationExpression": _invocation_expression,
    "IndexerExpression": _indexer,
    "LiteralTerm": _literal,
    "ExternalConstantTerm": lambda node: _external(_kids(node)[0]),
    "AndExpression": _logic,
    "OrExpression": _logic,
    "ImpliesExpression": _logic,
    "EqualityExpression": _equality,
    "InequalityExpression": _binary,
    "AdditiveExpression": _binary,
    "MultiplicativeExpression": _binary,
    "UnionExpression": _binary,
    "MembershipExpression": _binary,
    "PolarityExpression": _polarity,
    "TypeExpression": _type_expression,
}


def compile_fast(expression: str) -> Compiled | None:
    """A fast evaluator for `expression`, or None when it uses what this module leaves out."""
    try:
        tree = parse(expression)
        body = _compile(_kids(tree)[0])
    except Unsupported:
        return None
    except Exception:  # the parser's own errors: fhirpathpy will report them
        return None

    def run(value: Any, type_path: str, resource: dict[str, Any], hooks: Any) -> list[Any]:
        context: Item = (value, _type_of(value, type_path))
        env = Env(context, (resource, str(resource.get("resourceType"))), hooks)
        return [v for v, _ in body([context], env)]

    return run
