"""Mutants of MedCom's published FHIR examples, each with the rule and place that must catch it.

Plain helper module (no tests here). A mutant is one small edit of a published example that
MedCom's profiles (or base R4) forbid; `expect` is the (rule, location) labgw must report for it,
as an error. Locations are the validator's FHIRPath-style paths, so the catalogue also pins the
location format. Bases:

* ``hco``  HomeCareObservation 1.2.1 ``Bundle-ReceiveTestExample2`` (entries: 0 MessageHeader,
  1 Patient, 2 DiagnosticReport, 3 PractitionerRole, 4 Practitioner, 5 requester Organization,
  6 producer Organization, 7 Provenance, 8 Observation glucose, 9 Observation respiration);
* ``ack``  Acknowledgement 2.0.3 ``Bundle-a8c041b8…`` (0 MessageHeader `ok`, 1-2 Provenance,
  3-4 Organization; DK-core 2.0.0's GLN rules);
* ``msg``  Messaging 4.0.2 empty message ``Bundle-eb26be85…``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASES = {
    "hco": "homecareobservation-1.2.1/Bundle-ReceiveTestExample2.json",
    "ack": "acknowledgement-2.0.3/Bundle-a8c041b8-c65a-4fde-a90f-962076918834.json",
    "msg": "messaging-4.0.2/Bundle-eb26be85-fdb7-454d-a980-95cba6d1745b.json",
}
DELETE = object()
_STEP = re.compile(r"([A-Za-z_]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def get(doc: Any, path: str) -> Any:
    for step in _steps(path):
        doc = doc[step]
    return doc


def put(doc: Any, path: str, value: Any) -> None:
    """Set (or, with DELETE, remove) the value at a dotted path such as `entry[1].resource.id`."""
    *parents, last = _steps(path)
    holder = doc
    for step in parents:
        holder = holder[step]
    if value is DELETE:
        del holder[last]
    else:
        holder[last] = value


Edit = Callable[[dict[str, Any]], None]


def at(path: str, value: Any) -> Edit:
    return lambda doc: put(doc, path, value)


def swap_entries(a: int, b: int) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        doc["entry"][a], doc["entry"][b] = doc["entry"][b], doc["entry"][a]

    return edit


def duplicate(path: str) -> Edit:
    return lambda doc: get(doc, path).append(copy.deepcopy(get(doc, path)[0]))


def both(*edits: Edit) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        for one in edits:
            one(doc)

    return edit


@dataclass(frozen=True)
class Mutant:
    id: str
    base: str
    edit: Edit
    rule: str
    location: str
    says: str = ""  # a word the message must contain (an invariant key, a slice name)


E = "Bundle.entry"
NO_WHITESPACE_TEXT = '<div xmlns="http://www.w3.org/1999/xhtml"> </div>'
SCRIPT_TEXT = '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p><script>alert(1)</script></div>'
DAR = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "error"}
    ]
}

MUTANTS: list[Mutant] = [
    # --- invariants of DK-core identifiers and MedCom profiles --------------------------------
    Mutant(
        "cpr-too-short",
        "hco",
        at("entry[1].resource.identifier[0].value", "12345"),
        "FHIR-INVARIANT",
        f"{E}[1].resource.identifier[0].value",
        "cpr",
    ),
    Mutant(
        "cpr-not-a-date",
        "hco",
        at("entry[1].resource.identifier[0].value", "3213779999"),
        "FHIR-INVARIANT",
        f"{E}[1].resource.identifier[0].value",
        "cpr",
    ),
    Mutant(
        "x-ecpr-bad",
        "hco",
        both(
            at("entry[1].resource.identifier[0].system", "urn:oid:1.2.208.176.1.6.1.1"),
            at("entry[1].resource.identifier[0].value", "0703921VJ"),
        ),
        "FHIR-INVARIANT",
        f"{E}[1].resource.identifier[0].value",
        "x-ecpr",
    ),
    Mutant(
        "gln-check-digit",
        "hco",
        at("entry[5].resource.identifier[0].value", "5790000147466"),
        "FHIR-INVARIANT",
        f"{E}[5].resource.identifier[0].value",
        "gln-modulus-10",
    ),
    Mutant(
        "gln-length",
        "hco",
        at("entry[6].resource.identifier[0].value", "579000275777"),
        "FHIR-INVARIANT",
        f"{E}[6].resource.identifier[0].value",
        "gln-length",
    ),
    Mutant(
        "gln-check-digit-dk-core-2",
        "ack",
        at("entry[3].resource.identifier[0].value", "5790001348121"),
        "FHIR-INVARIANT",
        f"{E}[3].resource.identifier[0].value",
        "gln-modulus-10",
    ),
    Mutant(
        "sor-too-short",
        "hco",
        at("entry[5].resource.identifier[1].value", "7309100"),
        "FHIR-INVARIANT",
        f"{E}[5].resource.identifier[1].value",
        "min-digits-sor",
    ),
    Mutant(
        "message-definition-url",
        "hco",
        at("entry[0].resource.definition", "http://example.org/MessageDefinition/x"),
        "FHIR-INVARIANT",
        f"{E}[0].resource.definition",
        "medcom-hcobs-definition-url",
    ),
    Mutant(
        "unit-missing-choice-type",
        "hco",
        at("entry[8].resource.valueQuantity.unit", DELETE),
        "FHIR-INVARIANT",
        f"{E}[8].resource",
        "dk-core-observation-mandatory-units",
    ),
    Mutant(
        "value-and-absent-reason",
        "hco",
        at("entry[8].resource.dataAbsentReason", DAR),
        "FHIR-INVARIANT",
        f"{E}[8].resource",
        "obs-6",
    ),
    Mutant(
        "signature-without-phone",
        "hco",
        at("entry[4].resource.telecom", DELETE),
        "FHIR-INVARIANT",
        f"{E}[2].resource.performer[1]",
        "medcom-homecareReport-3",
    ),
    Mutant(
        "requester-contact-unnamed",
        "hco",
        at("entry[5].resource.contact", [{"purpose": {"text": "lægen"}}]),
        "FHIR-INVARIANT",
        f"{E}[5].resource.contact[0]",
        "medcom-homecareObservation-4",
    ),
    Mutant(
        "no-provenance",
        "hco",
        lambda doc: doc["entry"].pop(7),
        "FHIR-INVARIANT",
        "Bundle",
        "medcom-messaging-2",
    ),
    Mutant(
        "ack-error-without-outcome",
        "ack",
        at("entry[0].resource.response.code", "fatal-error"),
        "FHIR-INVARIANT",
        "Bundle",
        "medcom-acknowledgement-1",
    ),
    Mutant(
        "narrative-script",
        "hco",
        at("entry[1].resource.text.div", SCRIPT_TEXT),
        "FHIR-INVARIANT",
        f"{E}[1].resource.text.div",
        "txt-1",
    ),
    Mutant(
        "narrative-blank",
        "hco",
        at("entry[1].resource.text.div", NO_WHITESPACE_TEXT),
        "FHIR-INVARIANT",
        f"{E}[1].resource.text.div",
        "txt-2",
    ),
    # --- cardinality ---------------------------------------------------------------------------
    Mutant(
        "observation-status-missing",
        "hco",
        at("entry[8].resource.status", DELETE),
        "FHIR-CARDINALITY",
        f"{E}[8].resource.status",
    ),
    Mutant(
        "observation-code-missing",
        "hco",
        at("entry[9].resource.code", DELETE),
        "FHIR-CARDINALITY",
        f"{E}[9].resource.code",
    ),
    Mutant(
        "bundle-timestamp-missing",
        "hco",
        at("timestamp", DELETE),
        "FHIR-CARDINALITY",
        "Bundle.timestamp",
    ),
    Mutant(
        "messageheader-id-missing",
        "hco",
        at("entry[0].resource.id", DELETE),
        "FHIR-CARDINALITY",
        f"{E}[0].resource.id",
    ),
    Mutant(
        "patient-name-missing",
        "hco",
        at("entry[1].resource.name", DELETE),
        "FHIR-CARDINALITY",
        f"{E}[1].resource.name",
    ),
    Mutant(
        "official-name-without-family",
        "hco",
        at("entry[1].resource.name[0].family", DELETE),
        "FHIR-CARDINALITY",
        f"{E}[1].resource.name[0].family",
    ),
    Mutant(
        "two-interpretations",
        "hco",
        duplicate("entry[8].resource.interpretation"),
        "FHIR-CARDINALITY",
        f"{E}[8].resource.interpretation",
    ),
    Mutant(
        "one-performer",
        "hco",
        lambda doc: doc["entry"][2]["resource"]["performer"].pop(1),
        "FHIR-CARDINALITY",
        f"{E}[2].resource.performer",
    ),
    Mutant(
        "provenance-without-agent",
        "hco",
        at("entry[7].resource.agent", DELETE),
        "FHIR-CARDINALITY",
        f"{E}[7].resource.agent",
    ),
    Mutant(
        "message-definition-missing",
        "hco",
        at("entry[0].resource.definition", DELETE),
        "FHIR-CARDINALITY",
        f"{E}[0].resource.definition",
    ),
    # --- fixed and pattern values ---------------------------------------------------------------
    Mutant(
        "report-status-not-final",
        "hco",
        at("entry[2].resource.status", "preliminary"),
        "FHIR-PATTERN",
        f"{E}[2].resource.status",
    ),
    Mutant(
        "event-code-of-another-standard",
        "hco",
        at("entry[0].resource.eventCoding.code", "care-communication-message"),
        "FHIR-PATTERN",
        f"{E}[0].resource.eventCoding",
    ),
    Mutant(
        "bundle-type-collection", "hco", at("type", "collection"), "FHIR-PATTERN", "Bundle.type"
    ),
    Mutant(
        "ucum-system-wrong",
        "hco",
        at("entry[8].resource.valueQuantity.system", "http://example.org/units"),
        "FHIR-PATTERN",
        f"{E}[8].resource.valueQuantity.system",
    ),
    Mutant(
        "cpr-use-not-official",
        "hco",
        at("entry[1].resource.identifier[0].use", "temp"),
        "FHIR-FIXED",
        f"{E}[1].resource.identifier[0].use",
    ),
    # --- required bindings ----------------------------------------------------------------------
    Mutant(
        "observation-status-unknown",
        "hco",
        at("entry[8].resource.status", "done"),
        "FHIR-BINDING",
        f"{E}[8].resource.status",
    ),
    Mutant(
        "report-code-unknown",
        "hco",
        at("entry[2].resource.code.coding[0].code", "LabReport"),
        "FHIR-BINDING",
        f"{E}[2].resource.code",
    ),
    Mutant(
        "activity-unknown",
        "hco",
        at("entry[7].resource.activity.coding[0].code", "re-sent-message"),
        "FHIR-BINDING",
        f"{E}[7].resource.activity",
    ),
    Mutant(
        "ack-response-code-unknown",
        "ack",
        at("entry[0].resource.response.code", "maybe"),
        "FHIR-BINDING",
        f"{E}[0].resource.response.code",
    ),
    Mutant(
        "empty-message-event-unknown",
        "msg",
        at("entry[0].resource.eventCoding.code", "lab-report-message"),
        "FHIR-BINDING",
        f"{E}[0].resource.eventCoding",
    ),
    # --- slices ---------------------------------------------------------------------------------
    Mutant(
        "destination-extension-unknown",
        "hco",
        at("entry[0].resource.destination[0].extension[0].url", "http://example.org/use"),
        "FHIR-SLICE",
        f"{E}[0].resource.destination[0].extension",
        "use",
    ),
    Mutant(
        "destination-use-extension-nested",
        "hco",
        at(
            "entry[0].resource.destination[0].extension[0].extension",
            [{"url": "http://example.org/x", "valueString": "y"}],
        ),
        "FHIR-CARDINALITY",
        f"{E}[0].resource.destination[0].extension[0].extension",
    ),
    Mutant(
        "destination-use-bcc",
        "hco",
        at("entry[0].resource.destination[0].extension[0].valueCoding.code", "bcc"),
        "FHIR-SLICE",
        f"{E}[0].resource.destination[0]",
    ),
    Mutant(
        "destination-cc-forbidden",
        "hco",
        both(
            duplicate("entry[0].resource.destination"),
            at("entry[0].resource.destination[1].extension[0].valueCoding.code", "cc"),
        ),
        "FHIR-SLICE",
        f"{E}[0].resource.destination",
    ),
    Mutant(
        "two-primary-destinations",
        "hco",
        duplicate("entry[0].resource.destination"),
        "FHIR-SLICE",
        f"{E}[0].resource.destination",
    ),
    Mutant(
        "performer-is-patient",
        "hco",
        at("entry[2].resource.performer[1].reference", "Patient/BrunoElmerPatient"),
        "FHIR-SLICE",
        f"{E}[2].resource.performer[1]",
    ),
    Mutant(
        "requester-without-ydernummer",
        "hco",
        lambda doc: doc["entry"][5]["resource"]["identifier"].pop(2),
        "FHIR-SLICE",
        f"{E}[5].resource.identifier",
    ),
    Mutant(
        "producer-without-gln",
        "hco",
        at("entry[6].resource.identifier[0].system", "http://www.gs1.org/gln"),
        "FHIR-SLICE",
        f"{E}[6].resource.identifier",
    ),
    # --- references and the Bundle --------------------------------------------------------------
    Mutant(
        "sender-not-bundled",
        "hco",
        at("entry[0].resource.sender.reference", "Organization/not-in-this-message"),
        "FHIR-REFERENCE",
        f"{E}[0].resource.sender.reference",
    ),
    Mutant(
        "subject-urn-uuid-missing",
        "hco",
        at("entry[8].resource.subject.reference", "urn:uuid:0c3f1f7e-8f62-4c43-9ef7-2f4a5c1d9e01"),
        "FHIR-REFERENCE",
        f"{E}[8].resource.subject.reference",
    ),
    Mutant(
        "subject-is-organization",
        "hco",
        at("entry[9].resource.subject.reference", "Organization/SkovlyAktivitetstilbudProducerOrg"),
        "FHIR-REFERENCE",
        f"{E}[9].resource.subject.reference",
    ),
    Mutant("messageheader-not-first", "hco", swap_entries(0, 1), "FHIR-MESSAGEHEADER", f"{E}[0]"),
    Mutant(
        "messageheader-not-first-invariant",
        "hco",
        swap_entries(0, 2),
        "FHIR-INVARIANT",
        "Bundle",
        "medcom-homecareObsMessage-1",
    ),
    Mutant(
        "fullurl-twice",
        "hco",
        lambda doc: put(doc, "entry[9].fullUrl", doc["entry"][8]["fullUrl"]),
        "FHIR-FULLURL",
        f"{E}[9].fullUrl",
    ),
    # --- base R4 structure and primitives -------------------------------------------------------
    Mutant(
        "unknown-element",
        "hco",
        at("entry[8].resource.result", "45"),
        "FHIR-STRUCTURE",
        f"{E}[8].resource.result",
    ),
    Mutant(
        "single-as-array",
        "hco",
        at("entry[8].resource.status", ["final"]),
        "FHIR-STRUCTURE",
        f"{E}[8].resource.status",
    ),
    Mutant(
        "array-as-single",
        "hco",
        at("entry[8].resource.interpretation", {"text": "NI"}),
        "FHIR-STRUCTURE",
        f"{E}[8].resource.interpretation",
    ),
    Mutant(
        "two-values",
        "hco",
        at("entry[8].resource.valueString", "7,1"),
        "FHIR-STRUCTURE",
        f"{E}[8].resource.valueString",
    ),
    Mutant(
        "value-type-outside-type-slices",
        "hco",
        both(
            at("entry[8].resource.valueQuantity", DELETE),
            at("entry[8].resource.valueBoolean", True),
        ),
        "FHIR-SLICE",
        f"{E}[8].resource.valueBoolean",
    ),
    Mutant(
        "event-uri-not-allowed",
        "hco",
        both(
            at("entry[0].resource.eventCoding", DELETE),
            at("entry[0].resource.eventUri", "urn:medcom:homecareobservation"),
        ),
        "FHIR-TYPE",
        f"{E}[0].resource.eventUri",
    ),
    Mutant(
        "occurred-period-not-allowed",
        "hco",
        both(
            at("entry[7].resource.occurredDateTime", DELETE),
            at("entry[7].resource.occurredPeriod", {"start": "2025-08-07T15:00:00+02:00"}),
        ),
        "FHIR-TYPE",
        f"{E}[7].resource.occurredPeriod",
    ),
    Mutant(
        "empty-object",
        "hco",
        at("entry[8].resource.code", {}),
        "FHIR-STRUCTURE",
        f"{E}[8].resource.code",
    ),
    Mutant(
        "empty-string",
        "hco",
        at("entry[2].resource.conclusion", ""),
        "FHIR-VALUE",
        f"{E}[2].resource.conclusion",
    ),
    Mutant(
        "month-13",
        "hco",
        at("entry[8].resource.effectiveDateTime", "2025-13-07T14:47:23+02:00"),
        "FHIR-VALUE",
        f"{E}[8].resource.effectiveDateTime",
    ),
    Mutant(
        "time-without-zone",
        "hco",
        at("entry[8].resource.effectiveDateTime", "2025-08-07T14:47:23"),
        "FHIR-VALUE",
        f"{E}[8].resource.effectiveDateTime",
    ),
    Mutant(
        "decimal-as-string",
        "hco",
        at("entry[8].resource.valueQuantity.value", "7.1"),
        "FHIR-VALUE",
        f"{E}[8].resource.valueQuantity.value",
    ),
    Mutant(
        "id-with-slash",
        "hco",
        at("entry[1].resource.id", "Bruno/Elmer"),
        "FHIR-VALUE",
        f"{E}[1].resource.id",
    ),
    Mutant(
        "unknown-resource-type",
        "hco",
        at("entry[4].resource.resourceType", "Doctor"),
        "FHIR-STRUCTURE",
        f"{E}[4].resource",
    ),
    Mutant(
        "quantity-comparator-unknown",
        "hco",
        at("entry[8].resource.valueQuantity.comparator", "<<"),
        "FHIR-BINDING",
        f"{E}[8].resource.valueQuantity.comparator",
    ),
    Mutant(
        "r4-name-use-unknown",
        "hco",
        at("entry[4].resource.name[0].use", "nickname-ish"),
        "FHIR-BINDING",
        f"{E}[4].resource.name[0].use",
    ),
]


def base_document(examples: Path, base: str) -> dict[str, Any]:
    return json.loads((examples / BASES[base]).read_text(encoding="utf-8"))


def mutated(examples: Path, mutant: Mutant) -> bytes:
    doc = base_document(examples, mutant.base)
    mutant.edit(doc)
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")
