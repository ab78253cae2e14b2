"""`labgw receiver --as lsp|miba`: a reference receiver on a port until it is stopped.

The shell around `gateway.receiver`: settings from `--config` (TOML, `[faults]` included) with
command-line options on top, one log line per request on stderr, and a clean stop on SIGINT or
SIGTERM (requests in flight are answered, the store is closed).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import click

from gateway.privacy import install_log_redaction
from gateway.receiver import load_receiver_config, start_receiver
from gateway.receiver.config import ReceiptMode, ReceiverConfig, receiver_config
from gateway.routing import Destination
from gateway.signals import until_signalled

_PATH = click.Path(path_type=Path)
_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)


@click.command()
@click.option(
    "--as",
    "role",
    required=True,
    type=click.Choice([d.value for d in Destination]),
    help="The databank to play: lsp (XRPT01, FHIR) or miba (XRPT05, FHIR).",
)
@click.option("--config", "config_path", type=_FILE, help="Receiver settings (TOML).")
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: any free port, logged at start).")
@click.option("--trust", type=_FILE, help="Pinned roots and issuing CAs for signers (PEM).")
@click.option("--crl", "crls", multiple=True, type=_FILE, help="A CRL (repeatable).")
@click.option("--tls-cert", type=_FILE, help="Server certificate chain (PEM, leaf first).")
@click.option("--tls-key", type=_FILE, help="Server private key (PEM).")
@click.option("--client-ca", type=_FILE, help="Ask for client certificates, checked with this CA.")
@click.option(
    "--client-cert-required",
    is_flag=True,
    default=None,
    help="Refuse TLS handshakes without a client certificate (needs --client-ca).",
)
@click.option("--db", type=_PATH, help="SQLite file (default: ROLE-received.sqlite).")
@click.option("--receipts", type=click.Choice([m.value for m in ReceiptMode]))
@click.option("--receipts-to", help="URL async receipts are posted to.")
def receiver(role: str, config_path: Path | None, **options: Any) -> None:
    """Run a reference receiver (the receiving side of LSP or MiBa) until stopped."""
    options["crls"] = options["crls"] or None
    values = {key: value for key, value in options.items() if value is not None}
    values["role"] = role
    if config_path is not None:
        config = load_receiver_config(config_path, **values)
    else:
        config = receiver_config(values, source="labgw receiver")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    install_log_redaction()
    asyncio.run(_serve(config))


async def _serve(config: ReceiverConfig) -> None:
    running = await start_receiver(config)
    click.echo(f"labgw receiver ({config.role}) at {running.url}", err=True)
    try:
        await until_signalled()
    finally:
        await running.stop()
