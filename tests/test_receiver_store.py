"""The receiver's store and dedupe tables: a message is stored once, every repeat is logged, and
each syntax's duplicate rules give the action MedCom's reliable messaging asks for."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.issues import Issue, IssueType, Severity
from gateway.receipts.model import ReceiptOutcome
from gateway.receiver.dedupe import FHIR_TABLE, Action, BundleSeen, fhir_action, xml_action
from gateway.receiver.model import Answer, Post, Received, Repeat, Verdict
from gateway.receiver.store import ReceivedStore

NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)
POSITIVE = Verdict(ReceiptOutcome.POSITIVE)
ISSUE = Issue(Severity.ERROR, IssueType.VALUE, "XSD", "not a number", location="/Emessage")


def message(
    message_id: str = "00000000000042",
    *,
    kind: str = "XRPT01",
    envelope_id: str = "00000000000001",
    digest: str = "d1",
    verdict: Verdict = POSITIVE,
    at: datetime = NOW,
) -> Received:
    answer = Answer(200, "text/xml; charset=utf-8", f"answer {message_id} {envelope_id}".encode())
    return Received(
        message_id, kind, envelope_id, b"<payload/>", digest, verdict, b"<receipt/>", answer, at
    )


def repeat_of(received: Received, action: Action, digest: str = "d2") -> Repeat:
    return Repeat(
        received.message_id,
        received.kind,
        received.envelope_id,
        digest,
        action,
        received.verdict.outcome,
        received.receipt,
        replace(received.answer, body=b"another answer"),
        received.received_at + timedelta(seconds=1),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ReceivedStore]:
    opened = ReceivedStore(tmp_path / "received.sqlite")
    yield opened
    opened.close()


def test_fhir_table_covers_every_combination() -> None:
    """notes/security-transport.md §5.2, FHIR row: each (MessageHeader.id, Bundle.id) case."""
    assert fhir_action(False, BundleSeen.NO) is Action.PROCESS
    assert fhir_action(True, BundleSeen.WITH_THIS_MESSAGE) is Action.REPLAY
    assert fhir_action(True, BundleSeen.NO) is Action.SAME_CONTENT
    assert fhir_action(False, BundleSeen.WITH_OTHER_MESSAGE) is Action.REFUSE
    assert fhir_action(True, BundleSeen.WITH_OTHER_MESSAGE) is Action.REFUSE
    assert len(FHIR_TABLE) == 5
    assert (xml_action(False), xml_action(True)) == (Action.PROCESS, Action.SAME_CONTENT)


def test_the_file_is_wal_with_synchronous_full(store: ReceivedStore, tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "received.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_new_letter_is_stored_and_a_resend_gets_the_first_verdict(store: ReceivedStore) -> None:
    first = message(verdict=Verdict(ReceiptOutcome.NEGATIVE, (ISSUE,), "syntaksfejl"))
    assert store.admit(first).action is Action.PROCESS
    again = store.admit(message(envelope_id="00000000000002", digest="d2"))
    assert again.action is Action.SAME_CONTENT
    assert again.first == first  # outcome, refuse code and Issues come back as stored
    store.log_repeat(repeat_of(first, Action.SAME_CONTENT))
    assert store.listing() == [
        {
            "message_id": first.message_id,
            "kind": "XRPT01",
            "outcome": "negative",
            "envelope_id": "00000000000001",
            "received_at": NOW.isoformat(timespec="microseconds"),
            "duplicates": 1,
        }
    ]
    assert store.payload(first.message_id) == ("XRPT01", b"<payload/>")
    assert store.payload("nobody") is None


def test_the_same_request_bytes_find_the_stored_answer(store: ReceivedStore) -> None:
    first = message()
    store.admit(first)
    replay = store.replay_for_digest("d1")
    assert replay is not None and replay.answer == first.answer
    assert replay.message_id == first.message_id and replay.receipt == first.receipt
    store.log_repeat(repeat_of(first, Action.SAME_CONTENT, digest="d9"))
    later = store.replay_for_digest("d9")
    assert later is not None and later.answer.body == b"another answer"
    assert store.replay_for_digest("unknown") is None


def test_fhir_ids_follow_the_reliable_messaging_table(store: ReceivedStore) -> None:
    first = message("mh-1", kind="FHIR", envelope_id="bundle-1")
    assert store.admit(first).action is Action.PROCESS
    both = store.admit(message("mh-1", kind="FHIR", envelope_id="bundle-1", digest="x"))
    assert both.action is Action.REPLAY and both.replay is not None
    assert both.replay.answer == first.answer
    resend = message("mh-1", kind="FHIR", envelope_id="bundle-2", digest="y")
    assert store.admit(resend).action is Action.SAME_CONTENT
    store.log_repeat(repeat_of(resend, Action.SAME_CONTENT))
    # The resend's Bundle.id is now known with this message: a copy of it replays its answer.
    again = store.admit(message("mh-1", kind="FHIR", envelope_id="bundle-2", digest="z"))
    assert again.action is Action.REPLAY and again.replay is not None
    assert again.replay.answer.body == b"another answer"
    reused = store.admit(message("mh-2", kind="FHIR", envelope_id="bundle-1"))
    assert reused.action is Action.REFUSE and reused.first is None
    assert [row["message_id"] for row in store.listing()] == ["mh-1"]


def test_a_refused_reuse_does_not_claim_the_bundle_id(store: ReceivedStore) -> None:
    store.admit(message("mh-1", kind="FHIR", envelope_id="bundle-1"))
    reused = message("mh-2", kind="FHIR", envelope_id="bundle-1")
    store.log_repeat(repeat_of(reused, Action.REFUSE))
    assert store.admit(reused).action is Action.REFUSE


def test_receipts_to_post_are_queued_with_the_message(store: ReceivedStore) -> None:
    post = Post("00000000000042", "text/xml", b"<receipt/>")
    admission = store.admit(message(), [post, post])
    assert [p.id for p in admission.posts] == [1, 2]
    store.post_attempted(1, None)
    store.post_attempted(1, NOW)
    assert [p.id for p in store.pending_posts()] == [2]
    refused = store.admit(message(digest="d3"), [post])
    assert refused.posts == () and len(store.pending_posts()) == 1


def test_two_connections_racing_store_a_message_once(tmp_path: Path) -> None:
    """Whatever arrives at the wire, and from however many processes: one stored row."""
    path = tmp_path / "shared.sqlite"
    ReceivedStore(path).close()
    actions: list[Action] = []
    start = threading.Barrier(8)

    def admit() -> None:
        own = ReceivedStore(path)
        start.wait()
        actions.append(own.admit(message()).action)
        own.close()

    threads = [threading.Thread(target=admit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(actions) == [Action.PROCESS] + [Action.SAME_CONTENT] * 7
