"""The receiver on the wire: an aiohttp server on HTTPS, with fault injection at the door.

Routes: `POST /` (a signed message: `text/xml` DGWS envelope or `application/fhir+json`
Bundle), `GET /received`, `GET /received/{message_id}`, `GET /health`. Faults act on `POST /`
only, before (`drop`, `fail_5xx`) or after (`drop_after_store`, `delay`) the receiver's own
work. One log line per POST: the message id, the outcome and whether it was a duplicate, never
payload content (a CPR number must not reach a log).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

from gateway.clock import Clock, RandomIds, SystemClock
from gateway.privacy import install_log_redaction
from gateway.receiver.answers import Receipts, plain
from gateway.receiver.arrival import Door
from gateway.receiver.config import Faults, ReceiptMode, ReceiverConfig
from gateway.receiver.delivery import ReceiptPoster
from gateway.receiver.judge import Judge
from gateway.receiver.model import FHIR_TYPE, XML_TYPE, Answer
from gateway.receiver.service import Handled, Receiver, Syntax
from gateway.receiver.tls import client_context, server_context
from gateway.security import jws
from gateway.security.dgws_verify import VerifyPolicy
from gateway.security.permissions import SecretFile, check_secret_files, holding_key
from gateway.security.trust import TrustStore

log = logging.getLogger("labgw.receiver")

MAX_BODY = jws.MAX_BYTES  # the largest message either syntax may be (FHIR: 20 MiB)
BACKLOG = 1024  # connections waiting to be accepted: a burst of senders is not turned away
SYNTAXES = {"text/xml": Syntax.XML, "application/fhir+json": Syntax.FHIR}
_LISTEN_ANY = ("", "0.0.0.0", "::")


class _Dropped(asyncio.CancelledError):
    """Raised by a handler to close the connection with no answer at all.

    aiohttp treats a handler's CancelledError as the client having gone: it closes the
    transport and writes nothing (aio-libs/aiohttp#3495).
    """


@dataclass(slots=True)
class RunningReceiver:
    """A started receiver: where it listens, its live faults, and how to stop it."""

    config: ReceiverConfig
    port: int
    faults: Faults
    _runner: web.AppRunner
    _receiver: Receiver

    @property
    def url(self) -> str:
        host = "localhost" if self.config.host in _LISTEN_ANY else self.config.host
        return f"https://{host}:{self.port}/"

    async def stop(self) -> None:
        """Stop listening, finish the requests in flight, close the store."""
        await self._runner.cleanup()
        await self._receiver.close()


async def start_receiver(config: ReceiverConfig, *, clock: Clock | None = None) -> RunningReceiver:
    """Start a receiver on `config.host`/`config.port` (0: any free port) and return at once.

    Raises:
        ConfigError: unreadable trust bundle, CRL or TLS files; a key file or the store that
            others may read (`gateway.security.permissions`).
        InputError: a file cannot be read.
        OSError: the port cannot be bound.
    """
    install_log_redaction()  # payloads carry CPR numbers; no log line may
    check_secret_files(_key_files(config))
    trust = TrustStore.from_files(config.trust, config.crls)
    ssl_context = server_context(
        config.tls_cert, config.tls_key, config.client_ca, config.client_cert_required
    )
    receiver = Receiver(
        Door(trust, VerifyPolicy(allow_sha1=config.allow_sha1)),
        Judge(config.accepts, config.role.value),
        Receipts(config.receipts, RandomIds()),
        config.faults,
        clock or SystemClock(),
    )
    runner = web.AppRunner(_application(receiver, config), access_log=None)
    try:
        await receiver.open(config.db_path, _poster(config, receiver))
        await runner.setup()
        await web.TCPSite(
            runner, config.host, config.port, ssl_context=ssl_context, backlog=BACKLOG
        ).start()
    except BaseException:
        if runner.server is not None:  # set up: stop it before its receiver
            await runner.cleanup()
        await receiver.close()
        raise
    port = int(runner.addresses[0][1])
    log.info("%s receiver listening on %s port %d", config.role, config.host, port)
    return RunningReceiver(config, port, config.faults, runner, receiver)


def _key_files(config: ReceiverConfig) -> list[SecretFile]:
    """The TLS server key and, when receipts are posted with their own, that one."""
    files = [("tls_key", config.tls_key)]
    if config.receipts is ReceiptMode.ASYNC and config.receipts_cert is not None:
        files.append(
            holding_key(
                ("receipts_cert", config.receipts_cert), ("receipts_key", config.receipts_key)
            )
        )
    return files


def _poster(config: ReceiverConfig, receiver: Receiver) -> ReceiptPoster | None:
    """Async mode: the background poster of receipts, with the receiver's client certificate."""
    if config.receipts is ReceiptMode.SYNC or not config.receipts_to:
        return None
    return ReceiptPoster(
        config.receipts_to,
        client_context(*config.receipts_client, config.receipts_ca),
        receiver.record_post,
        first=config.retry_first,
        cap=config.retry_cap,
    )


def _application(receiver: Receiver, config: ReceiverConfig) -> web.Application:
    routes = _Routes(receiver, config)
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/", routes.post)
    app.router.add_get("/received", routes.listing)
    app.router.add_get("/received/{message_id}", routes.payload)
    app.router.add_get("/health", routes.health)
    return app


class _Routes:
    def __init__(self, receiver: Receiver, config: ReceiverConfig) -> None:
        self.receiver = receiver
        self.config = config
        self.faults = config.faults

    async def post(self, request: web.Request) -> web.StreamResponse:
        syntax = SYNTAXES.get(request.content_type)
        if syntax is None:
            expected = " or ".join(SYNTAXES)
            return _response(plain(415, f"Content-Type {request.content_type!r}; {expected}"))
        body = await request.read()
        if self.faults.take("drop"):
            self._log(syntax, None, "dropped (fault drop)")
            raise _Dropped
        if self.faults.take("fail_5xx"):
            handled = Handled(plain(500, "fault injection: fail_5xx"), outcome="fault fail_5xx")
        else:
            lose = self.faults.take("drop_after_store")
            handled = await self.receiver.handle(syntax, body)
            if lose:
                self._log(syntax, handled, "dropped after store (fault drop_after_store)")
                raise _Dropped
        if self.faults.delay > 0:
            await asyncio.sleep(self.faults.delay)
        self._log(syntax, handled, f"status={handled.answer.status}")
        return _response(handled.answer)

    async def listing(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(await self.receiver.listing())

    async def payload(self, request: web.Request) -> web.StreamResponse:
        found = await self.receiver.payload(request.match_info["message_id"])
        if found is None:
            raise web.HTTPNotFound(text="no message with that id")
        kind, payload = found
        return _response(Answer(200, FHIR_TYPE if kind == "FHIR" else XML_TYPE, payload))

    async def health(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok", "role": self.config.role.value})

    def _log(self, syntax: Syntax, handled: Handled | None, result: str) -> None:
        """The one line per POST: ids, outcome and duplicate, never payload content."""
        facts = (handled.message_id, handled.outcome, handled.duplicate) if handled else ("-",) * 3
        log.info(
            "%s %s message=%s outcome=%s duplicate=%s %s", self.config.role, syntax, *facts, result
        )


def _response(answer: Answer) -> web.Response:
    headers = {"Content-Type": answer.content_type} if answer.content_type else None
    return web.Response(status=answer.status, body=answer.body, headers=headers)
