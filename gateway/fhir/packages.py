"""FHIR NPM packages: load them, index their conformance resources, resolve canonical URLs.

A package is a `.tgz` (as published) or an unpacked folder holding `package/package.json` and
`package/*.json`; labgw's own `schemas/fhir/` folder is always loaded too, as the package
`labgw.local` (its optional `package.json` may declare dependencies like any other package).
Only StructureDefinition, ValueSet and CodeSystem resources are kept, stripped of the prose
the validator never reads, and each package's stripped form is cached on disk (JSON, never
pickle) so that a second start reads a few small files instead of unpacking archives.

Resolution rule (one rule, used for profiles, extensions, value sets and code systems alike):

1. Candidates are the resources with that `url` (and, for `url|version`, that resource version;
   if no loaded resource has that version, the version is dropped: MedCom's profiles pin value set
   versions that their own terminology package does not always publish).
2. If the resolution happens on behalf of a package (the one that owns the profile being
   validated), candidates inside that package's dependency closure win, the nearest dependency
   first (the package itself, then its direct dependencies, and so on).
3. Otherwise, or when none is in the closure, the highest resource version wins, then the
   highest package version.

A dependency counts only when that exact `name#version` is loaded: the closure of
`medcom.fhir.dk.homecareobservation#1.2.1` is DK-core 3.4.0, MedCom core 2.4.0, messaging 3.0.0…
never whatever newest version happens to sit in the same folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from gateway.resources import schemas_dir

CONFORMANCE_TYPES = frozenset({"StructureDefinition", "ValueSet", "CodeSystem"})
LOCAL_PACKAGE = "labgw.local"
CACHE_FORMAT = "labgw-fhir-package-1"
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one JSON file inside a package; the largest real one is ~1 MB

# Prose and tooling keys nobody validates against; dropping them shrinks the cache ~5×.
_ELEMENT_DROP = frozenset(
    {
        "short",
        "definition",
        "comment",
        "requirements",
        "alias",
        "mapping",
        "meaningWhenMissing",
        "isModifierReason",
        "example",
        "orderMeaning",
        "mustSupport",
        "isSummary",
        "representation",
    }
)
_SD_KEEP = ("url", "version", "name", "type", "kind", "abstract", "baseDefinition", "derivation")


@dataclass(frozen=True, slots=True)
class PackageKey:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}#{self.version}"


@dataclass(slots=True)
class Package:
    """One loaded package: its identity, declared dependencies and conformance resources."""

    key: PackageKey
    dependencies: tuple[PackageKey, ...]
    source: str
    resources: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A resolved canonical: the resource and the package it came from."""

    resource: dict[str, Any]
    package: PackageKey


def version_key(version: str | None) -> tuple[tuple[int, int | str], ...]:
    """Sort key for `1.2.10` > `1.2.9` > `1.2.9-ballot`; text parts sort below numbers."""
    if not version:
        return ()
    main, _, suffix = version.partition("-")
    parts: list[tuple[int, int | str]] = [
        (1, int(p)) if p.isdigit() else (0, p) for p in re.split(r"[.]", main)
    ]
    parts.append((1, 0) if not suffix else (0, suffix))
    return tuple(parts)


