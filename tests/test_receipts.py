"""Receipts for MedCom XML letters: what they echo, XCTL03/XCTL02, the DGWS answer, parse_receipt.

Real schemas, no mocks: every rendered receipt is validated with labgw's XSD through the
XmlValidator, and with MedCom's official 2005/08/07 schema by xmllint and by lxml where the
reference folder and xmllint are present. The letters receipted are the golden files.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from gateway.issues import Issue, IssueType, Severity
from gateway.receipts import soap
from gateway.receipts.model import Original, Receipt, ReceiptOutcome
from gateway.receipts.original import original_of
from gateway.receipts.parse import fault_is_transient, parse_receipt
from gateway.receipts.xctl import REFUSE_CODES, parse_xctl, render_xctl
from gateway.security.dgws_ns import MEDCOM, SOAP
from gateway.xml.ns import NS_2005, NS_2014
from gateway.xml.validate import XmlValidator
from tests.conftest import REPO
from tests.schema_cases import compile_schema, xmllint_verdicts

SENT = datetime(2025, 12, 1, 9, 30, tzinfo=UTC)
GOLDEN = sorted((REPO / "tests" / "golden").glob("*.xml"))
M14 = {"m": NS_2014}
M05 = {"m": NS_2005}
ISSUES = (
    Issue(Severity.ERROR, IssueType.STRUCTURE, "XSD", "Element 'Value': not expected", "/Emessage"),
    Issue(Severity.ERROR, IssueType.VALUE, "MC-CPR", "CPR-nummerets første seks cifre: ingen dato"),
    Issue(
        Severity.WARNING, IssueType.CODE_INVALID, "MC-NPU-UNKNOWN", "NPU99999 er ukendt: æøå ÆØÅ"
    ),
)


def letter_original() -> Original:
    """The Original of the first golden letter."""
    found = original_of(GOLDEN[0].read_bytes())
    assert isinstance(found, Original), found
    return found


def xctl(outcome: ReceiptOutcome, original: Original | None = None, **changes: object) -> bytes:
    """A receipt with fixed ids; `changes` override the keyword arguments."""
    arguments: dict[str, object] = {
        "receipt_id": "R0000000000001",
        "envelope_id": "E0000000000001",
        "sent": SENT,
    }
    if outcome is ReceiptOutcome.NEGATIVE:
        arguments |= {"issues": ISSUES, "refuse_code": "syntaksfejl"}
    arguments |= changes
    return render_xctl(outcome, original or letter_original(), **arguments)  # type: ignore[arg-type]


def receipt(found: Receipt | tuple[Issue, ...]) -> Receipt:
    assert isinstance(found, Receipt), [str(i) for i in found]
    return found


def rules_of(found: Receipt | Original | tuple[Issue, ...]) -> list[str]:
    assert isinstance(found, tuple), found
    return [issue.rule for issue in found]


@pytest.fixture(scope="module")
def validator() -> XmlValidator:
    return XmlValidator()


# ---------------------------------------------------------------- original_of: XML letters


@pytest.mark.parametrize("path", GOLDEN, ids=[p.name for p in GOLDEN])
def test_original_of_every_golden_letter(path: Path) -> None:
    """The facts, read independently with XPath, are what original_of gives."""
    root = etree.fromstring(path.read_bytes())
    letter = root.xpath("/m:Emessage/*[m:Letter]", namespaces=M14)[0]

    def text(where: etree._Element, xpath: str) -> str:
        return str(where.xpath(f"string({xpath})", namespaces=M14))

    assert original_of(path.read_bytes()) == Original(
        kind=path.name.split("-")[1].upper(),
        message_id=text(letter, "m:Letter/m:Identifier"),
        envelope_id=text(root, "m:Envelope/m:Identifier"),
        version_code=text(letter, "m:Letter/m:VersionCode"),
        sender=text(letter, "m:Sender/m:EANIdentifier"),
        receiver=text(letter, "m:Receiver/m:EANIdentifier"),
    )


def golden_with(old: str, new: str, count: int = 1) -> bytes:
    data = GOLDEN[0].read_text("utf-8")
    assert old in data
    return data.replace(old, new, count).encode("utf-8")


def test_original_of_names_what_is_missing() -> None:
    data = re.sub(
        r"<Receiver>\s*<EANIdentifier>[^<]*</EANIdentifier>",
        "<Receiver>",
        GOLDEN[0].read_text("utf-8"),
    ).encode()
    found = original_of(data)
    assert rules_of(found) == ["RECEIPT-MISSING"]
    assert isinstance(found, tuple) and "Receiver/EANIdentifier" in found[0].message


def test_original_of_refuses_an_identifier_no_receipt_can_echo() -> None:
    original = letter_original()
    data = golden_with(
        f"<Identifier>{original.message_id}</Identifier>",
        f"<Identifier>{original.message_id}X</Identifier>",
    )
    found = original_of(data)
    assert rules_of(found) == ["RECEIPT-ECHO"]
    assert isinstance(found, tuple) and found[0].location == "Letter/Identifier"


def test_original_of_one_letter_per_emessage() -> None:
    data = GOLDEN[0].read_text("utf-8")
    assert "<LaboratoryReport>" in data, "the first golden file is an XRPT01"
    start, end = data.index("  <LaboratoryReport>"), data.index("</LaboratoryReport>")
    letter = data[start : end + len("</LaboratoryReport>\n")]
    twice = data.replace(letter, letter + letter).encode()
    assert rules_of(original_of(twice)) == ["RECEIPT-MULTIPLE"]


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "RECEIPT-SYNTAX"),
        (b"<Emessage", "RECEIPT-SYNTAX"),
        (b'<!DOCTYPE x [<!ENTITY e "x">]><x>&e;</x>', "RECEIPT-UNSAFE"),
        (b"<a>" * 40 + b"</a>" * 40, "RECEIPT-TOO-DEEP"),
        (b"<Emessage/>", "RECEIPT-KIND"),
        (
            f'<Emessage xmlns="{NS_2014}"><Envelope/><Other><Letter/></Other></Emessage>'.encode(),
            "RECEIPT-KIND",
        ),
        (b"{", "RECEIPT-SYNTAX"),
        (b'{"resourceType": "Patient"}', "RECEIPT-KIND"),
    ],
    ids=["empty", "broken", "dtd", "deep", "no-namespace", "other-letter", "json", "not-bundle"],
)
def test_original_of_unreadable_messages(data: bytes, rule: str) -> None:
    assert rules_of(original_of(data)) == [rule]


def test_a_receipt_is_never_receipted() -> None:
    assert rules_of(original_of(xctl(ReceiptOutcome.POSITIVE))) == ["RECEIPT-KIND"]


# ---------------------------------------------------------------- XCTL03 / XCTL02


def cases_to_validate() -> dict[str, bytes]:
    """A receipt of each outcome for every golden letter, and one per refuse code."""
    cases: dict[str, bytes] = {}
    for path in GOLDEN:
        original = original_of(path.read_bytes())
        assert isinstance(original, Original)
        cases[f"{path.stem}/positive"] = xctl(ReceiptOutcome.POSITIVE, original)
        cases[f"{path.stem}/negative"] = xctl(ReceiptOutcome.NEGATIVE, original)
    for code in REFUSE_CODES:
        cases[f"refuse/{code}"] = xctl(ReceiptOutcome.NEGATIVE, refuse_code=code)
    cases["negative/bare"] = xctl(ReceiptOutcome.NEGATIVE, issues=(), refuse_code=None)
    cases["negative/text-only"] = xctl(ReceiptOutcome.NEGATIVE, refuse_code=None)
    return cases


CASES = cases_to_validate()


@pytest.mark.parametrize("case", list(CASES))
def test_every_rendered_receipt_validates_with_our_schema(
    validator: XmlValidator, case: str
) -> None:
    data = CASES[case]
    root = etree.fromstring(data)
    entry, problem = validator.identify(root, case)
    assert problem is None and entry is not None
    assert entry.type_code == ("XCTL03" if case.endswith("positive") else "XCTL02")
    assert [str(i) for i in validator.iter_issues(data) if i.blocking] == []


def test_every_rendered_receipt_validates_with_the_official_schema(
    official_2005_xsd: Path, tmp_path: Path
) -> None:
    """MedCom's own EMessage.xsd agrees, in lxml and in xmllint (an independent libxml2 run)."""
    official = compile_schema(official_2005_xsd)
    for case, data in CASES.items():
        assert official.validate(etree.fromstring(data)), f"{case}: {official.error_log}"
    if shutil.which("xmllint") is None:
        pytest.skip("xmllint not installed (Debian libxml2-utils)")
    verdicts = xmllint_verdicts(official_2005_xsd, CASES, tmp_path)
    assert [case for case, ok in verdicts.items() if not ok] == []


