"""The MedCom FHIR Acknowledgement: rendered for messages the pipeline makes, checked against
MedCom's acknowledgement profiles with labgw's FHIR validator, read back, and MedCom's own
published acknowledgements read.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.fhir.validate import FhirValidator
from gateway.issues import Issue, IssueType, Severity
from gateway.receipts.fhir_ack import DETAILS, parse_fhir_ack, render_fhir_ack
from gateway.receipts.model import Original, Party, Receipt, ReceiptOutcome
from gateway.receipts.original import original_of
from gateway.receipts.parse import parse_receipt
from tests.records import record, translate
from tests.test_receipts import ISSUES, letter_original, rules_of
from tests.test_render_xrpt05 import culture

SENT = datetime(2025, 12, 1, 9, 30, tzinfo=UTC)
ACK_ID = "5b9a4c1e-0d2f-4a8b-9c3d-7e6f5a4b3c2d"
BUNDLE_ID = "0e1d2c3b-4a59-4687-9a5b-c4d3e2f1a0b9"
ONE_PER_TYPE = tuple(
    Issue(Severity.ERROR, code, "FHIR-VALUE", f"an issue of type {code.value}: ærø")
    for code in IssueType
)


@pytest.fixture(scope="module")
def messages() -> list[bytes]:
    """FHIR messages as the pipeline renders them: to LSP (CRP) and to MiBa (a culture)."""
    result = translate(record(), culture(recordId="M1", sample__id="S-MIC"), syntax="fhir")
    assert len(result.messages) == 2, [str(i) for i in result.issues]
    return [m.content for m in result.messages]


@pytest.fixture(scope="module")
def medcom(reference_dir: Path) -> FhirValidator:
    return FhirValidator(ig_paths=[reference_dir / "medcom-fhir" / "packages"])


def original(content: bytes) -> Original:
    found = original_of(content)
    assert isinstance(found, Original), found
    return found


def ack(outcome: ReceiptOutcome, of: Original, issues: tuple[Issue, ...] = ()) -> bytes:
    return render_fhir_ack(
        outcome, of, ack_id=ACK_ID, bundle_id=BUNDLE_ID, sent=SENT, issues=issues
    )


def parsed(found: Receipt | tuple[Issue, ...]) -> Receipt:
    assert isinstance(found, Receipt), [str(i) for i in found]
    return found


def resources(content: bytes) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in json.loads(content)["entry"]:
        out.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return out


# ---------------------------------------------------------------- original_of: FHIR


def party_in(content: bytes, reference: str, endpoint: str) -> Party:
    """The Party of a referenced Organization, read independently of original_of."""
    organizations = {r["id"]: r for r in resources(content)["Organization"]}
    organization = organizations[reference.removeprefix("Organization/")]
    ids = {i["system"]: i["value"] for i in organization["identifier"]}
    return Party(
        endpoint,
        organization["id"],
        organization["name"],
        ids["urn:oid:1.2.208.176.1.1"],
        ids["https://www.gs1.org/gln"],
    )


def test_original_of_messages_rendered_by_the_pipeline(messages: list[bytes]) -> None:
    for content in messages:
        bundle = json.loads(content)
        header = bundle["entry"][0]["resource"]
        sender = header["sender"]["reference"]
        receiver = header["destination"][0]["receiver"]["reference"]
        assert original(content) == Original(
            kind="FHIR",
            message_id=header["id"],
            envelope_id=bundle["id"],
            version_code="",
            sender=sender,
            receiver=receiver,
            sender_party=party_in(content, sender, header["source"]["endpoint"]),
            receiver_party=party_in(content, receiver, header["destination"][0]["endpoint"]),
        )


def test_original_of_refuses_what_an_acknowledgement_cannot_answer(
    messages: list[bytes],
) -> None:
    bundle = json.loads(messages[0])
    del bundle["entry"][0]["resource"]["source"]
    found = original_of(json.dumps(bundle).encode())
    assert rules_of(found) == ["RECEIPT-MISSING"]
    assert isinstance(found, tuple) and "MessageHeader.source.endpoint" in found[0].message
    bundle = json.loads(messages[0])
    bundle["id"] = "not an id!"
    assert rules_of(original_of(json.dumps(bundle).encode())) == ["RECEIPT-ECHO"]
    bundle["type"] = "collection"
    assert rules_of(original_of(json.dumps(bundle).encode())) == ["RECEIPT-KIND"]


def test_an_acknowledgement_is_never_acknowledged(messages: list[bytes]) -> None:
    assert rules_of(original_of(ack(ReceiptOutcome.POSITIVE, original(messages[0])))) == [
        "RECEIPT-KIND"
    ]


def test_an_organization_outside_the_bundle_leaves_only_the_endpoint(
    messages: list[bytes],
) -> None:
    bundle = json.loads(messages[0])
    bundle["entry"] = [
        e for e in bundle["entry"] if e["resource"]["resourceType"] != "Organization"
    ]
    found = original(json.dumps(bundle).encode())
    assert found.sender_party == Party(bundle["entry"][0]["resource"]["source"]["endpoint"])
    content = ack(ReceiptOutcome.POSITIVE, found)
    assert "Organization" not in resources(content)
    header = resources(content)["MessageHeader"][0]
    assert header["destination"][0]["receiver"]["reference"] == found.sender


# ---------------------------------------------------------------- render: shape


def test_ack_shape_and_direction(messages: list[bytes]) -> None:
    of = original(messages[0])
    assert of.sender_party is not None and of.receiver_party is not None
    content = ack(ReceiptOutcome.NEGATIVE, of, ISSUES)
    bundle = json.loads(content)
    assert (bundle["id"], bundle["type"], bundle["timestamp"]) == (
        BUNDLE_ID,
        "message",
        "2025-12-01T09:30:00+00:00",
    )
    found = resources(content)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "MessageHeader",
        "Provenance",
        "Organization",
        "Organization",
        "OperationOutcome",
    ]
    (header,) = found["MessageHeader"]
    assert header["id"] == ACK_ID
    assert header["eventCoding"]["code"] == "acknowledgement-message"
    assert header["response"]["identifier"] == of.message_id
    assert header["response"]["code"] == "fatal-error"
    (outcome,) = found["OperationOutcome"]
    assert header["response"]["details"]["reference"] == f"OperationOutcome/{outcome['id']}"
    # The acknowledger (the original's receiver) sends it to the original sender's source.
    assert header["sender"]["reference"] == of.receiver
    assert header["source"]["endpoint"] == of.receiver_party.endpoint
    assert header["destination"][0]["receiver"]["reference"] == of.sender
    assert header["destination"][0]["endpoint"] == of.sender_party.endpoint
    (provenance,) = found["Provenance"]
    assert provenance["activity"]["coding"][0]["code"] == "acknowledgement"
    assert provenance["agent"][0]["who"]["reference"] == of.receiver
    assert provenance["target"] == [{"reference": f"MessageHeader/{ACK_ID}"}]
    assert provenance["entity"] == [
        {"role": "revision", "what": {"reference": f"MessageHeader/{of.message_id}"}}
    ]
    assert [i["diagnostics"] for i in outcome["issue"]] == [
        "labgw rule XSD",
        "labgw rule MC-CPR",
        "labgw rule MC-NPU-UNKNOWN",
    ]
    assert outcome["issue"][0]["location"] == ["/Emessage"]
    assert all(r["text"]["status"] == "generated" for rs in found.values() for r in rs)


def test_a_positive_ack_without_issues_has_no_operation_outcome(messages: list[bytes]) -> None:
    content = ack(ReceiptOutcome.POSITIVE, original(messages[0]))
    assert "OperationOutcome" not in resources(content)
    assert "details" not in resources(content)["MessageHeader"][0]["response"]


@pytest.mark.parametrize(
    ("outcome", "code", "detail"),
    [
        (ReceiptOutcome.NEGATIVE, "invalid", "MSG_BAD_SYNTAX"),
        (ReceiptOutcome.TRANSIENT, "processing", "MSG_Mailbox_Out_Of_Operation"),
    ],
)
def test_a_refusal_without_issues_still_says_why(
    messages: list[bytes], outcome: ReceiptOutcome, code: str, detail: str
) -> None:
    found = parsed(parse_fhir_ack(ack(outcome, original(messages[0]))))
    (issue,) = found.issues
    assert (issue.rule, issue.code.value, found.refuse_code) == ("RECEIPT-REPORTED", code, detail)


def test_rendering_is_deterministic(messages: list[bytes]) -> None:
    of = original(messages[1])
    assert ack(ReceiptOutcome.NEGATIVE, of, ISSUES) == ack(ReceiptOutcome.NEGATIVE, of, ISSUES)


def test_render_fhir_ack_refuses_what_it_cannot_make(messages: list[bytes]) -> None:
    of = original(messages[0])
    with pytest.raises(ValueError, match="FHIR message"):
        ack(ReceiptOutcome.POSITIVE, letter_original())
    with pytest.raises(ValueError, match="FHIR message"):
        ack(ReceiptOutcome.POSITIVE, replace(of, sender_party=None))
    with pytest.raises(ValueError, match="ack_id"):
        render_fhir_ack(ReceiptOutcome.POSITIVE, of, ack_id="a b", bundle_id="b", sent=SENT)
    with pytest.raises(ValueError, match="bundle_id"):
        render_fhir_ack(ReceiptOutcome.POSITIVE, of, ack_id="a", bundle_id="", sent=SENT)
    with pytest.raises(ValueError, match="timezone"):
        render_fhir_ack(
            ReceiptOutcome.POSITIVE, of, ack_id="a", bundle_id="b", sent=datetime(2025, 1, 1)
        )


# ---------------------------------------------------------------- MedCom's profiles


def assert_conforms(validator: FhirValidator, content: bytes) -> None:
    """No blocking Issue under MedCom's acknowledgement profiles; the one warning there may be
    is the Provenance pointing at the acknowledged MessageHeader, which is not in this Bundle
    (as in MedCom's own examples)."""
    issues = [i for i in validator.iter_issues(content) if i.severity is not Severity.INFORMATION]
    assert [str(i) for i in issues if i.blocking] == []
    assert {(i.rule, i.location) for i in issues} <= {
        ("FHIR-REFERENCE", "Bundle.entry[1].resource.entity[0].what.reference")
    }, [str(i) for i in issues]


@pytest.mark.parametrize("outcome", list(ReceiptOutcome))
@pytest.mark.parametrize("issues", [(), ISSUES, ONE_PER_TYPE], ids=["none", "some", "every-type"])
def test_rendered_acks_conform_to_medcom_acknowledgement(
    medcom: FhirValidator,
    messages: list[bytes],
    outcome: ReceiptOutcome,
    issues: tuple[Issue, ...],
) -> None:
    for content in messages:
        assert_conforms(medcom, ack(outcome, original(content), issues))


def test_medcom_packages_are_really_checked(medcom: FhirValidator, messages: list[bytes]) -> None:
    """The check above can fail: an ack without its OperationOutcome breaks
    medcom-acknowledgement-1, one with a code outside the issue-details value set the binding."""
    content = json.loads(ack(ReceiptOutcome.NEGATIVE, original(messages[0]), ISSUES))
    without = dict(content, entry=content["entry"][:-1])
    del without["entry"][0]["resource"]["response"]["details"]
    rules = {i.message.split(":")[0] for i in medcom.iter_issues(json.dumps(without).encode())}
    assert "medcom-acknowledgement-1" in rules
    content["entry"][-1]["resource"]["issue"][0]["details"]["coding"][0]["code"] = "XSD"
    found = {(i.rule, i.location) for i in medcom.iter_issues(json.dumps(content).encode())}
    assert ("FHIR-BINDING", "Bundle.entry[4].resource.issue[0].details.coding[0]") in found


def test_every_issue_type_maps_into_medcom_issue_details(reference_dir: Path) -> None:
    """The value set named by the acknowledgement package's binding (terminology 1.4.0)."""
    package = reference_dir / "medcom-fhir" / "packages" / "medcom.fhir.dk.terminology-1.4.0.tgz"
    if not package.is_file():
        pytest.skip("medcom.fhir.dk.terminology 1.4.0 not in the reference folder")
    with tarfile.open(package) as archive:
        member = archive.extractfile("package/ValueSet-medcom-acknowledgement-issue-details.json")
        assert member is not None
        value_set = json.load(member)
    allowed = {
        (include["system"], concept["code"])
        for include in value_set["compose"]["include"]
        for concept in include["concept"]
    }
    assert set(DETAILS.values()) <= allowed
    assert set(IssueType) - set(DETAILS) == {IssueType.INFORMATIONAL}


def test_an_ack_for_medcom_published_message_conforms(
    medcom: FhirValidator, reference_dir: Path
) -> None:
    """MedCom's HomeCareObservation example: its parties are read and named again."""
    path = (
        reference_dir
        / "medcom-fhir/examples/homecareobservation-1.2.1"
        / "Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json"
    )
    if not path.is_file():
        pytest.skip("HomeCareObservation example not in the reference folder")
    of = original(path.read_bytes())
    assert of.sender_party is not None and of.sender_party.sor and of.sender_party.gln
    assert of.receiver_party is not None and of.receiver_party.endpoint.startswith("https://")
    for outcome in ReceiptOutcome:
        assert_conforms(medcom, ack(outcome, of, ISSUES))


# ---------------------------------------------------------------- reading acknowledgements


@pytest.mark.parametrize("outcome", list(ReceiptOutcome))
def test_fhir_round_trip(messages: list[bytes], outcome: ReceiptOutcome) -> None:
    of = original(messages[0])
    content = ack(outcome, of, ISSUES)
    assert parsed(parse_receipt(content)) == Receipt(
        kind="FHIR-ACK",
        outcome=outcome,
        message_id=of.message_id,
        envelope_id="",
        receipt_id=ACK_ID,
        refuse_code="MSG_BAD_SYNTAX",
        issues=ISSUES,
        content=content,
    )


def test_either_direction_is_read(messages: list[bytes]) -> None:
    """MedCom's examples keep the original's sender and destination; labgw swaps them."""
    content = ack(ReceiptOutcome.NEGATIVE, original(messages[0]), ISSUES)
    bundle = json.loads(content)
    header = bundle["entry"][0]["resource"]
    sender, receiver = header["sender"], header["destination"][0]["receiver"]
    header["sender"], header["destination"][0]["receiver"] = receiver, sender
    swapped = json.dumps(bundle, ensure_ascii=False).encode()
    assert replace(parsed(parse_fhir_ack(swapped)), content=content) == parsed(
        parse_fhir_ack(content)
    )


def medcom_acks(reference_dir: Path) -> list[Path]:
    folder = reference_dir / "medcom-fhir" / "examples"
    found = sorted((folder / "acknowledgement-2.0.3").glob("*.json"))
    found += sorted((folder / "acknowledgement-testscripts").glob("*.json"))
    if not found:
        pytest.skip("MedCom's acknowledgement examples are not in the reference folder")
    return found


def test_medcom_published_acknowledgements_are_read(reference_dir: Path) -> None:
    """Every published example and the Touchstone fixture (relative fullUrls)."""
    for path in medcom_acks(reference_dir):
        data = path.read_bytes()
        bundle = json.loads(data)
        header = bundle["entry"][0]["resource"]
        found = parsed(parse_receipt(data))
        outcomes = {"ok": "positive", "fatal-error": "negative", "transient-error": "transient"}
        assert found.outcome.value == outcomes[header["response"]["code"]], path.name
        assert (found.kind, found.message_id, found.receipt_id, found.content) == (
            "FHIR-ACK",
            header["response"]["identifier"],
            header["id"],
            data,
        )
        outcome_resources = resources(data).get("OperationOutcome", [])
        codes = [i["details"]["coding"][0]["code"] for o in outcome_resources for i in o["issue"]]
        assert found.refuse_code == (codes[0] if codes else None)
        assert [i.message for i in found.issues] == codes
        assert {i.rule for i in found.issues} <= {"RECEIPT-REPORTED"}


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda b: b["entry"][0]["resource"].pop("response"), "RECEIPT-MISSING"),
        (lambda b: b["entry"][0]["resource"]["response"].update(code="maybe"), "RECEIPT-INVALID"),
        (lambda b: b["entry"][0]["resource"]["response"].update(identifier=7), "RECEIPT-MISSING"),
        (lambda b: b["entry"][0]["resource"].update(eventCoding={"code": "x"}), "RECEIPT-KIND"),
        (lambda b: b.update(entry={"not": "a list"}), "RECEIPT-KIND"),
        (lambda b: b["entry"].reverse(), "RECEIPT-KIND"),
        (lambda b: b["entry"][0].update(resource=[]), "RECEIPT-KIND"),
    ],
    ids=[
        "no-response",
        "bad-code",
        "identifier-number",
        "other-event",
        "entry-object",
        "header-not-first",
        "resource-list",
    ],
)
def test_what_is_not_an_acknowledgement(messages: list[bytes], change: Any, rule: str) -> None:
    bundle = json.loads(ack(ReceiptOutcome.NEGATIVE, original(messages[0]), ISSUES))
    change(bundle)
    assert rules_of(parse_receipt(json.dumps(bundle).encode())) == [rule]