class PackageSet:
    """All loaded packages and an index of their conformance resources by canonical URL."""

    def __init__(self, packages: Iterable[Package]) -> None:
        self.packages: dict[PackageKey, Package] = {}
        for package in packages:
            self.packages[package.key] = package
        self._by_url: dict[str, list[Resolved]] = {}
        for package in self.packages.values():
            for resource in package.resources:
                url = resource.get("url")
                if isinstance(url, str):
                    self._by_url.setdefault(url, []).append(Resolved(resource, package.key))
        self._closures: dict[PackageKey, dict[PackageKey, int]] = {}
        self._cache: dict[tuple[str, PackageKey | None], Resolved | None] = {}

    def __len__(self) -> int:
        return len(self.packages)

    def describe(self) -> str:
        return ", ".join(sorted(str(key) for key in self.packages)) or "no packages"

    def closure(self, key: PackageKey) -> dict[PackageKey, int]:
        """The package and its loaded dependencies, transitively, with their distance."""
        if key in self._closures:
            return self._closures[key]
        depth: dict[PackageKey, int] = {key: 0}
        frontier = [key]
        while frontier:
            following: list[PackageKey] = []
            for current in frontier:
                package = self.packages.get(current)
                for dependency in package.dependencies if package else ():
                    if dependency in self.packages and dependency not in depth:
                        depth[dependency] = depth[current] + 1
                        following.append(dependency)
            frontier = following
        self._closures[key] = depth
        return depth

    def resolve(self, canonical: str, context: PackageKey | None = None) -> Resolved | None:
        """The resource for `url` or `url|version`, by the rule in this module's docstring."""
        cache_key = (canonical, context)
        if cache_key in self._cache:
            return self._cache[cache_key]
        url, _, version = canonical.partition("|")
        candidates = self._by_url.get(url, [])
        if version:
            exact = [c for c in candidates if c.resource.get("version") == version]
            candidates = exact or candidates
        chosen: Resolved | None = None
        if candidates and context is not None:
            near = self.closure(context)
            inside = [c for c in candidates if c.package in near]
            if inside:
                chosen = min(inside, key=lambda c: near[c.package])
        if chosen is None and candidates:
            chosen = max(
                candidates,
                key=lambda c: (
                    version_key(c.resource.get("version")),
                    version_key(c.package.version),
                ),
            )
        if len(self._cache) < _RESOLUTIONS_KEPT:  # canonicals come from messages: bounded
            self._cache[cache_key] = chosen
        return chosen

    def urls(self, resource_type: str) -> Iterator[str]:
        """Every canonical URL of one kind of resource (for tests and diagnostics)."""
        for url, found in self._by_url.items():
            if any(r.resource.get("resourceType") == resource_type for r in found):
                yield url


# --- loading ------------------------------------------------------------------------------


def _slim(resource: dict[str, Any]) -> dict[str, Any] | None:
    """The parts of a conformance resource the validator reads, or None for other resources."""
    kind = resource.get("resourceType")
    if kind not in CONFORMANCE_TYPES or not isinstance(resource.get("url"), str):
        return None
    if kind == "StructureDefinition":
        out = {k: resource[k] for k in _SD_KEEP if k in resource}
        snapshot = resource.get("snapshot", {}).get("element")
        if isinstance(snapshot, list):
            out["snapshot"] = [
                {k: v for k, v in element.items() if k not in _ELEMENT_DROP}
                for element in snapshot
                if isinstance(element, dict)
            ]
        out["resourceType"] = kind
        return out
    keep = ("resourceType", "url", "version", "compose", "expansion", "content", "caseSensitive")
    out = {k: resource[k] for k in keep if k in resource}
    if kind == "CodeSystem" and "concept" in resource:
        out["concept"] = _slim_concepts(resource["concept"])
    return out


def _slim_concepts(concepts: Any) -> list[dict[str, Any]]:
    if not isinstance(concepts, list):
        return []
    out = []
    for concept in concepts:
        if isinstance(concept, dict) and isinstance(concept.get("code"), str):
            item: dict[str, Any] = {"code": concept["code"]}
            if "concept" in concept:
                item["concept"] = _slim_concepts(concept["concept"])
            out.append(item)
    return out


