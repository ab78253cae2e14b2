"""The HTTP API of `labgw serve` (DESIGN §10): a thin async shell around the pure pipeline and
the store. Handlers parse, call, and answer; every error answer is an OperationOutcome with a
stable rule code, and no answer or log line carries a record's content (CPR numbers)."""

from __future__ import annotations

import asyncio
import json
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
from gateway.issues import Issue, IssueType, Severity
from gateway.outbox.model import OutboxMessage, RecordVersion
from gateway.outbox.states import RetryPolicy
from gateway.outbox.store import OutboxStore
from gateway.pipeline import Translator
from gateway.privacy import Pseudonyms, redact_json
from gateway.receipts import rules
from gateway.receipts.model import Receipt
from gateway.receipts.parse import parse_receipt
from gateway.report import operation_outcome
from gateway.service import metrics
from gateway.service.accept import accept_batch
from gateway.service.access import AccessPolicy, Client, Role

log = logging.getLogger("labgw.service")
T = TypeVar("T")

MAX_BODY = (
    32 * 1024 * 1024
)  # a day's extract of a large practice fits; issue 9 makes it configurable
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
    worker: DeliveryWorker | None = None
    records: Counter[str] = field(default_factory=Counter)
    receipts: Counter[str] = field(default_factory=Counter)
    # Translation is CPU work on shared lxml schemas: one thread, off the event loop.
    cpu: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "labgw-cpu"))

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
    client = _client(request)
    if client is None:
        log.warning("refused %s %s: no client certificate or token it knows", method, route)
        answer = _problem(
            401,
            "SERVICE-UNAUTHENTICATED",
            "a client certificate from the configured trust store (or an operator token) is needed",
            IssueType.SECURITY,
        )
        answer.headers["WWW-Authenticate"] = 'Bearer realm="labgw"'
        return answer
    if needed not in client.roles:
        log.warning("refused %s %s for %s: needs role %s", method, route, client.name, needed)
        return _problem(
            403,
            "SERVICE-FORBIDDEN",
            f"{client.name} may not {method} {route}: it needs the {needed} role",
            IssueType.SECURITY,
        )
    request[CLIENT] = client
    return await handler(request)


def _problem(
    status: int, rule: str, message: str, code: IssueType = IssueType.INVALID
) -> web.Response:
    issue = Issue(Severity.ERROR, code, rule, message)
    return _json(operation_outcome([issue]), status)


def _json(data: object, status: int = 200) -> web.Response:
    # Every answer is redacted: Issues quote inputs and receivers, ids are what clients chose.
    text = json.dumps(redact_json(data), ensure_ascii=False, indent=1)
    # A lone surrogate echoed from the request goes back as the JSON escape it came as.
    body = text.encode("utf-8", "backslashreplace")
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8")


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every failure becomes an OperationOutcome; a defect never shows a stack trace."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        answer = _problem(exc.status, "SERVICE-HTTP", exc.reason)
        if "Allow" in exc.headers:  # RFC 9110: a 405 names the methods the resource takes
            answer.headers["Allow"] = exc.headers["Allow"]
        return answer
    except LabgwError as exc:
        return _problem(
            exc.http_status, "SERVICE-UNAVAILABLE" if exc.retryable else "SERVICE-ERROR", str(exc)
        )
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return _problem(
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
        return _problem(
            415,
            "SERVICE-MEDIA-TYPE",
            f"records come as {', '.join(_FORMATS)}; got {request.content_type}",
            IssueType.NOT_SUPPORTED,
        )
    body = await request.read()
    now = service.clock.now()
    batch: IntakeBatch = await service.offload(
        partial(read_records, body, "POST /records", now=now, fmt=fmt)
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
    return _json(answer.to_dict(), status)


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
    return _problem(
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
    return _problem(404, "SERVICE-NOT-FOUND", f"no {what} {ident}", IssueType.NOT_FOUND)


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
    return _json({"recordId": record_id, "versions": out})


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
    return _json(history_json(history))


async def get_message(request: web.Request) -> web.Response:
    service = request.app[KEY]
    message_id = request.match_info["message_id"]
    unstorable = _UNSTORABLE.search(message_id)
    message = None if unstorable else await service.store.message(message_id)
    if message is None:
        return _not_found("message", message_id)
    return _json(message_json(await message_trail(service.store, message)))


async def post_receipts(request: web.Request) -> web.Response:
    """An asynchronous receipt (XCTL03/XCTL02 or FHIR Acknowledgement) from a receiver."""
    service = request.app[KEY]
    body = await request.read()
    found = parse_receipt(body)
    if isinstance(found, Receipt) and _UNSTORABLE.search(found.message_id + found.receipt_id):
        text = "an identifier in the receipt holds a NUL or a lone surrogate"
        found = (rules.fatal(IssueType.VALUE, rules.SYNTAX, text),)
    if not isinstance(found, Receipt):
        return _json(operation_outcome(found), 400)
    client = request[CLIENT]
    message = await service.store.message(found.message_id)
    if message is not None and message.destination not in client.destinations:
        log.warning(
            "refused a receipt from %s for a message to %s", client.name, message.destination
        )
        return _problem(
            403,
            "SERVICE-RECEIPT-FORBIDDEN",
            f"{client.name} may post receipts for messages to "
            f"{', '.join(sorted(client.destinations))}, not to {message.destination}",
            IssueType.SECURITY,
        )
    taken = await take_receipt(service.store, found, "async", service.clock.now(), service.policy)
    service.receipts[taken.value] += 1
    return _json({"message": found.message_id, "result": taken.value})


async def get_health(request: web.Request) -> web.Response:
    service = request.app[KEY]
    try:
        await service.store.counts()
    except Exception as exc:  # the store is what health means here
        return _json({"status": "unavailable", "store": type(exc).__name__}, 503)
    return _json({"status": "ok"})


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


def make_app(service: Service, max_body: int = MAX_BODY) -> web.Application:
    app = web.Application(client_max_size=max_body, middlewares=[_errors, _access])
    app[KEY] = service
    app.add_routes([web.route(method, path, handler) for method, path, handler, _ in ROUTES])
    return app
