"""Renders the MedCom-style FHIR R4 lab message (DESIGN §4): one Bundle per planned letter.

Shape (notes/medcom-fhir.md §0, §3, §14): a `message` Bundle with the MessageHeader first, then
Provenance, the sending practice and the receiving databank as Organizations, Patient,
DiagnosticReport, one Observation per result and the Specimen. Every resource but the Bundle has a
narrative. Ids are UUIDs derived from the letter id, so a replay gives the same message; the
Bundle id is derived from the envelope id as well, so it is new on every send.

MedCom has no lab event code yet: `eventCoding` uses labgw's own code system (DESIGN §4). A
correction carries activity `modified-message` (entity role `revision`), a cancellation of every
result of the letter `retract-message` (role `removal`), each with an `entity` that points at the
MessageHeader of the version before; a letter that cancels some results and corrects others
modifies.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.config import Receiver
from gateway.coverage import Action, CoverageBuilder, Use
from gateway.fhir_message import systems as sys_
from gateway.fhir_message.json_text import dumps
from gateway.fhir_message.narrative import narrative
from gateway.issues import Issue, IssueType, Severity
from gateway.letters import LetterPlan, Rendered
from gateway.mapping.resolve import Mapped
from gateway.model import Abnormal, Consent, LabRecord, Status
from gateway.values import Comparator, parse_number

FHIR_KIND = "FHIR"
_NAMESPACE = uuid.UUID("7b0e5f3c-2a7d-4c1e-9a55-1d0c8e4f6a21")  # labgw's UUIDv5 namespace
_OBS_STATUS = {
    Status.PRELIMINARY: "preliminary",
    Status.FINAL: "final",
    Status.CORRECTED: "corrected",
    Status.CANCELLED: "cancelled",
}
_INTERPRETATION = {
    Abnormal.HIGH: "H",
    Abnormal.LOW: "L",
    Abnormal.ABNORMAL: "A",
    Abnormal.NORMAL: "N",
}
T, C, L = Action.TRANSFORMED, Action.CARRIED, Action.LEFT_OUT


def uuid_for(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def fhir_time(moment: datetime) -> str:
    """dateTime/instant with seconds and offset (MedCom: every time carries a zone)."""
    return moment.isoformat(timespec="seconds")


def record_uuid(record: LabRecord) -> str:
    """Observation.identifier: the same for every version of one LPS record (MedCom requires a
    UUID here), so receivers can tie a correction to what it corrects."""
    return uuid_for("record", record.practice.gln, record.lps.vendor, record.record_id)


def message_id(letter_id: str) -> str:
    """MessageHeader.id of a letter: kept on technical resend (DESIGN §4)."""
    return uuid_for("MessageHeader", letter_id)


# DK-core x-ecpr: DDMMYY, 1 or 7, two capital letters, a digit (the national X-eCPR format).
_X_ECPR = re.compile(r"^(0[1-9]|[12][0-9]|3[01])(0[1-9]|1[0-2])[0-9]{2}[17][A-Z]{2}[0-9]\Z")


def record_problems(mapped: Mapped, _letter: tuple[Mapped, ...]) -> tuple[Issue, ...]:
    """What keeps a record out of a FHIR message although the XML letter could carry it."""
    record = mapped.record
    if not record.practice.sor:
        return (
            Issue(
                Severity.ERROR,
                IssueType.REQUIRED,
                "FHIR-NEEDS-SOR",
                "the FHIR message identifies the practice by its SOR id "
                "(medcom-messaging-organization identifier:SOR-ID 1..*); practice.sor is "
                "missing",
                location="practice.sor",
                record=record.key,
            ),
        )
    replacement = record.patient.replacement_id
    if replacement and not _X_ECPR.match(replacement):
        return (
            Issue(
                Severity.ERROR,
                IssueType.VALUE,
                "FHIR-REPLACEMENT-ID",
                "a replacement id in FHIR must be an X-eCPR (DDMMYY, 1 or 7, two capital "
                "letters, a digit: DK-core x-ecpr)",
                location="patient.replacementId",
                record=record.key,
            ),
        )
    return ()


def _ref(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def _meta(profile: str, security: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"profile": [f"{sys_.PROFILE}/{profile}"]}
    if security:
        meta["security"] = [{"system": sys_.CONFIDENTIALITY, "code": "R"}]
    return meta


def _number(text: str) -> Decimal | None:
    return parse_number(text)


def render_fhir(
    plan: LetterPlan, to: Receiver, producer_code: str, sent: datetime, envelope_id: str
) -> Rendered:
    """Render one letter as a MedCom-style FHIR message Bundle (exact JSON bytes)."""
    first = plan.first
    refused = first.consent is Consent.REFUSED
    header_id = message_id(plan.letter_id)
    sender = _practice(first, producer_code)
    receiver = _receiver(to)
    patient = _patient(first, plan.letter_id)
    specimen = _specimen(first, plan.letter_id, patient)
    observations = [
        _observation(m, plan.letter_id, patient, sender, specimen, refused) for m in plan.results
    ]
    report = _report(plan, patient, sender, specimen, observations, refused)
    header = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "meta": _meta("labgw-lab-messageheader"),
        "text": narrative(
            "Lab result message",
            [("From", first.practice.name), ("To", to.name), ("Letter", plan.letter_id)],
        ),
        "eventCoding": {"system": sys_.EVENTS, "code": sys_.EVENT_LAB_REPORT},
        "destination": [
            {
                "extension": [
                    {
                        "url": sys_.DESTINATION_USE_EXT,
                        "valueCoding": {"system": sys_.DESTINATION_USE, "code": "primary"},
                    }
                ],
                "endpoint": to.endpoint,
                "receiver": _ref(receiver),
            }
        ],
        "sender": _ref(sender),
        "source": {"endpoint": f"{sys_.SOR_ENDPOINT}{first.practice.sor}"},
        "focus": [_ref(report)],
    }
    provenance = _provenance(plan, header_id, sender, sent)
    resources = [header, provenance, sender, receiver, patient, report, *observations, specimen]
    bundle = {
        "resourceType": "Bundle",
        "id": uuid_for("Bundle", plan.letter_id, envelope_id),
        "meta": {"profile": [f"{sys_.PROFILE}/labgw-lab-message"]},
        "type": "message",
        "timestamp": fhir_time(sent),
        "entry": [
            {"fullUrl": f"{sys_.LABGW}/{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }
    cov = CoverageBuilder()
    for mapped in plan.results:
        cov.add(mapped.record.key, _uses(mapped))
    return Rendered(dumps(bundle).encode("utf-8"), cov.build())


def _provenance(
    plan: LetterPlan, header_id: str, sender: dict[str, Any], sent: datetime
) -> dict[str, Any]:
    # Modified and retracted messages point at the message they replace; with no version
    # before (a record whose first version is already a correction) the message is new.
    # MedCom's retract cancels the whole message (notes/medcom-fhir.md §4): only a letter whose
    # every result is cancelled retracts; one that still carries a result modifies (its
    # DiagnosticReport is `corrected`, see _report).
    activity = "new-message"
    if plan.previous_message_id:  # a later version: it modifies, or retracts, what was sent
        retracted = all(m.record.status is Status.CANCELLED for m in plan.results)
        activity = "retract-message" if retracted else "modified-message"
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": uuid_for("Provenance", plan.letter_id),
        "meta": {"profile": [f"{sys_.PROFILE}/labgw-lab-provenance"]},
        "text": narrative("Provenance", [("Activity", activity), ("Sent", fhir_time(sent))]),
        "target": [{"reference": f"MessageHeader/{header_id}"}],
        "occurredDateTime": fhir_time(sent),
        "recorded": fhir_time(sent),
        "activity": {"coding": [{"system": sys_.ACTIVITY, "code": activity}]},
        "agent": [{"who": _ref(sender)}],
    }
    if activity != "new-message" and plan.previous_message_id:
        role = "removal" if activity == "retract-message" else "revision"
        previous = plan.previous_message_id
        provenance["entity"] = [{"role": role, "what": {"reference": f"MessageHeader/{previous}"}}]
    return provenance


def _practice(record: LabRecord, producer_code: str) -> dict[str, Any]:
    practice = record.practice
    identifiers = [
        {"system": sys_.SOR, "value": practice.sor},
        {"system": sys_.GLN, "value": practice.gln},
    ]
    if practice.ydernummer:
        identifiers.append({"system": sys_.YDERNUMMER, "value": practice.ydernummer})
    identifiers.append({"system": sys_.PRODUCENT_ID, "value": producer_code})
    return {
        "resourceType": "Organization",
        "id": uuid_for("Organization", practice.gln, practice.sor or ""),
        "meta": _meta("labgw-organization"),
        "text": narrative(
            practice.name,
            [("SOR", practice.sor), ("GLN", practice.gln), ("Ydernummer", practice.ydernummer)],
        ),
        "identifier": identifiers,
        "name": practice.name,
    }


def _receiver(to: Receiver) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": uuid_for("Organization", to.gln, to.sor),
        "meta": _meta("labgw-organization"),
        "text": narrative(to.name, [("SOR", to.sor), ("GLN", to.gln)]),
        "identifier": [
            {"system": sys_.SOR, "value": to.sor},
            {"system": sys_.GLN, "value": to.gln},
        ],
        "name": to.name,
    }


def _patient(record: LabRecord, letter_id: str) -> dict[str, Any]:
    patient = record.patient
    identifier = (
        {"system": sys_.CPR, "value": patient.cpr}
        if patient.cpr
        else {"system": sys_.X_ECPR, "value": patient.replacement_id}
    )
    name: dict[str, Any] = {"use": "official", "family": patient.family}
    if patient.given:
        name["given"] = [patient.given]
    return {
        "resourceType": "Patient",
        "id": uuid_for("Patient", letter_id),
        "meta": _meta("labgw-patient"),
        "text": narrative(" ".join(filter(None, (patient.given, patient.family))), []),
        "identifier": [identifier],
        "name": [name],
    }


def _specimen(record: LabRecord, letter_id: str, patient: dict[str, Any]) -> dict[str, Any]:
    sample = record.sample
    specimen: dict[str, Any] = {
        "resourceType": "Specimen",
        "id": uuid_for("Specimen", letter_id),
        "meta": _meta("labgw-specimen"),
        "text": narrative(
            f"Sample {sample.id}",
            [("Material", sample.material), ("Collected", fhir_time(sample.collected_at))],
        ),
        "identifier": [{"system": sys_.SAMPLE_ID, "value": sample.id}],
        "subject": _ref(patient),
        "collection": {"collectedDateTime": fhir_time(sample.collected_at)},
    }
    if sample.material:
        specimen["type"] = {"text": sample.material}
    return specimen


def _code(mapped: Mapped) -> dict[str, Any]:
    analysis = mapped.analysis
    system = sys_.NPU if analysis.code_type == "iupac" else sys_.LOCAL_ANALYSES
    return {
        "coding": [{"system": system, "code": analysis.npu_code, "display": analysis.name}],
        "text": analysis.short_name,
    }


def _quantity(
    number: Decimal, mapped: Mapped, comparator: Comparator | None = None
) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": number}
    if comparator is not None:
        quantity["comparator"] = comparator.value
    if mapped.ucum:
        quantity |= {
            "unit": mapped.analysis.medcom_unit or mapped.ucum,
            "system": sys_.UCUM,
            "code": mapped.ucum,
        }
    return quantity


def _observation(
    mapped: Mapped,
    letter_id: str,
    patient: dict[str, Any],
    performer: dict[str, Any],
    specimen: dict[str, Any],
    refused: bool,
) -> dict[str, Any]:
    record = mapped.record
    result = record.result
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": uuid_for("Observation", letter_id, record.key),
        "meta": _meta("labgw-lab-observation", refused),
        "text": narrative(
            mapped.analysis.short_name,
            [
                ("Result", result.value.raw.strip()),
                ("Unit", result.unit),
                ("Status", _OBS_STATUS[record.status]),
                ("Comment", result.comment),
            ],
        ),
        "identifier": [{"value": f"urn:uuid:{record_uuid(record)}"}],
        "status": _OBS_STATUS[record.status],
        "category": [{"coding": [{"system": sys_.OBSERVATION_CATEGORY, "code": "laboratory"}]}],
        "code": _code(mapped),
        "subject": _ref(patient),
        "effectiveDateTime": fhir_time(record.sample.collected_at),
        "issued": fhir_time(record.performed_at),
        "performer": [_ref(performer)],
    }
    value = mapped.value
    cancelled = record.status is Status.CANCELLED
    if cancelled:
        obs["dataAbsentReason"] = {"text": "annulleret"}
    elif value.number is not None:
        obs["valueQuantity"] = _quantity(value.number, mapped, value.comparator)
    else:
        obs["valueString"] = value.text
    # A cancelled result has no value to judge: no flag and no interval (as in XRPT01/XRPT05).
    if result.abnormal and not cancelled:
        obs["interpretation"] = [
            {"coding": [{"system": sys_.INTERPRETATION, "code": _INTERPRETATION[result.abnormal]}]}
        ]
    if result.comment:
        obs["note"] = [{"text": result.comment}]
    obs["specimen"] = _ref(specimen)
    low = _number(result.reference_low) if result.reference_low else None
    high = _number(result.reference_high) if result.reference_high else None
    if (low is not None or high is not None) and not cancelled:
        limits: dict[str, Any] = {}
        if low is not None:
            limits["low"] = _quantity(low, mapped)
        if high is not None:
            limits["high"] = _quantity(high, mapped)
        obs["referenceRange"] = [limits]
    obs["meta"]["versionId"] = str(record.version)
    return obs


def _report(
    plan: LetterPlan,
    patient: dict[str, Any],
    performer: dict[str, Any],
    specimen: dict[str, Any],
    observations: list[dict[str, Any]],
    refused: bool,
) -> dict[str, Any]:
    first = plan.first
    statuses = {m.record.status for m in plan.results}
    if statuses == {Status.CANCELLED}:
        status = "cancelled"
    elif Status.PRELIMINARY in statuses:
        status = "partial"
    elif statuses & {Status.CORRECTED, Status.CANCELLED}:
        status = "corrected"
    else:
        status = "final"
    issued = max(m.record.performed_at for m in plan.results)
    return {
        "resourceType": "DiagnosticReport",
        "id": uuid_for("DiagnosticReport", plan.letter_id),
        "meta": _meta("labgw-lab-report", refused),
        "text": narrative(
            f"Laboratory report, sample {first.sample.id}",
            [
                ("Status", status),
                ("Results", str(len(observations))),
                ("Issued", fhir_time(issued)),
            ],
        ),
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": sys_.SNOMED,
                        "code": sys_.GENERAL_PRACTICE_SCT,
                        "display": "General medical practice",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": sys_.LOINC,
                    "code": sys_.LAB_REPORT_LOINC,
                    "display": "Laboratory report",
                }
            ]
        },
        "subject": _ref(patient),
        "effectiveDateTime": fhir_time(first.sample.collected_at),
        "issued": fhir_time(issued),
        "performer": [_ref(performer)],
        "specimen": [_ref(specimen)],
        "result": [_ref(o) for o in observations],
    }


def _uses(mapped: Mapped) -> tuple[Use, ...]:
    r = mapped.record
    value = mapped.value
    out: list[Use] = [
        ("recordId", T, "Observation.identifier.value", "UUID derived from practice and record id"),
        ("version", T, "Observation.meta.versionId", None),
        ("status", T, "Observation.status", None),
        ("practice.gln", C, "Organization.identifier:GLN", None),
        ("practice.name", C, "Organization.name", None),
        ("patient.family", C, "Patient.name.family", None),
        ("sample.id", C, "Specimen.identifier.value", None),
        ("sample.collectedAt", C, "Observation.effectiveDateTime", None),
        (
            "analysis.code",
            T if mapped.mapped_from else C,
            "Observation.code.coding.code",
            f"mapped from {mapped.mapped_from}" if mapped.mapped_from else None,
        ),
        ("analysis.system", T, "Observation.code.coding.system", None),
        ("performedAt", C, "Observation.issued", None),
        ("lps.vendor", L, None, "not part of the FHIR message"),
        (
            "consent",
            L if r.consent is not Consent.REFUSED else T,
            None if r.consent is not Consent.REFUSED else "Observation.meta.security",
            "only a refusal is carried, as the security label R"
            if r.consent is not Consent.REFUSED
            else None,
        ),
    ]
    judged = {"result.referenceLow", "result.referenceHigh", "result.abnormal"}
    for name, given, target in (
        ("practice.sor", r.practice.sor, "Organization.identifier:SOR"),
        ("practice.ydernummer", r.practice.ydernummer, "Organization.identifier:Ydernummer"),
        ("patient.cpr", r.patient.cpr, "Patient.identifier:CPR"),
        ("patient.replacementId", r.patient.replacement_id, "Patient.identifier:X-eCPR"),
        ("patient.given", r.patient.given, "Patient.name.given"),
        ("sample.material", r.sample.material, "Specimen.type.text"),
        ("result.referenceLow", r.result.reference_low, "Observation.referenceRange.low"),
        ("result.referenceHigh", r.result.reference_high, "Observation.referenceRange.high"),
        ("result.abnormal", r.result.abnormal, "Observation.interpretation"),
        ("result.comment", r.result.comment, "Observation.note.text"),
    ):
        if given and r.status is Status.CANCELLED and name in judged:
            out.append((name, L, None, "cancelled: no result to judge"))
        elif given:
            out.append((name, C, target, None))
    if r.analysis.text:
        out.append(("analysis.text", L, None, "the name from mappings/analyses.csv is sent"))
    if r.lps.version:
        out.append(("lps.version", L, None, "not part of the FHIR message"))
    if r.result.unit:
        out.append(
            ("result.unit", T, "Observation.valueQuantity.code", "UCUM")
            if mapped.ucum
            else ("result.unit", L, None, "the analysis has no unit")
        )
    if r.status is Status.CANCELLED:
        out.append(("result.value", L, None, "cancelled: dataAbsentReason 'annulleret'"))
    elif value.number is not None:
        out.append(
            (
                "result.value",
                T,
                "Observation.valueQuantity",
                "number with comparator" if value.comparator else "number",
            )
        )
    else:
        out.append(("result.value", C, "Observation.valueString", None))
    return tuple(out)
