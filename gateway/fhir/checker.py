"""Checks one instance against one compiled profile: the walk over the element tree.

For every element the profile defines, the instance's values are counted against min/max and
each value is checked for its fixed or pattern value, its required binding, its type (choice
types, type profiles such as DK-core's identifiers, extension definitions, reference targets)
and its invariants; sliced elements first sort their items into slices by the discriminators.
What the walk needs to know about an element definition is worked out once, in its plan
(plan.py); base invariants answered natively or elsewhere are listed in native.py.
One `Run` is one message: it owns the Bundle index and the memo of "does X conform to P".
A reference's target is checked for its resource type only (the target is validated against its
own profiles where it sits, so a wrong CPR is one error at the CPR, not one more at every
reference to the Patient); conformance to a target profile is evaluated where a slice
discriminator (`resolve()`) or an invariant (`conformsTo()`) asks for it. The resource type of a
target profile that is not loaded is known for the MedCom and DK-core profiles labgw's own
profiles name (profiles.KNOWN_TARGET_TYPES); of any other, it is not, and the check is skipped.
"""

from __future__ import annotations

from typing import Any

from gateway.fhir import base, rules
from gateway.fhir.bundle import BundleIndex
from gateway.fhir.fhirpath import Environment, FhirPath, InvariantError
from gateway.fhir.native import NATIVE
from gateway.fhir.packages import PackageKey
from gateway.fhir.plan import ChildPlan, NodePlan, Planner
from gateway.fhir.profiles import CORE_PREFIX, MISSING, Constraint, Profile, ProfileStore, TypeRef
from gateway.fhir.slicing import SliceIndex, pattern_matches, same, slice_of
from gateway.fhir.terminology import Terminology, binding_problem
from gateway.issues import Issue, IssueType, Severity

__all__ = ["NATIVE", "Checker", "Run"]

Out = list[Issue]
Item = tuple[str, str, Any, TypeRef | None]  # (JSON key, location, value, type of a choice)


class Checker:
    """What a validator keeps between messages: definitions, value sets, compiled FHIRPath."""

    def __init__(self, store: ProfileStore, terminology: Terminology, fhirpath: FhirPath) -> None:
        self.store = store
        self.terminology = terminology
        self.fhirpath = fhirpath
        self.slices = SliceIndex(self)
        self.plans = Planner(self, store, terminology, self.slices)

    def profile(self, canonical: str, context: PackageKey | None) -> Profile | None:
        return self.store.get(canonical, context)


