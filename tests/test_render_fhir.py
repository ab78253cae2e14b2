"""The MedCom-style FHIR message: shape, exact values, round trips and XML ↔ FHIR equivalence."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.equivalence import compare_translations
from gateway.fhir_message import profiles
from gateway.fhir_message.reader import read_message
from gateway.fhir_message.render import uuid_for
from gateway.mapping.tables import default_mappings
from gateway.pipeline import Outcome
from tests.records import batch_of, record, translate, translator
from tests.test_render_xrpt01 import lab_records
from tests.test_render_xrpt05 import culture, local, micro_sets


def bundle(content: bytes) -> dict[str, Any]:
    return json.loads(content, parse_float=Decimal)


def by_type(content: bytes) -> dict[str, dict[str, Any]]:
    """The Bundle's resources by type (the last of a type wins: for single resources)."""
    return {e["resource"]["resourceType"]: e["resource"] for e in bundle(content)["entry"]}


def test_message_shape() -> None:
    result = translate(record(), record(recordId="B", result__value="<5,10"), syntax="fhir")
    assert result.counts()["accepted"] == 2, [str(i) for i in result.issues]
    (message,) = result.messages
    assert message.kind == "FHIR" and message.filename.endswith(".json")
    data = bundle(message.content)
    kinds = [e["resource"]["resourceType"] for e in data["entry"]]
    assert data["type"] == "message" and kinds[0] == "MessageHeader"
    assert kinds.count("Observation") == 2 and {
        "Provenance",
        "Patient",
        "DiagnosticReport",
        "Specimen",
    } <= set(kinds)
    assert "text" not in data
    assert all(e["resource"]["text"]["status"] == "generated" for e in data["entry"])
    header = data["entry"][0]["resource"]
    assert header["focus"][0]["reference"].startswith("DiagnosticReport/")


def test_decimals_are_written_with_the_digits_typed() -> None:
    result = translate(record(result__value="8,10", result__referenceLow="0,50"), syntax="fhir")
    text = result.messages[0].content.decode()
    assert '"value":8.10' in text and '"value":0.50' in text


def test_refused_consent_is_a_security_label_and_still_sent() -> None:
    result = translate(record(consent="refused"), syntax="fhir")
    (observation,) = read_message(result.messages[0].content).observations
    assert observation.restricted is True


def test_ids_message_header_kept_bundle_new_per_send() -> None:
    first = translate(record(), syntax="fhir").messages[0]
    again = translator(syntax="fhir")
    again.ids.envelope_id()  # a later send attempt draws a different envelope id
    second = again.translate(batch_of(record())).messages[0]
    assert (
        bundle(first.content)["entry"][0]["resource"]["id"]
        == bundle(second.content)["entry"][0]["resource"]["id"]
    )
    assert bundle(first.content)["id"] != bundle(second.content)["id"]


def test_correction_and_cancellation_are_new_messages_that_point_back() -> None:
    result = translate(
        record(version=2, status="corrected", result__value="54"),
        record(recordId="C", version=3, status="cancelled", sample__id="S9"),
        syntax="fhir",
    )
    activities = {}
    for message in result.messages:
        provenance = next(
            e["resource"]
            for e in bundle(message.content)["entry"]
            if e["resource"]["resourceType"] == "Provenance"
        )
        activities[provenance["activity"]["coding"][0]["code"]] = provenance["entity"][0]
    assert activities["modified-message"]["role"] == "revision"
    assert activities["retract-message"]["role"] == "removal"
    assert activities["modified-message"]["what"]["reference"].startswith("MessageHeader/")


def hemoglobin(**changes: Any) -> dict[str, Any]:
    """A second result (Hb) of the sample of `record()`, as its own LPS record."""
    hb = {"value": "7.1", "unit": "mmol/L", "referenceLow": "7.3", "abnormal": "low"}
    return record(
        recordId="B", analysis__code="NPU02319", analysis__text="Hb", result=hb, **changes
    )


@pytest.mark.parametrize(
    "cancelled_first", [True, False], ids=["cancelled-first", "corrected-first"]
)
def test_a_letter_that_cancels_one_result_and_corrects_another_modifies(
    cancelled_first: bool,
) -> None:
    """MedCom's retract cancels the whole message: a letter that still carries a corrected
    result is modified-message (role revision), whatever order its records come in."""
    cancelled = record(version=2, status="cancelled")
    corrected = hemoglobin(version=2, status="corrected")
    records = (cancelled, corrected) if cancelled_first else (corrected, cancelled)
    (message,) = translate(*records, syntax="fhir").messages
    resources = by_type(message.content)
    provenance = resources["Provenance"]
    assert provenance["activity"]["coding"][0]["code"] == "modified-message"
    assert [e["role"] for e in provenance["entity"]] == ["revision"]
    assert resources["DiagnosticReport"]["status"] == "corrected"
    assert len(resources["DiagnosticReport"]["result"]) == 2
    _equivalent(*records)


def test_a_letter_whose_every_result_is_cancelled_retracts() -> None:
    (message,) = translate(
        record(version=2, status="cancelled"),
        hemoglobin(version=2, status="cancelled"),
        syntax="fhir",
    ).messages
    resources = by_type(message.content)
    provenance = resources["Provenance"]
    assert provenance["activity"]["coding"][0]["code"] == "retract-message"
    assert [e["role"] for e in provenance["entity"]] == ["removal"]
    assert resources["DiagnosticReport"]["status"] == "cancelled"
    assert len(resources["DiagnosticReport"]["result"]) == 2


