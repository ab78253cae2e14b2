"""`labgw demo`: the whole chain on one machine (DESIGN §1, §8).

A fresh test PKI, the two reference receivers (LSP and MiBa) and the gateway service, all on
loopback with TLS both ways and real signatures; the example records are POSTed to the gateway
as a practice system would, and the demo waits until every message has its receipt. It prints
one line per destination and stops everything it started. Exit 0 only when every message was
acknowledged.

Its working folder is private (mode 0700: the stores in it hold CPR numbers in their message
payloads), and its `privacy.key` (mode 0600) encrypts the outbox's record bodies.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from gateway.config import GatewayConfig, default_config
from gateway.delivery.sender import TransportConfig
from gateway.outbox.states import RetryPolicy, State
from gateway.pki import TestPki, build_test_pki
from gateway.privacy import KeySource
from gateway.receiver.app import RunningReceiver, start_receiver
from gateway.receiver.config import ReceiverConfig
from gateway.routing import Destination
from gateway.service.access import AccessPolicy
from gateway.service.config import ServerTls, ServiceConfig, access_policy
from gateway.service.run import RunningService, start_service

CONTENT_TYPES = {".json": "application/json", ".ndjson": "application/x-ndjson", ".csv": "text/csv"}


@dataclass(frozen=True, slots=True)
class DestinationTally:
    destination: str
    messages: int
    sent: int  # claimed at least once (not waiting in `queued` for a first try)
    acked: int
    rejected: int
    dead: int
    waiting: int

    @property
    def done(self) -> bool:
        return self.waiting == 0


def _tally(
    counts: dict[tuple[str, State], int], destinations: Sequence[str]
) -> list[DestinationTally]:
    out = []
    for destination in destinations:
        by_state = {state: counts.get((destination, state), 0) for state in State}
        total = sum(by_state.values())
        terminal = by_state[State.ACKED] + by_state[State.REJECTED] + by_state[State.DEAD]
        out.append(
            DestinationTally(
                destination,
                total,
                total - by_state[State.QUEUED],
                by_state[State.ACKED],
                by_state[State.REJECTED],
                by_state[State.DEAD],
                total - terminal,
            )
        )
    return out


def table(tallies: Sequence[DestinationTally]) -> str:
    head = ("destination", "messages", "sent", "acked", "rejected", "dead", "waiting")
    lines = [f"{head[0]:12} " + " ".join(f"{name:>8}" for name in head[1:])]
    for t in tallies:
        numbers = (t.messages, t.sent, t.acked, t.rejected, t.dead, t.waiting)
        lines.append(f"{t.destination:12} " + " ".join(f"{n:8}" for n in numbers))
    return "\n".join(lines)


def receiver_config(
    pki: TestPki, role: Destination, directory: Path, **settings: Any
) -> ReceiverConfig:
    """A reference receiver for the test PKI: its TLS certificate, the trust store for
    signatures and client certificates, the CRL, its store in `directory`; `settings` add or
    override ReceiverConfig fields."""
    tls = pki[f"{role.value}-tls"]
    assert tls.cert_path is not None and tls.key_path is not None
    values: dict[str, Any] = {
        "tls_cert": tls.cert_path,
        "tls_key": tls.key_path,
        "trust": pki.trust_path,
        "db": directory / f"{role.value}-received.sqlite",
        "client_ca": pki.trust_path,
        "crls": (pki.crl_path,),
    }
    return ReceiverConfig(role=role, **(values | settings))


async def wait_serving(session: aiohttp.ClientSession, url: str, timeout: float = 60.0) -> None:
    """Until `GET url/health` answers 200 (a service that was just started)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with session.get(f"{url}/health") as answer:
                if answer.status == 200:
                    return
        except (aiohttp.ClientError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer /health in {timeout:g} s")
        await asyncio.sleep(0.05)


# The example practices (SOR ids and ydernumre in examples/records and the tests' records).
DEMO_PRACTICES = ("464181000016008", "012345", "123456789012345", "054321")

# Who may do what in the demo: the practice platform sends and reads; each receiver posts
# receipts for its own messages (docs/service.md, [access]).
DEMO_ACCESS_TOML = f"""[[access.clients]]
name = "practice platform"
cn = "practice-platform-tls"
roles = ["sender", "operator"]
practices = {list(DEMO_PRACTICES)!r}
[[access.clients]]
name = "Laboratoriesvarportalen"
cn = "lsp-tls"
roles = ["receiver"]
destinations = ["lsp"]
[[access.clients]]
name = "MiBa"
cn = "miba-tls"
roles = ["receiver"]
destinations = ["miba"]
""".replace("'", '"')


def demo_access() -> AccessPolicy:
    """The demo's access rules, read from the very text its configuration file gets."""
    return access_policy(Path("."), tomllib.loads(DEMO_ACCESS_TOML)["access"])


def privacy_key(workdir: Path) -> Path:
    """`workdir/privacy.key`, made once (mode 0600, 32 random bytes in hex): the `[privacy]` key
    of every gateway, `labgw outbox` and `labgw history` run on the outbox in `workdir`."""
    path = workdir / "privacy.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_hex(32))
    return path


def service_config(
    pki: TestPki,
    workdir: Path,
    endpoints: dict[Destination, str],
    store: str | None = None,
    settings: GatewayConfig | None = None,
    retry: RetryPolicy | None = None,
    access: AccessPolicy | None = None,
) -> ServiceConfig:
    """The gateway as the demo and the end-to-end tests run it: test PKI, loopback receivers,
    the outbox and its privacy key in `workdir`."""
    settings = settings or default_config()
    destinations = {d: replace(r, endpoint=endpoints[d]) for d, r in settings.destinations.items()}
    tls = pki["practice-platform-tls"]
    signing = pki["practice-platform"]
    assert tls.cert_path and tls.key_path and signing.cert_path
    return ServiceConfig(
        gateway=replace(settings, destinations=destinations),
        identity=signing.cert_path,
        identity_key=signing.key_path,
        port=0,
        store=store or f"sqlite:///{workdir / 'outbox.db'}",
        tls=ServerTls(tls.cert_path, tls.key_path, pki.trust_path),
        transport=TransportConfig(
            trust=pki.trust_path, client_cert=tls.cert_path, client_key=tls.key_path, timeout=10.0
        ),
        retry=retry
        or RetryPolicy(
            base_delay=timedelta(milliseconds=200),
            max_delay=timedelta(seconds=5),
            lease=timedelta(seconds=30),
        ),
        access=access or demo_access(),
        privacy=KeySource(privacy_key(workdir)),
    )


def service_toml(
    pki: TestPki,
    port: int,
    store: str,
    endpoints: dict[str, str],
    key: Path,
    **retry: float,
) -> str:
    """A `labgw serve` configuration file for the test PKI (what the crash test and the delivery
    benchmark run as a separate process); `retry` sets [retry] values in seconds."""
    tls, signing = pki["practice-platform-tls"], pki["practice-platform"]
    retry_lines = "\n".join(f"{key} = {value}" for key, value in retry.items())
    return (
        f"""[service]
port = {port}
store = "{store}"
[service.tls]
cert = "{tls.cert_path}"
key = "{tls.key_path}"
client_ca = "{pki.trust_path}"
[signing]
identity = "{signing.cert_path}"
key = "{signing.key_path}"
[transport]
trust = "{pki.trust_path}"
client_cert = "{tls.cert_path}"
client_key = "{tls.key_path}"
timeout_seconds = 2
concurrency = 16
[retry]
{retry_lines}
[endpoints]
lsp = "{endpoints["lsp"]}"
miba = "{endpoints["miba"]}"
"""
        + DEMO_ACCESS_TOML
        + f'[privacy]\nkey_file = "{key}"\n'
    )


def client_ssl(pki: TestPki) -> ssl.SSLContext:
    """How a practice system talks to the gateway: the test trust store and a client certificate."""
    context = ssl.create_default_context(cafile=str(pki.trust_path))
    tls = pki["practice-platform-tls"]
    assert tls.cert_path and tls.key_path
    context.load_cert_chain(tls.cert_path, tls.key_path)
    return context


async def post_files(
    url: str, files: Sequence[Path], context: ssl.SSLContext
) -> list[tuple[Path, int, dict[str, object]]]:
    answers = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        for path in files:
            headers = {"Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream")}
            async with session.post(
                f"{url}/records", data=path.read_bytes(), headers=headers
            ) as response:
                answers.append((path, response.status, await response.json()))
    return answers


