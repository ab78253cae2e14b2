"""Several versions of one recordId in one input: `labgw translate` (no outbox) decides them as
`POST /records` does (gateway.versions; docs/lifecycle.md "Versions of one recordId in one
request are taken one after the other, in input order")."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from gateway.cli import main
from gateway.intake import IntakeBatch, read_records
from gateway.outbox.model import NewMessage, RecordVersion
from gateway.outbox.open import open_store
from gateway.outbox.store import Accepted, OutboxStore
from gateway.pipeline import Outcome, Translation
from gateway.service.accept import Answer, accept_batch
from gateway.versions import outbox_id, rounds
from tests.records import CIPHER, NOW, batch_of, record, translator

T = TypeVar("T")


async def _inline(work: Callable[..., T], *args: Any) -> T:
    return work(*args)


class Recording:
    """The outbox store, keeping every message the service committed (with `follows`)."""

    def __init__(self, store: OutboxStore) -> None:
        self.store = store
        self.committed: list[NewMessage] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def accept(
        self, records: Sequence[RecordVersion], messages: Sequence[NewMessage], now: datetime
    ) -> Accepted:
        self.committed.extend(messages)
        return await self.store.accept(records, messages, now)


def served(path: Path, batch: IntakeBatch, syntax: str | None) -> tuple[Answer, list[NewMessage]]:
    """What `POST /records` answers and commits for `batch`, into an empty SQLite outbox."""

    async def run() -> tuple[Answer, list[NewMessage]]:
        store = Recording(open_store(f"sqlite://{path}", CIPHER))
        await store.setup()
        try:
            answer = await accept_batch(
                cast(OutboxStore, store),
                translator(syntax=syntax),
                batch,
                NOW,
                _inline,
            )
        finally:
            await store.close()
        return answer, store.committed

    return asyncio.run(run())


def offline(batch: IntakeBatch, syntax: str | None) -> Translation:
    return translator(syntax=syntax).translate(batch)


AS_TRANSLATED = {
    "accepted": "accepted",
    "filtered": "filtered",
    "rejected": "rejected",
    "duplicate": "filtered",
    "stale": "filtered",
}


def assert_agree(answer: Answer, committed: list[NewMessage], result: Translation) -> None:
    """The offline translation is what the service answered and committed, record by record
    and byte for byte."""
    ids = {m.message_id: outbox_id(m.kind, m.message_id) for m in result.messages}
    assert len(answer.records) == len(result.outcomes)
    for served_one, translated in zip(answer.records, result.outcomes, strict=True):
        assert served_one.record == translated.label
        assert AS_TRANSLATED[served_one.outcome] == translated.outcome.value, served_one
        assert served_one.issues == translated.issues
        assert served_one.deliveries == tuple(
            (destination, ids[m] if m else None) for destination, m in translated.deliveries
        )
    mine = [
        (ids[m.message_id], m.destination.value, m.kind, m.content, m.records, m.previous)
        for m in result.messages
    ]
    theirs = [
        (m.message_id, m.destination, m.kind, m.payload, m.records, m.follows) for m in committed
    ]
    assert mine == theirs
    assert answer.messages == sorted(ids.values())


# One version of a record: which analysis it is, and its value.
VARIANTS: dict[str, dict[str, Any]] = {
    "crp-45": {},
    "crp-46": {"result__value": "46"},
    "culture": {  # microbiology: to MiBa
        "analysis": {"system": "NPU", "code": "NPU16328"},
        "result": {"value": "Escherichia coli > 10^5/ml"},
    },
    "not-shared": {"analysis__code": "NPU10197", "result__unit": "%"},  # filtered
    "unknown-code": {"analysis__code": "NPU99999"},  # rejected by mapping
    "bad-cpr": {"patient__cpr": "3213779999"},  # rejected at intake: no record
}
STATUSES = ["final", "final", "preliminary", "corrected", "cancelled"]
VERSION = st.tuples(
    st.sampled_from(["A", "B", "C"]),
    st.integers(1, 4),
    st.sampled_from(["crp-45", "crp-45", "crp-46", "crp-46", *VARIANTS]),
    st.sampled_from(STATUSES),
)


def _records(sequence: list[tuple[str, int, str, str]]) -> list[dict[str, Any]]:
    return [
        record(recordId=f"V-{rid}", version=version, status=status, **VARIANTS[variant])
        for rid, version, variant, status in sequence
    ]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(VERSION, min_size=1, max_size=8), st.sampled_from([None, "fhir"]))
def test_offline_translation_decides_versions_as_the_service_does(
    tmp_path: Path, sequence: list[tuple[str, int, str, str]], syntax: str | None
) -> None:
    batch = batch_of(*_records(sequence))
    note(f"rounds: {[[item.label for _, item in r] for r in rounds(batch.items)]}")
    answer, committed = served(tmp_path / f"outbox-{uuid.uuid4().hex}.db", batch, syntax)
    for outcome in sorted({r.outcome for r in answer.records}):
        event(f"a version {outcome}")
    if any(m.follows in {c.message_id for c in committed} for m in committed):
        event("a correction of a message sent in the same input")
    assert_agree(answer, committed, offline(batch, syntax))


# The cases the property covers, spelled out


def _crp(version: int, value: str = "45", status: str = "final") -> dict[str, Any]:
    return record(recordId="CORR-1", version=version, status=status, result__value=value)


def test_a_final_v2_after_a_final_v1_in_one_input_is_a_correction_pointing_at_v1() -> None:
    result = offline(batch_of(_crp(1), _crp(2, "46")), None)
    first, second = result.messages
    assert [o.outcome for o in result.outcomes] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert b"svar_endeligt" in first.content and b"svar_rettet" in second.content
    assert b"svar_endeligt" not in second.content
    assert (first.previous, second.previous) == (None, first.message_id)


def test_fhir_correction_in_one_input_modifies_the_message_header_of_v1() -> None:
    result = offline(batch_of(_crp(1), _crp(2, "46")), "fhir")
    first, second = (json.loads(m.content) for m in result.messages)
    provenance = next(
        e["resource"] for e in second["entry"] if e["resource"]["resourceType"] == "Provenance"
    )
    assert provenance["activity"]["coding"][0]["code"] == "modified-message"
    header = first["entry"][0]["resource"]["id"]
    assert provenance["entity"] == [
        {"role": "revision", "what": {"reference": f"MessageHeader/{header}"}}
    ]


@pytest.mark.parametrize(
    ("records", "fates"),
    [
        pytest.param(
            [_crp(1), _crp(1)],
            [(Outcome.ACCEPTED, []), (Outcome.FILTERED, ["LPS-VERSION-DUPLICATE"])],
            id="duplicate",
        ),
        pytest.param(
            [_crp(1), _crp(1, "46")],
            [(Outcome.ACCEPTED, []), (Outcome.REJECTED, ["LPS-VERSION-CONFLICT"])],
            id="conflict",
        ),
        pytest.param(
            [_crp(2), _crp(1)],
            [(Outcome.ACCEPTED, []), (Outcome.FILTERED, ["LPS-VERSION-STALE"])],
            id="stale",
        ),
    ],
)
def test_versions_already_handled_in_the_input_carry_the_service_codes(
    tmp_path: Path, records: list[dict[str, Any]], fates: list[tuple[Outcome, list[str]]]
) -> None:
    batch = batch_of(*records)
    result = offline(batch, None)
    assert [(o.outcome, [i.rule for i in o.issues]) for o in result.outcomes] == fates
    assert len(result.messages) == 1
    assert_agree(*served(tmp_path / "outbox.db", batch, None), result)


def test_a_v2_alone_is_still_new_and_points_at_the_id_v1_would_have_had() -> None:
    """No outbox and no v1 in the input: nothing known was delivered, so a final v2 is final
    (the conformance suites' version-2 cases with no known earlier delivery)."""
    alone = offline(batch_of(_crp(2, "46")), None)
    (message,) = alone.messages
    assert b"svar_endeligt" in message.content
    both = offline(batch_of(_crp(1), _crp(2, "46")), None)
    assert message.previous == both.messages[0].message_id


def test_histories_start_empty_for_every_translation() -> None:
    """Nothing carries over between two translations with one translator."""
    one = translator()
    first = one.translate(batch_of(_crp(1)))
    again = one.translate(batch_of(_crp(1)))
    assert [o.outcome for o in (*first.outcomes, *again.outcomes)] == [Outcome.ACCEPTED] * 2


def test_labgw_translate_file_with_v1_and_v2_gives_svar_rettet_as_the_service_would(
    tmp_path: Path,
) -> None:
    path = tmp_path / "records.json"
    records = [_crp(1), _crp(2, "46")]
    path.write_text(json.dumps(records), encoding="utf-8")
    out = tmp_path / "out"
    cli = CliRunner().invoke(
        main, ["translate", str(path), "-o", str(out), "--now", NOW.isoformat()]
    )
    assert cli.exit_code == 0, cli.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [(r["record"], r["outcome"]) for r in summary["records"]] == [
        ("CORR-1/v1", "accepted"),
        ("CORR-1/v2", "accepted"),
    ]
    first, second = (r["message"] for r in summary["records"])
    files = {p.name: p.read_bytes() for p in (out / "messages").iterdir()}
    assert sorted(files) == sorted([f"lsp-xrpt01-{first}.xml", f"lsp-xrpt01-{second}.xml"])
    assert b"svar_endeligt" in files[f"lsp-xrpt01-{first}.xml"]
    assert b"svar_rettet" in files[f"lsp-xrpt01-{second}.xml"]
    # What POST /records would commit for the same file: the same messages, byte for byte.
    batch = read_records(path.read_bytes(), str(path), now=NOW)
    answer, committed = served(tmp_path / "outbox.db", batch, None)
    assert {m.message_id: m.payload for m in committed} == {
        name.removeprefix("lsp-xrpt01-").removesuffix(".xml"): content
        for name, content in files.items()
    }
    assert [m.follows for m in committed] == [None, first]
    assert [r.deliveries[0][1] for r in answer.records] == [first, second]


@pytest.mark.parametrize("syntax", [None, "fhir"])
def test_a_v2_after_a_v1_that_was_never_sent_points_at_nothing(
    tmp_path: Path, syntax: str | None
) -> None:
    """v1 was filtered (an analysis not agreed for sharing), so no receiver has it: v2 is new,
    and names no message to replace (a FHIR modified-message pointing at a MessageHeader
    nobody got would be refused)."""
    filtered = record(recordId="CORR-1", version=1, analysis__code="NPU10197", result__unit="%")
    batch = batch_of(filtered, _crp(2, "46"))
    result = offline(batch, syntax)
    (message,) = result.messages
    assert message.previous is None
    if syntax == "fhir":
        assert b"modified-message" not in message.content
    assert_agree(*served(tmp_path / "outbox.db", batch, syntax), result)
