"""The record lifecycle and its business rules, one test per rule (issue 6). Each names its
source. Decisions are pure (`gateway.lifecycle`); the scenarios run them the way the service
does: `accept_batch` against a real outbox store, the real pipeline and real validators."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.intake import read_records
from gateway.lifecycle import Delivered, Fate, History, decide, rendered_status
from gateway.model import Status
from gateway.outbox.model import OutboxMessage
from gateway.outbox.sqlite import SqliteStore
from gateway.pipeline import Translator
from gateway.routing import Destination
from gateway.service.accept import Answer, accept_batch, digest, record_body
from tests.records import CIPHER, NOW, batch_of, record, translator

T = TypeVar("T")
LSP, MIBA = Destination.LSP, Destination.MIBA


async def _inline(work: Callable[..., T], *args: Any) -> T:
    return work(*args)


def _record(
    version: int, status: str = "final", value: str = "45", **changes: Any
) -> dict[str, Any]:
    return record(
        recordId="LIFE-1",
        version=version,
        status=status,
        result={"value": value, "unit": "mg/L"},
        **changes,
    )


def _lab(version: int, status: str = "final", value: str = "45") -> Any:
    (item,) = batch_of(_record(version, status, value)).items
    assert item.record is not None
    return item.record


class Outbox:
    """A real SQLite outbox and the service's acceptance path, driven synchronously."""

    def __init__(self, path: Path, syntax: str | None = None) -> None:
        self.runner = asyncio.Runner()
        self.store = SqliteStore(path, CIPHER)
        self.translator: Translator = translator(syntax=syntax)
        self.runner.run(self.store.setup())

    def post(self, *records: dict[str, Any]) -> Answer:
        batch = read_records(json.dumps(list(records)).encode(), "test.json", now=NOW)
        return self.runner.run(accept_batch(self.store, self.translator, batch, NOW, _inline))

    def message(self, message_id: str) -> OutboxMessage:
        found = self.runner.run(self.store.message(message_id))
        assert found is not None
        return found

    def messages(self) -> list[OutboxMessage]:
        return list(reversed(self.runner.run(self.store.messages(limit=1000))))  # oldest first

    def close(self) -> None:
        self.runner.run(self.store.close())
        self.runner.close()


# The pure rules


def test_a_version_is_immutable_the_same_content_again_is_a_duplicate() -> None:
    """notes/danish-domain.md §0 rule 6: nothing sent is altered; the same version twice is the
    same message, acknowledged and not resent (MedCom: duplicates are never shown twice)."""
    lab = _lab(1)
    history = History({1: digest(record_body(lab))})
    assert decide(lab, digest(record_body(lab)), history).fate is Fate.DUPLICATE


def test_a_version_is_immutable_other_content_is_a_conflict() -> None:
    """notes §1.6: a correction is a new version with the same business id, never an edit."""
    history = History({1: "another digest"})
    decision = decide(_lab(1), digest(record_body(_lab(1))), history)
    assert decision.fate is Fate.CONFLICT and decision.issue is not None
    assert decision.issue.rule == "LPS-VERSION-CONFLICT"


def test_an_older_version_after_a_newer_one_is_recorded_and_not_sent() -> None:
    """notes §1.6 and rule 6: sending it would overwrite newer data at the receiver."""
    delivered = {LSP: Delivered(LSP, "m2", 2, Status.FINAL)}
    decision = decide(_lab(1), "d1", History({2: "d2"}, delivered))
    assert decision.fate is Fate.STALE and not decision.sends
    assert decision.issue is not None and decision.issue.rule == "LPS-VERSION-STALE"


def test_a_newer_version_of_a_sent_record_is_a_correction_to_every_destination() -> None:
    """notes §0 rule 16: corrections go to the same destination(s) as the original."""
    delivered = {
        LSP: Delivered(LSP, "m1", 1, Status.FINAL),
        MIBA: Delivered(MIBA, "m9", 1, Status.FINAL),
    }
    decision = decide(_lab(2), "d2", History({1: "d1"}, delivered))
    assert decision.fate is Fate.CORRECTION and set(decision.replaces) == {LSP, MIBA}


def test_a_newer_version_of_a_record_never_sent_is_new() -> None:
    """A version that was rejected or filtered reached no receiver: nothing to correct."""
    assert decide(_lab(2), "d2", History({1: "d1"})).fate is Fate.NEW


