"""Receipts under hypothesis: render → parse gives back what was put in, for any ids within the
limits and any Issues (unicode, Danish letters, long texts), and no bytes make a reader raise.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.issues import Issue, IssueType, Severity
from gateway.receipts import soap
from gateway.receipts.fhir_ack import DETAILS, render_fhir_ack
from gateway.receipts.issue_text import RULE, clean
from gateway.receipts.model import Original, Party, Receipt, ReceiptOutcome
from gateway.receipts.original import original_of
from gateway.receipts.parse import parse_receipt
from gateway.receipts.xctl import REFUSE_CODES, render_xctl
from gateway.xml.validate import XmlValidator
from tests.records import record, translate
from tests.test_receipts import GOLDEN, ISSUES, SENT, xctl

DANISH = "æøåÆØÅéü"
# Any character XML 1.0 and FHIR strings can carry (no controls, no surrogates, no FFFE/FFFF).
writable = st.characters(
    exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"
) | st.sampled_from(DANISH)
texts = st.text(writable, max_size=200) | st.text(st.sampled_from(DANISH + " ,.:-"), max_size=3000)
locations = st.none() | st.from_regex(r"[/A-Za-z0-9\[\]._:]{1,80}", fullmatch=True)
issues = st.lists(
    st.builds(
        Issue,
        severity=st.sampled_from(Severity),
        code=st.sampled_from(IssueType),
        rule=st.from_regex(RULE, fullmatch=True).filter(lambda r: len(r) <= 64),
        message=texts,
        location=locations,
    ),
    max_size=8,
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
) | st.builds(
    lambda moment, hours: moment.replace(tzinfo=timezone(timedelta(hours=hours))),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    st.integers(-12, 14),
)


def xml_text(limit: int) -> st.SearchStrategy[str]:
    return st.text(writable, min_size=1, max_size=limit)


fhir_ids = st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True)
VALIDATOR = XmlValidator()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same_issues(back: tuple[Issue, ...], sent: list[Issue]) -> None:
    """What survives a receipt: everything but record/source/line, text cleaned."""
    assert [(i.severity, i.code, i.rule, i.message, i.location) for i in back] == [
        (i.severity, i.code, i.rule, clean(i.message), i.location) for i in sent
    ]


@FAST
@given(
    outcome=st.sampled_from([ReceiptOutcome.POSITIVE, ReceiptOutcome.NEGATIVE]),
    receipt_id=xml_text(14),
    envelope_id=xml_text(14),
    message_id=xml_text(14),
    original_envelope=xml_text(14),
    version=xml_text(7),
    sender=xml_text(35),
    receiver=xml_text(35),
    sent=instants,
    found=issues,
    refuse_code=st.none() | st.sampled_from(REFUSE_CODES),
)
def test_xctl_round_trip(
    outcome: ReceiptOutcome,
    receipt_id: str,
    envelope_id: str,
    message_id: str,
    original_envelope: str,
    version: str,
    sender: str,
    receiver: str,
    sent: datetime,
    found: list[Issue],
    refuse_code: str | None,
) -> None:
    negative = outcome is ReceiptOutcome.NEGATIVE
    original = Original("XRPT01", message_id, original_envelope, version, sender, receiver)
    data = render_xctl(
        outcome,
        original,
        receipt_id=receipt_id,
        envelope_id=envelope_id,
        sent=sent,
        issues=found if negative else (),
        refuse_code=refuse_code if negative else None,
    )
    assert [str(i) for i in VALIDATOR.iter_issues(data) if i.blocking] == []
    back = parse_receipt(data)
    assert isinstance(back, Receipt), back
    assert (back.outcome, back.message_id, back.envelope_id, back.receipt_id) == (
        outcome,
        message_id,
        original_envelope,
        receipt_id,
    )
    assert back.refuse_code == (refuse_code if negative else None)
    same_issues(back.issues, found if negative else [])
    assert back.content == data
    wrapped = parse_receipt(soap.wrap(data))
    assert isinstance(wrapped, Receipt) and wrapped.issues == back.issues


def fhir_original(message_id: str, sender_id: str, receiver_id: str, names: str) -> Original:
    return Original(
        "FHIR",
        message_id,
        "b",
        "",
        f"Organization/{sender_id}",
        f"Organization/{receiver_id}",
        Party("https://sor2.sum.dsdn.dk/#id=1", sender_id, names, "1", "5790000000005"),
        Party("https://example.org/fhir", receiver_id, names[::-1], "2", "5790000000012"),
    )


@FAST
@given(
    outcome=st.sampled_from(ReceiptOutcome),
    ack_id=fhir_ids,
    bundle_id=fhir_ids,
    message_id=fhir_ids,
    organization_ids=st.tuples(fhir_ids, fhir_ids),
    names=texts,
    sent=instants,
    found=issues,
)
def test_fhir_round_trip(
    outcome: ReceiptOutcome,
    ack_id: str,
    bundle_id: str,
    message_id: str,
    organization_ids: tuple[str, str],
    names: str,
    sent: datetime,
    found: list[Issue],
) -> None:
    original = fhir_original(message_id, *organization_ids, names)
    data = render_fhir_ack(
        outcome, original, ack_id=ack_id, bundle_id=bundle_id, sent=sent, issues=found
    )
    back = parse_receipt(data)
    assert isinstance(back, Receipt), back
    assert (back.kind, back.outcome, back.message_id, back.receipt_id) == (
        "FHIR-ACK",
        outcome,
        message_id,
        ack_id,
    )
    if found:
        same_issues(back.issues, found)
        expected = DETAILS.get(found[0].code)
        assert back.refuse_code == (expected[1] if expected else None)
    else:
        assert len(back.issues) == (0 if outcome is ReceiptOutcome.POSITIVE else 1)
    assert back.content == data
    assert json.loads(data)["id"] == bundle_id


# ---------------------------------------------------------------- nothing makes a reader raise


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    assert isinstance(parse_receipt(data), tuple)
    assert isinstance(original_of(data), tuple)


@settings(max_examples=300, deadline=None)
@given(
    st.text(st.sampled_from('<>/="?! &;:xmlnsEmessage[]{}'), max_size=300) | st.text(max_size=300)
)
def test_arbitrary_text(text: str) -> None:
    for data in (text.encode("utf-8"), f"<?xml version='1.0'?>{text}".encode()):
        assert isinstance(parse_receipt(data), tuple)


# JSON can carry what no FHIR string may: controls, and lone surrogates written as \ud800.
json_texts = st.text(max_size=20) | st.sampled_from(["\ud800", "a\x00b", "\udfff\n", ""])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | json_texts,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
ACK = json.loads(
    render_fhir_ack(
        ReceiptOutcome.NEGATIVE,
        fhir_original("m1", "o1", "o2", "Lægehuset"),
        ack_id="a1",
        bundle_id="b1",
        sent=datetime(2025, 12, 1, tzinfo=UTC),
        issues=ISSUES,
    )
)


def paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every place in a JSON value: dict keys and list indexes from the root."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


ACK_PATHS = paths(ACK)[1:]


@settings(max_examples=400, deadline=None)
@given(place=st.sampled_from(ACK_PATHS), value=json_values)
def test_any_part_of_an_ack_replaced_by_any_json(place: tuple[object, ...], value: object) -> None:
    """The ack reader meets a list where an object belongs, a number for a string …"""
    document = json.loads(json.dumps(ACK))
    parent = document
    for step in place[:-1]:
        parent = parent[step]
    parent[place[-1]] = value
    data = json.dumps(document).encode()
    found = parse_receipt(data)
    assert isinstance(found, tuple | Receipt)
    assert isinstance(original_of(data), tuple | Original)


@given(st.lists(json_values, max_size=3))
def test_any_json(values: list[object]) -> None:
    for value in values:
        assert isinstance(parse_receipt(json.dumps(value).encode()), tuple)


RENDERED = {
    "xctl03": xctl(ReceiptOutcome.POSITIVE),
    "xctl02": xctl(ReceiptOutcome.NEGATIVE),
    "soap": soap.wrap(xctl(ReceiptOutcome.NEGATIVE)),
    "fault": soap.fault("invalid_signature", "signaturen holder ikke"),
    "ack": json.dumps(ACK).encode(),
}


@pytest.mark.parametrize("name", list(RENDERED))
def test_every_truncation_is_refused(name: str) -> None:
    data = RENDERED[name]
    for cut in range(len(data)):
        part = data[:cut]
        found = parse_receipt(part)
        if part.strip() != data.strip():
            assert isinstance(found, tuple), (name, cut)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(list(RENDERED)), data=st.data())
def test_bytes_flipped_in_a_receipt(name: str, data: st.DataObject) -> None:
    content = bytearray(RENDERED[name])
    for _ in range(data.draw(st.integers(1, 4))):
        content[data.draw(st.integers(0, len(content) - 1))] = data.draw(st.integers(0, 255))
    assert isinstance(parse_receipt(bytes(content)), tuple | Receipt)


@pytest.mark.parametrize("depth", [25, 1000, 200_000])
@pytest.mark.parametrize("shape", ["array", "object"])
def test_deeply_nested_json(depth: int, shape: str) -> None:
    if shape == "array":
        data = b"[" * depth + b"]" * depth
    else:
        data = b'{"a":' * depth + b"1" + b"}" * depth
    if len(data) > 1024 * 1024:
        data = data[: 1024 * 1024]  # still unbalanced, still deep: the parser must stop
    found = parse_receipt(data)
    assert isinstance(found, tuple)
    assert {i.rule for i in found} <= {"RECEIPT-TOO-DEEP", "RECEIPT-SYNTAX"}


@pytest.mark.parametrize("depth", [25, 10_000])
def test_deeply_nested_xml(depth: int) -> None:
    data = b"<a>" * depth + b"</a>" * depth
    assert [i.rule for i in parse_receipt(data)] in (["RECEIPT-TOO-DEEP"], ["RECEIPT-SYNTAX"])


HOSTILE = {
    "billion-laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<lolz>&lol3;</lolz>",
    "external-entity": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<r>&x;</r>",
    "parameter-entity": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM '
    b'"http://127.0.0.1:9/evil.dtd"> %p;]><r/>',
    "dtd-in-receipt": xctl(ReceiptOutcome.POSITIVE).replace(
        b"<Emessage", b'<!DOCTYPE Emessage [<!ENTITY e "x">]>\n<Emessage', 1
    ),
    "soap-with-dtd": soap.wrap(xctl(ReceiptOutcome.POSITIVE)).replace(
        b"?>", b'?><!DOCTYPE e [<!ENTITY e "x">]>', 1
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_xml_with_dtd_or_entities_is_refused(name: str) -> None:
    found = parse_receipt(HOSTILE[name])
    assert isinstance(found, tuple)
    assert {i.rule for i in found} <= {"RECEIPT-UNSAFE", "RECEIPT-SYNTAX"}
    assert all("root:" not in i.message for i in found)  # /etc/passwd never read
    assert isinstance(original_of(HOSTILE[name]), tuple)


@pytest.mark.parametrize("path", GOLDEN[:3], ids=[p.name for p in GOLDEN[:3]])
def test_truncated_letters_get_no_original(path: Path) -> None:
    data = path.read_bytes()
    for cut in range(0, len(data) - 20, 7):
        assert isinstance(original_of(data[:cut]), tuple)


@cache
def lab_message() -> str:
    """A FHIR lab message as the pipeline renders it."""
    return translate(record(), syntax="fhir").messages[0].content.decode()


@settings(max_examples=300, deadline=None)
@given(data=st.data(), value=json_values)
def test_any_message_original_of_reads_can_be_acknowledged(
    data: st.DataObject, value: object
) -> None:
    """Whatever part of a message is replaced, original_of never raises, and an Original it
    gives can always be acknowledged, and that acknowledgement read back."""
    message = json.loads(lab_message())
    place = data.draw(st.sampled_from(paths(message)[1:]))
    parent = message
    for step in place[:-1]:
        parent = parent[step]
    parent[place[-1]] = value
    found = original_of(json.dumps(message).encode())
    if isinstance(found, tuple):
        return
    for outcome in ReceiptOutcome:
        content = render_fhir_ack(
            outcome, found, ack_id="a", bundle_id="b", sent=datetime(2025, 1, 1, tzinfo=UTC)
        )
        back = parse_receipt(content)
        assert isinstance(back, Receipt) and back.message_id == found.message_id


@settings(max_examples=300, deadline=None)
@given(data=st.data(), text=st.text(writable, max_size=40))
def test_any_letter_original_of_reads_can_be_receipted(data: st.DataObject, text: str) -> None:
    """Any element's text of a golden letter replaced: an Original always gives valid XCTLs."""
    root = etree.fromstring(data.draw(st.sampled_from(GOLDEN)).read_bytes())
    element = data.draw(st.sampled_from(list(root.iter())))
    element.text = text
    found = original_of(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    if isinstance(found, tuple):
        return
    for outcome in (ReceiptOutcome.POSITIVE, ReceiptOutcome.NEGATIVE):
        content = render_xctl(outcome, found, receipt_id="1", envelope_id="2", sent=SENT)
        assert [str(i) for i in VALIDATOR.iter_issues(content) if i.blocking] == []
        back = parse_receipt(content)
        assert isinstance(back, Receipt) and back.message_id == found.message_id
