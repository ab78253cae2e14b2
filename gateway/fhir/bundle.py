"""Bundle-level rules and reference resolution inside a Bundle.

R4 §2.36.4 (resolving references in Bundles): a reference is looked up among the entries'
fullUrls, as given (absolute or `urn:uuid:`), or, when relative (`Patient/123`), against the
fullUrl of the referring entry's base and then by resource type and id. A message Bundle is
processed as one unit: a `urn:uuid:` reference means nothing outside it, so one that does not
resolve is an error; a relative reference that does not resolve is a warning, because MedCom's
Provenance legitimately points at the MessageHeader of an earlier message (`entity.what`, and the
original Provenance an acknowledgement carries); where a profile demands `bundled` aggregation the
checker makes it an error. fullUrls are unique (bdl-7), and the MessageHeader comes first
(bdl-12; MedCom governance "MessageHeader SHALL be the first resource", kept even where
messaging 4.0.2 dropped medcom-messaging-1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gateway.fhir import rules
from gateway.fhir.jsonparse import DuplicateKeys
from gateway.issues import Issue, IssueType

_RELATIVE = re.compile(
    r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(/_history/[A-Za-z0-9\-\.]{1,64})?$"
)
_ABSOLUTE_TAIL = re.compile(r"/([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(/_history/[^/]+)?$")


class BundleIndex:
    """The entries of one Bundle by fullUrl and by `Type/id`, for `resolve()` and checks."""

    def __init__(self, bundle: dict[str, Any] | None) -> None:
        self.entries: list[tuple[int, dict[str, Any]]] = []
        self.by_url: dict[str, dict[str, Any]] = {}
        self.by_type_id: dict[str, dict[str, Any]] = {}
        self._resolved: dict[str, dict[str, Any] | None] = {}
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        for index, entry in enumerate(entries if isinstance(entries, list) else ()):
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                continue
            resource = entry["resource"]
            self.entries.append((index, entry))
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str):
                self.by_url.setdefault(full_url, resource)
            kind, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(kind, str) and isinstance(rid, str):
                self.by_type_id.setdefault(f"{kind}/{rid}", resource)

    def resolve(self, reference: str) -> dict[str, Any] | None:
        """The bundled resource a reference points to, or None (remembered per reference)."""
        if reference in self._resolved:
            return self._resolved[reference]
        found = self.by_url.get(reference)
        if found is None:
            match = _RELATIVE.match(reference) or _ABSOLUTE_TAIL.search(reference)
            if match is not None and not reference.startswith("urn:"):
                found = self.by_type_id.get(f"{match.group(1)}/{match.group(2)}")
        self._resolved[reference] = found
        return found


# A location as a chain (parent, `key` or index), spelled out only for a reference that fails.
Where = tuple[Any, str | int] | str


def _references(value: Any, where: Where, found: list[tuple[str, Where]]) -> None:
    """(reference, location) of every Reference.reference below a value, in document order."""
    if isinstance(value, dict):
        for key, item in value.items():
            kind = type(item)
            if kind is str:
                if key == "reference":
                    found.append((item, (where, "reference")))
            elif kind is dict or kind is list or kind is DuplicateKeys:
                if key != "contained" and key != "resource":
                    # contained resources are checked with their container's ids
                    _references(item, (where, key), found)
            elif key == "reference" and isinstance(item, str):
                found.append((item, (where, "reference")))
            elif isinstance(item, _CONTAINERS) and key != "contained" and key != "resource":
                _references(item, (where, key), found)  # a container of another class
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, _CONTAINERS):
                _references(item, (where, index), found)


_CONTAINERS = (dict, list)


def _spelled(where: Where) -> str:
    parts: list[str] = []
    while not isinstance(where, str):
        where, step = where
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return where + "".join(reversed(parts))


def bundle_issues(bundle: dict[str, Any], index: BundleIndex, loc: str) -> Iterator[Issue]:
    """fullUrl uniqueness, MessageHeader first, and references that must resolve inside."""
    seen: dict[str, int] = {}
    for position, entry in index.entries:
        full_url = entry.get("fullUrl")
        if not isinstance(full_url, str):
            continue
        meta = entry["resource"].get("meta")
        version = meta.get("versionId") if isinstance(meta, dict) else None
        key = f"{full_url}|{version}"
        if key in seen:
            yield rules.error(
                IssueType.DUPLICATE,
                rules.FULLURL,
                f"fullUrl {full_url} is also used by entry[{seen[key]}] (bdl-7: unique fullUrls)",
                f"{loc}.entry[{position}].fullUrl",
            )
        seen.setdefault(key, position)
    kind = bundle.get("type")
    if kind == "message":
        first = index.entries[0] if index.entries else None
        if (
            first is None
            or first[0] != 0
            or first[1]["resource"].get("resourceType") != ("MessageHeader")
        ):
            yield rules.error(
                IssueType.STRUCTURE,
                rules.MESSAGE_HEADER,
                "the first entry of a message Bundle must be its MessageHeader (bdl-12)",
                f"{loc}.entry[0]",
            )
    whole_message = kind in ("message", "document")
    for position, entry in index.entries:
        resource = entry["resource"]
        here = f"{loc}.entry[{position}].resource"
        contained = {
            f"#{c.get('id')}" for c in resource.get("contained") or () if isinstance(c, dict)
        }
        found: list[tuple[str, Where]] = []
        _references(resource, here, found)
        for reference, where in found:
            if reference.startswith("#"):
                if reference != "#" and reference not in contained:
                    why = "no contained resource has that id"
                    yield _unresolved(reference, _spelled(where), why)
            elif reference.startswith("urn:uuid:") and index.resolve(reference) is None:
                why = "no entry of the Bundle has that fullUrl"
                yield _unresolved(reference, _spelled(where), why)
            elif whole_message and _RELATIVE.match(reference) and index.resolve(reference) is None:
                why = "no entry of the Bundle has it"
                yield _unresolved(reference, _spelled(where), why, warn=True)


def _unresolved(reference: str, where: str, why: str, warn: bool = False) -> Issue:
    message = f"reference {reference} does not resolve: {why}"
    make = rules.warning if warn else rules.error
    return make(IssueType.NOT_FOUND, rules.REFERENCE, message, where)
