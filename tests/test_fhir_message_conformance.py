"""Our FHIR lab message also conforms to MedCom's messaging profiles, and the CLI round trip.

The deviation we make on purpose (docs/fhir.md): MessageHeader.eventCoding is labgw's own lab
event, because MedCom's messageTypes value set has none. Every other rule of
medcom-messaging-message, -messageHeader, -provenance and -organization must hold.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.fhir.validate import FhirValidator
from tests.records import record, translate

MESSAGING = "http://medcomfhir.dk/ig/messaging/StructureDefinition"
AS_MEDCOM = {
    "Bundle": f"{MESSAGING}/medcom-messaging-message",
    "MessageHeader": f"{MESSAGING}/medcom-messaging-messageHeader",
    "Provenance": f"{MESSAGING}/medcom-messaging-provenance",
    "Organization": f"{MESSAGING}/medcom-messaging-organization",
}


@pytest.fixture(scope="module")
def medcom_validator(reference_dir: Path) -> FhirValidator:
    return FhirValidator(ig_paths=[reference_dir / "medcom-fhir/packages"])


def as_medcom(content: bytes) -> bytes:
    """The same message claiming MedCom's messaging profiles instead of ours where they apply."""
    bundle = json.loads(content)
    bundle["meta"]["profile"] = [AS_MEDCOM["Bundle"]]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in AS_MEDCOM:
            resource["meta"]["profile"] = [AS_MEDCOM[resource["resourceType"]]]
    return json.dumps(bundle, ensure_ascii=False).encode()


def test_our_message_conforms_to_medcom_messaging(medcom_validator: FhirValidator) -> None:
    result = translate(
        record(),
        record(recordId="B", consent="refused", sample__id="S2"),
        record(recordId="C", version=2, status="corrected"),
        syntax="fhir",
    )
    assert len(result.messages) == 3
    for message in result.messages:
        blocking = [
            i for i in medcom_validator.iter_issues(as_medcom(message.content)) if i.blocking
        ]
        assert [(i.rule, i.location) for i in blocking] == [
            ("FHIR-BINDING", "Bundle.entry[0].resource.eventCoding")
        ], [str(i) for i in blocking]


def test_our_message_is_valid_against_our_profiles_with_medcom_packages_loaded(
    medcom_validator: FhirValidator,
) -> None:
    result = translate(record(), syntax="fhir")
    blocking = [
        str(i) for i in medcom_validator.iter_issues(result.messages[0].content) if i.blocking
    ]
    assert blocking == []


def test_replacement_id_must_be_an_x_ecpr_for_fhir() -> None:
    bad = record(patient={"replacementId": "XA12345678", "family": "Jensen"})
    good = record(recordId="B", patient={"replacementId": "2506851XA4", "family": "Jensen"})
    result = translate(bad, good, syntax="fhir")
    fates = {o.label: [i.rule for i in o.issues] for o in result.outcomes}
    assert fates == {"XMO-7f3a9c21/v1": ["FHIR-REPLACEMENT-ID"], "B/v1": []}


def test_translate_fhir_then_validate_and_check(repo_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "fhir"
    done = runner.invoke(
        main,
        [
            "translate",
            str(repo_dir / "examples/records"),
            "--format",
            "fhir",
            "--check",
            "-o",
            str(out),
            "--now",
            "2025-12-01T08:00:00+00:00",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "XML and FHIR equivalent" in done.output
    files = sorted((out / "messages").glob("*.json"))
    assert files and all(f.name.split("-")[1] == "fhir" for f in files)
    checked = runner.invoke(main, ["validate", str(out / "messages")])
    assert checked.exit_code == 0, checked.output
    assert f"{len(files)} valid, 0 invalid" in checked.output