def test_the_receipt_goes_back_the_way_the_letter_came() -> None:
    original = letter_original()
    root = etree.fromstring(xctl(ReceiptOutcome.NEGATIVE, original))

    def ean(path: str) -> str:
        return str(
            root.xpath(
                f"string(/m:Emessage/m:NegativeReceipt/{path}/m:EANIdentifier)", namespaces=M05
            )
        )

    assert (ean("m:Sender"), ean("m:Receiver")) == (original.receiver, original.sender)
    assert (
        ean("m:OriginalEmessage/m:OriginalSender"),
        ean("m:OriginalEmessage/m:OriginalReceiver"),
    ) == (original.sender, original.receiver)
    assert root.xpath("string(//m:AcknowledgementCode)", namespaces=M05) == "minuspositivkvitt"
    # Danish local time, hh:mm: 09:30 UTC is 10:30 in December
    assert root.xpath("string(//m:Envelope/m:Sent/m:Time)", namespaces=M05) == "10:30"


@pytest.mark.parametrize("outcome", [ReceiptOutcome.POSITIVE, ReceiptOutcome.NEGATIVE])
def test_xml_round_trip(outcome: ReceiptOutcome) -> None:
    original = letter_original()
    data = xctl(outcome, original)
    negative = outcome is ReceiptOutcome.NEGATIVE
    assert receipt(parse_xctl(data)) == Receipt(
        kind="XCTL02" if negative else "XCTL03",
        outcome=outcome,
        message_id=original.message_id,
        envelope_id=original.envelope_id,
        receipt_id="R0000000000001",
        refuse_code="syntaksfejl" if negative else None,
        issues=ISSUES if negative else (),
        content=data,
    )
    assert parse_receipt(data) == parse_xctl(data)


