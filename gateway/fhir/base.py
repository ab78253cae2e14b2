"""The FHIR R4 (4.0.1) base model: which elements each type has, their types and cardinality.

`hl7.fhir.r4.core` is not among the packages a vendor is given, so the base definitions come
from the two libraries labgw already installs, each for what it gets right:

* element names, types and choice types from fhirpathpy's R4 model (generated from R4 4.0.1,
  so R4B-only elements such as `Extension.valueCodeableReference` are unknown here, as in R4);
* list-or-single, required, and required-binding code lists from fhir.resources' R4B models,
  which agree with R4 for every element of the resources MedCom messages use (python-stack.md
  §2.2). R4B marks code lists whose codes have child codes with `+` and leaves the children
  out; the two such lists MedCom messages use are spelled out below from R4's code systems,
  any other is not enforced. R4B's datatype models list no codes for Quantity.comparator,
  whose R4 binding is required too: it is spelled out below as well. An R4 element that R4B
  lacks is taken as optional and single (none occurs in MedCom's resources).

Tables are built lazily per type and memoised: reading a message of five resource types imports
five R4B modules, not 190.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from fhirpathpy.models import models

_R4: dict[str, Any] = models["r4"]
PATH_TO_TYPE: dict[str, str] = _R4["path2Type"]
CHOICES: dict[str, list[str]] = _R4["choiceTypePaths"]
ELSEWHERE: dict[str, str] = _R4["pathsDefinedElsewhere"]
TYPE_PARENT: dict[str, str] = _R4["type2Parent"]

PRIMITIVES = frozenset(name for name in TYPE_PARENT if name[0].islower()) | {"xhtml"}
RESOURCE_TYPES = frozenset(
    name
    for name in TYPE_PARENT
    if name in ("Resource", "DomainResource")
    or TYPE_PARENT.get(name) in ("Resource", "DomainResource")
)

_CHILD_NAMES: dict[str, dict[str, str]] = {}
for _path, _type in PATH_TO_TYPE.items():
    _parent, _, _name = _path.rpartition(".")
    _CHILD_NAMES.setdefault(_parent, {})[_name] = _type
# Backbone elements have no entry of their own, only their children do; add them.
for _path in [*_CHILD_NAMES, *ELSEWHERE]:
    _parent, _, _name = _path.rpartition(".")
    if _parent:
        _CHILD_NAMES.setdefault(_parent, {}).setdefault(_name, "BackboneElement")


# R4 ObservationStatus and DiagnosticReportStatus with their child codes (R4B lists only the
# parents and a `+`): http://hl7.org/fhir/R4/valueset-observation-status.html and
# valueset-diagnostic-report-status.html.
_HIERARCHICAL_CODES: dict[str, frozenset[str]] = {
    "Observation.status": frozenset(
        [
            "registered",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "cancelled",
            "entered-in-error",
            "unknown",
        ]
    ),
    "DiagnosticReport.status": frozenset(
        [
            "registered",
            "partial",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "appended",
            "cancelled",
            "entered-in-error",
            "unknown",
        ]
    ),
}


# R4 required bindings on datatype code elements for which R4B's models carry no code list at
# all: Quantity.comparator (QuantityComparator: `<`, `<=`, `>=`, `>`;
# http://hl7.org/fhir/R4/valueset-quantity-comparator.html), on Quantity and on every type derived
# from it (Age, Count, Distance, Duration, SimpleQuantity, MoneyQuantity), by element name.
_QUANTITY_CODES: dict[str, frozenset[str]] = {"comparator": frozenset(["<", "<=", ">=", ">"])}


def _in_quantity_family(type_path: str) -> bool:
    current: str | None = type_path
    while current:
        if current == "Quantity":
            return True
        current = TYPE_PARENT.get(current)
    return False


@dataclass(frozen=True, slots=True)
class BaseElement:
    """One element of a base type, under the name it has in JSON (`valueQuantity`)."""

    name: str
    type: str  # a FHIR type code (`string`, `Quantity`, `Resource`) or `BackboneElement`
    type_path: str  # what to look children up by: the type, or the backbone's path
    is_list: bool
    required: bool
    choice: str | None = None  # `value` for `valueQuantity`
    codes: frozenset[str] | None = None  # required-binding codes, where R4B lists them all


def choice_base(parent: str, name: str) -> tuple[str, str] | None:
    """(`value`, `Quantity`) for `valueQuantity` under a parent with a `value[x]` element."""
    for index in range(1, len(name)):
        if name[index].isupper():
            base = name[:index]
            types = CHOICES.get(f"{parent}.{base}")
            if types is not None:
                suffix = name[index:]
                return (base, suffix) if suffix in types else None
    return None


def _r4b_class(type_path: str) -> Any:
    """The fhir.resources R4B model class for a type or a backbone element path."""
    from fhir.resources.R4B import get_fhir_model_class

    first, *rest = type_path.split(".")
    try:
        cls = get_fhir_model_class(first)
    except (KeyError, ValueError):
        return None
    for segment in rest:
        field = _fields(cls).get(segment)
        match = re.search(r"abc\.(\w+)Type", str(field.annotation)) if field else None
        if match is None:
            return None
        try:
            cls = get_fhir_model_class(match.group(1))
        except (KeyError, ValueError):
            return None
    return cls


def _fields(cls: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, field in cls.model_fields.items():
        extra = field.json_schema_extra or {}
        if isinstance(extra, dict) and extra.get("element_property"):
            out[field.alias or key] = field
    return out


def _names_of(type_path: str) -> dict[str, str]:
    """R4 element names of a type, walking up to the parent type for profiles like Age."""
    current: str | None = type_path
    while current:
        names = _CHILD_NAMES.get(current)
        if names:
            return names
        current = TYPE_PARENT.get(current)
    return {}


_LOCK = threading.Lock()


@cache
def children(type_path: str) -> dict[str, BaseElement]:
    """The elements of a base type or backbone element, by JSON name (memoised)."""
    with _LOCK:
        return _build(type_path)


def _build(type_path: str) -> dict[str, BaseElement]:
    names = _names_of(type_path)
    owner = type_path if type_path in _CHILD_NAMES else (_owner(type_path) or type_path)
    cls = _r4b_class(type_path) or _r4b_class(owner)
    fields = _fields(cls) if cls is not None else {}
    out: dict[str, BaseElement] = {}
    for name, fhir_type in names.items():
        path = f"{owner}.{name}"
        choice = choice_base(owner, name)
        child_path = ELSEWHERE.get(path, path)
        if child_path in _CHILD_NAMES:
            fhir_type, child_type_path = "BackboneElement", child_path
        elif fhir_type == "System.String":
            fhir_type = _system_string(owner, name)
            child_type_path = fhir_type
        else:
            child_type_path = fhir_type
        field = fields.get(name)
        is_list, required, codes = False, False, None
        if field is not None:
            extra = field.json_schema_extra or {}
            is_list = "List[" in str(field.annotation)
            required = bool(field.is_required() or extra.get("element_required"))
            if choice is not None:
                required = bool(extra.get("one_of_many_required"))
            values = extra.get("enum_values")
            if values and fhir_type == "code":
                codes = _HIERARCHICAL_CODES.get(path) if "+" in values else frozenset(values)
        if codes is None and fhir_type == "code" and _in_quantity_family(owner):
            codes = _QUANTITY_CODES.get(name)
        out[name] = BaseElement(
            name,
            fhir_type,
            child_type_path,
            is_list,
            required,
            choice[0] if choice else None,
            codes,
        )
    return out


def _owner(type_path: str) -> str | None:
    current: str | None = type_path
    while current and current not in _CHILD_NAMES:
        current = TYPE_PARENT.get(current)
    return current


def _system_string(owner: str, name: str) -> str:
    """The FHIR type of elements the FHIRPath model calls System.String."""
    if name == "url" and owner == "Extension":
        return "uri"
    if name == "id" and is_resource(owner):
        return "id"
    return "string"


def is_resource(name: str) -> bool:
    return name in RESOURCE_TYPES and name not in ("Resource", "DomainResource")


def is_primitive(fhir_type: str) -> bool:
    return fhir_type in PRIMITIVES


def suffix_type(suffix: str) -> str:
    """The type a choice key's suffix names: `String` → `string`, `DateTime` → `dateTime`,
    `Quantity` → `Quantity`."""
    lowered = suffix[0].lower() + suffix[1:]
    return lowered if is_primitive(lowered) else suffix


@lru_cache(maxsize=16384)  # names can come from messages (choice keys): bounded
def fhirpath_type(parent_type_path: str, name: str) -> str:
    """The type path fhirpathpy gives a child node, so choice types resolve in invariants."""
    if name == "extension" or name == "modifierExtension":
        return "Extension"
    path = f"{parent_type_path}.{name}"
    path = ELSEWHERE.get(path, path)
    return PATH_TO_TYPE.get(path, path)
