"""Per-element plans: what the profile walk needs about one element definition, worked out once.

The checker visits the same element definitions for every message. A `NodePlan` holds, for one
ElementNode in the context of one package (the package of the profile it belongs to), what the
walk would otherwise look up again for every value: which child an instance key selects and which
children are visited even when absent, the invariants left once those checked elsewhere are
dropped, the expansion of a required binding, the profiles a type names, the resource types a
reference may target, each slice's discriminator expectations, and whether visiting a value
can find anything at all (`inert`: then only the count matters). Plans are built on first use
and never change afterwards, as the packages do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.fhir.native import BY_EXPRESSION, NATIVE, Native, checked_elsewhere, normal
from gateway.fhir.packages import PackageKey
from gateway.fhir.profiles import (
    MISSING,
    Constraint,
    ElementNode,
    Profile,
    ProfileStore,
    Slicing,
    TypeRef,
    profile_type,
)
from gateway.fhir.slicing import Expectation, SliceIndex, tokens
from gateway.fhir.terminology import CodeSet, Terminology

EXTENSIONS = ("extension", "modifierExtension")
Steps = list[str | tuple[str, str]]


class Definitions(Protocol):
    def profile(self, canonical: str, context: PackageKey | None) -> Profile | None: ...


@dataclass(slots=True)
class Discriminator:
    kind: str  # value | pattern | type | profile | (anything else: never matches)
    path: str
    steps: Steps
    suffix_is_type: bool  # `type` on `$this` of a choice element: the JSON key names the type


@dataclass(slots=True)
class SliceTest:
    """What one slice requires, per discriminator of the slicing."""

    node: ElementNode
    expected: list[list[Expectation]]  # value/pattern: the expectations (empty: never matches)
    strings: list[frozenset[str] | None]  # … when every one is a fixed string: those strings
    type_codes: tuple[str, ...]
    targets: list[list[str]]  # profile: the profiles (or, through resolve(), target profiles)
    plan: NodePlan | None = None


@dataclass(slots=True)
class SlicingPlan:
    slicing: Slicing
    discriminators: list[Discriminator]
    slices: list[SliceTest]
    names: str  # for the closed-slicing message
    # Every discriminator is the type of a choice's JSON key: the slice of each key, remembered.
    by_key: dict[str, int | None] | None
    # One value/pattern discriminator whose expectations are all fixed strings (or none).
    strings: bool


@dataclass(slots=True)
class ChildPlan:
    node: ElementNode
    name: str  # the JSON name; for a choice element its stem (`value`)
    underscore: str  # `_name`, the primitive's extension partner
    choice: bool
    sliced: bool
    extension: bool  # an unsliced extension element: items are checked against their definitions
    types_by_code: dict[str, TypeRef]  # for a choice: the first type with each code
    min: int
    max: int | None
    limit: int  # max, or a count no message reaches when unbounded
    plan: NodePlan | None = None  # built on the first visit (in the parent plan's package)
    skip: bool = False  # (once planned) its values need no visit: inert, not an extension
    leaf: bool = False  # (once planned) only a fixed value, pattern or binding to check
    # For a choice: its JSON keys in each type path it was met in, with their types.
    choice_keys: dict[str, dict[str, TypeRef | None]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # parent type path → its FHIRPath type


@dataclass(slots=True)
class NodePlan:
    node: ElementNode
    package: PackageKey
    fixed: Any
    pattern: Any
    codes: CodeSet | None  # a required binding's expansion (None: no binding that can be checked)
    single: TypeRef | None  # the type when there is exactly one
    constraints: tuple[tuple[Constraint, Native | None], ...]
    children: tuple[ChildPlan, ...]
    by_key: dict[str, int]  # JSON key (`name`, `_name`) → index into children (choices excluded)
    always: tuple[int, ...]  # children visited even when absent (required, choice, sliced min)
    inert: bool  # nothing to check on a value: no rule, type profile, reference or child
    valued: bool  # a fixed value, a pattern or a required binding to check
    typed: bool  # a type names profiles or reference targets
    type_profiles: dict[int, list[tuple[str, NodePlan | None]]] = field(default_factory=dict)
    targets: dict[int, tuple[bool, frozenset[str | None]]] = field(default_factory=dict)
    extensions: dict[str, tuple[Profile | None, NodePlan | None]] = field(default_factory=dict)
    slicing: SlicingPlan | None = None


def _plain(type_ref: TypeRef) -> bool:
    """A type with nothing to check on a value: no profile, no reference target."""
    return not type_ref.profiles and not (
        type_ref.code == "Reference" and (type_ref.targets or type_ref.aggregation)
    )


class Planner:
    """Builds and keeps the plans of one validator's compiled profiles."""

    def __init__(
        self,
        definitions: Definitions,
        store: ProfileStore,
        terminology: Terminology,
        slices: SliceIndex,
    ) -> None:
        self.definitions = definitions
        self.store = store
        self.terminology = terminology
        self.slices = slices
        self._plans: dict[tuple[int, PackageKey], NodePlan] = {}
        self._keep: list[ElementNode] = []  # keeps the id() keys valid

    def plan(self, node: ElementNode, package: PackageKey) -> NodePlan:
        key = (id(node), package)
        found = self._plans.get(key)
        if found is None:
            found = self._build(node, package)
            self._plans[key] = found
            self._keep.append(node)
        return found

    def child(self, child: ChildPlan, package: PackageKey) -> NodePlan:
        """The plan of a child element (a ChildPlan belongs to one parent plan, one package)."""
        found = child.plan
        if found is None:
            found = self.plan(child.node, package)
            child.skip = found.inert and not child.extension
            child.leaf = (
                found.valued
                and not found.typed
                and not found.constraints
                and not found.children
                and not child.extension
            )
            child.plan = found
        return found

    def slice_plan(self, test: SliceTest, package: PackageKey) -> NodePlan:
        """The plan of a slice (a SliceTest belongs to one sliced element's plan)."""
        found = test.plan
        if found is None:
            found = test.plan = self.plan(test.node, package)
        return found

    def _build(self, node: ElementNode, package: PackageKey) -> NodePlan:
        codes = None
        if node.binding is not None and node.binding[0] == "required":
            codes = self.terminology.expand(node.binding[1], package)
        constraints = []
        for constraint in node.constraints:
            native = NATIVE.get((constraint.key, constraint.source)) or BY_EXPRESSION.get(
                normal(constraint.expression)
            )
            if native is not checked_elsewhere:
                constraints.append((constraint, native))
        children = tuple(_child(name, child) for name, child in node.children.items())
        by_key: dict[str, int] = {}
        for index, child in enumerate(children):
            if not child.choice:
                by_key[child.name] = index
                by_key[child.underscore] = index
        always = tuple(
            index
            for index, child in enumerate(children)
            if child.node.min > 0
            or child.choice
            or (child.node.slices and any(s.min for s in child.node.slices))
        )
        valued = node.fixed is not MISSING or node.pattern is not MISSING or codes is not None
        typed = not all(_plain(t) for t in node.types)
        inert = not valued and not typed and not constraints and not children
        return NodePlan(
            node=node,
            package=package,
            fixed=node.fixed,
            pattern=node.pattern,
            codes=codes,
            single=node.types[0] if len(node.types) == 1 else None,
            constraints=tuple(constraints),
            children=children,
            by_key=by_key,
            always=always,
            inert=inert,
            valued=valued,
            typed=typed,
        )

    # --- looked up on first need ----------------------------------------------------------

    def type_profiles(self, plan: NodePlan, type_ref: TypeRef) -> list[tuple[str, NodePlan | None]]:
        """Each profile a type names, with the plan of its root (None: not loaded)."""
        found = plan.type_profiles.get(id(type_ref))
        if found is None:
            found = []
            for canonical in type_ref.profiles:
                profile = self.definitions.profile(canonical, plan.package)
                root = None if profile is None else self.plan(profile.root, profile.package)
                found.append((canonical, root))
            plan.type_profiles[id(type_ref)] = found
        return found

    def targets(self, plan: NodePlan, type_ref: TypeRef) -> tuple[bool, frozenset[str | None]]:
        """(whether any target is acceptable, the resource types a reference may point to)."""
        found = plan.targets.get(id(type_ref))
        if found is None:
            allowed = frozenset(
                profile_type(url, self.store, plan.package) for url in type_ref.targets
            )
            judged = bool(type_ref.targets) and None not in allowed and "Resource" not in allowed
            found = (not judged, allowed)
            plan.targets[id(type_ref)] = found
        return found

    def extension(self, plan: NodePlan, url: str) -> tuple[Profile | None, NodePlan | None]:
        """The definition of an extension by its url, as resolved from the plan's package."""
        found = plan.extensions.get(url)
        if found is None:
            profile = self.definitions.profile(url, plan.package)
            root = None
            if profile is not None and profile.type == "Extension":
                root = self.plan(profile.root, profile.package)
            found = (profile, root)
            if len(plan.extensions) < 256:  # urls come from messages: keep a bounded few
                plan.extensions[url] = found
        return found

    def slicing(self, plan: NodePlan) -> SlicingPlan:
        found = plan.slicing
        if found is None:
            found = self._slicing(plan.node, plan.package)
            plan.slicing = found
        return found

    def _slicing(self, node: ElementNode, package: PackageKey) -> SlicingPlan:
        assert node.slicing is not None
        discriminators = [
            Discriminator(kind, path, tokens(path), node.is_choice and path == "$this")
            for kind, path in node.slicing.discriminators
        ]
        tests = []
        for piece in node.slices:
            expected: list[list[Expectation]] = []
            strings: list[frozenset[str] | None] = []
            targets: list[list[str]] = []
            for disc in discriminators:
                wanted: list[Expectation] = []
                if disc.kind in ("value", "pattern"):
                    wanted = self.slices.expected(piece, package, disc.path)
                expected.append(wanted)
                strings.append(_fixed_strings(wanted))
                targets.append(
                    [
                        url
                        for t in piece.types
                        for url in (t.targets if "resolve()" in disc.path else t.profiles)
                    ]
                )
            tests.append(SliceTest(piece, expected, strings, piece.type_codes(), targets))
        names = ", ".join(str(s.slice_name) for s in node.slices)
        keyed = bool(discriminators) and all(d.suffix_is_type for d in discriminators)
        by_key: dict[str, int | None] | None = {} if keyed else None
        fixed_strings = (
            len(discriminators) == 1
            and discriminators[0].kind in ("value", "pattern")
            and all(t.strings[0] is not None or not t.expected[0] for t in tests)
        )
        return SlicingPlan(node.slicing, discriminators, tests, names, by_key, fixed_strings)


def _child(name: str, node: ElementNode) -> ChildPlan:
    choice = node.is_choice
    types_by_code: dict[str, TypeRef] = {}
    for type_ref in node.types:
        types_by_code.setdefault(type_ref.code, type_ref)
    json_name = name[:-3] if choice else name
    return ChildPlan(
        node=node,
        name=json_name,
        underscore=f"_{json_name}",
        choice=choice,
        sliced=bool(node.slices) and node.slicing is not None,
        extension=node.name in EXTENSIONS and not node.slices,
        types_by_code=types_by_code,
        min=node.min,
        max=node.max,
        limit=node.max if node.max is not None else 2**62,
    )


def _fixed_strings(expected: list[Expectation]) -> frozenset[str] | None:
    """The strings, when every expectation is a fixed string (matched by `in`, not `same`)."""
    if expected and all(kind == "fixed" and type(want) is str for kind, want in expected):
        return frozenset(want for _, want in expected)
    return None