def test_a_lab_message_is_not_an_acknowledgement(messages: list[bytes]) -> None:
    assert rules_of(parse_receipt(messages[0])) == ["RECEIPT-KIND"]


def test_strict_json(messages: list[bytes]) -> None:
    text = ack(ReceiptOutcome.NEGATIVE, original(messages[0]), ISSUES).decode()
    twice = text.replace('"code":"fatal-error"', '"code":"ok","code":"fatal-error"')
    found = parse_receipt(twice.encode())
    assert rules_of(found) == ["RECEIPT-SYNTAX"]
    assert isinstance(found, tuple) and "code" in found[0].message
    assert rules_of(parse_receipt(text.replace('"type":"message"', '"x":NaN').encode())) == [
        "RECEIPT-SYNTAX"
    ]
    assert rules_of(parse_receipt(text.encode("utf-16"))) == ["RECEIPT-SYNTAX"]
    assert rules_of(parse_receipt('{"a": "æ"}'.encode("latin-1"))) == ["RECEIPT-SYNTAX"]


def test_text_no_fhir_string_may_hold_is_cleaned(messages: list[bytes]) -> None:
    """JSON may carry a lone surrogate or a control; the acknowledgement must still be UTF-8."""
    bundle = json.loads(messages[0])
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Organization":
            entry["resource"]["name"] = "Læge\ud800\x00"
    bundle["entry"][0]["resource"]["source"]["endpoint"] = "https://x/\udfff"
    of = original(json.dumps(bundle).encode())
    assert of.sender_party is not None and of.sender_party.name == "Læge\ufffd\ufffd"
    content = ack(ReceiptOutcome.POSITIVE, of)
    assert parsed(parse_receipt(content)).message_id == of.message_id
