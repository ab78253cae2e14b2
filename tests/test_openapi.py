"""docs/openapi.yaml against the code: a valid OpenAPI 3.1 document, the same routes as the
service, examples that are true, and generated requests against a live gateway.

The live run is schemathesis (examples, coverage and fuzzing phases; valid and invalid data)
against the whole chain of `tests/delivery_harness.py`: the gateway and both reference receivers
on loopback, real TLS with the practice platform's client certificate, real stores, the outbox
delivering while the requests come. Every answer must be documented: never a 5xx, a documented
status, media type, headers and body schema. Two checks are off, for reasons the API has:
`positive_data_acceptance` (a record can fit the contract's JSON Schema and still break a
business rule, e.g. a GLN check digit: 422 is its documented answer) and `unsupported_method`
(405 answers lack the `Allow` header; `test_405_names_the_allowed_methods` keeps that known).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestServer
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis.core.result import Err

from gateway.outbox.states import State
from gateway.pki import TestPki
from gateway.receipts.model import Original, Receipt, ReceiptOutcome
from gateway.receipts.original import original_of
from gateway.receipts.parse import parse_receipt
from gateway.receipts.xctl import render_xctl
from gateway.service.access import AccessPolicy, Client, Role, token_digest
from gateway.service.app import make_app
from gateway.service.limits import Limits
from tests.conftest import REPO
from tests.delivery_harness import Chain, eventually, lsp_record, postgres_schema_url, start_chain
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)

T = TypeVar("T")
DOC = REPO / "docs" / "openapi.yaml"
DOC_URI = DOC.as_uri()
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
EXAMPLES_PER_OPERATION = 60  # the fuzzing phase's; the examples and coverage phases add theirs
MIN_REQUESTS = 300

# Bodies the document describes as text (NDJSON, CSV, XML receipts) go on the wire as they are:
# schemathesis would otherwise wrap a string in an XML element of its own.
schemathesis.serializer.alias(
    ["application/x-ndjson", "application/ndjson", "application/xml", "text/xml"], "text/plain"
)
API = schemathesis.openapi.from_path(
    DOC,
    config=schemathesis.Config.from_dict(
        {
            # Generating records is slow on a busy 2-core machine; that is no finding.
            "suppress-health-check": ["too_slow"],
            "generation": {"mode": "all", "max-examples": EXAMPLES_PER_OPERATION},
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                "positive_data_acceptance": {"enabled": False},
                "unsupported_method": {"enabled": False},
            },
        }
    ),
)


def document() -> dict[str, Any]:
    return schemathesis.openapi.from_path(DOC).raw_schema


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def examples(media: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    if "example" in media:
        yield "example", media["example"]
    for name, example in media.get("examples", {}).items():
        yield name, example["value"]


def request_bodies(path: str) -> dict[str, Any]:
    """The documented media types of a POST's body."""
    return dict(document()["paths"][path]["post"]["requestBody"]["content"])


def wire(value: Any) -> bytes:
    """An example as it goes on the wire: text as it is, JSON values as JSON."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


# ---------------------------------------------------------------- the document itself


def test_the_document_is_valid_openapi_3_1() -> None:
    schema = schemathesis.openapi.from_path(DOC)
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    # Every operation resolves, the record contract's $ref included.
    assert [r.err() for r in schema.get_all_operations() if isinstance(r, Err)] == []
    assert schema.raw_schema["openapi"].startswith("3.1.")
    for definition in schema.raw_schema["components"]["schemas"].values():
        Draft202012Validator.check_schema(definition)


def _registry() -> Registry[Any]:
    """The document and the record contract it refers to, for checking examples."""

    def retrieve(uri: str) -> Resource[Any]:
        path = Path(uri.removeprefix("file://"))
        return DRAFT202012.create_resource(json.loads(path.read_text("utf-8")))

    return Registry(retrieve=retrieve).with_resource(  # type: ignore[call-arg]
        DOC_URI, DRAFT202012.create_resource(document())
    )


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def _media_types() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(what, JSON pointer, media type object) of every request body and response."""
    doc = document()
    for path, method, operation in operations(doc):
        at = ("paths", path, method)
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            where = _pointer(*at, "requestBody", "content", media_type)
            yield f"{method} {path} {media_type}", where, media
        for status, response in operation["responses"].items():
            place: tuple[str, ...] = (*at, "responses", status)
            if "$ref" in response:
                name = response["$ref"].removeprefix("#/components/responses/")
                response, place = (
                    doc["components"]["responses"][name],
                    ("components", "responses", name),
                )
            for media_type, media in response.get("content", {}).items():
                where = _pointer(*place, "content", media_type)
                yield f"{method} {path} {status} {media_type}", where, media


def test_every_example_fits_its_schema() -> None:
    registry = _registry()
    checked = 0
    for what, pointer, media in _media_types():
        validator = Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}/schema"}, registry=registry)
        for name, value in examples(media):
            errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(value)]
            assert not errors, (what, name, errors)
            checked += 1
    assert checked >= 20


