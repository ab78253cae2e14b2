"""How the service answers: JSON bodies, and every refusal as an OperationOutcome with a rule
code. The API handlers and the connection limits (which answer before any handler runs) share
it, so a client reads one shape of error whichever layer refused it."""

from __future__ import annotations

import json

from aiohttp import web

from gateway.issues import Issue, IssueType, Severity
from gateway.privacy import redact_json
from gateway.report import operation_outcome


def json_body(data: object) -> bytes:
    # Every answer is redacted: Issues quote inputs and receivers, ids are what clients chose.
    text = json.dumps(redact_json(data), ensure_ascii=False, indent=1)
    # A lone surrogate echoed from the request goes back as the JSON escape it came as.
    return text.encode("utf-8", "backslashreplace")


def json_answer(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=json_body(data), status=status, content_type="application/json", charset="utf-8"
    )


def outcome(rule: str, message: str, code: IssueType = IssueType.INVALID) -> dict[str, object]:
    return operation_outcome([Issue(Severity.ERROR, code, rule, message)])


def problem(
    status: int, rule: str, message: str, code: IssueType = IssueType.INVALID
) -> web.Response:
    return json_answer(outcome(rule, message, code), status)
