"""The MedCom FHIR Acknowledgement (medcom.fhir.dk.acknowledgement 2.0.3), rendered and read.

notes/medcom-fhir.md §5: a `message` Bundle whose MessageHeader has the event
`acknowledgement-message`, `response.identifier` = the acknowledged MessageHeader.id and
`response.code` `ok` (AA), `fatal-error` (AE: "no point in re-sending without change") or
`transient-error` (AR: "wait and try again"); an OperationOutcome (`response.details`) whenever
the code is not `ok`; a Provenance with activity `acknowledgement` whose entity (role `revision`)
is the acknowledged MessageHeader; the Organizations the header names.

Direction. MedCom's definitions make the original's `source` "the target for the
Acknowledgement" and the ack's `source` "the sender of the Acknowledgement", while MedCom's
published examples keep sender and destination as in the original (the notes' caveat). labgw
writes the first reading (the acknowledger sends, the original sender receives: as XCTL does)
and reads either, because reading needs neither (docs/fhir.md, "Acknowledgements").

The OperationOutcome's `issue.details.coding` has a required binding to MedCom's
issue-details value set, so a labgw rule code cannot be a coding there: each Issue gets the
MedCom code nearest its IssueType, its message as `details.text`, and its rule in `diagnostics`
(`labgw rule XSD`), where a labgw reader finds it again.

JSON is written by labgw (`json_text.dumps`), never through a model (DESIGN §5).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gateway.fhir_message import systems
from gateway.fhir_message.json_text import dumps
from gateway.fhir_message.narrative import narrative
from gateway.fhir_message.render import FHIR_KIND, fhir_time, uuid_for
from gateway.issues import Issue, IssueType, Severity
from gateway.receipts import bundle as b
from gateway.receipts import issue_text, rules
from gateway.receipts.model import Original, Party, Receipt, ReceiptOutcome
from gateway.receipts.reading import RECEIPT_JSON, read_json

KIND = f"{FHIR_KIND}-ACK"  # Receipt.kind: the acknowledgement of a FHIR message
_ACK = "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition"
_MESSAGING = "http://medcomfhir.dk/ig/messaging/StructureDefinition"
PROFILES = {
    "Bundle": f"{_ACK}/medcom-messaging-acknowledgement",
    "MessageHeader": f"{_ACK}/medcom-messaging-acknowledgementHeader",
    "OperationOutcome": f"{_ACK}/medcom-acknowledgement-operationoutcome",
    "Provenance": f"{_MESSAGING}/medcom-messaging-provenance",
    "Organization": f"{_MESSAGING}/medcom-messaging-organization",
}
RESPONSE_CODES = {
    ReceiptOutcome.POSITIVE: "ok",
    ReceiptOutcome.NEGATIVE: "fatal-error",
    ReceiptOutcome.TRANSIENT: "transient-error",
}
_OUTCOMES = {code: outcome for outcome, code in RESPONSE_CODES.items()}
RULE_PREFIX = "labgw rule "
# The two systems of MedCom's medcom-acknowledgement-issue-details value set (terminology
# 1.4.0); the first is written as the value set names it.
MSG = "http://hl7.org/fhir/ValueSet/operation-outcome"
MEDCOM_ERRORS = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"
# labgw's choice: the MedCom issue detail nearest each IssueType (docs/fhir.md).
DETAILS: dict[IssueType, tuple[str, str]] = {
    IssueType.INVALID: (MSG, "MSG_BAD_SYNTAX"),
    IssueType.STRUCTURE: (MSG, "MSG_BAD_SYNTAX"),
    IssueType.TOO_COSTLY: (MSG, "MSG_BAD_SYNTAX"),
    IssueType.REQUIRED: (MSG, "MSG_BAD_FORMAT"),
    IssueType.INVARIANT: (MSG, "MSG_BAD_FORMAT"),
    IssueType.VALUE: (MEDCOM_ERRORS, "MSG_Datatype_Wrong"),
    IssueType.TOO_LONG: (MEDCOM_ERRORS, "MSG_Element_To_Long"),
    IssueType.CODE_INVALID: (MEDCOM_ERRORS, "MSG_VALUESET_VALUE_UNKNOWN"),
    IssueType.NOT_SUPPORTED: (MEDCOM_ERRORS, "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE"),
    IssueType.NOT_FOUND: (MSG, "MSG_LOCAL_FAIL"),
    IssueType.DUPLICATE: (MSG, "MSG_DUPLICATE_ID"),
    IssueType.SECURITY: (MEDCOM_ERRORS, "MSG_Damaged_durin_transport"),
    IssueType.PROCESSING: (MEDCOM_ERRORS, "MSG_Mailbox_Out_Of_Operation"),
    IssueType.EXCEPTION: (MEDCOM_ERRORS, "MSG_Mailbox_Out_Of_Operation"),
    IssueType.THROTTLED: (MEDCOM_ERRORS, "MSG_Mailbox_Out_Of_Operation"),  # try again later
    IssueType.TIMEOUT: (MEDCOM_ERRORS, "MSG_Mailbox_Out_Of_Operation"),
}
# A refusal must say why (the response narrative "SHALL describe the issue"); when the caller
# gave no Issue, this is what is said.
_UNEXPLAINED = {
    ReceiptOutcome.NEGATIVE: (IssueType.INVALID, "the message is refused"),
    ReceiptOutcome.TRANSIENT: (
        IssueType.PROCESSING,
        "the message could not be processed now; send it again later",
    ),
}


def render_fhir_ack(
    outcome: ReceiptOutcome,
    original: Original,
    *,
    ack_id: str,
    bundle_id: str,
    sent: datetime,
    issues: Sequence[Issue] = (),
) -> bytes:
    """The acknowledgement of one received FHIR message, as the bytes to send and store.

    Raises:
        ValueError: an XML original, an original without its parties' endpoints (make it with
            `original_of`), ids that are not FHIR ids, or a naive `sent`.
    """
    acknowledger, addressee = original.receiver_party, original.sender_party
    if original.kind != FHIR_KIND or acknowledger is None or addressee is None:
        raise ValueError("a FHIR acknowledgement answers a FHIR message read by original_of")
    for name, value in (
        ("ack_id", ack_id),
        ("bundle_id", bundle_id),
        ("original.message_id", original.message_id),
    ):
        if not b.is_id(value):
            raise ValueError(f"{name} is not a FHIR id: {value!r}")
    if sent.tzinfo is None:
        raise ValueError("`sent` must be timezone-aware")
    # The acknowledger sends, to the original sender's source endpoint (module docstring).
    own, theirs = (
        _reference(original.receiver, acknowledger),
        _reference(original.sender, addressee),
    )
    response: dict[str, Any] = {
        "identifier": original.message_id,
        "code": RESPONSE_CODES[outcome],
    }
    entries = [_organization(p) for p in (acknowledger, addressee) if p.organization_id]
    if issues or outcome is not ReceiptOutcome.POSITIVE:
        report = _outcome(outcome, issues, ack_id)
        response["details"] = {"reference": f"OperationOutcome/{report['id']}"}
        entries.append(report)
    header = {
        "resourceType": "MessageHeader",
        "id": ack_id,
        "meta": {"profile": [PROFILES["MessageHeader"]]},
        "text": narrative(
            "Acknowledgement",
            [("Acknowledges", original.message_id), ("Response", response["code"])],
        ),
        "eventCoding": {"system": b.EVENT_CODES, "code": b.ACK_EVENT},
        "destination": [
            {
                "extension": [
                    {
                        "url": systems.DESTINATION_USE_EXT,
                        "valueCoding": {"system": systems.DESTINATION_USE, "code": "primary"},
                    }
                ],
                "endpoint": addressee.endpoint,
                "receiver": theirs,
            }
        ],
        "sender": own,
        "source": {"endpoint": acknowledger.endpoint},
        "response": response,
    }
    provenance = {
        "resourceType": "Provenance",
        "id": uuid_for("Provenance", ack_id),
        "meta": {"profile": [PROFILES["Provenance"]]},
        "text": narrative(
            "Provenance",
            [("Activity", "acknowledgement"), ("Acknowledges", original.message_id)],
        ),
        "target": [{"reference": f"MessageHeader/{ack_id}"}],
        "occurredDateTime": fhir_time(sent),
        "recorded": fhir_time(sent),
        "activity": {"coding": [{"system": systems.ACTIVITY, "code": "acknowledgement"}]},
        "agent": [{"who": own}],
        "entity": [
            {"role": "revision", "what": {"reference": f"MessageHeader/{original.message_id}"}}
        ],
    }
    unique = {f"{r['resourceType']}/{r['id']}": r for r in (header, provenance, *entries)}
    message = {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {"profile": [PROFILES["Bundle"]]},
        "type": "message",
        "timestamp": fhir_time(sent),
        "entry": [
            {"fullUrl": f"{systems.LABGW}/{key}", "resource": resource}
            for key, resource in unique.items()
        ],
    }
    return dumps(message).encode("utf-8")


def _reference(reference: str, party: Party) -> dict[str, str]:
    """The party's Organization in this Bundle, or the original's reference as it was."""
    if party.organization_id:
        return {"reference": f"Organization/{party.organization_id}"}
    return {"reference": reference}


def _organization(party: Party) -> dict[str, Any]:
    identifiers = [
        {"system": system, "value": value}
        for system, value in ((systems.GLN, party.gln), (systems.SOR, party.sor))
        if value
    ]
    organization: dict[str, Any] = {
        "resourceType": "Organization",
        "id": party.organization_id,
        "meta": {"profile": [PROFILES["Organization"]]},
        "text": narrative(party.name or "Organization", [("SOR", party.sor), ("GLN", party.gln)]),
    }
    if identifiers:
        organization["identifier"] = identifiers
    if party.name:
        organization["name"] = party.name
    return organization


def _outcome(outcome: ReceiptOutcome, issues: Sequence[Issue], ack_id: str) -> dict[str, Any]:
    if issues:
        entries = [_issue(i.severity, i.code, i.message, i.rule, i.location) for i in issues]
    else:
        code, text = _UNEXPLAINED[outcome]
        entries = [_issue(Severity.ERROR, code, text)]
    return {
        "resourceType": "OperationOutcome",
        "id": uuid_for("OperationOutcome", ack_id),
        "meta": {"profile": [PROFILES["OperationOutcome"]]},
        "text": narrative(
            "Issues",
            [(e["severity"], b.text(e.get("details", {}).get("text"))) for e in entries],
        ),
        "issue": entries,
    }


def _issue(
    severity: Severity,
    code: IssueType,
    message: str,
    rule: str | None = None,
    location: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"severity": severity.value, "code": code.value}
    details: dict[str, Any] = {}
    if code in DETAILS:
        system, detail = DETAILS[code]
        details["coding"] = [{"system": system, "code": detail}]
    if clean := issue_text.clean(message):
        details["text"] = clean
    if details:
        entry["details"] = details
    if rule:
        entry["diagnostics"] = RULE_PREFIX + issue_text.clean(rule)
    if location and (where := issue_text.clean(location)):
        entry["location" if where.startswith("/") else "expression"] = [where]
    return entry


def parse_fhir_ack(data: bytes) -> Receipt | tuple[Issue, ...]:
    """A received MedCom Acknowledgement; Issues when the bytes are not one."""
    value, problems = read_json(data, RECEIPT_JSON, strict=True)
    if problems:
        return problems
    message = b.obj(value)
    head = b.header(message)
    if not head or not b.is_ack(head):
        what = "a FHIR message of another event" if head else "not a FHIR message Bundle"
        return (
            rules.fatal(
                IssueType.NOT_SUPPORTED,
                rules.KIND,
                f"not a MedCom acknowledgement: {what} (expected a message Bundle whose "
                f"MessageHeader has the event {b.ACK_EVENT})",
            ),
        )
    response = b.obj(head.get("response"))
    facts = {
        "MessageHeader.id": b.text(head.get("id")),
        "MessageHeader.response.identifier": b.text(response.get("identifier")),
        "MessageHeader.response.code": b.text(response.get("code")),
    }
    absent = [where for where, fact in facts.items() if not fact]
    if absent:
        message_text = f"the acknowledgement has no {', '.join(absent)}"
        return (rules.fatal(IssueType.REQUIRED, rules.MISSING, message_text),)
    outcome = _OUTCOMES.get(facts["MessageHeader.response.code"])
    if outcome is None:
        return (
            rules.fatal(
                IssueType.CODE_INVALID,
                rules.INVALID,
                f"response.code {facts['MessageHeader.response.code']!r} is not one of "
                f"{', '.join(_OUTCOMES)}",
                "MessageHeader.response.code",
            ),
        )
    entries = [b.obj(i) for i in b.items(_details(message, response).get("issue"))]
    return Receipt(
        kind=KIND,
        outcome=outcome,
        message_id=facts["MessageHeader.response.identifier"],
        envelope_id="",
        receipt_id=facts["MessageHeader.id"],
        refuse_code=_first_code(entries),
        issues=tuple(_read_issue(entry) for entry in entries),
        content=data,
    )


def _details(message: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """The OperationOutcome `response.details` names, else the Bundle's first one, else {}."""
    named = b.resolve(message, b.text(b.obj(response.get("details")).get("reference")))
    if named.get("resourceType") == "OperationOutcome":
        return named
    return next(
        (r for _, r in b.resources(message) if r.get("resourceType") == "OperationOutcome"), {}
    )


def _first_code(entries: list[dict[str, Any]]) -> str | None:
    """The refuse code of an acknowledgement: its first issue's first details code."""
    codings = b.items(b.obj(entries[0].get("details")).get("coding")) if entries else []
    code = b.text(b.obj(codings[0]).get("code")) if codings else ""
    return code or None


def _read_issue(entry: dict[str, Any]) -> Issue:
    """An Issue from an OperationOutcome issue: labgw's (`labgw rule …` in diagnostics) exactly,
    anyone else's with the best text there is (details text, the code's display, the code)."""
    details = b.obj(entry.get("details"))
    coding = b.obj(next(iter(b.items(details.get("coding"))), None))
    diagnostics = b.text(entry.get("diagnostics"))
    ours = diagnostics.startswith(RULE_PREFIX)
    message = b.text(details.get("text"))
    if not ours:
        for fallback in (coding.get("display"), coding.get("code"), diagnostics):
            message = message or b.text(fallback)
    places = b.items(entry.get("expression")) or b.items(entry.get("location"))
    return issue_text.reported(
        b.text(entry.get("severity")),
        b.text(entry.get("code")),
        diagnostics.removeprefix(RULE_PREFIX) if ours else None,
        message,
        b.text(places[0]) if places else None,
    )
