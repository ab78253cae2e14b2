"""The audit trail (DESIGN §7): `labgw history` and `GET /records/{id}/history` tell, for every
version of a record, what was sent where, when, signed by which certificate, and what the
receiver said; and no answer or operator view of the service repeats a CPR number."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gateway.cli import main
from gateway.demo import privacy_key
from gateway.issues import Issue, IssueType, Severity
from gateway.outbox.model import Envelope, NewMessage, RecordVersion, StoredReceipt
from gateway.outbox.states import Event
from gateway.outbox.store import OutboxStore
from gateway.pki import TestPki
from gateway.privacy import Pseudonyms
from tests.conftest import assert_no_cpr
from tests.delivery_harness import (
    lsp_record,
    ndjson,
    start_chain,
    store_url_fixture,  # noqa: F401  (fixture)
)
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)
from tests.records import BASE

CPR = BASE["patient"]["cpr"]
KEY = "audit-test-pseudonym-key-0123456789"
RECORD = "E2E-000700"


def _config(tmp_path: Path, store: str) -> Path:
    """What an operator's `labgw history` reads: the store, and the variable holding the
    service's privacy key (the one that opens the store's record bodies)."""
    path = tmp_path / "labgw.toml"
    path.write_text(
        f'[service]\nstore = "{store}"\n[signing]\nidentity = "unused.p12"\n'
        '[privacy]\nkey_env = "LABGW_AUDIT_KEY"\n',
        encoding="utf-8",
    )
    return path


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_the_history_of_a_corrected_record(
    pki: TestPki, tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> tuple[dict[str, Any], str]:
        chain = await start_chain(pki, tmp_path, store=store_url)
        try:
            corrected = {
                "version": 2,
                "status": "corrected",
                "result": {**BASE["result"], "value": "12"},
            }
            for changes in ({}, corrected):
                status, answer = await chain.post(ndjson([lsp_record(700, **changes)]))
                assert status == 200 and answer["counts"]["accepted"] == 1, answer
                tallies = await chain.settle()
                assert all(t.acked == t.messages for t in tallies), tallies
            status, history = await chain.get(f"/records/{RECORD}/history")
            assert status == 200, history
            status, missing = await chain.get("/records/E2E-NOPE/history")
            assert status == 404 and missing["resourceType"] == "OperationOutcome"
            assert missing["issue"][0]["details"]["coding"][0]["code"] == "SERVICE-NOT-FOUND"
            assert chain.gateway.service.worker is not None
            return history, chain.gateway.service.worker.sealer.certificate_label
        finally:
            await chain.stop()

    api, signer = asyncio.run(scenario())
    key = privacy_key(tmp_path).read_text(encoding="utf-8")  # the service's, from the harness
    monkeypatch.setenv("LABGW_AUDIT_KEY", key)
    config = str(_config(tmp_path, store_url))
    as_json = _cli("history", RECORD, "--config", config, "--json")
    assert as_json.exit_code == 0, as_json.output
    cli = json.loads(as_json.stdout)
    text = _cli("history", RECORD, "--config", config)
    assert text.exit_code == 0, text.output
    for output in (json.dumps(api), as_json.output, text.output):
        assert_no_cpr(output, "history")

    # The API and the CLI tell the same story; the patient is one pseudonym across versions.
    assert api == cli
    assert {v["patient"] for v in cli["versions"]} == {Pseudonyms(key.encode()).patient(CPR)}

    first, second = cli["versions"]
    assert [first["version"], second["version"]] == [1, 2]
    assert [first["status"], second["status"]] == ["final", "corrected"]
    assert first["digest"] != second["digest"]
    moments: list[str] = []
    for version in (first, second):
        (message,) = version["messages"]
        (envelope,) = message["envelopes"]
        (receipt,) = message["receipts"]
        assert message["destination"] == "lsp" and message["state"] == "acked"
        assert message["records"] == [version["record"]]
        assert envelope["number"] == 1 and envelope["signer"] == signer
        assert signer.startswith("sha256:") and "CN=" in signer
        assert (receipt["kind"], receipt["outcome"], receipt["duplicate"]) == (
            "XCTL03",
            "positive",
            False,
        )
        assert [t["event"] for t in message["transitions"]] == ["claim", "positive_receipt"]
        claimed, acked = message["transitions"]
        moments += [version["accepted"], claimed["at"], envelope["created"], envelope["sent"]]
        moments += [receipt["received"], acked["at"]]
    # Time order: v1 accepted, sent and acknowledged, all before v2 was accepted.
    assert moments == sorted(moments, key=datetime.fromisoformat)

    # One readable block per version, in order, each with its message's whole timeline.
    blocks = text.output.split("\nversion ")
    assert blocks[0].startswith(f"record {RECORD}: 2 versions")
    assert blocks[1].startswith(f"1 ({RECORD}/v1): final, accepted at ")
    assert blocks[2].startswith(f"2 ({RECORD}/v2): corrected, accepted at ")
    for block, version in zip(blocks[1:], (first, second), strict=True):
        message = version["messages"][0]
        assert f"patient {version['patient']}, content sha256:{version['digest']}" in block
        timeline = [
            f"message {message['message']} → lsp (XRPT01): acked",
            "queued → sending (claim)",
            f"envelope 1: {message['envelopes'][0]['envelope']}, ",
            ", sent ",
            f"signed by {signer}",
            f"receipt {message['receipts'][0]['receipt']}: XCTL03 positive (sync)",
            "sending → acked (positive_receipt)",
        ]
        places = [block.index(event) for event in timeline]
        assert places == sorted(places)


def test_an_unknown_record_has_no_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABGW_AUDIT_KEY", KEY)
    result = _cli("history", "NOPE-1", "--config", str(_config(tmp_path, "sqlite:///o.db")))
    assert result.exit_code == 1
    assert "labgw: no record NOPE-1" in result.output


async def _seed(store: OutboxStore) -> str:
    """A record and a message whose stored texts quote a CPR number, as a receiver's refusal
    (DELIVERY-REFUSED quotes its answer), a SOAP fault, a negative receipt or an older Issue
    could; for a destination no worker delivers to, so only this test moves it."""
    now = datetime.now(UTC)
    quoted = (Issue(Severity.ERROR, IssueType.VALUE, "X", f"unknown patient {CPR}", CPR),)
    body = json.dumps(lsp_record(701)).encode()
    record = RecordVersion("E2E-000701/v1", "E2E-000701", 1, "0" * 64, body, "accepted", quoted)
    message = NewMessage("70100000000001", "elsewhere", "XRPT01", body, (record.key,), quoted)
    await store.accept([record], [message], now)
    await store.claim("elsewhere", 1, now, now + timedelta(minutes=1), "test")
    await store.add_envelope(
        Envelope(message.message_id, 1, "1", body, "text/xml", f"sha256:00 CN={CPR}", now)
    )
    receipt = StoredReceipt(
        message.message_id, "R1", "XCTL02", "negative", body, now, False, "sync", quoted
    )
    await store.add_receipt(receipt)
    detail = f"HTTP 400: <CivilRegistrationNumber>{CPR[:6]}-{CPR[6:]}</CivilRegistrationNumber>"
    await store.apply(message.message_id, Event.REFUSED, now, detail=detail, issues=quoted)
    return message.message_id


def test_no_answer_and_no_operator_view_repeats_a_cpr(
    pki: TestPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_url = f"sqlite:///{tmp_path / 'outbox.db'}"

    async def scenario() -> tuple[str, list[str]]:
        chain = await start_chain(pki, tmp_path, store=store_url)
        try:
            message_id = await _seed(chain.gateway.service.store)
            answers = []
            # CPR numbers in the wrong fields: the mapping's Issues quote units and values.
            wrong = [
                lsp_record(702, result={"value": "45", "unit": CPR}),
                lsp_record(703, result={"value": f"CPR {CPR}", "unit": "mg/L"}),
                lsp_record(704, status=CPR),
            ]
            status, answer = await chain.post(ndjson(wrong))
            assert status == 422 and answer["counts"]["rejected"] == 3, answer
            answers.append(json.dumps(answer))
            for path in (
                f"/records/{CPR}",
                f"/records/{CPR}/history",
                f"/messages/{CPR[:6]}-{CPR[6:]}",
                f"/messages/{message_id}",
                "/records/E2E-000701",
                "/records/E2E-000701/history",
            ):
                status, answer = await chain.get(path)
                assert status in (200, 404), (path, answer)
                answers.append(json.dumps(answer, ensure_ascii=False))
            return message_id, answers
        finally:
            await chain.stop()

    message_id, answers = asyncio.run(scenario())
    assert "[CPR]" in answers[0] and "[CPR]" in answers[1]
    for answer in answers:
        assert_no_cpr(answer, "an API answer")
    monkeypatch.setenv("LABGW_AUDIT_KEY", privacy_key(tmp_path).read_text(encoding="utf-8"))
    config = str(_config(tmp_path, store_url))
    show = _cli("outbox", "show", "--config", config, message_id)
    history = _cli("history", "E2E-000701", "--config", config)
    assert show.exit_code == 0 and history.exit_code == 0, (show.output, history.output)
    assert "unknown patient [CPR]" in show.output and "(refused) HTTP 400" in show.output
    for result in (show, history):
        assert_no_cpr(result.output, "an operator's view")