def test_a_final_result_replacing_a_final_one_is_svar_rettet() -> None:
    """notes §1.5: svar_rettet marks a corrected result; a final after a preliminary is final."""
    final = Delivered(LSP, "m1", 1, Status.FINAL)
    preliminary = replace(final, status=Status.PRELIMINARY)
    assert rendered_status(_lab(2), final) is Status.CORRECTED
    assert rendered_status(_lab(2), preliminary) is Status.FINAL
    assert rendered_status(_lab(2, "cancelled"), final) is Status.CANCELLED
    assert rendered_status(_lab(1), None) is Status.FINAL


# Scenarios through the service's acceptance path and a real outbox


def test_scenario_new_corrected_corrected_cancelled_xml(tmp_path: Path) -> None:
    """notes §1.5/§1.6, DESIGN §4: every version is a new message to LSP; corrections carry
    svar_rettet and the same sample; the cancellation is a corrected result that says so."""
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        steps = [("final", "45"), ("corrected", "46"), ("corrected", "47"), ("cancelled", "47")]
        sent: list[str] = []
        for version, (status, value) in enumerate(steps, start=1):
            answer = outbox.post(_record(version, status, value))
            (row,) = answer.records
            assert row.outcome == "accepted", row
            assert [d for d, _ in row.deliveries] == [LSP]
            sent.append(str(row.deliveries[0][1]))
        assert len(set(sent)) == 4
        payloads = [outbox.message(m).payload.decode() for m in sent]
        assert "svar_endeligt" in payloads[0]
        for later in payloads[1:]:
            assert (
                "svar_rettet" in later and "<SampleIdentifier>" not in later
            ) or "S-2025-0042" in later
        assert "<Value>46</Value>" in payloads[1] and "<Value>47</Value>" in payloads[2]
        assert "annulleret" in payloads[3]
        assert all("S-2025-0042" in p for p in payloads)  # the same sample id throughout
    finally:
        outbox.close()


def test_scenario_fhir_provenance_points_at_the_message_replaced(tmp_path: Path) -> None:
    """MedCom HomeCareObservation (notes §1.6): modified-message / retract-message with the
    entity referring to the MessageHeader it replaces (role revision / removal)."""
    outbox = Outbox(tmp_path / "outbox.db", syntax="fhir")
    try:
        ids = []
        for version, status in enumerate(("final", "corrected", "cancelled"), start=1):
            (row,) = outbox.post(_record(version, status, str(44 + version))).records
            ids.append(str(row.deliveries[0][1]))
        bundles = [json.loads(outbox.message(m).payload) for m in ids]

        def provenance(bundle: dict[str, Any]) -> dict[str, Any]:
            return next(
                e["resource"]
                for e in bundle["entry"]
                if e["resource"]["resourceType"] == "Provenance"
            )

        assert provenance(bundles[0])["activity"]["coding"][0]["code"] == "new-message"
        for bundle, before, (activity, role) in zip(
            bundles[1:],
            ids[:-1],
            [("modified-message", "revision"), ("retract-message", "removal")],
            strict=True,
        ):
            found = provenance(bundle)
            assert found["activity"]["coding"][0]["code"] == activity
            assert found["entity"] == [
                {"role": role, "what": {"reference": f"MessageHeader/{before}"}}
            ]
        header_ids = [b["entry"][0]["resource"]["id"] for b in bundles]
        assert header_ids == ids  # the outbox keys FHIR messages by MessageHeader.id
    finally:
        outbox.close()


def test_scenario_refused_consent_is_a_flag_on_every_version(tmp_path: Path) -> None:
    """notes §0 rule 8, §2.2: nægtet samtykke travels as Consent/Given=false; never blocks."""
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        for version, status in enumerate(("final", "corrected", "cancelled"), start=1):
            (row,) = outbox.post(_record(version, status, "50", consent="refused")).records
            assert row.outcome == "accepted"
            payload = outbox.message(str(row.deliveries[0][1])).payload.decode()
            assert "<Given>false</Given>" in payload
    finally:
        outbox.close()


def test_changing_consent_on_a_later_version_sends_a_correction(tmp_path: Path) -> None:
    """notes §2.5: the flag follows the newest version, so a change is a correction."""
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        (first,) = outbox.post(_record(1, consent="given")).records
        (second,) = outbox.post(_record(2, consent="refused")).records
        assert second.outcome == "accepted" and second.deliveries[0][1] != first.deliveries[0][1]
        payload = outbox.message(str(second.deliveries[0][1])).payload.decode()
        assert "svar_rettet" in payload and "<Given>false</Given>" in payload
    finally:
        outbox.close()


