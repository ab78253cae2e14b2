"""Reads labgw's FHIR lab message back into plain values (round trips and the equivalence check).

Expects a message that passed validation; it follows references inside the Bundle only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.fhir_message import systems as sys_


@dataclass(frozen=True, slots=True)
class ReadObservation:
    record_uuid: str  # Observation.identifier: urn:uuid derived from the LPS record
    code: str
    status: str
    value: Decimal | str | None
    comparator: str | None
    unit: str | None  # UCUM code
    low: Decimal | None
    high: Decimal | None
    interpretation: str | None
    note: str | None
    restricted: bool  # security label R: the patient refused sharing


@dataclass(frozen=True, slots=True)
class ReadMessage:
    message_id: str
    patient_system: str
    patient_id: str
    report_status: str
    observations: tuple[ReadObservation, ...]


def read_message(content: bytes) -> ReadMessage:
    bundle = json.loads(content, parse_float=Decimal)
    resources = [entry["resource"] for entry in bundle["entry"]]
    header = resources[0]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    report = next(r for r in resources if r["resourceType"] == "DiagnosticReport")
    return ReadMessage(
        message_id=header["id"],
        patient_system=patient["identifier"][0]["system"],
        patient_id=patient["identifier"][0]["value"],
        report_status=report["status"],
        observations=tuple(
            _observation(r) for r in resources if r["resourceType"] == "Observation"
        ),
    )


def _decimal(quantity: dict[str, Any] | None) -> Decimal | None:
    if quantity is None:
        return None
    value = quantity["value"]
    return value if isinstance(value, Decimal) else Decimal(value)


def _observation(obs: dict[str, Any]) -> ReadObservation:
    quantity = obs.get("valueQuantity")
    ranges = obs.get("referenceRange", [{}])[0]
    interpretation = obs.get("interpretation", [{}])[0].get("coding", [{}])[0].get("code")
    security = obs.get("meta", {}).get("security", [])
    return ReadObservation(
        record_uuid=obs["identifier"][0]["value"].removeprefix("urn:uuid:"),
        code=obs["code"]["coding"][0]["code"],
        status=obs["status"],
        value=_decimal(quantity) if quantity else obs.get("valueString"),
        comparator=quantity.get("comparator") if quantity else None,
        unit=quantity.get("code") if quantity else None,
        low=_decimal(ranges.get("low")),
        high=_decimal(ranges.get("high")),
        interpretation=interpretation,
        note=obs["note"][0]["text"] if obs.get("note") else None,
        restricted=any(
            s.get("system") == sys_.CONFIDENTIALITY and s.get("code") == "R" for s in security
        ),
    )