def _manifest(raw: bytes, source: str) -> tuple[PackageKey, tuple[PackageKey, ...]]:
    try:
        manifest = json.loads(raw)
        key = PackageKey(str(manifest["name"]), str(manifest["version"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{source}: package.json is not a FHIR package manifest") from exc
    deps = manifest.get("dependencies") or {}
    if not isinstance(deps, dict):
        raise ConfigError(f"{source}: package.json dependencies must be an object")
    return key, tuple(PackageKey(str(n), str(v)) for n, v in sorted(deps.items()))


def _read_json(raw: bytes, source: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{source}: not JSON ({exc})") from exc


def _from_tgz(path: Path) -> Package:
    manifest: bytes | None = None
    resources: list[dict[str, Any]] = []
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                parts = member.name.split("/")
                if not member.isfile() or len(parts) != 2 or parts[0] != "package":
                    continue  # examples, other/, xml/ and anything outside package/
                if not parts[1].endswith(".json") or member.size > MAX_MEMBER_BYTES:
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                raw = handle.read()
                if parts[1] == "package.json":
                    manifest = raw
                elif not parts[1].startswith("."):
                    slim = _slim(_read_json(raw, f"{path}!{member.name}"))
                    if slim is not None:
                        resources.append(slim)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ConfigError(f"cannot read FHIR package {path}: {exc}") from exc
    if manifest is None:
        raise ConfigError(f"{path}: no package/package.json inside")
    key, deps = _manifest(manifest, str(path))
    return Package(key, deps, str(path), resources)


def _from_folder(folder: Path, default: PackageKey | None = None) -> Package:
    """An unpacked package (`folder/package/package.json`) or a folder of loose resources."""
    inner = folder / "package" if (folder / "package" / "package.json").is_file() else folder
    manifest_path = inner / "package.json"
    if manifest_path.is_file():
        key, deps = _manifest(manifest_path.read_bytes(), str(manifest_path))
    elif default is not None:
        key, deps = default, ()
    else:
        raise ConfigError(f"{folder}: no package.json (not a FHIR package folder)")
    resources = []
    for path in sorted(inner.glob("*.json")):
        if path.name == "package.json" or path.name.startswith("."):
            continue
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        slim = _slim(_read_json(raw, str(path)))
        if slim is not None:
            resources.append(slim)
    return Package(key, deps, str(folder), resources)


def cache_dir() -> Path:
    """Where stripped packages are cached: $LABGW_CACHE_DIR, else the user's cache folder."""
    configured = os.environ.get("LABGW_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "labgw"


def _cached_tgz(path: Path, folder: Path | None) -> Package:
    """A `.tgz` package through the disk cache, keyed by path, size and modification time."""
    if folder is None:
        return _from_tgz(path)
    stat = path.stat()
    stamp = f"{CACHE_FORMAT}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:24]
    cached = folder / f"{path.stem}-{digest}.json"
    try:
        data = json.loads(cached.read_bytes())
        if data.get("format") == CACHE_FORMAT:
            key = PackageKey(data["name"], data["version"])
            deps = tuple(PackageKey(n, v) for n, v in data["dependencies"])
            return Package(key, deps, str(path), data["resources"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # absent or damaged: rebuild below
    package = _from_tgz(path)
    payload = {
        "format": CACHE_FORMAT,
        "name": package.key.name,
        "version": package.key.version,
        "dependencies": [[d.name, d.version] for d in package.dependencies],
        "resources": package.resources,
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")
        partial.replace(cached)
    except OSError:
        pass  # a read-only home only costs speed
    return package


def package_sources(paths: Iterable[Path]) -> list[Path]:
    """The `.tgz` files and package folders named by `paths` (folders of packages expand)."""
    found: list[Path] = []
    for path in paths:
        if (path.is_file() and path.name.endswith((".tgz", ".tar.gz"))) or (
            path.is_dir()
            and ((path / "package" / "package.json").is_file() or (path / "package.json").is_file())
        ):
            found.append(path)
        elif path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.name.endswith((".tgz", ".tar.gz")))
            inside += sorted(
                p for p in path.iterdir() if p.is_dir() and (p / "package/package.json").is_file()
            )
            if not inside:
                raise ConfigError(f"{path}: no FHIR packages (.tgz or package folders) inside")
            found.extend(inside)
        else:
            raise ConfigError(f"no such FHIR package or folder: {path}")
    return found


_LOADED: dict[tuple[tuple[str, int, int], ...], PackageSet] = {}
_RESOLUTIONS_KEPT = 65536  # resolutions remembered per PackageSet


def load_packages(paths: Iterable[Path] = (), *, include_local: bool = True) -> PackageSet:
    """Load packages (and labgw's own `schemas/fhir/`), memoised per process.

    Raises:
        ConfigError: a path is missing or a package is unreadable.
    """
    sources = package_sources(paths)
    local = schemas_dir() / "fhir" if include_local else None
    stamps = []
    for source in sources:
        stat = source.stat()
        stamps.append((str(source.resolve()), stat.st_size, stat.st_mtime_ns))
    if local is not None and local.is_dir():
        for path in sorted(local.glob("*.json")):
            stat = path.stat()
            stamps.append((str(path), stat.st_size, stat.st_mtime_ns))
    memo_key = tuple(stamps)
    if memo_key in _LOADED:
        return _LOADED[memo_key]
    folder = cache_dir()
    packages = [
        _cached_tgz(source, folder) if source.is_file() else _from_folder(source)
        for source in sources
    ]
    if local is not None and local.is_dir():
        packages.append(_from_folder(local, PackageKey(LOCAL_PACKAGE, "0.0.0")))
    loaded = PackageSet(packages)
    _LOADED[memo_key] = loaded
    return loaded
