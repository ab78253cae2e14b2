"""`labgw outbox list|show|requeue`: the operator's view of the outbox, on the store itself."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main
from gateway.outbox.model import Envelope, NewMessage
from gateway.outbox.sqlite import SqliteStore
from gateway.outbox.states import Event, State
from tests.records import CIPHER, privacy_key_file

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


async def _outbox(path: Path) -> None:
    store = SqliteStore(path, CIPHER)
    await store.setup()
    try:
        messages = [
            NewMessage(f"m{n}", "lsp", "XRPT01", b"<Emessage/>", (f"R{n}/v1",)) for n in range(3)
        ]
        await store.accept([], messages, T0)
        await store.claim("lsp", 3, T0, T0 + timedelta(minutes=1), "w1")
        envelope = Envelope("m0", 1, "00000000000001", b"<soap/>", "text/xml", "sha256:ab CN=x", T0)
        await store.add_envelope(envelope)
        await store.apply("m0", Event.POSITIVE_RECEIPT, T0, detail="sync XCTL03 positive 9")
        await store.apply("m1", Event.GIVE_UP, T0, detail="HTTP 503")
        await store.apply("m2", Event.REFUSED, T0, detail="HTTP 404")
    finally:
        await store.close()


def _config(tmp_path: Path) -> Path:
    asyncio.run(_outbox(tmp_path / "outbox.db"))
    path = tmp_path / "labgw.toml"
    key = privacy_key_file(tmp_path)
    path.write_text(
        f'[service]\nstore = "sqlite:///outbox.db"\n[signing]\nidentity = "k.p12"\n'
        f'[privacy]\nkey_file = "{key}"\n'
    )
    return path


def test_list_filters_by_state_and_prints_json(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = CliRunner().invoke(
        main, ["outbox", "list", "--config", str(config), "--state", "dead", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert sorted(r["message"] for r in rows) == ["m1", "m2"]
    assert {r["state"] for r in rows} == {"dead"}


def test_show_tells_the_whole_story(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = CliRunner().invoke(main, ["outbox", "show", "--config", str(config), "m0"])
    assert result.exit_code == 0, result.output
    assert "message m0 → lsp (XRPT01): acked" in result.output
    assert (
        "envelope 1: 00000000000001, 7 bytes" in result.output and "sha256:ab CN=x" in result.output
    )
    assert "queued → sending (claim)" in result.output
    assert "sending → acked (positive_receipt) sync XCTL03 positive 9" in result.output
    missing = CliRunner().invoke(main, ["outbox", "show", "--config", str(config), "nope"])
    assert missing.exit_code == 1 and "no message nope" in missing.output


def test_requeue_takes_dead_messages_only(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = CliRunner().invoke(main, ["outbox", "requeue", "--config", str(config), "m1", "m0"])
    assert result.exit_code == 1
    assert "1 requeued" in result.output and "m0: acked" in result.output

    async def state() -> State:
        store = SqliteStore(tmp_path / "outbox.db", CIPHER)
        await store.setup()
        try:
            message = await store.message("m1")
            assert message is not None
            transitions = await store.transitions("m1")
            assert transitions[-1].detail.startswith("requeued by ")
            return message.state
        finally:
            await store.close()

    assert asyncio.run(state()) is State.QUEUED
