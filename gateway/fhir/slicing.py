"""Which slice an item of a sliced element belongs to (FHIR R4 §5.1.0.4, discriminators).

A discriminator is a path and a kind. For `value`/`pattern` the slice's definition is walked along
the path (into its children, a type profile such as DK-core's CPR identifier, an extension
definition, or a fixed/pattern value) to find what the slice expects; the instance is walked along
the same path to find what it has. `type` compares types, and `profile` asks
whether the item (or, through `resolve()`, the resource it references) conforms to the slice's
profile. The paths MedCom and DK-core use are supported: names, `$this`, `extension('url')`,
choice names such as `value`, and `resolve()`. An `exists` discriminator (used by none of them)
is not supported: no item matches such a slice, so a closed slicing reports it.

What each slice expects is worked out once per slice (`SliceIndex`, kept in plan.py's plans);
`slice_of` then sorts one item: by its JSON key alone for a choice sliced by type, by set lookups
when every expectation is a fixed string, else slice by slice and discriminator by discriminator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from gateway.fhir.base import suffix_type
from gateway.fhir.packages import PackageKey
from gateway.fhir.profiles import MISSING, ElementNode, Profile

if TYPE_CHECKING:
    from gateway.fhir.plan import SlicingPlan

_TOKEN = re.compile(r"extension\('([^']*)'\)|resolve\(\)|\$this|[A-Za-z_][A-Za-z0-9_]*")

Expectation = tuple[str, Any]  # ("fixed" | "pattern", value)


class Definitions(Protocol):
    def profile(self, canonical: str, context: PackageKey | None) -> Profile | None: ...


def tokens(path: str) -> list[str | tuple[str, str]]:
    """`extension('u').value.code` → [("extension", "u"), "value", "code"]."""
    out: list[str | tuple[str, str]] = []
    for match in _TOKEN.finditer(path):
        out.append(("extension", match.group(1)) if match.group(1) is not None else match.group(0))
    return out


def pattern_matches(pattern: Any, actual: Any) -> bool:
    """FHIR pattern[x] semantics: every part of the pattern is present in the value."""
    if isinstance(pattern, dict):
        return isinstance(actual, dict) and all(
            key in actual and pattern_matches(value, actual[key]) for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(actual, list) and all(
            any(pattern_matches(p, a) for a in actual) for p in pattern
        )
    return same(pattern, actual)


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float | Decimal)


def _choice_values(obj: dict[str, Any], name: str) -> list[Any]:
    if name in obj:
        value = obj[name]
        return list(value) if isinstance(value, list) else [value]
    out: list[Any] = []
    for key, value in obj.items():
        if key.startswith(name) and len(key) > len(name) and key[len(name)].isupper():
            out.extend(value if isinstance(value, list) else [value])
    return out


def instance_values(
    item: Any, path: list[str | tuple[str, str]], resolve: Callable[[str], Any]
) -> list[Any]:
    """The values the instance has at a discriminator path."""
    current = [item]
    for step in path:
        following: list[Any] = []
        for value in current:
            if step == "$this":
                following.append(value)
            elif step == "resolve()":
                reference = value.get("reference") if isinstance(value, dict) else value
                target = resolve(reference) if isinstance(reference, str) else None
                if target is not None:
                    following.append(target)
            elif isinstance(step, tuple):
                found = (value.get("extension") or ()) if isinstance(value, dict) else ()
                following.extend(
                    e
                    for e in (found if isinstance(found, Iterable) else ())
                    if isinstance(e, dict) and e.get("url") == step[1]
                )
            elif isinstance(value, dict):
                following.extend(_choice_values(value, step))
        current = following
    return current


@dataclass(slots=True)
class _Walk:
    definitions: Definitions

    def expectations(
        self, node: ElementNode, package: PackageKey, path: list[str | tuple[str, str]]
    ) -> list[Expectation]:
        if not path:
            return self._terminal(node, package)
        step, rest = path[0], path[1:]
        if step == "$this":
            return self.expectations(node, package, rest)
        for kind, value in (("fixed", node.fixed), ("pattern", node.pattern)):
            if value is not MISSING:
                return [(kind, v) for v in instance_values(value, path, lambda _: None)]
        children, package = self._children(node, package)
        if isinstance(step, tuple):
            holder = children.get("extension")
            candidates = [
                s for s in (holder.slices if holder else []) if self._url(s, package) == step[1]
            ]
        else:
            child = children.get(step) or children.get(f"{step}[x]")
            candidates = [] if child is None else [child]
            if child is not None and child.slices and self._is_open_value(child):
                candidates = child.slices
        out: list[Expectation] = []
        for candidate in candidates:
            out.extend(self.expectations(candidate, package, rest))
        return out

    @staticmethod
    def _is_open_value(node: ElementNode) -> bool:
        return node.fixed is MISSING and node.pattern is MISSING

    def _children(
        self, node: ElementNode, package: PackageKey
    ) -> tuple[dict[str, ElementNode], PackageKey]:
        if node.children:
            return node.children, package
        for type_ref in node.types:
            for canonical in type_ref.profiles:
                profile = self.definitions.profile(canonical, package)
                if profile is not None:
                    return profile.root.children, profile.package
        return {}, package

    def _url(self, node: ElementNode, package: PackageKey) -> str | None:
        url = node.children.get("url")
        if url is not None and isinstance(url.fixed, str):
            return url.fixed
        for type_ref in node.types:
            if type_ref.profiles:
                return type_ref.profiles[0].partition("|")[0]
        return None

    def _terminal(self, node: ElementNode, package: PackageKey) -> list[Expectation]:
        if node.fixed is not MISSING:
            return [("fixed", node.fixed)]
        if node.pattern is not MISSING:
            return [("pattern", node.pattern)]
        for type_ref in node.types:
            for canonical in type_ref.profiles:
                profile = self.definitions.profile(canonical, package)
                if profile is not None:
                    root = profile.root
                    if root.fixed is not MISSING or root.pattern is not MISSING:
                        return self._terminal(root, profile.package)
        return []


class SliceIndex:
    """Remembers, per slice and discriminator, what the slice expects (computed once)."""

    def __init__(self, definitions: Definitions) -> None:
        self._walk = _Walk(definitions)
        self._memo: dict[tuple[int, str], list[Expectation]] = {}
        self._keep: list[ElementNode] = []  # keeps id() keys valid

    def expected(self, slice_node: ElementNode, package: PackageKey, path: str) -> Any:
        key = (id(slice_node), f"{path}|{package}")
        found = self._memo.get(key)
        if found is None:
            found = self._walk.expectations(slice_node, package, tokens(path))
            self._memo[key] = found
            self._keep.append(slice_node)
        return found


def same(a: Any, b: Any) -> bool:
    """FHIR fixed[x] equality: same JSON, numbers compared by value (8.1 == 8.10 is false)."""
    if type(a) is str:
        return type(b) is str and a == b  # the common case, decided as below
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if _number(a) and _number(b):
        return str(a) == str(b)
    return type(a) is type(b) and a == b


def value_matches(actual: list[Any], expected: list[Expectation]) -> bool:
    """Whether any instance value meets any expectation of a value/pattern discriminator."""
    for kind, want in expected:
        for value in actual:
            if kind == "fixed" and same(want, value):
                return True
            if kind == "pattern" and pattern_matches(want, value):
                return True
    return False


# --- choosing the slice of an item ----------------------------------------------------------


def slice_of(
    slicing: SlicingPlan,
    sliced: ElementNode,
    package: PackageKey,
    key: str,
    value: Any,
    resolve: Callable[[str], Any],
    conforms: Callable[[dict[str, Any], str, PackageKey | None], bool],
) -> int | None:
    """The first slice an item (under JSON `key`) belongs to, by the discriminators; None when
    it belongs to none. `conforms` answers profile discriminators."""
    if slicing.by_key is not None:  # decided by the JSON key alone (`valueQuantity`)
        if key in slicing.by_key:
            return slicing.by_key[key]
        chosen = _by_tests(slicing, sliced, package, key, value, resolve, conforms)
        if len(slicing.by_key) < 64:
            slicing.by_key[key] = chosen
        return chosen
    if slicing.strings:  # one value discriminator, fixed strings: a set lookup per slice
        found = instance_values(value, slicing.discriminators[0].steps, resolve)
        strings = [v for v in found if type(v) is str]
        for chosen, piece in enumerate(slicing.slices):
            wanted = piece.strings[0]
            if wanted is not None and any(v in wanted for v in strings):
                return chosen
        return None
    return _by_tests(slicing, sliced, package, key, value, resolve, conforms)


def _by_tests(
    slicing: SlicingPlan,
    sliced: ElementNode,
    package: PackageKey,
    key: str,
    value: Any,
    resolve: Callable[[str], Any],
    conforms: Callable[[dict[str, Any], str, PackageKey | None], bool],
) -> int | None:
    """Each slice in order, each discriminator in turn; an item's values at a discriminator
    path are looked up once."""
    discriminators = slicing.discriminators
    actual: list[list[Any] | None] = [None] * len(discriminators)
    have: list[list[str] | None] = [None] * len(discriminators)
    for chosen, test in enumerate(slicing.slices):
        for position, disc in enumerate(discriminators):
            kind = disc.kind
            if kind == "value" or kind == "pattern":
                expected = test.expected[position]
                if not expected:
                    break
                values = actual[position]
                if values is None:
                    values = actual[position] = instance_values(value, disc.steps, resolve)
                strings = test.strings[position]
                if strings is not None:
                    if not any(type(v) is str and v in strings for v in values):
                        break
                elif not value_matches(values, expected):
                    break
            elif kind == "type":
                types = have[position]
                if types is None:
                    if disc.suffix_is_type:
                        types = [suffix_type(key[len(sliced.name) - 3 :])]
                    else:
                        found = instance_values(value, disc.steps, resolve)
                        types = [
                            v["resourceType"]
                            for v in found
                            if isinstance(v, dict) and "resourceType" in v
                        ]
                    have[position] = types
                if not any(h in test.type_codes for h in types):
                    break
            elif kind == "profile":
                values = actual[position]
                if values is None:
                    values = actual[position] = instance_values(value, disc.steps, resolve)
                targets = test.targets[position]
                if not any(
                    isinstance(a, dict) and conforms(a, url, package)
                    for a in values
                    for url in targets
                ):
                    break
            else:
                break
        else:
            return chosen
    return None