def test_a_cancelled_result_carries_no_flag_and_no_interval() -> None:
    """Nothing is left to judge (as XRPT01 and XRPT05 send it): the record's flag and
    reference limits stay out, and the coverage says so."""
    cancelled = record(
        version=2, status="cancelled", result__abnormal="high", result__referenceLow="0"
    )
    (message,) = translate(cancelled, syntax="fhir").messages
    observation = by_type(message.content)["Observation"]
    assert observation["status"] == "cancelled"
    assert observation["dataAbsentReason"] == {"text": "annulleret"}
    assert "interpretation" not in observation and "referenceRange" not in observation
    left_out = {use.field for use in message.coverage if use.target is None}
    assert {"result.abnormal", "result.referenceLow"} <= left_out


def test_practice_without_sor_cannot_be_sent_as_fhir() -> None:
    result = translate(record(practice__sor=None), syntax="fhir")
    (outcome,) = result.outcomes
    assert outcome.outcome is Outcome.REJECTED
    assert [i.rule for i in outcome.issues] == ["FHIR-NEEDS-SOR"]


def test_profiles_are_in_step_with_their_sources(
    tmp_path: Path, reference_dir: Path, repo_dir: Path
) -> None:
    out = tmp_path / "fhir"
    out.mkdir()
    (out / "source").symlink_to(repo_dir / "schemas/fhir/source")
    (out / "package.json").symlink_to(repo_dir / "schemas/fhir/package.json")
    built = profiles.build(reference_dir / "medcom-fhir/packages", out)
    for path in built:
        committed = repo_dir / "schemas/fhir" / path.name
        assert committed.read_text("utf-8") == path.read_text("utf-8"), (
            f"{path.name} is stale: run python -m gateway.fhir_message.profiles "
            "../shared/reference/medcom-fhir/packages"
        )


def _equivalent(*records: dict[str, Any]) -> None:
    xml = translate(*records, syntax="xml")
    fhir = translate(*records, syntax="fhir")
    assert xml.counts()["rejected"] == fhir.counts()["rejected"] == 0
    pairs, issues = compare_translations(xml, fhir, default_mappings())
    assert pairs == len(xml.messages) > 0
    assert [str(i) for i in issues] == []


def test_xml_and_fhir_are_equivalent_for_biochemistry_and_microbiology() -> None:
    _equivalent(
        record(),
        record(recordId="B", result__value="<5,10", consent="given"),
        record(recordId="C", version=2, status="cancelled", sample__id="S2"),
        culture(recordId="U1", sample__id="U"),
        local("RES-MEC", "S", "U2", sample__id="U"),
        local("STREPA", "Positiv", "A1", sample__id="T", consent="refused"),
    )


def test_xml_and_fhir_agree_on_cancelled_cultures_susceptibilities_and_findings() -> None:
    cancelled = {"version": 2, "status": "cancelled"}
    _equivalent(
        culture(recordId="U1", sample__id="U", **cancelled),
        local("RES-MEC", "S", "U2", sample__id="U", **cancelled),
        local("RES-SUL", "R", "U3", sample__id="U", **cancelled),
        local("STREPA", "Positiv", "A1", sample__id="T", result__referenceHigh="1", **cancelled),
        record(recordId="C", sample__id="S2", result__referenceLow="0,5", **cancelled),
    )


def test_equivalence_check_finds_a_difference() -> None:
    xml = translate(record(), syntax="xml")
    fhir = translate(record(result__value="46"), syntax="fhir")
    _, issues = compare_translations(xml, fhir, default_mappings())
    assert [i.rule for i in issues] == ["CHECK-DIFFERENT"]
    assert "46" in issues[0].message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(), min_size=1, max_size=5).flatmap(
        lambda xs: st.tuples(*(lab_records(i) for i in range(len(xs))))
    )
)
def test_round_trip_and_equivalence_property(records: tuple[dict[str, Any], ...]) -> None:
    fhir = translate(*records, syntax="fhir")
    assert fhir.counts()["rejected"] == 0, [str(i) for i in fhir.issues if i.blocking]
    read = {o.record_uuid: o for m in fhir.messages for o in read_message(m.content).observations}
    for source, outcome in zip(records, fhir.outcomes, strict=True):
        observation = read[
            uuid_for(
                "record", source["practice"]["gln"], source["lps"]["vendor"], source["recordId"]
            )
        ]
        assert outcome.outcome is Outcome.ACCEPTED
        raw = source["result"]["value"]
        if isinstance(observation.value, Decimal):
            digits = raw.lstrip("<>").replace(",", ".")
            assert str(observation.value) == digits.lstrip("+")
            assert (observation.comparator or "") == (raw[0] if raw[0] in "<>" else "")
        else:
            assert observation.value == raw.strip()
    _equivalent(*records)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(micro_sets())
def test_microbiology_round_trip_and_equivalence_property(records: list[dict[str, Any]]) -> None:
    fhir = translate(*records, syntax="fhir")
    assert fhir.counts()["rejected"] == 0, [str(i) for i in fhir.issues if i.blocking]
    values = sorted(
        str(o.value) for m in fhir.messages for o in read_message(m.content).observations
    )
    assert values == sorted(r["result"]["value"].strip() for r in records)
    _equivalent(*records)
