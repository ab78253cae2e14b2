"""Invariants answered in plain Python instead of FHIRPath.

`NATIVE` is keyed by (key, declaring StructureDefinition) and means exactly what the R4
expression means; tests/test_fhir_invariants.py checks them against fhirpathpy on good and bad
instances. `BY_EXPRESSION` is keyed by the expression text (`normal`: whitespace outside string
literals dropped): invariants evaluated once per Bundle entry or per Observation, and DK-core's
GLN check digit, each written out with the fast evaluator's semantics for the well-formed shapes
only (an element that is absent, null, one object or a list of them; a string where a string
belongs) and None for anything else. A native answer of None leaves the
verdict to the FHIRPath evaluators. `checked_elsewhere` marks the invariants structure.py and
narrative.py check: the walk drops them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.fhir import base
from gateway.fhir.fastpath_functions import is_type, type_of

Native = Callable[[Any, dict[str, Any]], "bool | None"]


def checked_elsewhere(value: Any, resource: dict[str, Any]) -> bool:
    """Checked in full by structure.py or narrative.py: true here, and dropped by the walk."""
    return True


def _ext_1(value: Any, _: dict[str, Any]) -> bool | None:
    """For a well-formed extension: sub-extensions (a list of objects) or a value[x] (one value
    that is not null), not both. Anything else (structure.py reports it) the FHIRPath decides."""
    if not isinstance(value, dict) or "value" in value or "resourceType" in value:
        return None
    extension = value.get("extension")
    if extension is not None and not (
        isinstance(extension, list) and extension and all(isinstance(e, dict) for e in extension)
    ):
        return None
    has_value = False
    for key, child in value.items():
        if key.startswith("value") and key[5:6].isupper():
            if child is None or isinstance(child, list):
                return None
            has_value = True
    return (extension is not None) != has_value


def _no_contained(_: Any, resource: dict[str, Any]) -> bool | None:
    return True if not resource.get("contained") else None


def _has_narrative(value: Any, _: dict[str, Any]) -> bool:
    text = value.get("text")
    return isinstance(text, dict) and "div" in text


_CORE = "http://hl7.org/fhir/StructureDefinition/"
NATIVE: dict[tuple[str, str], Native] = {
    # ele-1 needs hasValue()/children() on every element of every resource (1.7 ms a Bundle in
    # fhirpathpy); structure.py checks the same rule (no empty object, array or string) in one pass.
    ("ele-1", f"{_CORE}Element"): checked_elsewhere,
    # txt-1/txt-2 call htmlChecks(), which fhirpathpy lacks; narrative.py implements them.
    ("txt-1", f"{_CORE}Narrative"): checked_elsewhere,
    ("txt-2", f"{_CORE}Narrative"): checked_elsewhere,
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


# --- per entry, per Observation ---------------------------------------------------------------


def _present(obj: dict[str, Any], name: str) -> bool:
    """`name.exists()` for an element that is not a choice: a value, or a list with one."""
    child = obj.get(name)
    if isinstance(child, list):
        return any(one is not None for one in child)
    return child is not None


def _choice(obj: dict[str, Any], stem: str) -> list[tuple[str, Any]]:
    """The items of a choice element (`valueQuantity`…) as the fast evaluator collects them:
    every key `stem` + capital, a list giving its items, null kept. Only when `stem` itself is
    not a key (the caller checks)."""
    size = len(stem)
    out: list[tuple[str, Any]] = []
    for key, child in obj.items():
        if key.startswith(stem) and len(key) > size and key[size].isupper():
            if isinstance(child, list):
                out.extend((key, one) for one in child)
            else:
                out.append((key, child))
    return out


def _entry_kind(name: str, types: tuple[str, ...]) -> Native:
    """bdl-3 / bdl-4: `entry.all(NAME.exists() = (%resource.type = … or …))`."""

    def check(value: Any, resource: dict[str, Any]) -> bool | None:
        if not isinstance(value, dict) or not isinstance(resource, dict):
            return None
        kind = resource.get("type")
        entries = value.get("entry")
        if type(kind) is not str or not isinstance(entries, list | None):
            return None
        wanted = kind in types
        return all(
            (isinstance(entry, dict) and _present(entry, name)) == wanted
            for entry in entries or ()
            if entry is not None
        )

    return check


def _bdl_5(value: Any, _: dict[str, Any]) -> bool | None:
    if not isinstance(value, dict):
        return None
    return _present(value, "resource") or _present(value, "request") or _present(value, "response")


def _bdl_7(value: Any, _: dict[str, Any]) -> bool | None:
    """`(type = 'history') or entry.where(fullUrl.exists())
    .select(fullUrl&resource.meta.versionId).isDistinct()`"""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    entries = value.get("entry")
    if type(kind) is not str or not isinstance(entries, list | None):
        return None
    if kind == "history":
        return True
    keys = []
    for entry in entries or ():
        if not isinstance(entry, dict) or entry.get("fullUrl") is None:
            continue  # no fullUrl: left out by the where()
        full = entry["fullUrl"]
        if type(full) is not str:
            return None
        version: Any = ""
        held = entry.get("resource")
        if held is not None:
            if not isinstance(held, dict):
                return None
            meta = held.get("meta")
            if meta is not None:
                if not isinstance(meta, dict):
                    return None
                version = meta.get("versionId")
                if version is None:
                    version = ""
                elif type(version) is not str:
                    return None
        keys.append(full + version)
    return len(set(keys)) == len(keys)


def _bdl_8(value: Any, _: dict[str, Any]) -> bool | None:
    full = value.get("fullUrl") if isinstance(value, dict) else None
    return "/_history/" not in full if type(full) is str else None


def _observation(value: Any) -> bool:
    """An Observation whose `value` is found as a choice (no key named `value` itself)."""
    return (
        isinstance(value, dict)
        and value.get("resourceType") == "Observation"
        and "value" not in value
    )


def _obs_6(value: Any, _: dict[str, Any]) -> bool | None:
    if not _observation(value):
        return None
    return not _present(value, "dataAbsentReason") or not _choice(value, "value")


def _obs_7(value: Any, _: dict[str, Any]) -> bool | None:
    if not _observation(value):
        return None
    if not _choice(value, "value") or value.get("component") is None:
        return True
    return None  # components: the FHIRPath decides


def _mandatory_units(value: Any, _: dict[str, Any]) -> bool | None:
    """DK-core: `value.ofType(Quantity).value.exists() implies value.ofType(Quantity).unit
    .exists() or value.ofType(Quantity).code.exists()`"""
    if not _observation(value):
        return None
    quantities = [
        one
        for key, one in _choice(value, "value")
        if is_type((one, type_of(one, base.fhirpath_type("Observation", key))), "Quantity")
    ]
    held = [q for q in quantities if isinstance(q, dict)]
    if not any(_present(q, "value") for q in held):
        return True
    return any(_present(q, "unit") or _present(q, "code") for q in held)


def _gln_modulus(value: Any, _: dict[str, Any]) -> bool | None:
    """DK-core gln-modulus-10 on Identifier.value: the GS1 check digit of a 13-digit GLN, as the
    expression computes it (a missing or non-digit position makes the sum empty: false)."""
    if type(value) is not str:
        return None
    head = value[:13]
    if len(head) < 13 or not all("0" <= c <= "9" for c in head):
        return False
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(head[:12]))
    return (10 - total % 10) % 10 == int(head[12])


_GLN_TERMS = "+".join(f"({{v}}substring({i},1).toInteger()*{3 if i % 2 else 1})" for i in range(12))
_GLN = f"(((10-({_GLN_TERMS})mod(10))mod(10))={{v}}substring(12,1).toInteger())"


def normal(expression: str) -> str:
    """The expression without whitespace outside string literals (the key of BY_EXPRESSION)."""
    parts = expression.split("'")
    parts[::2] = ["".join(part.split()) for part in parts[::2]]
    return "'".join(parts)


_BY_TEXT: dict[str, Native] = {
    "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction'"
    " or %resource.type = 'history'))": _entry_kind("request", ("batch", "transaction", "history")),
    "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type ="
    " 'transaction-response' or %resource.type = 'history'))": _entry_kind(
        "response", ("batch-response", "transaction-response", "history")
    ),
    "resource.exists() or request.exists() or response.exists()": _bdl_5,
    "(type = 'history') or entry.where(fullUrl.exists())"
    ".select(fullUrl&resource.meta.versionId).isDistinct()": _bdl_7,
    "fullUrl.contains('/_history/').not()": _bdl_8,
    "dataAbsentReason.empty() or value.empty()": _obs_6,
    "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists())"
    ".empty()": _obs_7,
    "value.ofType(Quantity).value.exists() implies value.ofType(Quantity).unit.exists() or"
    " value.ofType(Quantity).code.exists()": _mandatory_units,
    _GLN.format(v=""): _gln_modulus,
    _GLN.format(v="value."): _gln_modulus,  # `value` is the primitive itself (fhirpath.py)
}
BY_EXPRESSION: dict[str, Native] = {normal(text): native for text, native in _BY_TEXT.items()}
