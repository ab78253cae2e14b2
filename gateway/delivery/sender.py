"""The HTTPS client that puts sealed messages on the wire (DESIGN §6–§7).

One aiohttp session for the whole process: TLS with the pinned trust store, an optional client
certificate (mTLS), connection reuse, and timeouts on connect and on the whole exchange. The
answer is judged by the pure `judge`: a receipt, "taken" (2xx without one), a transient failure
(retry the same bytes later) or a refusal (no point in resending unchanged).
"""

from __future__ import annotations

import enum
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from gateway.issues import Issue, IssueType, Severity
from gateway.outbox.model import Envelope
from gateway.receipts.model import Receipt
from gateway.receipts.parse import fault_is_transient, parse_receipt

MAX_ANSWER_BYTES = 8 * 1024 * 1024  # a receipt is small; anything bigger is not one
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


class Verdict(enum.StrEnum):
    RECEIPT = "receipt"  # the answer holds a receipt (positive, negative or transient)
    DELIVERED = "delivered"  # 2xx without a receipt: it will come to POST /receipts
    TRANSIENT = "transient"  # no answer, 5xx, a transient fault: the same bytes again later
    REFUSED = "refused"  # the receiver refused the request itself: an operator must look


@dataclass(frozen=True, slots=True)
class SendResult:
    verdict: Verdict
    detail: str  # for the transition log: HTTP status and what was found
    receipt: Receipt | None = None
    issues: tuple[Issue, ...] = ()


@dataclass(frozen=True, slots=True)
class TransportConfig:
    trust: Path | None = None  # CA bundle the receivers' TLS certificates chain to
    client_cert: Path | None = None  # PEM chain for mTLS
    client_key: Path | None = None
    timeout: float = 30.0  # the whole exchange, seconds
    connect_timeout: float = 10.0
    concurrency: int = 8  # requests in flight per destination

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.connect_timeout <= 0 or self.concurrency < 1:
            raise ValueError("transport timeouts must be positive and concurrency ≥ 1")

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.trust) if self.trust else None)
        if self.client_cert is not None:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def _issue(rule: str, message: str) -> Issue:
    return Issue(Severity.ERROR, IssueType.EXCEPTION, rule, message)


def judge(status: int, body: bytes) -> SendResult:
    """What an HTTP answer means for the message (pure; the tests drive it directly)."""
    found = parse_receipt(body) if body.strip() else None
    if isinstance(found, Receipt):
        return SendResult(Verdict.RECEIPT, f"HTTP {status}, {found.kind} {found.outcome}", found)
    issues = found or ()
    faults = [issue for issue in issues if issue.rule == "RECEIPT-FAULT"]
    if faults:
        transient = all(fault_is_transient(_fault_code(issue)) for issue in faults)
        verdict = Verdict.TRANSIENT if transient else Verdict.REFUSED
        return SendResult(
            verdict, f"HTTP {status}, SOAP fault: {faults[0].message}", None, tuple(faults)
        )
    if 200 <= status < 300:
        if body.strip():
            # A 2xx whose body is not a receipt: keep what was wrong, wait for the receipt.
            return SendResult(
                Verdict.DELIVERED, f"HTTP {status}, no receipt in the answer", None, tuple(issues)
            )
        return SendResult(Verdict.DELIVERED, f"HTTP {status}")
    if status >= 500 or status in _TRANSIENT_STATUSES:
        return SendResult(Verdict.TRANSIENT, f"HTTP {status}")
    text = body[:300].decode("utf-8", "replace")
    return SendResult(
        Verdict.REFUSED,
        f"HTTP {status}",
        None,
        (_issue("DELIVERY-REFUSED", f"the receiver answered HTTP {status}: {text}"),),
    )


def _fault_code(issue: Issue) -> str:
    """The medcom:FaultCode a RECEIPT-FAULT issue names in its location."""
    return issue.location or ""


class Sender:
    """POSTs envelopes; one instance, one session, per process."""

    def __init__(self, config: TransportConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(ssl=self.config.ssl_context(), limit=0)
        timeout = aiohttp.ClientTimeout(
            total=self.config.timeout, connect=self.config.connect_timeout
        )
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, endpoint: str, envelope: Envelope) -> SendResult:
        if self._session is None:
            raise RuntimeError("Sender.start() first")
        headers = {"Content-Type": envelope.content_type}
        if envelope.content_type.startswith("text/xml"):
            headers["SOAPAction"] = '"urn:labgw:deliver"'
        try:
            async with self._session.post(endpoint, data=envelope.wire, headers=headers) as answer:
                body = await answer.content.read(MAX_ANSWER_BYTES + 1)
                if len(body) > MAX_ANSWER_BYTES:
                    return SendResult(Verdict.TRANSIENT, f"HTTP {answer.status}, answer too large")
                return judge(answer.status, body)
        except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            return SendResult(Verdict.TRANSIENT, f"{type(exc).__name__}: {exc}"[:300])