async def wait_until_settled(running: RunningService, timeout: float) -> list[DestinationTally]:
    deadline = time.monotonic() + timeout
    destinations = running.service.destinations
    while True:
        tallies = _tally(await running.service.store.counts(), destinations)
        if all(t.done for t in tallies) or time.monotonic() > deadline:
            return tallies
        await asyncio.sleep(0.1)


async def run_demo(
    workdir: Path, records: Sequence[Path], timeout: float = 120.0
) -> tuple[list[DestinationTally], list[tuple[Path, int, dict[str, object]]]]:
    workdir = workdir.resolve()
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    pki = build_test_pki(workdir / "pki", datetime.now(UTC))
    receivers: list[RunningReceiver] = []
    running: RunningService | None = None
    try:
        for role in (Destination.LSP, Destination.MIBA):
            config = receiver_config(pki, role, workdir, client_cert_required=True)
            receivers.append(await start_receiver(config))
        endpoints = {r.config.role: r.url for r in receivers}
        gateway = service_config(pki, workdir, endpoints)
        running = await start_service(gateway)
        # The same settings as a file, so `labgw outbox` and `labgw history` can look afterwards.
        named = {role.value: url for role, url in endpoints.items()}
        port = int(running.url.rsplit(":", 1)[1])
        toml = service_toml(pki, port, gateway.store, named, privacy_key(workdir))
        (workdir / "labgw.toml").write_text(toml, encoding="utf-8")
        answers = await post_files(running.url, records, client_ssl(pki))
        tallies = await wait_until_settled(running, timeout)
        return tallies, answers
    finally:
        if running is not None:
            await running.stop()
        for receiver in receivers:
            await receiver.stop()
