"""Starting and stopping the gateway service: store, keys, pipeline, API and workers together.

Used by `labgw serve`, `labgw demo` and the tests, so all three run the very same assembly.
Keys and certificates load once here; a bad key, trust file or store, or a key file or store
others may read (`gateway.security.permissions`), stops the start with a ConfigError before
anything listens.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass

from aiohttp import web

from gateway.clock import Clock, RandomIds, SystemClock
from gateway.delivery.seal import Sealer
from gateway.delivery.sender import Sender
from gateway.delivery.worker import DeliveryWorker
from gateway.mapping.tables import default_mappings
from gateway.outbox.cipher import BodyCipher
from gateway.outbox.open import open_store
from gateway.pipeline import MessageValidator, Translator
from gateway.privacy import Pseudonyms, install_log_redaction
from gateway.security.keys import load_identity
from gateway.security.permissions import check_secret_files
from gateway.service import keyfiles
from gateway.service.app import Service, make_app
from gateway.service.config import ServerTls, ServiceConfig
from gateway.service.limits import ConnectionGuard, GuardedSite
from gateway.xml.validate import XmlValidator

log = logging.getLogger("labgw.service")


def server_ssl(tls: ServerTls) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert, tls.key)
    if tls.client_ca is not None:
        context.load_verify_locations(tls.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED if tls.client_cert_required else ssl.CERT_OPTIONAL
    return context


@dataclass(slots=True)
class RunningService:
    service: Service
    runner: web.AppRunner
    sender: Sender
    url: str
    stopping: asyncio.Event
    workers: asyncio.Task[None] | None

    async def stop(self) -> None:
        """Stop taking requests, let sends in flight finish, then close the store."""
        self.stopping.set()
        await self.runner.cleanup()
        if self.workers is not None:
            await self.workers
        await self.sender.close()
        await self.service.store.close()
        self.service.cpu.shutdown(wait=True)


def _fhir_validator(config: ServiceConfig) -> MessageValidator | None:
    if not any(r.format == "fhir" for r in config.gateway.destinations.values()):
        return None
    from gateway.fhir.validate import FhirValidator  # slow to build: only when needed

    return FhirValidator()


async def start_service(config: ServiceConfig, clock: Clock | None = None) -> RunningService:
    install_log_redaction()  # before anything can log: no CPR number reaches a log line
    clock = clock or SystemClock()
    check_secret_files(keyfiles.configured(config))  # before any key is read
    key = config.privacy.require()
    pseudonyms = Pseudonyms(key)
    identity = load_identity(config.identity, config.identity_key, config.password)
    sealer = Sealer(identity)
    store = open_store(config.store, BodyCipher(key))
    await store.setup()
    translator = Translator(
        config.gateway,
        default_mappings(),
        XmlValidator(),
        clock,
        RandomIds(),
        _fhir_validator(config),
    )
    sender = Sender(config.transport)
    await sender.start()
    worker = (
        DeliveryWorker(
            store,
            sealer,
            sender,
            config.endpoints,
            config.retry,
            clock,
            config.name,
            config.transport.concurrency,
        )
        if config.workers
        else None
    )
    service = Service(
        store,
        translator,
        clock,
        config.retry,
        sorted(config.endpoints),
        pseudonyms,
        config.access,
        config.limits,
        worker,
    )
    runner = web.AppRunner(make_app(service), access_log=None)
    await runner.setup()
    assert runner.server is not None  # set up above
    service.guard = ConnectionGuard(runner.server, config.limits)
    context = server_ssl(config.tls) if config.tls else None
    site = GuardedSite(runner, service.guard, config.host, config.port, context)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"{'https' if context else 'http'}://{host}:{port}"
    stopping = asyncio.Event()
    workers = asyncio.create_task(worker.run(stopping)) if worker is not None else None
    log.info("labgw serving on %s (store %s)", url, config.store.split("?")[0])
    return RunningService(service, runner, sender, url, stopping, workers)
