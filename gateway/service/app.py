"""The HTTP API of `labgw serve` (DESIGN §10): a thin async shell around the pure pipeline and
the store. Handlers parse, call, and answer; every error answer is an OperationOutcome with a
stable rule code, and no answer or log line carries a record's content (CPR numbers)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from gateway.audit import history_json, message_json, message_trail, record_history, summary_json
from gateway.clock import Clock
from gateway.delivery.receipts_in import take_receipt
from gateway.delivery.worker import DeliveryWorker
from gateway.errors import LabgwError
from gateway.intake import IntakeBatch, read_records
from gateway.issues import IssueType
from gateway.outbox.model import OutboxMessage, RecordVersion
from gateway.outbox.states import RetryPolicy
from gateway.outbox.store import OutboxStore
from gateway.pipeline import Translator
from gateway.privacy import Pseudonyms
from gateway.receipts import rules
from gateway.receipts.model import Receipt
from gateway.receipts.parse import parse_receipt
from gateway.report import operation_outcome
from gateway.service import metrics
from gateway.service.accept import accept_batch
from gateway.service.access import AccessPolicy, Client, Role
from gateway.service.answers import json_answer, problem
from gateway.service.limits import (
    ConnectionGuard,
    LimitExceeded,
    Limits,
    RateLimiter,
    retry_after,
)

log = logging.getLogger("labgw.service")
T = TypeVar("T")

_FORMATS = {
    "application/json": "json",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "text/csv": "csv",
}
# What no stored id holds and the stores cannot look up: PostgreSQL text takes no NUL, and UTF-8
# no lone surrogate (a JSON "\ud800" escape).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(slots=True)
class Service:
    store: OutboxStore
    translator: Translator
    clock: Clock
    policy: RetryPolicy
    destinations: list[str]
    pseudonyms: Pseudonyms  # patients in the audit trail
    access: AccessPolicy = field(default_factory=AccessPolicy)
    limits: Limits = field(default_factory=Limits)
    worker: DeliveryWorker | None = None
    guard: ConnectionGuard | None = None  # the listening site's, when it has one
    records: Counter[str] = field(default_factory=Counter)
    receipts: Counter[str] = field(default_factory=Counter)
    # Translation is CPU work on shared lxml schemas: one thread, off the event loop.
    cpu: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "labgw-cpu"))

    rate: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.rate = RateLimiter(self.limits.rate_per_second, self.limits.rate_burst)

    async def offload(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.cpu, partial(work, *args))


KEY: web.AppKey[Service] = web.AppKey("service", Service)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLIENT: web.RequestKey[Client] = web.RequestKey("client", Client)  # who is calling


def _client(request: web.Request) -> Client | None:
    """Who is calling: the verified client certificate, or an operator's bearer token."""
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    subject = peer.get("subject") if isinstance(peer, dict) else None
    return request.app[KEY].access.identify(subject, request.headers.get("Authorization"))


