"""StructureDefinition snapshots compiled into element trees the checker can walk fast.

A snapshot is a flat list of ElementDefinitions whose ids encode a tree (`Patient.identifier`,
`Patient.identifier:cpr`, `Patient.identifier:cpr.system`). `compile_profile` turns it into
`ElementNode`s once: children by JSON name, slices under the element they slice, cardinality as
ints, the fixed/pattern value, the binding, the constraints, and `contentReference` elements
sharing the children of the element they point to. Everything the checker needs per instance
is then a dict lookup; nothing is parsed while a message is validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.fhir.packages import PackageKey, PackageSet

CORE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"
FHIRPATH_TYPE_PREFIX = "http://hl7.org/fhirpath/System."


class Missing:
    """The absence of a fixed or pattern value (None is a value in JSON: null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = Missing()


@dataclass(frozen=True, slots=True)
class TypeRef:
    code: str
    profiles: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    aggregation: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Constraint:
    key: str
    severity: str  # error | warning
    human: str
    expression: str
    source: str  # the StructureDefinition that declared it (R4 core for base invariants)


@dataclass(frozen=True, slots=True)
class Slicing:
    discriminators: tuple[tuple[str, str], ...]  # (type, path)
    rules: str  # open | closed | openAtEnd
    ordered: bool


@dataclass(eq=False, slots=True)
class ElementNode:
    """One ElementDefinition of a snapshot, with its children and slices attached."""

    id: str
    path: str
    name: str  # last path segment: `identifier`, `value[x]`
    min: int = 0
    max: int | None = None  # None: unbounded
    types: tuple[TypeRef, ...] = ()
    fixed: Any = MISSING
    pattern: Any = MISSING
    binding: tuple[str, str] | None = None  # (strength, value set canonical)
    constraints: tuple[Constraint, ...] = ()
    slice_name: str | None = None
    slicing: Slicing | None = None
    slices: list[ElementNode] = field(default_factory=list)
    children: dict[str, ElementNode] = field(default_factory=dict)
    content_reference: str | None = None

    @property
    def is_choice(self) -> bool:
        return self.name.endswith("[x]")

    def type_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.types)

    def label(self) -> str:
        return f"{self.path}:{self.slice_name}" if self.slice_name else self.path


@dataclass(eq=False, slots=True)
class Profile:
    """A compiled StructureDefinition: its identity, owning package and element tree."""

    url: str
    version: str | None
    type: str
    kind: str
    package: PackageKey
    root: ElementNode

    def label(self) -> str:
        return f"{self.url}|{self.version}" if self.version else self.url


def _type_code(raw: dict[str, Any]) -> str:
    code = str(raw.get("code", ""))
    if code.startswith(FHIRPATH_TYPE_PREFIX):
        for ext in raw.get("extension") or ():
            if isinstance(ext, dict) and ext.get("valueUrl"):
                return str(ext["valueUrl"])
        return "string"
    return code


def _value_with_prefix(element: dict[str, Any], prefix: str) -> Any:
    for key, value in element.items():
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            return value
    return MISSING


def _node(element: dict[str, Any]) -> ElementNode:
    path = str(element.get("path", ""))
    raw_max = element.get("max", "*")
    types = tuple(
        TypeRef(
            _type_code(t),
            tuple(t.get("profile") or ()),
            tuple(t.get("targetProfile") or ()),
            tuple(t.get("aggregation") or ()),
        )
        for t in element.get("type") or ()
        if isinstance(t, dict)
    )
    binding = element.get("binding")
    bound = None
    if isinstance(binding, dict) and binding.get("valueSet"):
        bound = (str(binding.get("strength")), str(binding["valueSet"]))
    slicing = element.get("slicing")
    return ElementNode(
        id=str(element.get("id", path)),
        path=path,
        name=path.rsplit(".", 1)[-1],
        min=int(element.get("min", 0)),
        max=None if raw_max == "*" else int(raw_max),
        types=types,
        fixed=_value_with_prefix(element, "fixed"),
        pattern=_value_with_prefix(element, "pattern"),
        binding=bound,
        constraints=tuple(
            Constraint(
                str(c.get("key")),
                str(c.get("severity", "error")),
                str(c.get("human", "")),
                str(c["expression"]),
                str(c.get("source", "")),
            )
            for c in element.get("constraint") or ()
            if isinstance(c, dict) and c.get("expression")
        ),
        slice_name=element.get("sliceName"),
        slicing=Slicing(
            tuple(
                (str(d.get("type")), str(d.get("path")))
                for d in slicing.get("discriminator") or ()
                if isinstance(d, dict)
            ),
            str(slicing.get("rules", "open")),
            bool(slicing.get("ordered", False)),
        )
        if isinstance(slicing, dict)
        else None,
        content_reference=element.get("contentReference"),
    )


