"""Each limit of the service (issue 9), over real TLS on loopback with raw sockets, so the exact
bytes of each answer are what is checked: its status, its rule code, its headers, and that the
connection is closed where the answer says so. After each refusal the gateway still serves."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.pki import TestPki
from gateway.service.limits import LINGER_SECONDS, Limits, RateLimiter
from tests.delivery_harness import Chain, lsp_record, ndjson, start_chain, start_gateway_for
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)

PLATFORM = "practice-platform-tls"
HEADER_TIMEOUT = (408, "SERVICE-HEADER-TIMEOUT", True)  # status, rule, connection closed


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    closed: bool  # the server closed the connection after this answer

    @property
    def rule(self) -> str:
        return str(self.body["issue"][0]["details"]["coding"][0]["code"])


def _context(pki: TestPki, certificate: str = PLATFORM) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.trust_path))
    entry = pki[certificate]
    assert entry.cert_path and entry.key_path
    context.load_cert_chain(entry.cert_path, entry.key_path)
    return context


async def _open(chain: Chain, certificate: str = PLATFORM) -> tuple[Any, Any]:
    host, port = chain.gateway.url.removeprefix("https://").rsplit(":", 1)
    return await asyncio.open_connection(host, int(port), ssl=_context(chain.pki, certificate))


async def _answer(reader: asyncio.StreamReader, close_within: float = 0.5) -> Answer:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    try:
        closed = await asyncio.wait_for(reader.read(1), close_within) == b""
    except TimeoutError:
        closed = False
    parsed = (
        json.loads(body) if headers.get("content-type", "").startswith("application/json") else body
    )
    return Answer(int(status_line.split()[1]), headers, parsed, closed)


def _request(method: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: labgw\r\n"
        f"Content-Type: application/x-ndjson\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


async def _exchange(chain: Chain, data: bytes, certificate: str = PLATFORM) -> Answer:
    reader, writer = await _open(chain, certificate)
    try:
        writer.write(data)
        await writer.drain()
        return await _answer(reader)
    finally:
        writer.close()


async def _still_serves(chain: Chain) -> None:
    answer = await _exchange(chain, _request("GET", "/health"))
    assert answer.status == 200, answer


def _run(
    pki: TestPki, tmp_path: Path, limits: Limits, scenario: Callable[[Chain], Awaitable[None]]
) -> None:
    async def main() -> None:
        chain = await start_chain(pki, tmp_path, start_gateway=False)
        chain.service = await start_gateway_for(chain, limits=limits)
        try:
            await scenario(chain)
            await _still_serves(chain)
        finally:
            await chain.stop()

    asyncio.run(main())


def test_a_body_over_the_limit_gets_413(pki: TestPki, tmp_path: Path) -> None:
    async def scenario(chain: Chain) -> None:
        answer = await _exchange(chain, _request("POST", "/records", b"x" * 4097))
        assert (answer.status, answer.rule) == (413, "SERVICE-BODY-TOO-LARGE")
        assert "4096 bytes" in answer.body["issue"][0]["details"]["text"]

    _run(pki, tmp_path, Limits(max_body_bytes=4096), scenario)


def test_more_records_than_allowed_gets_413_and_none_is_accepted(
    pki: TestPki, tmp_path: Path
) -> None:
    async def scenario(chain: Chain) -> None:
        body = ndjson(lsp_record(n) for n in range(1, 4))
        answer = await _exchange(chain, _request("POST", "/records", body))
        assert (answer.status, answer.rule) == (413, "SERVICE-TOO-MANY-RECORDS")
        assert "3 records" in answer.body["issue"][0]["details"]["text"]
        assert await chain.gateway.service.store.counts() == {}
        answer = await _exchange(chain, _request("POST", "/records", ndjson([lsp_record(1)])))
        assert answer.status == 200, answer

    _run(pki, tmp_path, Limits(max_records=2), scenario)


def test_a_header_over_the_limit_gets_431(pki: TestPki, tmp_path: Path) -> None:
    async def scenario(chain: Chain) -> None:
        long_header = f"X-Long: {'a' * 1100}\r\n"
        answer = await _exchange(chain, _request("GET", "/health", extra=long_header))
        assert (answer.status, answer.rule, answer.closed) == (
            431,
            "SERVICE-HEADER-TOO-LARGE",
            True,
        )
        long_path = "/records/" + "r" * 1100
        answer = await _exchange(chain, _request("GET", long_path))
        assert (answer.status, answer.rule) == (431, "SERVICE-HEADER-TOO-LARGE")

    _run(pki, tmp_path, Limits(max_header_bytes=1024), scenario)


def test_more_headers_than_allowed_gets_431(pki: TestPki, tmp_path: Path) -> None:
    async def scenario(chain: Chain) -> None:
        many = "".join(f"X-H{n}: v\r\n" for n in range(30))
        answer = await _exchange(chain, _request("GET", "/health", extra=many))
        assert (answer.status, answer.rule, answer.closed) == (
            431,
            "SERVICE-TOO-MANY-HEADERS",
            True,
        )
        few = "".join(f"X-H{n}: v\r\n" for n in range(10))
        assert (await _exchange(chain, _request("GET", "/health", extra=few))).status == 200

    _run(pki, tmp_path, Limits(max_headers=20), scenario)


def test_a_malformed_request_gets_400_in_the_same_shape(pki: TestPki, tmp_path: Path) -> None:
    async def scenario(chain: Chain) -> None:
        answer = await _exchange(chain, b"GET /health HTTP/1.1\r\nHost labgw\r\n\r\n")
        assert (answer.status, answer.rule, answer.closed) == (400, "SERVICE-HTTP-MALFORMED", True)

    _run(pki, tmp_path, Limits(), scenario)


def test_connections_over_the_limit_get_503_and_are_closed(pki: TestPki, tmp_path: Path) -> None:
    async def scenario(chain: Chain) -> None:
        held = [await _open(chain) for _ in range(2)]
        reader, writer = await _open(chain)  # the TLS handshake completes; then the answer
        answer = await _answer(reader)
        writer.close()
        assert (answer.status, answer.rule, answer.closed) == (503, "SERVICE-BUSY", True)
        for _, held_writer in held:  # the held ones were never refused
            held_writer.write(_request("GET", "/health"))
        assert [(await _answer(r)).status for r, _ in held] == [200, 200]
        for _, held_writer in held:
            held_writer.close()
            await held_writer.wait_closed()
        await asyncio.sleep(0.2)  # the server sees them go

    _run(pki, tmp_path, Limits(max_connections=2), scenario)


def test_a_client_over_its_rate_gets_429_with_retry_after_and_others_do_not(
    pki: TestPki, tmp_path: Path
) -> None:
    async def scenario(chain: Chain) -> None:
        statuses = []
        for _ in range(4):
            answer = await _exchange(chain, _request("GET", "/health"))
            statuses.append(answer.status)
        assert statuses == [200, 200, 200, 429]
        assert answer.rule == "SERVICE-RATE-LIMITED"
        assert int(answer.headers["retry-after"]) >= 1
        other = await _exchange(chain, _request("GET", "/health"), certificate="lsp-tls")
        assert other.status == 200  # another client has its own bucket

    limits = Limits(rate_per_second=0.01, rate_burst=3)

    async def with_refill(chain: Chain) -> None:
        await scenario(chain)
        chain.gateway.service.rate.buckets.clear()  # so the final health check may pass

    _run(pki, tmp_path, limits, with_refill)


def test_headers_trickling_in_past_the_deadline_get_408_and_the_connection_closes(
    pki: TestPki, tmp_path: Path
) -> None:
    async def scenario(chain: Chain) -> None:
        reader, writer = await _open(chain)
        writer.write(b"POST /records HTTP/1.1\r\nHost: labgw\r\n")
        for _ in range(3):  # slow-loris: a header line now and then, never the blank line
            await asyncio.sleep(0.2)
            writer.write(b"X-Slow: 1\r\n")
        answer = await _answer(reader)
        writer.close()
        assert (answer.status, answer.rule, answer.closed) == HEADER_TIMEOUT

    _run(pki, tmp_path, Limits(header_seconds=0.5), scenario)


def test_a_silent_connection_is_closed_without_an_answer(pki: TestPki, tmp_path: Path) -> None:
    async def scenario(chain: Chain) -> None:
        reader, writer = await _open(chain)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        reader, writer = await _open(chain)  # after an answer: idle_seconds, then closed
        writer.write(_request("GET", "/health"))
        assert (await _answer(reader)).status == 200
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

    _run(pki, tmp_path, Limits(header_seconds=0.5, idle_seconds=1.5), scenario)


def test_a_kept_alive_connection_may_idle_and_its_next_request_is_on_the_header_clock(
    pki: TestPki, tmp_path: Path
) -> None:
    """Idle between requests is not slow-loris: the header deadline starts at the next
    request's first byte (a pooled client connection must not be cut after header_seconds)."""

    async def scenario(chain: Chain) -> None:
        reader, writer = await _open(chain)
        writer.write(_request("GET", "/health"))
        assert (await _answer(reader)).status == 200
        await asyncio.sleep(1.0)  # longer than header_seconds, shorter than idle_seconds
        writer.write(_request("GET", "/health"))
        assert (await _answer(reader)).status == 200
        writer.write(b"GET /health HTTP/1.1\r\n")  # then a request that never ends
        answer = await _answer(reader)
        writer.close()
        assert (answer.status, answer.rule, answer.closed) == HEADER_TIMEOUT

    _run(pki, tmp_path, Limits(header_seconds=0.5, idle_seconds=5), scenario)


def test_a_body_trickling_in_past_the_deadline_gets_408(pki: TestPki, tmp_path: Path) -> None:
    async def scenario(chain: Chain) -> None:
        reader, writer = await _open(chain)
        body = ndjson([lsp_record(1)])
        request = _request("POST", "/records", body)
        writer.write(request[: len(request) - len(body) + 10])  # headers and 10 bytes
        answer = await _answer(reader, close_within=LINGER_SECONDS + 1)
        writer.close()
        assert (answer.status, answer.rule, answer.closed) == (408, "SERVICE-BODY-TIMEOUT", True)
        assert await chain.gateway.service.store.counts() == {}

    _run(pki, tmp_path, Limits(body_seconds=0.5), scenario)


def test_the_rate_limiter_refills_and_forgets_quiet_clients() -> None:
    now = [0.0]
    limiter = RateLimiter(per_second=2.0, burst=2, clock=lambda: now[0], max_clients=2)
    assert [limiter.take("a") for _ in range(2)] == [None, None]
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.take("a") is None
    limiter.take("b")
    now[0] += 10
    limiter.take("c")  # three clients: the full buckets (a and b, quiet for 10 s) go
    assert set(limiter.buckets) == {"c"}
