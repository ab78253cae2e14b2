"""Data at rest (issue 9): the outbox keeps no clear CPR number outside the message bytes.

Record bodies are sealed (AES-GCM under a key derived from the privacy key) and read back
exactly; free text that may quote a CPR number is stored redacted; a store written under
another key, or holding clear bodies, is refused when it opens. Both stores, raw rows read on a
connection of their own.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gateway.errors import ConfigError
from gateway.issues import Issue, IssueType, Severity
from gateway.outbox.cipher import MAGIC, BodyCipher
from gateway.outbox.open import open_store
from gateway.outbox.states import Event
from gateway.privacy import find_cpr
from tests.records import BASE, CIPHER
from tests.test_outbox_store import (
    LEASE,
    T0,
    Harness,
    envelope,
    message,
    receipt,
    record,
)
from tests.test_outbox_store import store as store  # the fixture, once per store

CPR = BASE["patient"]["cpr"]
BODY = json.dumps(BASE, sort_keys=True, separators=(",", ":")).encode()
QUOTING = Issue(Severity.ERROR, IssueType.VALUE, "X-TEST", f"unknown patient {CPR}", f"cpr {CPR}")


def _clear(value: object) -> list[str]:
    """The CPR numbers in a raw column value, bytes read as Latin-1 so every byte counts."""
    text = bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
    return find_cpr(text)


def test_a_record_body_is_sealed_at_rest_and_read_back_exactly(store: Harness) -> None:
    stored = record("r1", body=BODY)
    store.accept([stored], [], T0)
    ((raw,),) = store.raw("SELECT body FROM records")
    raw = bytes(raw)
    assert raw.startswith(MAGIC) and _clear(raw) == [] and b"Berggren" not in raw
    assert store.record("r1/v1") == stored and store.record_versions("r1") == [stored]
    assert store.run(store.twin().record("r1/v1")) == stored  # so does another with the key


def test_free_text_that_quotes_a_cpr_number_is_stored_redacted(store: Harness) -> None:
    """Issues, transition details, receipt ids and signers only people read; the message bytes
    (payload, signed envelope, receipt) stay exactly as they were, CPR numbers and all."""
    payload = f"<Letter><CivilRegistrationNumber>{CPR}</CivilRegistrationNumber></Letter>"
    quoted = {"issues": (QUOTING,)}
    store.accept(
        [record("r1", body=BODY, **quoted)],
        [message("m1", payload=payload.encode(), records=("r1/v1",), **quoted)],
        T0,
    )
    store.apply("m1", Event.CLAIM, T0, lease_until=T0 + LEASE, detail=f"claimed for {CPR}")
    store.add_envelope(replace(envelope("m1"), wire=payload.encode(), signer=f"ab CN={CPR}"))
    answer = receipt("m1", receipt_id=f"R-{CPR}", content=payload.encode(), issues=(QUOTING,))
    store.add_receipt(answer)
    store.apply("m1", Event.TRANSIENT_FAILURE, T0, detail=f"HTTP 500: {CPR}", issues=(QUOTING,))

    held = {
        "records": store.raw("SELECT issues FROM records"),
        "messages": store.raw("SELECT issues, records FROM messages"),
        "transitions": store.raw("SELECT detail FROM transitions"),
        "receipts": store.raw("SELECT receipt_id, issues FROM receipts"),
        "envelopes": store.raw("SELECT signer FROM envelopes"),
    }
    for table, rows in held.items():
        for row in rows:
            assert not any(_clear(value) for value in row), table
    assert store.message("m1").issues[0].message == "unknown patient [CPR]"
    (exact,) = store.raw("SELECT m.payload, e.wire, r.content FROM messages m"
                         " JOIN envelopes e USING (message_id)"
                         " JOIN receipts r USING (message_id)")  # fmt: skip
    assert [bytes(value) for value in exact] == [payload.encode()] * 3


def test_a_store_written_under_another_key_does_not_open(store: Harness) -> None:
    store.accept([record("r1", body=BODY)], [], T0)
    other = open_store(store.url, BodyCipher(b"another privacy key, 32 bytes.."))
    store.opened.append(other)
    with pytest.raises(ConfigError, match=r"does not open with this \[privacy\] key"):
        store.run(other.setup())


def test_a_store_with_a_clear_body_does_not_open(store: Harness) -> None:
    """An outbox from before encryption at rest: its bodies cannot be sealed in place (the
    table is append-only), so it is kept as an archive, not used on."""
    values = "'r1/v1', 'r1', 1, 'd', $1, 'accepted', '[]', '[]', $2"
    insert = f"INSERT INTO records VALUES ({values})"
    if store.kind == "sqlite":
        store.raw(insert.replace("$1", "x'7b7d'").replace("$2", f"'{T0.isoformat()}'"))
    else:
        store.raw(insert.replace("$1", "'\\x7b7d'::bytea").replace("$2", f"'{T0.isoformat()}'"))
    other = open_store(store.url, CIPHER)
    store.opened.append(other)
    with pytest.raises(ConfigError, match="record body in clear"):
        store.run(other.setup())


def test_a_sealed_body_opens_only_in_its_row_and_under_its_key() -> None:
    sealed = CIPHER.seal(BODY, "r1/v1")
    assert CIPHER.open(sealed, "r1/v1") == BODY
    assert CIPHER.seal(BODY, "r1/v1") != sealed  # a fresh nonce every time
    with pytest.raises(ConfigError, match="does not open"):
        CIPHER.open(sealed, "r2/v1")  # copied into another row
    with pytest.raises(ConfigError, match="does not open"):
        BodyCipher(b"another privacy key, 32 bytes..").open(sealed, "r1/v1")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(ConfigError, match="does not open"):
        CIPHER.open(tampered, "r1/v1")
