"""What one client or one connection may cost the service, and the exact answer past each limit.

The Health Hub exposes the gateway to every practice system in the country; a bug or an attacker
on one of them must not starve the others. Each limit is a `[limits]` setting, and each refusal
is an OperationOutcome with its own rule code, so a client can tell "send less" from "send
slower" from "try again later":

| limit | answer |
|---|---|
| body size | 413 SERVICE-BODY-TOO-LARGE |
| records per request | 413 SERVICE-TOO-MANY-RECORDS |
| request line or header size | 431 SERVICE-HEADER-TOO-LARGE |
| header count | 431 SERVICE-TOO-MANY-HEADERS |
| open connections | 503 SERVICE-BUSY (then closed) |
| requests per client | 429 SERVICE-RATE-LIMITED with Retry-After |
| headers not complete in time (slow-loris) | 408 SERVICE-HEADER-TIMEOUT (then closed) |
| body not complete in time | 408 SERVICE-BODY-TIMEOUT (then closed) |

aiohttp parses requests and answers its own parse errors before any middleware runs, and it
has no header deadline or connection cap; so the connection-level limits live in a protocol
wrapper (`ConnectionGuard`) and a `RequestHandler` whose error answers are ours.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler

from gateway.errors import ConfigError
from gateway.issues import IssueType
from gateway.service.answers import json_body, outcome

log = logging.getLogger("labgw.service")
LINGER_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Limits:
    """`[limits]`; the defaults let one Health Hub platform post a large practice's day in
    one request, and hundreds of small requests a second."""

    max_body_bytes: int = 32 * 1024 * 1024
    max_records: int = 10_000  # per request
    max_header_bytes: int = 8190  # the request line, and each header
    max_headers: int = 100
    max_connections: int = 512
    rate_per_second: float = 200.0  # requests per client, sustained
    rate_burst: int = 1_000  # requests per client at once
    header_seconds: float = 10.0  # from connecting, or a later request's first byte, to its headers
    body_seconds: float = 120.0  # to receive the whole body
    idle_seconds: float = 60.0  # a kept-alive connection with nothing to say

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"limits.{spec.name} must be a positive number, not {value!r}")
            if spec.type == "int" and not isinstance(value, int):
                raise ConfigError(f"limits.{spec.name} must be a whole number, not {value!r}")

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> Limits:
        known = {spec.name for spec in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"[limits]: unknown setting(s) {', '.join(unknown)}")
        return cls(**table)


class LimitExceeded(Exception):
    """A request went past a limit; `_errors` in the app answers it as an OperationOutcome."""

    def __init__(
        self,
        status: int,
        rule: str,
        message: str,
        code: IssueType = IssueType.TOO_COSTLY,
        retry_after: float | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status, self.rule, self.message, self.code = status, rule, message, code
        self.retry_after, self.close = retry_after, close


class RateLimiter:
    """Token buckets, one per client: `burst` requests at once, refilled at `per_second`.

    Memory stays bounded: past `max_clients` buckets, the full ones (clients that have been
    quiet long enough to have nothing to remember) are forgotten.
    """

    def __init__(
        self,
        per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.per_second, self.burst, self.clock = per_second, float(burst), clock
        self.max_clients = max_clients
        self.buckets: dict[str, tuple[float, float]] = {}  # client: (tokens, at)

    def take(self, client: str) -> float | None:
        """None when the request may go ahead; else the seconds until it could."""
        now = self.clock()
        tokens, at = self.buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_second)
        if tokens < 1.0:
            self.buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.per_second
        self.buckets[client] = (tokens - 1.0, now)
        if len(self.buckets) > self.max_clients:
            self._forget_full(now)
        return None

    def _forget_full(self, now: float) -> None:
        full = [
            client
            for client, (tokens, at) in self.buckets.items()
            if tokens + (now - at) * self.per_second >= self.burst
        ]
        for client in full:
            del self.buckets[client]


def raw_answer(status: int, rule: str, message: str, code: IssueType) -> bytes:
    """A whole HTTP/1.1 answer for the layers below aiohttp's request handling."""
    body = json_body(outcome(rule, message, code))
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Handler(RequestHandler):
    """aiohttp's request handler, with its answers to unparseable requests in our shape."""

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status != 400 or not isinstance(exc, BadHttpMessage):
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, LineTooLong):
            status, rule = 431, "SERVICE-HEADER-TOO-LARGE"
            text = f"the request line or a header is longer than {self.max_field_size} bytes"
        elif "Too many headers" in exc.message:
            status, rule = 431, "SERVICE-TOO-MANY-HEADERS"
            text = f"more than {self.max_headers} headers"
        else:
            rule, text = "SERVICE-HTTP-MALFORMED", "not a well-formed HTTP/1.1 request"
        # The parser's own message quotes the offending bytes: not for the log.
        log.warning("refused a request from %s: %s", request.remote, rule)
        answer = web.Response(
            body=json_body(outcome(rule, text, IssueType.TOO_COSTLY)),
            status=status,
            content_type="application/json",
            charset="utf-8",
        )
        answer.force_close()
        return answer