@web.middleware
async def _throttle(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Per-client request rate (by identity, else by address), and the connection's header
    deadline stopped while a request is handled and restarted for the next one. The caller
    is identified here, once, for `_access` and the handlers too (`request[CLIENT]`)."""
    service = request.app[KEY]
    guard = service.guard
    if guard is not None:
        guard.request_started(request.transport)
    try:
        client = _client(request)
        if client is not None:
            request[CLIENT] = client
        wait = service.rate.take(client.name if client else f"address {request.remote}")
        if wait is not None:
            log.warning("refused %s %s: over the request rate", request.method, request.path)
            raise LimitExceeded(
                429,
                "SERVICE-RATE-LIMITED",
                f"more than {service.limits.rate_per_second:g} requests a second "
                f"(bursts of {service.limits.rate_burst}); retry after the Retry-After seconds",
                IssueType.THROTTLED,
                retry_after=wait,
            )
        return await handler(request)
    finally:
        if guard is not None:
            guard.request_finished(request.transport)


async def _body(request: web.Request) -> bytes:
    """The whole body within body_seconds (a slow sender holds a worker slot, not forever)."""
    limits = request.app[KEY].limits
    try:
        async with asyncio.timeout(limits.body_seconds):
            return await request.read()
    except TimeoutError:
        log.warning("refused %s %s: body not complete in time", request.method, request.path)
        raise LimitExceeded(
            408,
            "SERVICE-BODY-TIMEOUT",
            f"the request body did not arrive within {limits.body_seconds:g} s",
            IssueType.TIMEOUT,
            close=True,
        ) from None


@web.middleware
async def _access(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """401 without an identity, 403 without the route's role; both logged, without content."""
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else request.path
    method = "GET" if request.method == "HEAD" else request.method
    needed = _ROLES.get((method, route))
    if needed is None:
        return await handler(request)
    client = request.get(CLIENT)  # identified by _throttle
    if client is None:
        log.warning("refused %s %s: no client certificate or token it knows", method, route)
        answer = problem(
            401,
            "SERVICE-UNAUTHENTICATED",
            "a client certificate from the configured trust store (or an operator token) is needed",
            IssueType.SECURITY,
        )
        answer.headers["WWW-Authenticate"] = 'Bearer realm="labgw"'
        return answer
    if needed not in client.roles:
        log.warning("refused %s %s for %s: needs role %s", method, route, client.name, needed)
        return problem(
            403,
            "SERVICE-FORBIDDEN",
            f"{client.name} may not {method} {route}: it needs the {needed} role",
            IssueType.SECURITY,
        )
    return await handler(request)


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every failure becomes an OperationOutcome; a defect never shows a stack trace."""
    try:
        return await handler(request)
    except LimitExceeded as exc:
        answer = problem(exc.status, exc.rule, exc.message, exc.code)
        if exc.retry_after is not None:
            answer.headers["Retry-After"] = retry_after(exc.retry_after)
        if exc.close:
            answer.force_close()
        return answer
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[KEY].limits.max_body_bytes
        return problem(
            413,
            "SERVICE-BODY-TOO-LARGE",
            f"the body is larger than the {limit} bytes allowed (limits.max_body_bytes)",
            IssueType.TOO_COSTLY,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        answer = problem(exc.status, "SERVICE-HTTP", exc.reason)
        if "Allow" in exc.headers:  # RFC 9110: a 405 names the methods the resource takes
            answer.headers["Allow"] = exc.headers["Allow"]
        return answer
    except LabgwError as exc:
        return problem(
            exc.http_status, "SERVICE-UNAVAILABLE" if exc.retryable else "SERVICE-ERROR", str(exc)
        )
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return problem(
            500,
            "SERVICE-INTERNAL",
            "labgw failed to handle the request; it is logged",
            IssueType.EXCEPTION,
        )


async def post_records(request: web.Request) -> web.Response:
    """Records in; answered only after the records and their messages are committed."""
    service = request.app[KEY]
    fmt = _FORMATS.get(request.content_type)
    if fmt is None and request.content_type not in ("", "application/octet-stream", "text/plain"):
        return problem(
            415,
            "SERVICE-MEDIA-TYPE",
            f"records come as {', '.join(_FORMATS)}; got {request.content_type}",
            IssueType.NOT_SUPPORTED,
        )
    body = await _body(request)
    now = service.clock.now()
    batch: IntakeBatch = await service.offload(
        partial(read_records, body, "POST /records", now=now, fmt=fmt)
    )
    if len(batch.items) > service.limits.max_records:
        raise LimitExceeded(
            413,
            "SERVICE-TOO-MANY-RECORDS",
            f"{len(batch.items)} records in one request; at most {service.limits.max_records} "
            "(limits.max_records): split the batch; nothing was accepted",
        )
    refused = _not_registered(request[CLIENT], batch)
    if refused:
        return refused
    answer = await accept_batch(service.store, service.translator, batch, now, service.offload)
    if service.worker is not None:
        service.worker.wake()
    counts = answer.counts()
    service.records.update({k: v for k, v in counts.items() if v})
    unreadable = not batch.items and any(issue.blocking for issue in batch.file_issues)
    status = 400 if unreadable else 422 if counts["rejected"] else 200
    return json_answer(answer.to_dict(), status)


def _not_registered(client: Client, batch: IntakeBatch) -> web.Response | None:
    """403 when any record is for a practice the sender is not registered for; nothing is
    accepted then (issue 9: a sender submits only for its own practices)."""
    foreign = [
        item.record.key
        for item in batch.items
        if item.record is not None
        and not client.may_send_for(item.record.practice.sor, item.record.practice.ydernummer)
    ]
    if not foreign:
        return None
    log.warning(
        "refused POST /records for %s: %d records of other practices", client.name, len(foreign)
    )
    shown = ", ".join(foreign[:10]) + (" …" if len(foreign) > 10 else "")
    return problem(
        403,
        "SERVICE-PRACTICE-FORBIDDEN",
        f"{client.name} is not registered for the practice of {len(foreign)} record(s): {shown}; "
        "nothing was accepted",
        IssueType.SECURITY,
    )


def _version_dict(version: RecordVersion, messages: list[OutboxMessage]) -> dict[str, object]:
    return {
        "record": version.key,
        "version": version.version,
        "outcome": version.outcome,
        "digest": version.digest,
        "issues": [issue.to_dict() for issue in version.issues],
        "messages": [summary_json(m) for m in messages],
    }


def _not_found(what: str, ident: str) -> web.Response:
    return problem(404, "SERVICE-NOT-FOUND", f"no {what} {ident}", IssueType.NOT_FOUND)


async def get_record(request: web.Request) -> web.Response:
    service = request.app[KEY]
    record_id = request.match_info["record_id"]
    unstorable = _UNSTORABLE.search(record_id)
    versions = [] if unstorable else await service.store.record_versions(record_id)
    if not versions:
        return _not_found("record", record_id)
    out = []
    for version in versions:
        out.append(_version_dict(version, await service.store.messages(record=version.key)))
    return json_answer({"recordId": record_id, "versions": out})


async def get_record_history(request: web.Request) -> web.Response:
    """Every version, message, envelope, receipt and transition of a record (gateway.audit)."""
    service = request.app[KEY]
    record_id = request.match_info["record_id"]
    unstorable = _UNSTORABLE.search(record_id)
    history = (
        None if unstorable else await record_history(service.store, record_id, service.pseudonyms)
    )
    if history is None:
        return _not_found("record", record_id)
    return json_answer(history_json(history))


async def get_message(request: web.Request) -> web.Response:
    service = request.app[KEY]
    message_id = request.match_info["message_id"]
    unstorable = _UNSTORABLE.search(message_id)
    message = None if unstorable else await service.store.message(message_id)
    if message is None:
        return _not_found("message", message_id)
    return json_answer(message_json(await message_trail(service.store, message)))


async def post_receipts(request: web.Request) -> web.Response:
    """An asynchronous receipt (XCTL03/XCTL02 or FHIR Acknowledgement) from a receiver."""
    service = request.app[KEY]
    found = parse_receipt(await _body(request))
    if isinstance(found, Receipt) and _UNSTORABLE.search(found.message_id + found.receipt_id):
        text = "an identifier in the receipt holds a NUL or a lone surrogate"
        found = (rules.fatal(IssueType.VALUE, rules.SYNTAX, text),)
    if not isinstance(found, Receipt):
        return json_answer(operation_outcome(found), 400)
    client = request[CLIENT]
    message = await service.store.message(found.message_id)
    if message is not None and message.destination not in client.destinations:
        log.warning(
            "refused a receipt from %s for a message to %s", client.name, message.destination
        )
        return problem(
            403,
            "SERVICE-RECEIPT-FORBIDDEN",
            f"{client.name} may post receipts for messages to "
            f"{', '.join(sorted(client.destinations))}, not to {message.destination}",
            IssueType.SECURITY,
        )
    taken = await take_receipt(service.store, found, "async", service.clock.now(), service.policy)
    service.receipts[taken.value] += 1
    return json_answer({"message": found.message_id, "result": taken.value})


async def get_health(request: web.Request) -> web.Response:
    service = request.app[KEY]
    try:
        await service.store.counts()
    except Exception as exc:  # the store is what health means here
        return json_answer({"status": "unavailable", "store": type(exc).__name__}, 503)
    return json_answer({"status": "ok"})


async def get_metrics(request: web.Request) -> web.Response:
    service = request.app[KEY]
    sends = service.worker.sent if service.worker is not None else Counter()
    text = metrics.render(
        await service.store.counts(), sends, service.records, service.receipts, service.destinations
    )
    return web.Response(
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Prometheus-Format": "0.0.4"},
    )


# Every route, its handler and the role it needs (None: anyone; DESIGN §10, issue 9). The
# router and the access check both read this one table.
ROUTES: tuple[tuple[str, str, Handler, Role | None], ...] = (
    ("POST", "/records", post_records, Role.SENDER),
    ("GET", "/records/{record_id}", get_record, Role.OPERATOR),
    ("GET", "/records/{record_id}/history", get_record_history, Role.OPERATOR),
    ("GET", "/messages/{message_id}", get_message, Role.OPERATOR),
    ("POST", "/receipts", post_receipts, Role.RECEIVER),
    ("GET", "/health", get_health, None),
    ("GET", "/metrics", get_metrics, Role.OPERATOR),
)
_ROLES = {(method, path): role for method, path, _, role in ROUTES}


def make_app(service: Service) -> web.Application:
    app = web.Application(
        client_max_size=service.limits.max_body_bytes, middlewares=[_errors, _throttle, _access]
    )
    app[KEY] = service
    app.add_routes([web.route(method, path, handler) for method, path, handler, _ in ROUTES])
    return app
