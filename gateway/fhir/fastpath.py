"""A fast evaluator for the FHIRPath that invariants use, compiled from fhirpathpy's parse tree.

fhirpathpy interprets its parse tree anew on every call (≈50–200 µs for an invariant such as
obs-6), which makes invariants ~80 % of a message's validation time. This module compiles the
same parse tree once into Python closures over plain JSON values, for the subset of FHIRPath that
profile constraints are written in: paths (choice types resolved with fhirpathpy's R4 model, as
in fhirpathpy), indexers, literals, `%resource`/`%rootResource`/`%context`/`$this`, boolean logic
with empty propagation, (in)equality, arithmetic, `|`, `&`, `in`, `is`, and the functions in
`fastpath_functions.FUNCTIONS`. Anything else is refused at compile time (`None`), and anything
surprising at run time raises `Unsupported`; either way the caller evaluates with fhirpathpy
instead, which stays the reference: tests/test_fhir_invariants.py runs every example and mutant
both ways and requires identical Issues.

A subexpression that reads neither the focus nor `$this` (`%resource.type = 'batch'` inside
`entry.all(…)`) has one value per evaluation; it is computed once and remembered for the rest of
that evaluation instead of once per item.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhirpathpy.parser import parse

from gateway.fhir.fastpath_functions import (
    FALSE,
    FUNCTIONS,
    ITERATING,
    TRUE,
    Coll,
    Compiled,
    Env,
    Fn,
    Item,
    Unsupported,
    boolean,
    is_type,
    number,
    same,
    single,
    step,
    string,
    truth,
    type_of,
)

__all__ = ["Compiled", "Unsupported", "compile_fast"]

Call = Callable[[Coll, Coll, Env], Coll]  # (input, focus, env) → result


@dataclass(frozen=True, slots=True)
class _Node:
    """A compiled subexpression."""

    run: Fn
    free: bool  # reads neither the focus nor $this: one value per evaluation
    cheap: bool = False  # a literal or a variable: nothing to gain by remembering it
    # A path `a.b.c`: what it starts from (None: the focus) and its member names, so that a
    # longer path is one closure, not one per step.
    start: Fn | None = None
    names: tuple[str, ...] = ()


def _path(start: Fn | None, names: tuple[str, ...], free: bool) -> _Node:
    """`start.names[0].names[1]…` as one closure."""
    if len(names) == 1 and start is None:
        name = names[0]
        return _Node(lambda focus, env: step(focus, name), free, start=start, names=names)

    def run(focus: Coll, env: Env) -> Coll:
        coll = focus if start is None else start(focus, env)
        for name in names:
            coll = step(coll, name)
        return coll

    return _Node(run, free, start=start, names=names)


_SLOTS = itertools.count()


def _use(node: _Node, parent_free: bool) -> Fn:
    """The closure a parent calls: a free subexpression of a focus-dependent parent is
    remembered for the evaluation (computed at its first use)."""
    if parent_free or not node.free or node.cheap:
        return node.run
    run, slot = node.run, next(_SLOTS)

    def remembered(focus: Coll, env: Env) -> Coll:
        memo = env.memo
        if memo is None:
            memo = env.memo = {}
        found = memo.get(slot)
        if found is None:
            found = memo[slot] = run(focus, env)
        return found

    return remembered


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


def _compile(node: dict[str, Any]) -> _Node:
    kind = node.get("type")
    handler = _NODES.get(str(kind))
    if handler is None:
        raise Unsupported(f"FHIRPath construct {kind}")
    return handler(node)


def _term(node: dict[str, Any]) -> _Node:
    return _compile(_kids(node)[0])


def _invocation_term(node: dict[str, Any]) -> _Node:
    child = _kids(node)[0]
    if child.get("type") == "MemberInvocation":
        name = str(_kids(child)[0].get("text"))
        if name[0].isupper():  # `Bundle.entry…`: a type name at the start of a path filters

            def by_type(focus: Coll, env: Env) -> Coll:
                return [item for item in focus if is_type(item, name)]

            return _Node(by_type, free=False)
        return _path(None, (name,), free=False)
    if child.get("type") == "ThisInvocation":
        return _Node(lambda focus, env: env.this if env.this is not None else focus, free=False)
    if child.get("type") == "FunctionInvocation":
        call, _ = _function(child)
        return _Node(
            lambda focus, env: call(env.this if env.this is not None else focus, focus, env),
            free=False,
        )
    raise Unsupported(f"invocation {child.get('type')}")


def _function(node: dict[str, Any]) -> tuple[Call, bool]:
    """The call, and whether its result depends on its input alone (not on the focus)."""
    functn = _kids(node)[0]
    parts = _kids(functn)
    name = str(parts[0].get("text"))
    params = _kids(parts[1]) if len(parts) > 1 else []
    if name in ("ofType", "is", "as") and len(params) == 1:
        type_name = _type_name(params[0])
        if name == "ofType":
            return (lambda coll, focus, env: [i for i in coll if is_type(i, type_name)]), True
        if name == "is":
            return (
                lambda coll, focus, env: (
                    [] if not coll else boolean(len(coll) == 1 and is_type(coll[0], type_name))
                )
            ), True
        return (lambda coll, focus, env: [i for i in coll if is_type(i, type_name)][:1]), True
    entry = FUNCTIONS.get(name)
    if entry is None or len(params) not in entry[0]:
        raise Unsupported(f"function {name}/{len(params)}")
    compiled = [_compile(p) for p in params]
    # An iterating function evaluates its argument per input item (focus and $this are the
    # item); any other evaluates its arguments against the focus of the call.
    free = name in ITERATING or all(c.free for c in compiled)
    args = [_use(c, False) for c in compiled]
    impl = entry[1]
    return (lambda coll, focus, env: impl(coll, args, focus, env)), free


def _invocation_expression(node: dict[str, Any]) -> _Node:
    left_node, right = _kids(node)
    compiled = _compile(left_node)
    if right.get("type") == "MemberInvocation":
        name = str(_kids(right)[0].get("text"))
        if compiled.names:  # a longer path
            return _path(compiled.start, (*compiled.names, name), compiled.free)
        return _path(compiled.run, (name,), compiled.free)
    if right.get("type") == "FunctionInvocation":
        call, input_only = _function(right)
        free = compiled.free and input_only
        left = _use(compiled, free)
        return _Node(lambda focus, env: call(left(focus, env), focus, env), free=free)
    raise Unsupported(f"invocation {right.get('type')}")


def _pair(node: dict[str, Any]) -> tuple[Fn, Fn, bool]:
    """The two operands of a binary node, remembered where free, and whether both are free."""
    first, second = (_compile(k) for k in _kids(node))
    free = first.free and second.free
    return _use(first, free), _use(second, free), free


def _indexer(node: dict[str, Any]) -> _Node:
    left, index, free = _pair(node)

    def run(focus: Coll, env: Env) -> Coll:
        position = index(focus, env)
        if not position:
            return []
        at = int(number(single(position)))
        return left(focus, env)[at : at + 1] if at >= 0 else []

    return _Node(run, free)


def _literal(node: dict[str, Any]) -> _Node:
    literal = _kids(node)[0]
    kind, text = literal.get("type"), str(literal.get("text"))
    if kind == "StringLiteral":
        value = re.sub(
            r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), text[1:-1]
        )
        return _Node(lambda focus, env: [(value, "string")], free=True, cheap=True)
    if kind == "NumberLiteral":
        number_value: int | Decimal = Decimal(text) if "." in text else int(text)
        kind_name = "decimal" if "." in text else "integer"
        return _Node(lambda focus, env: [(number_value, kind_name)], free=True, cheap=True)
    if kind == "BooleanLiteral":
        return _Node(lambda focus, env: boolean(text == "true"), free=True, cheap=True)
    if kind == "NullLiteral":
        return _Node(lambda focus, env: [], free=True, cheap=True)
    raise Unsupported(f"literal {kind}")


def _external(node: dict[str, Any]) -> _Node:
    name = "%" + str(_kids(node)[0].get("text")).replace("`", "").replace("'", "")
    if name in ("%resource", "%rootResource"):
        return _Node(lambda focus, env: [env.resource], free=True, cheap=True)
    if name == "%context":
        return _Node(lambda focus, env: [env.context], free=True, cheap=True)
    if name == "%ucum":
        ucum: Coll = [("http://unitsofmeasure.org", "string")]
        return _Node(lambda focus, env: list(ucum), free=True, cheap=True)
    raise Unsupported(f"variable {name}")


def _logic(node: dict[str, Any]) -> _Node:
    left, right, free = _pair(node)
    op = _op(node)

    def and_(focus: Coll, env: Env) -> Coll:
        a = truth(left(focus, env))
        if a is False:
            return FALSE
        b = truth(right(focus, env))
        return FALSE if b is False else (TRUE if a and b else [])

    def or_(focus: Coll, env: Env) -> Coll:
        a = truth(left(focus, env))
        if a is True:
            return TRUE
        b = truth(right(focus, env))
        return TRUE if b is True else (FALSE if a is False and b is False else [])

    def implies(focus: Coll, env: Env) -> Coll:
        a = truth(left(focus, env))
        if a is False:
            return TRUE
        b = truth(right(focus, env))
        if b is True:
            return TRUE
        return FALSE if a is True and b is False else []

    def xor(focus: Coll, env: Env) -> Coll:
        a = truth(left(focus, env))
        b = truth(right(focus, env))
        return [] if a is None or b is None else boolean(a != b)

    def unknown(focus: Coll, env: Env) -> Coll:
        truth(left(focus, env))
        raise Unsupported(f"operator {op}")

    runs = {"and": and_, "or": or_, "implies": implies, "xor": xor}
    return _Node(runs.get(op, unknown), free)


def _equality(node: dict[str, Any]) -> _Node:
    left, right, free = _pair(node)
    op = _op(node)
    if op not in ("=", "!="):
        raise Unsupported(f"operator {op}")
    negate = op == "!="

    def run(focus: Coll, env: Env) -> Coll:
        a, b = left(focus, env), right(focus, env)
        if not a or not b:
            return []
        if len(a) == 1 and len(b) == 1:
            equal = same(a[0][0], b[0][0])
        else:
            equal = len(a) == len(b) and all(same(x[0], y[0]) for x, y in zip(a, b, strict=True))
        return boolean(equal is not negate)

    return _Node(run, free)


def _binary(node: dict[str, Any]) -> _Node:
    left, right, free = _pair(node)
    op = _op(node)

    def union(focus: Coll, env: Env) -> Coll:
        out = list(left(focus, env))
        for item in right(focus, env):
            if not any(same(item[0], o[0]) for o in out):
                out.append(item)
        return out

    def concatenate(focus: Coll, env: Env) -> Coll:
        a, b = left(focus, env), right(focus, env)
        return [((string(a) or "") + (string(b) or ""), "string")]

    def membership(focus: Coll, env: Env) -> Coll:
        a, b = left(focus, env), right(focus, env)
        needle, hay = (a, b) if op == "in" else (b, a)
        if not needle:
            return []
        return boolean(any(same(single(needle), h[0]) for h in hay))

    calculate = _ARITHMETIC.get(op)

    def arithmetic(focus: Coll, env: Env) -> Coll:
        a, b = left(focus, env), right(focus, env)
        if not a or not b:
            return []
        x, y = single(a), single(b)
        if op == "+" and isinstance(x, str) and isinstance(y, str):
            return [(x + y, "string")]
        if calculate is None:
            raise Unsupported(f"operator {op}")
        return calculate(x, y)

    if op == "|":
        return _Node(union, free)
    if op == "&":
        return _Node(concatenate, free)
    if op in ("in", "contains"):
        return _Node(membership, free)
    return _Node(arithmetic, free)


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Coll]:
    def run(x: Any, y: Any) -> Coll:
        if isinstance(x, str) and isinstance(y, str):
            raise Unsupported("string or date comparison")
        return boolean(test(number(x), number(y)))

    return run


def _calculate(operate: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Coll]:
    def run(x: Any, y: Any) -> Coll:
        result = operate(number(x), number(y))
        return [(result, "integer" if isinstance(result, int) else "decimal")]

    return run


def _modulo(x: Any, y: Any) -> Coll:
    a, b = number(x), number(y)
    if b == 0:
        return []
    result = a % b
    return [(result, "integer" if isinstance(result, int) else "decimal")]


_ARITHMETIC: dict[str, Callable[[Any, Any], Coll]] = {
    "<": _compare(lambda a, b: a < b),
    ">": _compare(lambda a, b: a > b),
    "<=": _compare(lambda a, b: a <= b),
    ">=": _compare(lambda a, b: a >= b),
    "+": _calculate(lambda a, b: a + b),
    "-": _calculate(lambda a, b: a - b),
    "*": _calculate(lambda a, b: a * b),
    "mod": _modulo,
}


def _polarity(node: dict[str, Any]) -> _Node:
    compiled = _compile(_kids(node)[0])
    inner = _use(compiled, compiled.free)
    sign = -1 if _op(node) == "-" else 1
    return _Node(
        lambda focus, env: [(sign * number(single(inner(focus, env))), "decimal")], compiled.free
    )


def _type_expression(node: dict[str, Any]) -> _Node:
    left_node, spec = _kids(node)
    compiled, name, op = _compile(left_node), _type_name(spec), _op(node)
    left = compiled.run
    if op == "is":

        def run(focus: Coll, env: Env) -> Coll:
            coll = left(focus, env)
            return [] if not coll else boolean(len(coll) == 1 and is_type(coll[0], name))

        return _Node(run, compiled.free)
    return _Node(
        lambda focus, env: [item for item in left(focus, env) if is_type(item, name)][:1],
        compiled.free,
    )


_NODES: dict[str, Callable[[dict[str, Any]], _Node]] = {
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
        body = _compile(_kids(tree)[0]).run
    except Unsupported:
        return None
    except Exception:  # the parser's own errors: fhirpathpy will report them
        return None

    def run(value: Any, type_path: str, resource: dict[str, Any], hooks: Any) -> list[Any]:
        context: Item = (value, type_of(value, type_path))
        env = Env(context, (resource, str(resource.get("resourceType"))), hooks)
        return [v for v, _ in body([context], env)]

    return run
