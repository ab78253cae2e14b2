"""Checks one instance against one compiled profile: the walk over the element tree.

For every element the profile defines, the instance's values are counted against min/max and
each value is checked for its fixed or pattern value, its required binding, its type (choice
types, type profiles such as DK-core's identifiers, extension definitions, reference targets)
and its invariants; sliced elements first sort their items into slices by the discriminators.
Base invariants that are checked elsewhere or natively are listed in `NATIVE` with the reason.
One `Run` is one message: it owns the Bundle index and the memo of "does X conform to P".
A reference's target is checked for its resource type only (the target is validated against its
own profiles where it sits, so a wrong CPR is one error at the CPR, not one more at every
reference to the Patient); conformance to a target profile is evaluated where a slice
discriminator (`resolve()`) or an invariant (`conformsTo()`) asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from gateway.fhir import base, rules
from gateway.fhir.bundle import BundleIndex
from gateway.fhir.fhirpath import Environment, FhirPath, InvariantError
from gateway.fhir.packages import PackageKey
from gateway.fhir.profiles import (
    CORE_PREFIX,
    MISSING,
    Constraint,
    ElementNode,
    Profile,
    ProfileStore,
    TypeRef,
    profile_type,
)
from gateway.fhir.slicing import (
    SliceIndex,
    instance_values,
    pattern_matches,
    same,
    tokens,
    value_matches,
)
from gateway.fhir.terminology import Terminology, binding_problem
from gateway.issues import Issue, IssueType, Severity

Out = list[Issue]
Native = Callable[[Any, dict[str, Any]], "bool | None"]


def _ext_1(value: Any, _: dict[str, Any]) -> bool | None:
    if not isinstance(value, dict):
        return None  # not an object (structure.py reports it): the FHIRPath decides
    has_value = any(k.startswith("value") and k[5:6].isupper() for k in value)
    return bool(value.get("extension")) != has_value


def _no_contained(_: Any, resource: dict[str, Any]) -> bool | None:
    return True if not resource.get("contained") else None


def _has_narrative(value: Any, _: dict[str, Any]) -> bool:
    text = value.get("text")
    return isinstance(text, dict) and "div" in text


_CORE = "http://hl7.org/fhir/StructureDefinition/"
# R4 base invariants answered without fhirpathpy, by (key, declaring StructureDefinition). A
# native answer of None falls back to fhirpathpy. Each is exactly the R4 expression's meaning;
# tests/test_fhir_invariants.py checks them against fhirpathpy on good and bad instances.
NATIVE: dict[tuple[str, str], Native] = {
    # ele-1 needs hasValue()/children() on every element of every resource (1.7 ms a Bundle in
    # fhirpathpy); structure.py checks the same rule (no empty object, array or string) in one pass.
    ("ele-1", f"{_CORE}Element"): lambda value, resource: True,
    # txt-1/txt-2 call htmlChecks(), which fhirpathpy lacks; narrative.py implements them.
    ("txt-1", f"{_CORE}Narrative"): lambda value, resource: True,
    ("txt-2", f"{_CORE}Narrative"): lambda value, resource: True,
    # ext-1 "extension.exists() != value.exists()": evaluated on every extension; a dict test.
    ("ext-1", f"{_CORE}Extension"): _ext_1,
    # dom-2…dom-5 only constrain contained resources: with none they hold trivially (dom-3 costs
    # 2 ms in fhirpathpy); with contained resources fhirpathpy evaluates them.
    ("dom-2", f"{_CORE}DomainResource"): _no_contained,
    ("dom-3", f"{_CORE}DomainResource"): _no_contained,
    ("dom-4", f"{_CORE}DomainResource"): _no_contained,
    ("dom-5", f"{_CORE}DomainResource"): _no_contained,
    # dom-6 "text.`div`.exists()" (a best-practice warning).
    ("dom-6", f"{_CORE}DomainResource"): _has_narrative,
}


@cache
def _steps(path: str) -> list[str | tuple[str, str]]:
    return tokens(path)


def _suffix_type(suffix: str) -> str:
    """`String` → `string`, `Quantity` → `Quantity`, `DateTime` → `dateTime`."""
    lowered = suffix[0].lower() + suffix[1:]
    return lowered if base.is_primitive(lowered) else suffix


class Checker:
    """What a validator keeps between messages: definitions, value sets, compiled FHIRPath."""

    def __init__(self, store: ProfileStore, terminology: Terminology, fhirpath: FhirPath) -> None:
        self.store = store
        self.terminology = terminology
        self.fhirpath = fhirpath
        self.slices = SliceIndex(self)

    def profile(self, canonical: str, context: PackageKey | None) -> Profile | None:
        return self.store.get(canonical, context)


class Run:
    """The validation of one message against the profiles its resources claim."""

    def __init__(self, checker: Checker, index: BundleIndex) -> None:
        self.checker = checker
        self.index = index
        self._reports: dict[tuple[int, str, PackageKey], Out] = {}
        self.locations: dict[int, str] = {}  # id(resource) → its FHIRPath location
        self._failed_invariants: set[str] = set()
        self.env = Environment(self.resolve, self._conforms_any, self._member_of)
        self._context: PackageKey | None = None

    # --- entry points -------------------------------------------------------------------------

    def check(self, resource: dict[str, Any], profile: Profile, loc: str, out: Out) -> None:
        """Append the Issues of one resource (or datatype value) against one profile."""
        outer, self._context = self._context, profile.package
        try:
            type_path = resource.get("resourceType") or profile.type
            self.element(
                profile.root, resource, loc, str(type_path), profile.package, resource, out
            )
        finally:
            self._context = outer

    def report(self, resource: dict[str, Any], profile: Profile) -> Out:
        """The Issues of a resource against a profile, computed once per message.

        conformsTo() in a Bundle invariant and the resource's own meta.profile ask the same
        question; the answer (with the resource's real location) is shared.
        """
        key = (id(resource), profile.url, profile.package)
        found = self._reports.get(key)
        if found is None:
            self._reports[key] = []  # a cycle through references counts as conforming
            found = []
            self.check(resource, profile, self.locations.get(id(resource), ""), found)
            self._reports[key] = found
        return found

    def conforms(self, value: dict[str, Any], canonical: str, context: PackageKey | None) -> bool:
        """Whether a resource or datatype value meets a profile (memoised for this message)."""
        profile = self.checker.profile(canonical, context)
        url = canonical.partition("|")[0]
        if profile is None:
            kind = value.get("resourceType")
            return url.startswith(CORE_PREFIX) and kind in (None, url[len(CORE_PREFIX) :])
        if "resourceType" in value and value["resourceType"] != profile.type:
            return False
        return not any(issue.blocking for issue in self.report(value, profile))

    def resolve(self, reference: str) -> dict[str, Any] | None:
        return self.index.resolve(reference)

    def _conforms_any(self, value: dict[str, Any], canonical: str) -> bool:
        return self.conforms(value, canonical, self._context)

    def _member_of(self, value: Any, canonical: str) -> bool:
        codes = self.checker.terminology.expand(canonical, self._context)
        return codes is not None and binding_problem(value, codes) is None

    # --- the walk -----------------------------------------------------------------------------

    def element(
        self,
        node: ElementNode,
        value: Any,
        loc: str,
        type_path: str,
        package: PackageKey,
        resource: dict[str, Any],
        out: Out,
        type_ref: TypeRef | None = None,
    ) -> None:
        """Check one value against one element definition, then its children."""
        if node.fixed is not MISSING and not same(node.fixed, value):
            message = f"must be exactly {_shown(node.fixed)} (fixed by {node.label()})"
            out.append(rules.error(IssueType.VALUE, rules.FIXED, message, loc))
        if node.pattern is not MISSING and not pattern_matches(node.pattern, value):
            message = f"must match the pattern {_shown(node.pattern)} ({node.label()})"
            out.append(rules.error(IssueType.VALUE, rules.PATTERN, message, loc))
        if node.binding is not None and node.binding[0] == "required":
            self._binding(node, value, loc, package, out)
        type_ref = type_ref or (node.types[0] if len(node.types) == 1 else None)
        if type_ref is not None and isinstance(value, dict):
            if type_ref.profiles:
                self._type_profiles(type_ref, value, loc, type_path, package, resource, out)
            if type_ref.code == "Reference" and (type_ref.targets or type_ref.aggregation):
                self._reference(type_ref, value, loc, package, out)
        for constraint in node.constraints:
            self._invariant(constraint, value, loc, type_path, resource, out)
        if node.children and isinstance(value, dict):
            self._children(node, value, loc, type_path, package, resource, out)

    def _children(
        self,
        node: ElementNode,
        obj: dict[str, Any],
        loc: str,
        type_path: str,
        package: PackageKey,
        resource: dict[str, Any],
        out: Out,
    ) -> None:
        kids = base.children(type_path)
        for name, child in node.children.items():
            if (
                name not in obj
                and child.min == 0
                and not child.is_choice
                and not (child.slices and any(s.min for s in child.slices))
                and f"_{name}" not in obj
            ):
                continue  # absent and optional: nothing to count or check
            items = self._items(obj, child, kids, loc, out)
            shown = name[:-3] if child.is_choice else name
            count = len(items)
            if count < child.min:
                message = f"{child.label()} needs at least {child.min} (found {count})"
                out.append(
                    rules.error(IssueType.REQUIRED, rules.CARDINALITY, message, f"{loc}.{shown}")
                )
            if child.max is not None and count > child.max:
                message = (
                    f"{child.label()} is not allowed here"
                    if child.max == 0
                    else f"{child.label()} allows at most {child.max} (found {count})"
                )
                out.append(
                    rules.error(IssueType.STRUCTURE, rules.CARDINALITY, message, f"{loc}.{shown}")
                )
            if child.slices and child.slicing is not None:
                here = f"{loc}.{shown}"
                self._sliced(child, items, here, type_path, package, resource, out)
                continue
            for key, where, value, type_ref in items:
                child_type = base.fhirpath_type(type_path, key)
                self.element(child, value, where, child_type, package, resource, out, type_ref)
                if child.name in ("extension", "modifierExtension") and not child.slices:
                    self._extension(value, where, package, resource, out)

    def _items(
        self,
        obj: dict[str, Any],
        child: ElementNode,
        kids: dict[str, base.BaseElement],
        loc: str,
        out: Out,
    ) -> list[tuple[str, str, Any, TypeRef | None]]:
        """(JSON key, location, value, type) of each instance value of one element."""
        if child.is_choice:
            stem = child.name[:-3]
            found = []
            for key, value in obj.items():
                info = kids.get(key)
                if info is None or info.choice != stem:
                    continue
                wanted = _suffix_type(key[len(stem) :])
                type_ref = next((t for t in child.types if t.code == wanted), None)
                if type_ref is None and child.types:
                    allowed = ", ".join(stem + t.code[0].upper() + t.code[1:] for t in child.types)
                    message = f"{key} is not allowed by {child.label()}; allowed: {allowed}"
                    out.append(
                        rules.error(IssueType.STRUCTURE, rules.TYPE, message, f"{loc}.{key}")
                    )
                found.append((key, f"{loc}.{key}", value, type_ref))
            return found
        name = child.name
        value = obj.get(name)
        if value is None:
            return [(name, f"{loc}.{name}", None, None)] if f"_{name}" in obj else []
        if isinstance(value, list):
            return [(name, f"{loc}.{name}[{i}]", v, None) for i, v in enumerate(value)]
        return [(name, f"{loc}.{name}", value, None)]

    def _sliced(
        self,
        node: ElementNode,
        items: list[tuple[str, str, Any, TypeRef | None]],
        here: str,
        type_path: str,
        package: PackageKey,
        resource: dict[str, Any],
        out: Out,
    ) -> None:
        assert node.slicing is not None
        counts = [0] * len(node.slices)
        for key, where, value, type_ref in items:
            child_type = base.fhirpath_type(type_path, key)
            chosen = next(
                (
                    i
                    for i, s in enumerate(node.slices)
                    if self._in_slice(s, node, key, value, package)
                ),
                None,
            )
            if chosen is not None:
                counts[chosen] += 1
                target = node.slices[chosen]
                self.element(target, value, where, child_type, package, resource, out, type_ref)
                continue
            if node.slicing.rules == "closed":
                names = ", ".join(str(s.slice_name) for s in node.slices)
                message = (
                    f"matches none of the slices of {node.path} ({names}); the slicing is closed"
                )
                out.append(rules.error(IssueType.STRUCTURE, rules.SLICE, message, where))
            self.element(node, value, where, child_type, package, resource, out, type_ref)
            if node.name in ("extension", "modifierExtension"):
                self._extension(value, where, package, resource, out)
        for count, piece in zip(counts, node.slices, strict=True):
            if count < piece.min:
                message = f"slice {piece.label()} needs at least {piece.min} (found {count})"
                out.append(rules.error(IssueType.REQUIRED, rules.SLICE, message, here))
            if piece.max is not None and count > piece.max:
                message = f"slice {piece.label()} allows at most {piece.max} (found {count})"
                out.append(rules.error(IssueType.STRUCTURE, rules.SLICE, message, here))

    def _in_slice(
        self, piece: ElementNode, sliced: ElementNode, key: str, value: Any, package: PackageKey
    ) -> bool:
        assert sliced.slicing is not None
        slices = self.checker.slices
        for kind, path in sliced.slicing.discriminators:
            if kind in ("value", "pattern"):
                expected = slices.expected(piece, package, path)
                actual = instance_values(value, _steps(path), self.resolve)
                if not expected or not value_matches(actual, expected):
                    return False
            elif kind == "type":
                have = (
                    _suffix_type(key[len(sliced.name) - 3 :])
                    if sliced.is_choice and path == "$this"
                    else _resource_types(instance_values(value, _steps(path), self.resolve))
                )
                wanted = piece.type_codes()
                if not any(h in wanted for h in ([have] if isinstance(have, str) else have)):
                    return False
            elif kind == "profile":
                targets = [
                    url
                    for t in piece.types
                    for url in (t.targets if "resolve()" in path else t.profiles)
                ]
                actual = instance_values(value, _steps(path), self.resolve)
                if not any(
                    isinstance(a, dict) and self.conforms(a, url, package)
                    for a in actual
                    for url in targets
                ):
                    return False
            else:
                return False
        return True

    # --- single rules -------------------------------------------------------------------------

    def _binding(
        self, node: ElementNode, value: Any, loc: str, package: PackageKey, out: Out
    ) -> None:
        assert node.binding is not None
        codes = self.checker.terminology.expand(node.binding[1], package)
        if codes is None:
            return  # value sets of R4 core / HL7 terminology are not loaded: see terminology.py
        problem = binding_problem(value, codes)
        if problem is not None:
            message = f"{problem} (required binding of {node.label()})"
            out.append(rules.error(IssueType.CODE_INVALID, rules.BINDING, message, loc))

    def _type_profiles(
        self,
        type_ref: TypeRef,
        value: dict[str, Any],
        loc: str,
        type_path: str,
        package: PackageKey,
        resource: dict[str, Any],
        out: Out,
    ) -> None:
        for canonical in type_ref.profiles:
            profile = self.checker.profile(canonical, package)
            if profile is not None:
                self.element(profile.root, value, loc, type_path, profile.package, resource, out)
            elif not canonical.startswith(CORE_PREFIX):
                # The profile names it, so the sender did not make it up: unchecked, not unknown.
                extension = type_ref.code == "Extension"
                rule = rules.EXTENSION_UNKNOWN if extension else rules.PROFILE_UNKNOWN
                message = f"{canonical} is not in the loaded packages; not checked"
                out.append(
                    Issue(Severity.INFORMATION, IssueType.NOT_FOUND, rule, message, location=loc)
                )

    def _extension(
        self,
        value: Any,
        loc: str,
        package: PackageKey,
        resource: dict[str, Any],
        out: Out,
    ) -> None:
        """An extension no slice claims: checked against its definition, when that is loaded."""
        url = value.get("url") if isinstance(value, dict) else None
        if not isinstance(url, str):
            return
        profile = self.checker.profile(url, package)
        if profile is not None and profile.type == "Extension":
            self.element(profile.root, value, loc, "Extension", profile.package, resource, out)
        elif not url.startswith(CORE_PREFIX):
            message = f"extension {url} is not defined in the loaded packages; not checked"
            out.append(rules.warning(IssueType.NOT_FOUND, rules.EXTENSION_UNKNOWN, message, loc))

    def _reference(
        self, type_ref: TypeRef, value: dict[str, Any], loc: str, package: PackageKey, out: Out
    ) -> None:
        reference = value.get("reference")
        if not isinstance(reference, str) or reference.startswith("#"):
            return
        target = self.resolve(reference)
        if target is None:
            if "bundled" in type_ref.aggregation and self.index.entries:
                message = f"{reference} must be bundled (aggregation: bundled) but is not"
                out.append(
                    rules.error(IssueType.NOT_FOUND, rules.REFERENCE, message, f"{loc}.reference")
                )
            return
        kind = target.get("resourceType")
        if not isinstance(kind, str):
            return  # structure.py reports the target's resourceType
        allowed = {profile_type(url, self.checker.store, package) for url in type_ref.targets}
        if not type_ref.targets or None in allowed or "Resource" in allowed or kind in allowed:
            return  # a target profile that is not loaded cannot be judged
        shown = ", ".join(sorted(str(a) for a in allowed))
        message = f"{reference} is a {kind}; the profile allows {shown} here"
        out.append(rules.error(IssueType.STRUCTURE, rules.REFERENCE, message, f"{loc}.reference"))

    def _invariant(
        self,
        constraint: Constraint,
        value: Any,
        loc: str,
        type_path: str,
        resource: dict[str, Any],
        out: Out,
    ) -> None:
        native = NATIVE.get((constraint.key, constraint.source))
        verdict = native(value, resource) if native is not None else None
        if verdict is None:
            try:
                verdict = self.checker.fhirpath.holds(
                    constraint.expression,
                    value,
                    type_path,
                    resource,
                    self.env,
                    primitive=not isinstance(value, dict | list),
                )
            except InvariantError as exc:
                if constraint.key not in self._failed_invariants:
                    self._failed_invariants.add(constraint.key)
                    message = f"{constraint.key} could not be evaluated: {exc}"
                    out.append(
                        rules.warning(IssueType.PROCESSING, rules.INVARIANT_FAILED, message, loc)
                    )
                return
        if not verdict:
            severity = Severity.ERROR if constraint.severity == "error" else Severity.WARNING
            message = f"{constraint.key}: {constraint.human}"
            out.append(Issue(severity, IssueType.INVARIANT, rules.INVARIANT, message, location=loc))


def _resource_types(values: list[Any]) -> list[str]:
    return [v["resourceType"] for v in values if isinstance(v, dict) and "resourceType" in v]


def _shown(value: Any) -> str:
    text = str(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "…"