class _Guarded(asyncio.Protocol):
    """One connection: counted, held to the header deadline, then handed to aiohttp."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.inner: RequestHandler | None = None
        self.transport: asyncio.Transport | None = None
        self.deadline: asyncio.TimerHandle | None = None
        self.heard = False  # bytes arrived since the deadline was set
        self.idle = False  # between an answer and the next request's first byte

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        guard = self.guard
        if len(guard.live) >= guard.limits.max_connections:
            log.warning("refused a connection: %d open", len(guard.live))
            transport.write(guard.busy)
            transport.close()
            return
        guard.live[transport] = self
        self.header_clock()
        self.inner = guard.handler()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            if self.idle:  # a new request begins: its headers are now on the clock
                self.header_clock()
            self.heard = True
            self.inner.data_received(data)

    def eof_received(self) -> None:
        if self.inner is not None:
            self.inner.eof_received()  # aiohttp's answer is always None: close the transport

    def connection_lost(self, exc: BaseException | None) -> None:
        self.disarm()
        if self.inner is not None and self.transport is not None:
            self.guard.live.pop(self.transport, None)
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def header_clock(self) -> None:
        """The request's headers must be complete within header_seconds (from connecting, or
        from the first byte after an answer)."""
        self._clock(self.guard.limits.header_seconds, idle=False)

    def idle_clock(self) -> None:
        """After an answer the connection may wait idle_seconds for the next request."""
        self._clock(self.guard.limits.idle_seconds, idle=True)

    def _clock(self, seconds: float, idle: bool) -> None:
        self.disarm()
        self.heard, self.idle = False, idle
        self.deadline = asyncio.get_running_loop().call_later(seconds, self._expire)

    def disarm(self) -> None:
        self.idle = False
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expire(self) -> None:
        self.deadline = None
        if self.transport is None or self.transport.is_closing():
            return
        if self.heard:  # a request begun and never finished: say so; an idle one just closes
            log.warning("closed a connection: headers not complete in time")
            self.transport.write(self.guard.header_timeout)
        self.transport.close()


class ConnectionGuard:
    """The protocol factory of the listening socket (see the module docstring)."""

    def __init__(self, server: web.Server, limits: Limits) -> None:
        self.server, self.limits = server, limits
        self.live: dict[asyncio.BaseTransport, _Guarded] = {}
        self.busy = raw_answer(
            503,
            "SERVICE-BUSY",
            f"the gateway has {limits.max_connections} connections open; try again shortly",
            IssueType.THROTTLED,
        )
        self.header_timeout = raw_answer(
            408,
            "SERVICE-HEADER-TIMEOUT",
            f"the request headers did not arrive within {limits.header_seconds:g} s",
            IssueType.TIMEOUT,
        )

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)

    def handler(self) -> RequestHandler:
        return _Handler(
            self.server,
            loop=asyncio.get_running_loop(),
            keepalive_timeout=self.limits.idle_seconds,
            access_log=None,  # type: ignore[arg-type]  # aiohttp takes None: no access log
            max_line_size=self.limits.max_header_bytes,
            max_field_size=self.limits.max_header_bytes,
            max_headers=self.limits.max_headers,
            # A refused upload is drained this long, so its sender reads the answer rather than
            # a reset; aiohttp's 10 s would let a slow body hold the connection on.
            lingering_time=LINGER_SECONDS,
        )

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        guarded = self.live.get(transport) if transport is not None else None
        if guarded is not None:
            guarded.disarm()

    def request_finished(self, transport: asyncio.BaseTransport | None) -> None:
        guarded = self.live.get(transport) if transport is not None else None
        if guarded is not None:
            guarded.idle_clock()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections go through a `ConnectionGuard`."""

    def __init__(
        self,
        runner: web.AppRunner,
        guard: ConnectionGuard,
        host: str,
        port: int,
        ssl_context: Any = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self.guard, self.host, self.port = guard, host, port

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        self._server = await asyncio.get_running_loop().create_server(
            self.guard,
            self.host,
            self.port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=self.guard.limits.header_seconds if self._ssl_context else None,
            reuse_address=True,
        )


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
