"""`labgw serve`, `labgw outbox` and `labgw history`: the service and the operator's view of
its outbox.

`serve` runs until SIGINT/SIGTERM, then stops taking requests and lets sends in flight finish.
`outbox list|show|requeue` and `history` read and act on the store directly, so they work while
the service is down too. Exit codes: 0 done, 1 nothing to do (no such message or record, not
requeueable), 2 usage, 3 configuration.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import shutil
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import click

from gateway.audit import (
    history_json,
    history_text,
    message_lines,
    message_trail,
    record_history,
    stamp,
)
from gateway.clock import SystemClock
from gateway.errors import ExitCode
from gateway.outbox.cipher import BodyCipher
from gateway.outbox.open import open_store
from gateway.outbox.states import Event, InvalidTransition, State
from gateway.outbox.store import OutboxStore
from gateway.privacy import Pseudonyms, install_log_redaction, redact
from gateway.service.config import ServiceConfig, load_service_config
from gateway.service.run import start_service
from gateway.signals import until_signalled

T = TypeVar("T")
_CONFIG = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The service's TOML file (docs/service.md).",
)


@click.command()
@_CONFIG
@click.option("--port", type=int, default=None, help="Listen on this port instead of the file's.")
def serve(config_path: Path, port: int | None) -> None:
    """Run the HTTP API and the delivery workers until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    install_log_redaction()
    config = load_service_config(config_path)
    if port is not None:
        config = replace(config, port=port)

    async def run() -> None:
        running = await start_service(config)
        click.echo(f"labgw serving on {running.url}", err=True)
        try:
            await until_signalled()
        finally:
            await running.stop()

    asyncio.run(run())


def _with_store(config: ServiceConfig, work: Callable[[OutboxStore], Awaitable[T]]) -> T:
    store = open_store(config.store, BodyCipher(config.privacy.require()))

    async def run() -> T:
        await store.setup()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


@click.group()
def outbox() -> None:
    """Look at the outbox and requeue dead or rejected messages."""


@outbox.command("list")
@_CONFIG
@click.option("--state", type=click.Choice([s.value for s in State]), default=None)
@click.option("--destination", default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def outbox_list(
    config_path: Path, state: str | None, destination: str | None, limit: int, as_json: bool
) -> None:
    """Messages, newest first."""
    found = _with_store(
        load_service_config(config_path),
        lambda store: store.messages(
            state=State(state) if state else None, destination=destination, limit=limit
        ),
    )
    for m in found:
        if as_json:
            row = {
                "message": m.message_id,
                "destination": m.destination,
                "kind": m.kind,
                "state": m.state.value,
                "attempts": m.attempts,
                "resends": m.resends,
                "updated": m.updated_at.isoformat(),
            }
            click.echo(json.dumps(row))
        else:
            click.echo(
                f"{m.message_id}  {m.destination:5} {m.kind:7} {m.state.value:10} "
                f"attempts={m.attempts} resends={m.resends} {stamp(m.updated_at)}"
            )


@outbox.command("show")
@_CONFIG
@click.argument("message_id")
def outbox_show(config_path: Path, message_id: str) -> None:
    """One message: its state, envelopes, every transition and every receipt."""

    async def gather(store: OutboxStore) -> list[str] | None:
        message = await store.message(message_id)
        return None if message is None else message_lines(await message_trail(store, message))

    lines = _with_store(load_service_config(config_path), gather)
    if lines is None:
        click.echo(f"labgw: no message {redact(message_id)}", err=True)
        sys.exit(ExitCode.INVALID)
    click.echo("\n".join(lines))


@outbox.command("requeue")
@_CONFIG
@click.argument("message_ids", nargs=-1, required=True)
def outbox_requeue(config_path: Path, message_ids: tuple[str, ...]) -> None:
    """Send dead or rejected messages again (after the cause is fixed)."""
    operator = getpass.getuser()

    async def requeue(store: OutboxStore) -> list[str]:
        refused = []
        for message_id in message_ids:
            message = await store.message(message_id)
            if message is None or message.state not in (State.DEAD, State.REJECTED):
                refused.append(
                    f"{message_id}: {'no such message' if message is None else message.state.value}"
                )
                continue
            try:
                await store.apply(
                    message_id,
                    Event.REQUEUE,
                    SystemClock().now(),
                    expect=message.state,
                    detail=f"requeued by {operator}",
                )
            except InvalidTransition as exc:
                refused.append(f"{message_id}: {exc}")
        return refused

    refused = _with_store(load_service_config(config_path), requeue)
    for line in refused:
        click.echo(f"labgw: not requeued: {line}", err=True)
    click.echo(f"{len(message_ids) - len(refused)} requeued")
    if refused:
        sys.exit(ExitCode.INVALID)


@click.command()
@_CONFIG
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON document, as the API gives it.")
def history(config_path: Path, record_id: str, as_json: bool) -> None:
    """Every version of a record: its messages, envelopes, receipts and transitions.

    No record content is shown; the patient only as a pseudonym keyed by [privacy] in the
    configuration.
    """
    config = load_service_config(config_path)
    pseudonyms = Pseudonyms(config.privacy.require())
    found = _with_store(config, lambda store: record_history(store, record_id, pseudonyms))
    if found is None:
        click.echo(f"labgw: no record {redact(record_id)}", err=True)
        sys.exit(ExitCode.INVALID)
    if as_json:
        click.echo(json.dumps(history_json(found), ensure_ascii=False, indent=1))
    else:
        click.echo(history_text(found))


@click.command()
@click.option(
    "--records",
    "records_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=Path("examples/records"),
    show_default=True,
    help="Folder of practice-system record files (JSON, NDJSON, CSV) to post.",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build/demo-live"),
    show_default=True,
    help="Where the test PKI, the outbox and the receivers' stores go (emptied first).",
)
@click.option("--timeout", type=float, default=120.0, show_default=True)
def demo(records_dir: Path, workdir: Path, timeout: float) -> None:
    """Receivers, gateway and practice system on loopback: post the records, wait for receipts."""
    from gateway.demo import run_demo, table

    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    if workdir.exists():
        shutil.rmtree(workdir)
    files = sorted(p for p in records_dir.iterdir() if p.suffix in (".json", ".ndjson", ".csv"))
    tallies, answers = asyncio.run(run_demo(workdir, files, timeout))
    for path, status, answer in answers:
        counts = answer.get("counts", {})
        click.echo(f"POST /records {path.name}: HTTP {status} {json.dumps(counts)}")
    click.echo(table(tallies))
    acknowledged = all(t.done and t.acked == t.messages for t in tallies)
    if not acknowledged or not any(t.messages for t in tallies):
        click.echo("labgw demo: not every message was acknowledged", err=True)
        sys.exit(ExitCode.INVALID)
    click.echo("every message acknowledged")