def test_every_receipt_example_is_a_receipt_labgw_reads() -> None:
    content = request_bodies("/receipts")
    found = [
        parse_receipt(wire(value)) for media in content.values() for _, value in examples(media)
    ]
    assert len(found) == 3
    assert all(isinstance(receipt, Receipt) for receipt in found), found


# ---------------------------------------------------------------- the live gateway


@dataclass(frozen=True, slots=True)
class Live:
    """The chain, on an event loop of its own in a thread: the tests call it with blocking
    requests (schemathesis uses requests) or hand it coroutines."""

    pki: TestPki
    chain: Chain
    loop: asyncio.AbstractEventLoop

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)

    @property
    def client(self) -> dict[str, Any]:
        """requests' arguments for the gateway: its URL and what gateway.demo.client_ssl(pki)
        holds, the test trust store and the practice platform's client certificate."""
        tls = self.pki["practice-platform-tls"]
        assert tls.cert_path and tls.key_path
        return {
            "base_url": self.chain.gateway.url,
            "verify": str(self.pki.trust_path),
            "cert": (str(tls.cert_path), str(tls.key_path)),
            "timeout": 30,
        }

    def request(self, method: str, path: str, **arguments: Any) -> requests.Response:
        client = self.client
        return requests.request(method, client.pop("base_url") + path, **client, **arguments)


def _live(pki: TestPki, workdir: Path, store: str | None = None) -> Iterator[Live]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="labgw-live", daemon=True)
    thread.start()
    try:
        chain = asyncio.run_coroutine_threadsafe(start_chain(pki, workdir, store=store), loop)
        running = Live(pki, chain.result(timeout=60), loop)
        try:
            yield running
        finally:
            running.run(running.chain.stop())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture(scope="module")