class Run:
    """The validation of one message against the profiles its resources claim."""

    def __init__(self, checker: Checker, index: BundleIndex) -> None:
        self.checker = checker
        self.plans = checker.plans
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
            plan = self.plans.plan(profile.root, profile.package)
            self._visit(plan, resource, loc, str(type_path), resource, out)
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

    def _visit(
        self,
        plan: NodePlan,
        value: Any,
        loc: str,
        type_path: str,
        resource: dict[str, Any],
        out: Out,
        type_ref: TypeRef | None = None,
    ) -> None:
        """Check one value against one element definition, then its children."""
        if plan.valued:
            if plan.fixed is not MISSING and not same(plan.fixed, value):
                message = f"must be exactly {_shown(plan.fixed)} (fixed by {plan.node.label()})"
                out.append(rules.error(IssueType.VALUE, rules.FIXED, message, loc))
            if plan.pattern is not MISSING and not pattern_matches(plan.pattern, value):
                message = f"must match the pattern {_shown(plan.pattern)} ({plan.node.label()})"
                out.append(rules.error(IssueType.VALUE, rules.PATTERN, message, loc))
            if plan.codes is not None:
                problem = binding_problem(value, plan.codes)
                if problem is not None:
                    message = f"{problem} (required binding of {plan.node.label()})"
                    out.append(rules.error(IssueType.CODE_INVALID, rules.BINDING, message, loc))
        if plan.typed and isinstance(value, dict):
            if type_ref is None:
                type_ref = plan.single
            if type_ref is not None:
                if type_ref.profiles:
                    self._type_profiles(plan, type_ref, value, loc, type_path, resource, out)
                if type_ref.code == "Reference" and (type_ref.targets or type_ref.aggregation):
                    self._reference(plan, type_ref, value, loc, out)
        for constraint, native in plan.constraints:
            verdict = native(value, resource) if native is not None else None
            if verdict is not True:
                self._invariant(constraint, verdict, value, loc, type_path, resource, out)
        if plan.children and isinstance(value, dict):
            self._children(plan, value, loc, type_path, resource, out)

    def _children(
        self,
        plan: NodePlan,
        obj: dict[str, Any],
        loc: str,
        type_path: str,
        resource: dict[str, Any],
        out: Out,
    ) -> None:
        """Each child element the instance has, or must have, in the profile's order."""
        by_key = plan.by_key
        picked = [index for key in obj if (index := by_key.get(key)) is not None]
        if plan.always:
            picked += plan.always
            if len(picked) > 1:
                picked = sorted(set(picked))
        elif len(picked) > 1:
            picked = sorted(set(picked))
        children = plan.children
        for index in picked:
            child = children[index]
            child_plan = child.plan or self.plans.child(child, plan.package)
            if child.choice or child.sliced:
                self._items_child(child, child_plan, obj, loc, type_path, resource, out)
                continue
            name = child.name
            value: Any = obj.get(name)
            many = isinstance(value, list)
            if value is None:
                count = 1 if child.underscore in obj else 0
            elif many:
                count = len(value)
            else:
                count = 1
            if count < child.min or count > child.limit:
                self._cardinality(child, count, loc, out)
            if not count or child.skip:
                continue  # nothing there, or nothing to check on what is there
            if child.leaf and not many and _meets(child_plan, value):
                continue  # a fixed value, pattern or binding met: nothing to report
            child_type = child.types.get(type_path) or _child_type(child, type_path)
            if not many:
                where = f"{loc}.{name}"
                self._visit(child_plan, value, where, child_type, resource, out)
                if child.extension:
                    self._extension(child_plan, value, where, resource, out)
                continue
            for position, one in enumerate(value):
                where = f"{loc}.{name}[{position}]"
                self._visit(child_plan, one, where, child_type, resource, out)
                if child.extension:
                    self._extension(child_plan, one, where, resource, out)

    def _items_child(
        self,
        child: ChildPlan,
        child_plan: NodePlan,
        obj: dict[str, Any],
        loc: str,
        type_path: str,
        resource: dict[str, Any],
        out: Out,
    ) -> None:
        """A choice or sliced child: its values as items (key, location, value, type)."""
        if child.choice:
            items = self._choice_items(child, obj, type_path, loc, out)
        else:
            items = _items(child.name, obj, loc)
        count = len(items)
        if count < child.min or count > child.limit:
            self._cardinality(child, count, loc, out)
        if child.sliced:
            here = f"{loc}.{child.name}"
            self._sliced(child_plan, items, here, type_path, resource, out)
            return
        if child.skip:
            return
        for key, where, one, choice_type in items:
            child_type = base.fhirpath_type(type_path, key)
            self._visit(child_plan, one, where, child_type, resource, out, choice_type)
            if child.extension:
                self._extension(child_plan, one, where, resource, out)

    def _cardinality(self, child: ChildPlan, count: int, loc: str, out: Out) -> None:
        node = child.node
        if count < node.min:
            message = f"{node.label()} needs at least {node.min} (found {count})"
            out.append(
                rules.error(IssueType.REQUIRED, rules.CARDINALITY, message, f"{loc}.{child.name}")
            )
        if node.max is not None and count > node.max:
            message = (
                f"{node.label()} is not allowed here"
                if node.max == 0
                else f"{node.label()} allows at most {node.max} (found {count})"
            )
            out.append(
                rules.error(IssueType.STRUCTURE, rules.CARDINALITY, message, f"{loc}.{child.name}")
            )

    def _choice_items(
        self,
        child: ChildPlan,
        obj: dict[str, Any],
        type_path: str,
        loc: str,
        out: Out,
    ) -> list[Item]:
        """The values of a choice element (`valueQuantity` for `value[x]`), with their types."""
        keys = child.choice_keys.get(type_path)
        if keys is None:
            keys = _choice_keys(child, type_path)
        found: list[Item] = []
        for key, value in obj.items():
            if key not in keys:
                continue
            type_ref = keys[key]
            if type_ref is None and child.node.types:
                stem = child.name
                allowed = ", ".join(stem + t.code[0].upper() + t.code[1:] for t in child.node.types)
                message = f"{key} is not allowed by {child.node.label()}; allowed: {allowed}"
                out.append(rules.error(IssueType.STRUCTURE, rules.TYPE, message, f"{loc}.{key}"))
            found.append((key, f"{loc}.{key}", value, type_ref))
        return found

    def _sliced(
        self,
        plan: NodePlan,
        items: list[Item],
        here: str,
        type_path: str,
        resource: dict[str, Any],
        out: Out,
    ) -> None:
        slicing = self.plans.slicing(plan)
        counts = [0] * len(slicing.slices)
        for key, where, value, type_ref in items:
            child_type = base.fhirpath_type(type_path, key)
            chosen = slice_of(
                slicing, plan.node, plan.package, key, value, self.resolve, self.conforms
            )
            if chosen is not None:
                counts[chosen] += 1
                test = slicing.slices[chosen]
                target = test.plan or self.plans.slice_plan(test, plan.package)
                self._visit(target, value, where, child_type, resource, out, type_ref)
                continue
            if slicing.slicing.rules == "closed":
                message = (
                    f"matches none of the slices of {plan.node.path} ({slicing.names}); "
                    "the slicing is closed"
                )
                out.append(rules.error(IssueType.STRUCTURE, rules.SLICE, message, where))
            self._visit(plan, value, where, child_type, resource, out, type_ref)
            if plan.node.name in ("extension", "modifierExtension"):
                self._extension(plan, value, where, resource, out)
        for count, test in zip(counts, slicing.slices, strict=True):
            piece = test.node
            if count < piece.min:
                message = f"slice {piece.label()} needs at least {piece.min} (found {count})"
                out.append(rules.error(IssueType.REQUIRED, rules.SLICE, message, here))
            if piece.max is not None and count > piece.max:
                message = f"slice {piece.label()} allows at most {piece.max} (found {count})"
                out.append(rules.error(IssueType.STRUCTURE, rules.SLICE, message, here))

    # --- single rules -------------------------------------------------------------------------

    def _type_profiles(
        self,
        plan: NodePlan,
        type_ref: TypeRef,
        value: dict[str, Any],
        loc: str,
        type_path: str,
        resource: dict[str, Any],
        out: Out,
    ) -> None:
        for canonical, root in self.plans.type_profiles(plan, type_ref):
            if root is not None:
                self._visit(root, value, loc, type_path, resource, out)
            elif not canonical.startswith(CORE_PREFIX):
                # The profile names it, so the sender did not make it up: unchecked, not unknown.
                extension = type_ref.code == "Extension"
                rule = rules.EXTENSION_UNKNOWN if extension else rules.PROFILE_UNKNOWN
                message = f"{canonical} is not in the loaded packages; not checked"
                out.append(
                    Issue(Severity.INFORMATION, IssueType.NOT_FOUND, rule, message, location=loc)
                )

    def _extension(
        self, plan: NodePlan, value: Any, loc: str, resource: dict[str, Any], out: Out
    ) -> None:
        """An extension no slice claims: checked against its definition, when that is loaded."""
        url = value.get("url") if isinstance(value, dict) else None
        if not isinstance(url, str):
            return
        _, root = self.plans.extension(plan, url)
        if root is not None:
            self._visit(root, value, loc, "Extension", resource, out)
        elif not url.startswith(CORE_PREFIX):
            message = f"extension {url} is not defined in the loaded packages; not checked"
            out.append(rules.warning(IssueType.NOT_FOUND, rules.EXTENSION_UNKNOWN, message, loc))

    def _reference(
        self, plan: NodePlan, type_ref: TypeRef, value: dict[str, Any], loc: str, out: Out
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
        if isinstance(kind, dict | list):
            return  # not a name at all (structure.py reports the target's resourceType)
        unjudged, allowed = self.plans.targets(plan, type_ref)
        if unjudged or kind in allowed:
            return  # a target profile whose resource type is not known cannot be judged
        shown = ", ".join(sorted(str(a) for a in allowed))
        message = f"{reference} is a {kind}; the profile allows {shown} here"
        out.append(rules.error(IssueType.STRUCTURE, rules.REFERENCE, message, f"{loc}.reference"))

    def _invariant(
        self,
        constraint: Constraint,
        verdict: bool | None,
        value: Any,
        loc: str,
        type_path: str,
        resource: dict[str, Any],
        out: Out,
    ) -> None:
        """Report an invariant that does not hold; `verdict` is the native answer, if any."""
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


def _meets(plan: NodePlan, value: Any) -> bool:
    """Whether a value meets an element's fixed value, pattern and required binding (a value
    that does not is visited, which reports why)."""
    return (
        (plan.fixed is MISSING or same(plan.fixed, value))
        and (plan.pattern is MISSING or pattern_matches(plan.pattern, value))
        and (plan.codes is None or binding_problem(value, plan.codes) is None)
    )


def _child_type(child: ChildPlan, type_path: str) -> str:
    """The FHIRPath type of a (non-choice) child under a parent type path, remembered."""
    found = base.fhirpath_type(type_path, child.name)
    if len(child.types) < 64:  # type paths come from the profiles: a handful
        child.types[type_path] = found
    return found


def _choice_keys(child: ChildPlan, type_path: str) -> dict[str, TypeRef | None]:
    """The JSON keys of a choice element in a type (`valueQuantity`…), each with its type."""
    stem = child.name
    keys = {
        key: child.types_by_code.get(base.suffix_type(key[len(stem) :]))
        for key, info in base.children(type_path).items()
        if info.choice == stem
    }
    if len(child.choice_keys) < 64:  # type paths come from the profiles: a handful
        child.choice_keys[type_path] = keys
    return keys


def _items(name: str, obj: dict[str, Any], loc: str) -> list[Item]:
    """(JSON key, location, value, None) of each instance value of a (non-choice) element."""
    value = obj.get(name)
    if value is None:
        return [(name, f"{loc}.{name}", None, None)] if f"_{name}" in obj else []
    if isinstance(value, list):
        return [(name, f"{loc}.{name}[{i}]", v, None) for i, v in enumerate(value)]
    return [(name, f"{loc}.{name}", value, None)]


def _shown(value: Any) -> str:
    text = str(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "…"