def _parent_id(element_id: str) -> tuple[str, str]:
    """Split `A.b:s.c` into (`A.b:s`, `c`); the last segment may carry a slice name."""
    parent, _, last = element_id.rpartition(".")
    return parent, last


def compile_snapshot(elements: list[dict[str, Any]]) -> ElementNode:
    """Build the element tree of one snapshot; the first element is the root."""
    if not elements:
        raise ValueError("the StructureDefinition has no snapshot elements")
    by_id: dict[str, ElementNode] = {}
    root: ElementNode | None = None
    for element in elements:
        node = _node(element)
        by_id[node.id] = node
        if root is None:
            root = node
            continue
        parent_id, last = _parent_id(node.id)
        if ":" in last:
            base_name = last.split(":", 1)[0]
            sliced = by_id.get(f"{parent_id}.{base_name}" if parent_id else base_name)
            if sliced is not None:
                sliced.slices.append(node)
            continue
        parent = by_id.get(parent_id)
        if parent is not None:
            parent.children[node.name] = node
    assert root is not None
    for node in by_id.values():
        if node.content_reference and not node.children:
            target = node.content_reference.partition("#")[2]
            referenced = by_id.get(target)
            if referenced is not None:
                node.children = referenced.children
    return root


class ProfileStore:
    """Compiles profiles on first use and keeps them, per canonical and owning package."""

    def __init__(self, packages: PackageSet) -> None:
        self.packages = packages
        self._profiles: dict[tuple[str, PackageKey], Profile] = {}
        self._answers: dict[tuple[str, PackageKey | None], Profile | None] = {}

    def get(self, canonical: str, context: PackageKey | None = None) -> Profile | None:
        """The compiled profile for a canonical, resolved as packages.py describes."""
        key = (canonical, context)
        if key in self._answers:
            return self._answers[key]
        found = self._get(canonical, context)
        if len(self._answers) < 4096:  # canonicals can come from messages (meta.profile)
            self._answers[key] = found
        return found

    def _get(self, canonical: str, context: PackageKey | None) -> Profile | None:
        found = self.packages.resolve(canonical, context)
        if found is None or found.resource.get("resourceType") != "StructureDefinition":
            return None
        key = (str(found.resource.get("url")), found.package)
        profile = self._profiles.get(key)
        if profile is None:
            resource = found.resource
            snapshot = resource.get("snapshot")
            if not isinstance(snapshot, list) or not snapshot:
                return None
            profile = Profile(
                url=str(resource.get("url")),
                version=resource.get("version"),
                type=str(resource.get("type")),
                kind=str(resource.get("kind")),
                package=found.package,
                root=compile_snapshot(snapshot),
            )
            self._profiles[key] = profile
        return profile

    def compiled(self) -> list[Profile]:
        return list(self._profiles.values())


_DK_CORE = "http://hl7.dk/fhir/core/StructureDefinition/"
_MEDCOM_CORE = "http://medcomfhir.dk/ig/core/StructureDefinition/"
_MEDCOM_MESSAGING = "http://medcomfhir.dk/ig/messaging/StructureDefinition/"

# The resource type behind each MedCom and DK-core profile that labgw's own profiles
# (schemas/fhir/) name as a reference target, so that a reference to the wrong resource type is
# caught without the MedCom packages, which a vendor is given but labgw does not ship. A loaded
# profile's own `type` always wins; tests/test_fhir_packages.py checks that the two agree, and
# tests/test_fhir_validate.py that every target our profiles name is listed here.
KNOWN_TARGET_TYPES: dict[str, str] = {
    f"{_DK_CORE}dk-core-organization": "Organization",
    f"{_DK_CORE}dk-core-patient": "Patient",
    f"{_DK_CORE}dk-core-practitioner": "Practitioner",
    f"{_DK_CORE}dk-core-practitioner-role": "PractitionerRole",
    f"{_DK_CORE}dk-core-related-person": "RelatedPerson",
    f"{_MEDCOM_CORE}medcom-core-organization": "Organization",
    f"{_MEDCOM_CORE}medcom-core-patient": "Patient",
    f"{_MEDCOM_MESSAGING}medcom-messaging-messageHeader": "MessageHeader",
    f"{_MEDCOM_MESSAGING}medcom-messaging-organization": "Organization",
}


def profile_type(canonical: str, store: ProfileStore, context: PackageKey | None) -> str | None:
    """The resource type a profile constrains (`Organization` for a MedCom organization): the
    loaded profile's type, else the type KNOWN_TARGET_TYPES lists, else None (unknown)."""
    url = canonical.partition("|")[0]
    if url.startswith(CORE_PREFIX):
        return url[len(CORE_PREFIX) :]
    profile = store.get(canonical, context)
    return profile.type if profile else KNOWN_TARGET_TYPES.get(url)