def test_rendering_is_deterministic() -> None:
    assert xctl(ReceiptOutcome.NEGATIVE) == xctl(ReceiptOutcome.NEGATIVE)


def test_issue_text_is_cleaned_and_escaped_for_xml() -> None:
    nasty = Issue(
        Severity.ERROR,
        IssueType.VALUE,
        "MC-UNIT",
        "a <b> & ]]> \x00\x1f\ud800 line\nbreak\ttab",
        "/Emessage/x",
    )
    data = xctl(ReceiptOutcome.NEGATIVE, issues=(nasty,))
    (back,) = receipt(parse_xctl(data)).issues
    assert back.message == "a <b> & ]]> \ufffd\ufffd\ufffd line break tab"
    assert (back.rule, back.location, back.severity, back.code) == (
        "MC-UNIT",
        "/Emessage/x",
        Severity.ERROR,
        IssueType.VALUE,
    )


@pytest.mark.parametrize(
    ("outcome", "changes", "says"),
    [
        (ReceiptOutcome.TRANSIENT, {}, "no transient"),
        (ReceiptOutcome.POSITIVE, {"issues": ISSUES}, "no refuse code and no Issues"),
        (ReceiptOutcome.POSITIVE, {"refuse_code": "syntaksfejl"}, "no refuse code"),
        (ReceiptOutcome.NEGATIVE, {"refuse_code": "ukendt"}, "is not one of"),
        (ReceiptOutcome.NEGATIVE, {"receipt_id": "R" * 15}, "receipt_id"),
        (ReceiptOutcome.NEGATIVE, {"envelope_id": ""}, "envelope_id"),
        (ReceiptOutcome.NEGATIVE, {"receipt_id": "R\x01"}, "receipt_id"),
        (ReceiptOutcome.POSITIVE, {"sent": datetime(2025, 12, 1, 9, 30)}, "timezone"),
    ],
)
def test_render_xctl_refuses_what_the_schema_would(
    outcome: ReceiptOutcome, changes: dict[str, object], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        xctl(outcome, **changes)


def test_render_xctl_refuses_originals_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="FHIR"):
        xctl(ReceiptOutcome.POSITIVE, replace(letter_original(), kind="FHIR"))
    with pytest.raises(ValueError, match=r"original\.sender"):
        xctl(ReceiptOutcome.POSITIVE, replace(letter_original(), sender="5" * 36))
    with pytest.raises(ValueError, match=r"original\.version_code"):
        xctl(ReceiptOutcome.POSITIVE, replace(letter_original(), version_code="XR0131KX"))


