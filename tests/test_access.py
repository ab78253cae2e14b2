"""Who may call the gateway (issue 9: authentication and authorization), over real TLS on
loopback: no identity → 401, the wrong role, practice or receiver → 403, each with its rule."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.demo import demo_access
from gateway.pki import TestPki
from gateway.receipts.model import Original, ReceiptOutcome
from gateway.receipts.original import original_of
from gateway.receipts.xctl import render_xctl
from gateway.service.access import AccessPolicy, Client, Role, token_digest
from tests.delivery_harness import Chain, lsp_record, ndjson, start_chain, start_gateway_for
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)


def _context(pki: TestPki, certificate: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.trust_path))
    if certificate is not None:
        entry = pki[certificate]
        assert entry.cert_path and entry.key_path
        context.load_cert_chain(entry.cert_path, entry.key_path)
    return context


async def _call(
    chain: Chain,
    method: str,
    path: str,
    certificate: str | None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    connector = aiohttp.TCPConnector(ssl=_context(chain.pki, certificate))
    async with aiohttp.ClientSession(connector=connector) as session:
        url = f"{chain.gateway.url}{path}"
        async with session.request(method, url, data=body, headers=headers or {}) as answer:
            text = await answer.text()
            try:
                return answer.status, json.loads(text)
            except ValueError:
                return answer.status, text


def _rule(answer: Any) -> str:
    return str(answer["issue"][0]["details"]["coding"][0]["code"])


async def _chain(pki: TestPki, tmp_path: Path, access: AccessPolicy) -> Chain:
    chain = await start_chain(pki, tmp_path, start_gateway=False)
    chain.service = await start_gateway_for(chain, access=access)
    return chain


RECORDS = ndjson([lsp_record(1)])
NDJSON = {"Content-Type": "application/x-ndjson"}


def test_health_needs_no_identity_and_everything_else_does(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = await _chain(pki, tmp_path, demo_access())
        try:
            assert (await _call(chain, "GET", "/health", None))[0] == 200
            for method, path in (
                ("POST", "/records"),
                ("POST", "/receipts"),
                ("GET", "/records/E2E-000001"),
                ("GET", "/records/E2E-000001/history"),
                ("GET", "/messages/1"),
                ("GET", "/metrics"),
            ):
                status, answer = await _call(chain, method, path, None, RECORDS, NDJSON)
                assert status == 401, (method, path, answer)
                assert _rule(answer) == "SERVICE-UNAUTHENTICATED"
        finally:
            await chain.stop()

    asyncio.run(scenario())


def test_a_sender_posts_records_only_for_its_own_practices(pki: TestPki, tmp_path: Path) -> None:
    """A certificate registered for another practice gets 403, and nothing is accepted."""
    policy = demo_access()
    elsewhere = Client(
        "another platform", frozenset({Role.SENDER}), cn="practice-platform-tls",
        practices=frozenset({"999999999999999"}),
    )  # fmt: skip

    async def scenario() -> None:
        chain = await _chain(pki, tmp_path, AccessPolicy((elsewhere, *policy.clients[1:])))
        try:
            status, answer = await _call(
                chain, "POST", "/records", "practice-platform-tls", RECORDS, NDJSON
            )
            assert status == 403 and _rule(answer) == "SERVICE-PRACTICE-FORBIDDEN"
            assert "E2E-000001/v1" in answer["issue"][0]["details"]["text"]
            assert await chain.gateway.service.store.counts() == {}
        finally:
            await chain.stop()

    asyncio.run(scenario())


def test_each_route_needs_its_role(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = await _chain(pki, tmp_path, demo_access())
        try:
            # A receiver may not post records, nor read; the platform may not post receipts.
            status, answer = await _call(chain, "POST", "/records", "lsp-tls", RECORDS, NDJSON)
            assert status == 403 and _rule(answer) == "SERVICE-FORBIDDEN"
            assert (await _call(chain, "GET", "/metrics", "lsp-tls"))[0] == 403
            status, answer = await _call(chain, "POST", "/receipts", "practice-platform-tls", b"x")
            assert status == 403 and _rule(answer) == "SERVICE-FORBIDDEN"
            # The platform is a sender and an operator.
            assert (
                await _call(chain, "POST", "/records", "practice-platform-tls", RECORDS, NDJSON)
            )[0] == 200
            assert (await _call(chain, "GET", "/metrics", "practice-platform-tls"))[0] == 200
        finally:
            await chain.stop()

    asyncio.run(scenario())


def test_receipts_only_from_the_receiver_the_message_went_to(pki: TestPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = await _chain(pki, tmp_path, demo_access())
        try:
            status, answer = await _call(
                chain, "POST", "/records", "practice-platform-tls", RECORDS, NDJSON
            )
            (message_id,) = answer["messages"]
            store = chain.gateway.service.store
            message = await store.message(message_id)
            assert message is not None and message.destination == "lsp"
            original = original_of(message.payload)
            assert isinstance(original, Original)
            receipt = render_xctl(
                ReceiptOutcome.POSITIVE, original, receipt_id="42", envelope_id="43",
                sent=chain.gateway.service.clock.now(),
            )  # fmt: skip
            xml = {"Content-Type": "text/xml"}
            status, answer = await _call(chain, "POST", "/receipts", "miba-tls", receipt, xml)
            assert status == 403 and _rule(answer) == "SERVICE-RECEIPT-FORBIDDEN"
            status, answer = await _call(chain, "POST", "/receipts", "lsp-tls", receipt, xml)
            assert status == 200, answer
        finally:
            await chain.stop()

    asyncio.run(scenario())


def test_an_operator_token_reads_but_does_not_send(pki: TestPki, tmp_path: Path) -> None:
    policy = demo_access()
    with_token = AccessPolicy(
        policy.clients,
        {
            token_digest("op-secret"): policy.tokens.get("", None)
            or __import__(
                "gateway.service.access", fromlist=["OPERATOR_BY_TOKEN"]
            ).OPERATOR_BY_TOKEN
        },
    )

    async def scenario() -> None:
        chain = await _chain(pki, tmp_path, with_token)
        try:
            bearer = {"Authorization": "Bearer op-secret"}
            assert (await _call(chain, "GET", "/metrics", None, headers=bearer))[0] == 200
            status, _ = await _call(chain, "POST", "/records", None, RECORDS, {**bearer, **NDJSON})
            assert status == 403
            wrong = {"Authorization": "Bearer not-the-secret"}
            assert (await _call(chain, "GET", "/metrics", None, headers=wrong))[0] == 401
        finally:
            await chain.stop()

    asyncio.run(scenario())


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_without_a_client_certificate_gets_401_and_with_another_practice_403(
    pki: TestPki, tmp_path: Path
) -> None:
    """The issue's acceptance, with curl as a practice system would use it."""
    policy = demo_access()
    elsewhere = Client(
        "another platform", frozenset({Role.SENDER}), cn="miba-tls",
        practices=frozenset({"999999999999999"}),
    )  # fmt: skip
    body = tmp_path / "records.ndjson"
    body.write_bytes(RECORDS)

    async def scenario() -> list[str]:
        chain = await _chain(pki, tmp_path, AccessPolicy((*policy.clients[:1], elsewhere)))
        try:
            codes = []
            miba = pki["miba-tls"]
            url = f"{chain.gateway.url}/records"
            common = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"]
            common += ["--cacert", str(pki.trust_path), "-H", "Content-Type: application/x-ndjson"]
            for extra in ([], ["--cert", str(miba.cert_path), "--key", str(miba.key_path)]):
                command = [*common, *extra, "--data-binary", f"@{body}", url]
                done = await asyncio.to_thread(
                    subprocess.run, command, capture_output=True, text=True, check=False
                )
                codes.append(done.stdout)
            return codes
        finally:
            await chain.stop()

    assert asyncio.run(scenario()) == ["401", "403"]
