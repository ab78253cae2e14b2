"""Reading a FHIR message Bundle that came from outside, without trusting its shape.

`json.loads` gives whatever the sender wrote: a list where an object belongs, a number where a
string does. These helpers answer "the object, the string, the list — or nothing" so that the
readers of messages and acknowledgements never raise on a strange document, and they follow
references only inside the Bundle.
"""

from __future__ import annotations

import re
from typing import Any

# MedCom messaging (notes/medcom-fhir.md §3, §5).
EVENT_CODES = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes"
ACK_EVENT = "acknowledgement-message"
# R4 `id`: what MessageHeader.response.identifier (type id) can hold.
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def is_id(value: str) -> bool:
    return _FHIR_ID.fullmatch(value) is not None


def resources(bundle: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(fullUrl, resource) of every entry that has a resource object."""
    out = []
    for entry in items(bundle.get("entry")):
        resource = obj(obj(entry).get("resource"))
        if resource:
            out.append((text(obj(entry).get("fullUrl")), resource))
    return out


def header(bundle: dict[str, Any]) -> dict[str, Any]:
    """The MessageHeader of a message Bundle (its first entry), or {}."""
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "message":
        return {}
    found = resources(bundle)
    if not found or found[0][1].get("resourceType") != "MessageHeader":
        return {}
    return found[0][1]


def is_ack(message_header: dict[str, Any]) -> bool:
    event = obj(message_header.get("eventCoding"))
    return event.get("system") == EVENT_CODES and event.get("code") == ACK_EVENT


def resolve(bundle: dict[str, Any], reference: str) -> dict[str, Any]:
    """The resource a reference names inside the Bundle (by fullUrl, or by type and id), or {}."""
    if not reference:
        return {}
    kind, _, key = reference.rstrip("/").rpartition("/")
    kind = kind.rpartition("/")[2]
    for full_url, resource in resources(bundle):
        if full_url == reference:
            return resource
        if key and resource.get("resourceType") == kind and resource.get("id") == key:
            return resource
    return {}
