"""Validates FHIR R4 JSON messages offline: structure, profiles, invariants, Bundle rules.

Mirrors the XML validator: a class built once (packages loaded, profiles compiled lazily and
kept), a generator of Issues (`iter_issues`), `validate` raising InvalidMessageError with every
blocking Issue, and `is_valid`. Per message: hardened JSON parse → base R4 structure → the
profiles each resource claims in `meta.profile` (for a Bundle: the Bundle and every
`entry.resource`) → Bundle rules. Profiles claimed by entries are resolved in the dependency
closure of the Bundle's own profile, so a HomeCareObservation 1.2.1 message is checked against
MedCom core 2.4.0 and DK-core 3.4.0, not whatever newest version sits in the same folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.fhir import rules, structure
from gateway.fhir.bundle import BundleIndex, bundle_issues
from gateway.fhir.checker import Checker, Run
from gateway.fhir.fhirpath import FhirPath
from gateway.fhir.jsonparse import Limits, parse_json
from gateway.fhir.packages import PackageKey, PackageSet, load_packages
from gateway.fhir.profiles import ProfileStore
from gateway.fhir.terminology import Terminology
from gateway.issues import Issue, IssueType
from gateway.validator import Validator


class FhirValidator(Validator):
    """Validates FHIR R4 JSON messages; build once, use for many messages.

    Args:
        packages: an already loaded PackageSet; by default the packages named by `ig_paths`
            plus labgw's own `schemas/fhir/`.
        ig_paths: `.tgz` packages, unpacked package folders, or folders holding either.
        limits: size and nesting limits for the JSON parse.

    Raises:
        ConfigError: a package path is missing or a package is unreadable.
    """

    def __init__(
        self,
        packages: PackageSet | None = None,
        ig_paths: Iterable[Path | str] = (),
        limits: Limits | None = None,
    ) -> None:
        paths = [Path(p) for p in ig_paths]
        if packages is None:
            packages = load_packages(paths)
        elif paths:
            extra = load_packages(paths, include_local=False)
            packages = PackageSet([*packages.packages.values(), *extra.packages.values()])
        self.packages = packages
        self.limits = limits or Limits()
        self.store = ProfileStore(packages)
        self.checker = Checker(self.store, Terminology(packages), FhirPath())

    def describe(self) -> str:
        return self.packages.describe()

    def iter_issues(self, data: bytes, source: str | None = None) -> Iterator[Issue]:
        """Every Issue of one message given as bytes from outside."""
        value, problems = parse_json(data, self.limits)
        if problems:
            yield from (replace(issue, source=source) for issue in problems)
            return
        yield from self.iter_resource_issues(value, source)

    def iter_resource_issues(self, resource: Any, source: str | None = None) -> Iterator[Issue]:
        """Every Issue of one parsed (or freshly built) resource or Bundle."""
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        root = kind if isinstance(kind, str) and kind.isalpha() else "$resource"
        out: list[Issue] = []
        structure.check_resource(resource, root, out)
        if isinstance(resource, dict) and isinstance(kind, str):
            index = BundleIndex(resource if kind == "Bundle" else None)
            run = Run(self.checker, index)
            run.locations[id(resource)] = root
            for position, entry in index.entries:
                run.locations[id(entry["resource"])] = f"{root}.entry[{position}].resource"
            context = self._claimed(resource, root, None, run, out)
            for _, entry in index.entries:
                found = entry["resource"]
                self._claimed(found, run.locations[id(found)], context, run, out)
            if kind == "Bundle":
                out.extend(bundle_issues(resource, index, root))
        yield from _unique(out, source)

    def _claimed(
        self,
        resource: dict[str, Any],
        loc: str,
        context: PackageKey | None,
        run: Run,
        out: list[Issue],
    ) -> PackageKey | None:
        """Check a resource against each profile in its meta.profile; the first one's package."""
        meta = resource.get("meta")
        claimed = meta.get("profile") if isinstance(meta, dict) else None
        first: PackageKey | None = None
        for position, canonical in enumerate(claimed if isinstance(claimed, list) else ()):
            if not isinstance(canonical, str):
                continue
            where = f"{loc}.meta.profile[{position}]"
            profile = self.store.get(canonical, context)
            if profile is None:
                message = (
                    f"profile {canonical} is not in the loaded packages "
                    f"({self.packages.describe()}); only base R4 rules were checked"
                )
                out.append(
                    rules.warning(IssueType.NOT_FOUND, rules.PROFILE_UNKNOWN, message, where)
                )
                continue
            if profile.type != resource.get("resourceType"):
                message = (
                    f"profile {canonical} is for {profile.type}, not {resource.get('resourceType')}"
                )
                out.append(rules.error(IssueType.STRUCTURE, rules.TYPE, message, where))
                continue
            out.extend(run.report(resource, profile))
            first = first or profile.package
        return first


def _unique(issues: list[Issue], source: str | None) -> Iterator[Issue]:
    """Each finding once: a resource claiming two profiles of one chain repeats base rules,
    and a code outside both R4's list and the profile's value set is one binding problem."""
    seen: set[tuple[str, str | None, str]] = set()
    for issue in issues:
        key = (issue.rule, issue.location, "" if issue.rule == rules.BINDING else issue.message)
        if key in seen:
            continue
        seen.add(key)
        yield replace(issue, source=source) if source is not None else issue