def test_the_same_version_again_is_acknowledged_and_not_resent(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        outbox.post(_record(1))
        again = outbox.post(_record(1))
        assert [r.outcome for r in again.records] == ["duplicate"] and not again.messages
        assert len(outbox.messages()) == 1
    finally:
        outbox.close()


def test_versions_of_one_record_in_one_request_are_taken_in_order(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        answer = outbox.post(_record(1), _record(2, "corrected", "46"))
        assert [r.outcome for r in answer.records] == ["accepted", "accepted"]
        second = outbox.message(str(answer.records[1].deliveries[0][1]))
        assert "svar_rettet" in second.payload.decode()
    finally:
        outbox.close()


# Property: for any sequence of versions, the messages are exactly those the rules require


VERSIONS = st.lists(
    st.tuples(st.integers(1, 5), st.sampled_from(["45", "46"])), min_size=1, max_size=8
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(VERSIONS)
def test_any_sequence_of_versions_sends_exactly_what_the_rules_require(
    tmp_path: Path, sequence: list[tuple[int, str]]
) -> None:
    path = tmp_path / f"outbox-{uuid.uuid4().hex}.db"  # examples share tmp_path
    outbox = Outbox(path)
    try:
        accepted: dict[int, str] = {}  # version → value, as first accepted
        sent: list[tuple[int, str]] = []  # (version, message id) in the order they were made
        for version, value in sequence:
            (row,) = outbox.post(_record(version, "final", value)).records
            newest = max(accepted, default=0)
            if version in accepted:
                want = "duplicate" if accepted[version] == value else "rejected"
            elif version < newest:
                want = "stale"
                accepted[version] = value
            else:
                want = "accepted"
                accepted[version] = value
                sent.append((version, str(row.deliveries[0][1])))
            assert row.outcome == want, (sequence, version, value)
        assert sorted(m.message_id for m in outbox.messages()) == sorted(m for _, m in sent)
        # Versions reach the receiver in rising order, so its latest state is the newest one.
        assert [v for v, _ in sent] == sorted({v for v, _ in sent})
        version, last = sent[-1]
        assert version == max(accepted)
        assert f"<Value>{accepted[version]}</Value>" in outbox.message(last).payload.decode()
    finally:
        outbox.close()


def _covid(version: int, value: str, consent: str = "given") -> dict[str, Any]:
    return record(
        recordId="LIFE-COVID",
        version=version,
        status="final",
        consent=consent,
        sample={"id": "N-2025-0001", "collectedAt": "2025-06-02T09:14:00+02:00"},
        analysis={"system": "LOCAL", "code": "COVAG"},
        result={"value": value},
    )


def test_a_notifiable_finding_with_refused_consent_reaches_miba_flagged(tmp_path: Path) -> None:
    """notes §0 rules 9-10, §2.2: notifiable findings always reach SSI via MiBa, refused consent
    too; the refusal travels as Consent/Given=false."""
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        (row,) = outbox.post(_covid(1, "Positiv", consent="refused")).records
        assert row.outcome == "accepted" and [d for d, _ in row.deliveries] == [MIBA]
        assert "ROUTE-NOTIFIABLE" in {i.rule for i in row.issues}
        payload = outbox.message(str(row.deliveries[0][1])).payload.decode()
        assert "MicrobiologyWebReport" in payload and "<Given>false</Given>" in payload
    finally:
        outbox.close()


def test_notifiability_is_evaluated_again_after_a_correction(tmp_path: Path) -> None:
    """notes §0 rule 16: re-evaluate notifiability after a correction."""
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        (first,) = outbox.post(_covid(1, "Negativ")).records
        assert "ROUTE-NOTIFIABLE" not in {i.rule for i in first.issues}
        (second,) = outbox.post(_covid(2, "Positiv")).records
        assert "ROUTE-NOTIFIABLE" in {i.rule for i in second.issues}
        assert [d for d, _ in second.deliveries] == [MIBA]
        payload = outbox.message(str(second.deliveries[0][1])).payload.decode()
        assert "svar_rettet" in payload
    finally:
        outbox.close()


def test_unknown_consent_is_not_refused(tmp_path: Path) -> None:
    """notes §0 rule 14: missing consent information is not a refusal: no flag is sent."""
    for syntax, refusal in ((None, "<Given>false</Given>"), ("fhir", '"code":"R"')):
        outbox = Outbox(tmp_path / f"outbox-{syntax}.db", syntax=syntax)
        try:
            (row,) = outbox.post(_record(1, consent="unknown")).records
            assert row.outcome == "accepted"
            payload = outbox.message(str(row.deliveries[0][1])).payload.decode()
            assert refusal not in payload.replace(" ", "")
            if syntax is None:
                assert "<Consent>" not in payload
        finally:
            outbox.close()