def live(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The chain as `start_chain` makes it: the outbox in SQLite."""
    yield from _live(pki, tmp_path_factory.mktemp("openapi"))


@pytest.fixture(scope="module")
def live_postgres(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The same with the outbox in PostgreSQL (skipped where there is none)."""
    for url in postgres_schema_url():
        yield from _live(pki, tmp_path_factory.mktemp("openapi-pg"), url)


def test_every_route_is_documented_and_every_documented_route_exists(live: Live) -> None:
    app = make_app(live.chain.gateway.service)
    served = {
        (route.method.lower(), resource.canonical)
        for resource in app.router.resources()
        for route in resource
    }
    # aiohttp answers HEAD wherever it answers GET; the document describes the GET.
    heads = {(method, path) for method, path in served if method == "head"}
    assert heads == {("head", path) for method, path in served if method == "get"}
    assert served - heads == {(method, path) for path, method, _ in operations(document())}


def test_every_records_example_is_accepted(live: Live) -> None:
    """The documented bodies are accepted (so the record that GET /records/{record_id}'s
    example names exists when the generated run comes to it)."""
    content = request_bodies("/records")
    posted = 0
    for media_type, media in content.items():
        for name, value in examples(media):
            status, answer = live.run(live.chain.post(wire(value), media_type))
            assert status == 200, (media_type, name, answer)
            assert {r["outcome"] for r in answer["records"]} <= {"accepted", "duplicate"}
            posted += 1
    assert posted == 3


@pytest.fixture(scope="module")
def tally(live: Live) -> Iterator[Counter[tuple[str, int]]]:
    """Answers per operation and status; at the end, every operation must have had its share."""
    counts: Counter[tuple[str, int]] = Counter()
    started = time.monotonic()
    yield counts
    print(f"\n{counts.total()} generated requests in {time.monotonic() - started:.1f} s")
    for (operation, status), count in sorted(counts.items()):
        print(f"  {operation} → {status}: {count}")
    documented = {f"{method.upper()} {path}" for path, method, _ in operations(document())}
    assert {operation for operation, _ in counts} == documented
    assert counts.total() >= MIN_REQUESTS


@API.parametrize()
def test_generated_requests_get_documented_answers(
    case: schemathesis.Case, live: Live, tally: Counter[tuple[str, int]]
) -> None:
    response = case.call_and_validate(**live.client)
    tally[f"{case.operation.method.upper()} {case.operation.path}", response.status_code] += 1


def _xctl03(payload: bytes) -> bytes:
    """The receiver's positive receipt for a letter labgw sent."""
    original = original_of(payload)
    assert isinstance(original, Original), original
    return render_xctl(
        ReceiptOutcome.POSITIVE,
        original,
        receipt_id="R0000000000099",
        envelope_id="E0000000000099",
        sent=datetime.now(UTC),
    )


def test_documented_answers_generation_cannot_reach(live: Live) -> None:
    """Found only by ids the run cannot know, or by a media type it does not send; checked
    against the document with the same checks as the generated requests."""
    body = json.dumps([lsp_record(900)]).encode()
    status, answer = live.run(live.chain.post(body, "application/json"))
    assert status == 200, answer
    message_id = answer["messages"][0]
    store = live.chain.gateway.service.store

    async def acked() -> bool:
        message = await store.message(message_id)
        return message is not None and message.state is State.ACKED

    live.run(eventually(acked))
    message = live.run(store.message(message_id))
    assert message is not None
    receipt = _xctl03(message.payload).decode()
    png = {"Content-Type": "image/png"}
    cases = [
        (
            API["/messages/{message_id}"]["GET"].Case(path_parameters={"message_id": message_id}),
            200,
        ),
        (API["/records/{record_id}"]["GET"].Case(path_parameters={"record_id": "E2E-000900"}), 200),
        # The receiver answered in its HTTP answer already: this receipt is a duplicate.
        (API["/receipts"]["POST"].Case(body=receipt, media_type="text/xml"), 200),
        (API["/records"]["POST"].Case(body="x", media_type="text/plain", headers=png), 415),
    ]
    for case, expected in cases:
        response = case.call_and_validate(**live.client)
        assert response.status_code == expected, (case.operation.label, response.text)


def test_a_body_over_the_limit_gets_413(live: Live) -> None:
    """The same service behind an app with a 1 KiB limit (the real one is 32 MiB), plain HTTP,
    the client known by a token that may do everything."""
    anyone = Client("test", frozenset(Role), "test", None, frozenset(), frozenset({"lsp"}))
    service = replace(
        live.chain.gateway.service,
        access=AccessPolicy(tokens={token_digest("t0ken"): anyone}),
        limits=Limits(max_body_bytes=1024),
    )
    server = TestServer(make_app(service), host="127.0.0.1")
    live.run(server.start_server())
    try:
        big = "x" * 2048
        for path, media_type in (("/records", "text/csv"), ("/receipts", "text/xml")):
            case = API[path]["POST"].Case(
                body=big, media_type=media_type, headers={"Authorization": "Bearer t0ken"}
            )
            response = case.call_and_validate(base_url=str(server.make_url("")).rstrip("/"))
            assert response.status_code == 413, response.text
    finally:
        live.run(server.close())


# ---------------------------------------------------------------- 500s found, now fixed


ACK = json.dumps(request_bodies("/receipts")["application/fhir+json"]["examples"]["ok"]["value"])
ACK_ID = '"5b9a4c1e-0d2f-4a8b-9c3d-7e6f5a4b3c2d"'  # MessageHeader.id: the receipt's id
ACKED = '"bbb75dbc-072c-520e-8693-81f950d59d94"'  # response.identifier: the message's


def _ack(old: str, new: str) -> bytes:
    """The documented acknowledgement with one id replaced."""
    assert ACK.count(old) == 1
    return ACK.replace(old, new).encode()


BAD_REQUESTS: list[tuple[str, str, bytes, str, int]] = [
    # A JSON "\ud800" in a recordId or a field name: the answer that echoed it failed to encode.
    ("POST", "/records", b'[{"recordId": "A\\ud800", "version": 1}]', "application/json", 422),
    ("POST", "/records", b'{"recordId": "A", "version": 1, "\\udc80": 1}', "application/json", 422),
    # Path ids PostgreSQL cannot compare with.
    ("GET", "/records/A%00B", b"", "", 404),
    ("GET", "/messages/%00", b"", "", 404),
    # Acknowledgements whose ids hold a NUL or a lone surrogate: the store could not keep them.
    ("POST", "/receipts", _ack(ACKED, r'"A\u0000B"'), "application/fhir+json", 400),
    ("POST", "/receipts", _ack(ACKED, r'"A\ud800B"'), "application/fhir+json", 400),
    ("POST", "/receipts", _ack(ACK_ID, r'"A\u0000B"'), "application/fhir+json", 400),
]


@pytest.mark.parametrize("where", ["live", "live_postgres"])
@pytest.mark.parametrize(
    ("method", "path", "body", "media_type", "status"),
    BAD_REQUESTS,
    ids=[f"{method} {path} {n}" for n, (method, path, *_) in enumerate(BAD_REQUESTS)],
)
def test_bad_requests_get_a_4xx_not_a_500(
    request: pytest.FixtureRequest,
    where: str,
    method: str,
    path: str,
    body: bytes,
    media_type: str,
    status: int,
) -> None:
    running: Live = request.getfixturevalue(where)
    headers = {"Content-Type": media_type} if media_type else {}
    answer = running.request(method, path, data=body or None, headers=headers)
    assert answer.status_code == status, answer.text
    json.loads(answer.content.decode("utf-8"))  # the answer is UTF-8 JSON, whatever came in


# ---------------------------------------------------------------- known, reported, not fixed here


@pytest.mark.parametrize("where", ["live", "live_postgres"])
def test_a_version_no_store_can_hold_is_rejected(
    request: pytest.FixtureRequest, where: str
) -> None:
    running: Live = request.getfixturevalue(where)
    body = json.dumps([lsp_record(901, version=2**63)]).encode()
    status, answer = running.run(running.chain.post(body, "application/json"))
    assert status == 422, answer


def test_405_names_the_allowed_methods(live: Live) -> None:
    answer = live.request("DELETE", "/health")
    assert answer.status_code == 405
    assert answer.headers.get("Allow") == "GET,HEAD"