def official_example(reference_dir: Path, name: str) -> bytes:
    path = reference_dir / "medcom-xml" / "examples" / "xml" / name
    if not path.is_file():
        pytest.skip(f"{name} not in the reference folder")
    return path.read_bytes()


def test_official_negative_receipt_is_read(reference_dir: Path) -> None:
    """MedCom's CTL02_1.xml (windows-1252): its refusal text is layout broken over lines."""
    data = official_example(reference_dir, "CTL02_1.xml")
    found = receipt(parse_receipt(data))
    assert (found.kind, found.outcome, found.message_id, found.envelope_id, found.receipt_id) == (
        "XCTL02",
        ReceiptOutcome.NEGATIVE,
        "1111MAN01095",
        "MEDREF01095",
        "BrevNr5678",
    )
    assert found.refuse_code == "problem_med_version" and found.content == data
    (issue,) = found.issues
    assert issue.rule == "RECEIPT-REPORTED" and issue.severity is Severity.ERROR
    assert issue.message.startswith("EDI-brev med nummeret 1111MAN01095")
    assert "Med venlig hilsen IT-Hotline." in issue.message


def test_official_positive_receipt_is_read(reference_dir: Path) -> None:
    data = official_example(reference_dir, "CTL03_1.xml")
    found = receipt(parse_receipt(data))
    assert (found.kind, found.outcome, found.message_id, found.refuse_code, found.issues) == (
        "XCTL03",
        ReceiptOutcome.POSITIVE,
        "1111FRE01095",
        None,
        (),
    )


def test_envelope_level_refusal_names_no_letter() -> None:
    """XCTL02 may refuse a whole envelope (unknown location number) without an OriginalLetter."""
    text = xctl(ReceiptOutcome.NEGATIVE, issues=(), refuse_code=None).decode()
    text = re.sub(r"\s*<OriginalLetter>.*</OriginalLetter>", "", text, flags=re.S)
    text = text.replace(
        "</OriginalReceiver>",
        "</OriginalReceiver><RefuseCode>ukendt_lokationsnummer</RefuseCode>"
        "<RefuseText>Lokationsnummeret er ukendt.<Break/>Med venlig hilsen</RefuseText>",
    )
    found = receipt(parse_xctl(text.encode()))
    assert (found.message_id, found.envelope_id, found.refuse_code) == (
        "",
        letter_original().envelope_id,
        "ukendt_lokationsnummer",
    )
    assert [i.message for i in found.issues] == ["Lokationsnummeret er ukendt. Med venlig hilsen"]


def test_a_receipt_that_breaks_the_schema_is_refused() -> None:
    data = xctl(ReceiptOutcome.POSITIVE).replace(b"<StatisticalCode>XCTL03</StatisticalCode>", b"")
    found = parse_xctl(data)
    assert set(rules_of(found)) == {"RECEIPT-SCHEMA"}
    wrong_version = xctl(ReceiptOutcome.POSITIVE).replace(b"XC0330Q", b"XC0230Q")
    assert set(rules_of(parse_xctl(wrong_version))) == {"RECEIPT-SCHEMA"}


def test_a_letter_is_not_a_receipt() -> None:
    assert rules_of(parse_xctl(GOLDEN[0].read_bytes())) == ["RECEIPT-KIND"]
    assert rules_of(parse_receipt(GOLDEN[0].read_bytes())) == ["RECEIPT-KIND"]


def test_a_receipt_for_several_letters_is_not_guessed_at() -> None:
    text = xctl(ReceiptOutcome.POSITIVE).decode()
    letter = re.search(r"<OriginalLetter>.*?</OriginalLetter>", text, flags=re.S)
    assert letter is not None
    data = text.replace(letter.group(0), letter.group(0) * 2).encode()
    assert rules_of(parse_xctl(data)) == ["RECEIPT-MULTIPLE"]


# ---------------------------------------------------------------- DGWS answer and faults


