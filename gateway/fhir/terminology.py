"""Value sets from the loaded packages, expanded locally, and required-binding checks.

No terminology server: a ValueSet is expanded from its `compose` (concept lists, whole code
systems found in the packages, other value sets) or, when it has none, from its `expansion`.
Where a part cannot be enumerated (a `filter`, or a whole code system that is not loaded or not
`content: complete`), every code of that system is accepted: labgw then cannot prove a code
wrong, and a false rejection of a valid message is worse than a missed check (the HL7 validator
likewise only warns about code systems it does not know).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.fhir.packages import PackageKey, PackageSet


@dataclass(frozen=True, slots=True)
class CodeSet:
    """An expanded value set: exact (system, code) pairs plus systems accepted whole."""

    url: str
    codes: frozenset[tuple[str, str]]
    open_systems: frozenset[str]
    bare: frozenset[str] = field(init=False, repr=False, compare=False)  # the codes alone

    def __post_init__(self) -> None:
        object.__setattr__(self, "bare", frozenset(code for _, code in self.codes))

    def has_coding(self, system: Any, code: Any) -> bool:
        if not isinstance(code, str) or not isinstance(system, str | None):
            return False
        return system in self.open_systems or (system, code) in self.codes

    def has_code(self, code: Any) -> bool:
        """A bare `code` (no system): in any system of the value set."""
        if not isinstance(code, str):
            return False
        return bool(self.open_systems) or code in self.bare

    def shown(self, limit: int = 8) -> str:
        codes = sorted(code for _, code in self.codes)
        text = ", ".join(codes[:limit]) + (" …" if len(codes) > limit else "")
        return text or "no enumerable codes"


def _concepts(concepts: Any) -> Iterable[str]:
    for concept in concepts if isinstance(concepts, list) else ():
        if isinstance(concept, dict) and isinstance(concept.get("code"), str):
            yield concept["code"]
            yield from _concepts(concept.get("concept"))


def _contains(entries: Any) -> Iterable[tuple[str, str]]:
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict):
            if isinstance(entry.get("code"), str):
                yield str(entry.get("system", "")), entry["code"]
            yield from _contains(entry.get("contains"))


class Terminology:
    """Expands value sets on demand and remembers the expansions."""

    def __init__(self, packages: PackageSet) -> None:
        self.packages = packages
        self._sets: dict[tuple[str, PackageKey | None], CodeSet | None] = {}

    def expand(self, canonical: str, context: PackageKey | None = None) -> CodeSet | None:
        """The CodeSet of a value set canonical, or None when it is not in the packages."""
        key = (canonical, context)
        if key not in self._sets:
            self._sets[key] = None  # guards against value sets that include themselves
            self._sets[key] = self._expand(canonical, context, depth=0)
        return self._sets[key]

    def _expand(self, canonical: str, context: PackageKey | None, depth: int) -> CodeSet | None:
        found = self.packages.resolve(canonical, context)
        if found is None or found.resource.get("resourceType") != "ValueSet" or depth > 8:
            return None
        vs, owner = found.resource, found.package
        codes: set[tuple[str, str]] = set()
        open_systems: set[str] = set()
        compose = vs.get("compose")
        if isinstance(compose, dict):
            for include in compose.get("include") or ():
                self._include(include, owner, codes, open_systems)
            for exclude in compose.get("exclude") or ():
                system = str(exclude.get("system", ""))
                codes -= {(system, code) for code in _concepts(exclude.get("concept"))}
        elif isinstance(vs.get("expansion"), dict):
            codes.update(_contains(vs["expansion"].get("contains")))
        return CodeSet(str(vs.get("url")), frozenset(codes), frozenset(open_systems))

    def _include(
        self,
        include: Any,
        owner: PackageKey,
        codes: set[tuple[str, str]],
        open_systems: set[str],
    ) -> None:
        if not isinstance(include, dict):
            return
        system = include.get("system")
        nested = [self.expand(str(url), owner) for url in include.get("valueSet") or ()]
        if isinstance(system, str):
            if include.get("concept"):
                part = {(system, code) for code in _concepts(include["concept"])}
            elif include.get("filter"):
                open_systems.add(system)  # filters are not evaluated: accept the system whole
                return
            else:
                part = self._whole_system(system, owner, open_systems)
            for other in nested:  # system AND value sets: the intersection
                if other is not None:
                    part = {p for p in part if other.has_coding(*p)}
            codes.update(part)
        else:
            for other in nested:
                if other is not None:
                    codes.update(other.codes)
                    open_systems.update(other.open_systems)

    def _whole_system(
        self, system: str, owner: PackageKey, open_systems: set[str]
    ) -> set[tuple[str, str]]:
        found = self.packages.resolve(system, owner)
        resource = found.resource if found else None
        if (
            resource is None
            or resource.get("resourceType") != "CodeSystem"
            or resource.get("content") not in (None, "complete")
        ):
            open_systems.add(system)
            return set()
        return {(system, code) for code in _concepts(resource.get("concept"))}


def binding_problem(value: Any, codes: CodeSet) -> str | None:
    """Why a code, Coding, CodeableConcept or Quantity is outside a required value set."""
    if isinstance(value, str):
        return None if codes.has_code(value) else f"code {value!r} is not in {codes.url}"
    if not isinstance(value, dict):
        return None
    if "coding" in value or "text" in value:
        listed = value.get("coding") or ()
        codings = [c for c in listed if isinstance(c, dict)] if isinstance(listed, Iterable) else []
        if any(codes.has_coding(c.get("system"), c.get("code")) for c in codings):
            return None
        shown = ", ".join(f"{c.get('system')}#{c.get('code')}" for c in codings) or "no coding"
        return f"none of the codings ({shown}) is in {codes.url} ({codes.shown()})"
    if "code" in value or "system" in value:
        if "value" in value and "code" not in value:
            return None  # a Quantity without a coded unit has nothing to bind
        if codes.has_coding(value.get("system"), value.get("code")):
            return None
        return f"{value.get('system')}#{value.get('code')} is not in {codes.url} ({codes.shown()})"
    return None