def test_wrap_puts_the_receipt_in_the_body_under_a_medcom_header() -> None:
    data = xctl(ReceiptOutcome.NEGATIVE)
    wrapped = soap.wrap(data)
    root = etree.fromstring(wrapped)
    ns = {"s": SOAP, "medcom": MEDCOM, "m": NS_2005}
    header = "/s:Envelope/s:Header/medcom:Header"
    assert root.xpath(f"string({header}/medcom:SecurityLevel)", namespaces=ns) == "5"
    assert root.xpath(f"string({header}/medcom:FlowStatus)", namespaces=ns) == (
        "flow_finalized_succesfully"
    )
    message_id = root.xpath(f"string({header}/medcom:Linking/medcom:MessageID)", namespaces=ns)
    assert re.fullmatch(r"[0-9a-f-]{36}", message_id)
    assert len(root.xpath("/s:Envelope/s:Body/*", namespaces=ns)) == 1
    assert root.xpath("/s:Envelope/s:Body/m:Emessage", namespaces=ns)
    found = receipt(parse_receipt(wrapped))
    assert found == replace(receipt(parse_xctl(data)), content=wrapped)


def test_wrap_is_deterministic_and_each_receipt_has_its_own_message_id() -> None:
    first = soap.wrap(xctl(ReceiptOutcome.POSITIVE))
    assert soap.wrap(xctl(ReceiptOutcome.POSITIVE)) == first
    other = soap.wrap(xctl(ReceiptOutcome.POSITIVE, receipt_id="R0000000000002"))
    ids = [etree.fromstring(d).findtext(f".//{{{MEDCOM}}}MessageID") for d in (first, other)]
    assert ids[0] != ids[1]
    running = soap.wrap(xctl(ReceiptOutcome.POSITIVE), "flow_running")
    assert b"<medcom:FlowStatus>flow_running</medcom:FlowStatus>" in running


def test_wrap_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(ValueError, match="FlowStatus"):
        soap.wrap(xctl(ReceiptOutcome.POSITIVE), "done")
    with pytest.raises(ValueError, match="cannot be wrapped"):
        soap.wrap(b'<!DOCTYPE x [<!ENTITY e "x">]><x>&e;</x>')


@pytest.mark.parametrize("code", sorted(soap.FAULT_CODES))
def test_every_fault_is_read_with_its_code_and_fate(code: str) -> None:
    data = soap.fault(code, f"refused: {code} — æøå")
    root = etree.fromstring(data)
    assert root.xpath("string(//faultcode)") == "soapenv:Server"
    (issue,) = rules_and(parse_receipt(data))
    transient = code == "processing_problem"
    assert fault_is_transient(code) is transient
    assert issue.rule == "RECEIPT-FAULT" and issue.location == code
    assert issue.message.startswith(f"SOAP fault {code} (")
    assert issue.message.endswith(f"refused: {code} — æøå")
    assert (issue.code is IssueType.PROCESSING) is transient


def rules_and(found: Receipt | tuple[Issue, ...]) -> tuple[Issue, ...]:
    assert isinstance(found, tuple), found
    return found


def test_fault_refuses_codes_dgws_does_not_have() -> None:
    with pytest.raises(ValueError, match="not a DGWS fault code"):
        soap.fault("oops", "x")


def test_fault_text_is_cleaned() -> None:
    (issue,) = rules_and(parse_receipt(soap.fault("syntax_error", "bad\x00byte")))
    assert issue.message.endswith("bad\ufffdbyte") and issue.code is IssueType.STRUCTURE


def soap_envelope(body: str) -> bytes:
    return f'<s:Envelope xmlns:s="{SOAP}"><s:Body>{body}</s:Body></s:Envelope>'.encode()


def test_foreign_faults_and_bodies() -> None:
    no_code = soap_envelope(
        "<s:Fault><faultcode>s:Server</faultcode><faultstring>x</faultstring></s:Fault>"
    )
    (issue,) = rules_and(parse_receipt(no_code))
    assert issue.rule == "RECEIPT-FAULT" and issue.location is None
    assert fault_is_transient(issue.location or "") is False
    assert rules_of(parse_receipt(soap_envelope(""))) == ["RECEIPT-KIND"]
    two = xctl(ReceiptOutcome.POSITIVE).split(b"?>", 1)[1].decode()
    assert rules_of(parse_receipt(soap_envelope(two + two))) == ["RECEIPT-KIND"]
    assert rules_of(parse_receipt(soap_envelope("<other/>"))) == ["RECEIPT-KIND"]


def test_parse_receipt_tells_nothing_from_something() -> None:
    assert rules_of(parse_receipt(b"")) == ["RECEIPT-SYNTAX"]
    assert rules_of(parse_receipt(b"Internal Server Error")) == ["RECEIPT-SYNTAX"]
    assert rules_of(parse_receipt(b" " * (1024 * 1024 + 1))) == ["RECEIPT-TOO-LARGE"]
