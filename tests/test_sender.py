"""What an HTTP answer means for a message (`delivery.sender.judge`): a receipt, taken, retry the
same bytes, or refused. Pure, so every case is driven directly; the live cases are in
test_delivery_faults.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.delivery.sender import Verdict, judge
from gateway.receipts import soap
from gateway.receipts.model import Original, ReceiptOutcome
from gateway.receipts.original import original_of
from gateway.receipts.xctl import render_xctl

WHEN = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "golden"


def _original() -> Original:
    letter = sorted(GOLDEN.glob("lsp-*.xml"))[0].read_bytes()
    found = original_of(letter)
    assert isinstance(found, Original)
    return found


def _receipt(outcome: ReceiptOutcome) -> bytes:
    return render_xctl(outcome, _original(), receipt_id="77", envelope_id="88", sent=WHEN)


@pytest.mark.parametrize("outcome", [ReceiptOutcome.POSITIVE, ReceiptOutcome.NEGATIVE])
def test_a_receipt_in_the_answer_is_the_verdict(outcome: ReceiptOutcome) -> None:
    result = judge(200, soap.wrap(_receipt(outcome)))
    assert result.verdict is Verdict.RECEIPT and result.receipt is not None
    assert result.receipt.outcome is outcome
    assert result.receipt.message_id == _original().message_id


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [
        (202, b"", Verdict.DELIVERED),
        (200, b"", Verdict.DELIVERED),
        (500, b"", Verdict.TRANSIENT),
        (503, b"busy", Verdict.TRANSIENT),
        (429, b"", Verdict.TRANSIENT),
        (408, b"", Verdict.TRANSIENT),
        (400, b"bad request", Verdict.REFUSED),
        (401, b"", Verdict.REFUSED),
        (404, b"no such path", Verdict.REFUSED),
    ],
)
def test_status_without_a_receipt(status: int, body: bytes, verdict: Verdict) -> None:
    result = judge(status, body)
    assert result.verdict is verdict and result.receipt is None
    if verdict is Verdict.REFUSED:
        assert [i.rule for i in result.issues] == ["DELIVERY-REFUSED"]
        assert str(status) in result.issues[0].message


def test_a_transient_soap_fault_is_retried_and_any_other_is_refused() -> None:
    assert judge(500, soap.fault("processing_problem", "busy")).verdict is Verdict.TRANSIENT
    for code in ("invalid_signature", "security_level_failed", "syntax_error"):
        result = judge(500, soap.fault(code, "no"))
        assert result.verdict is Verdict.REFUSED
        assert [(i.rule, i.location) for i in result.issues] == [("RECEIPT-FAULT", code)]


def test_a_2xx_that_is_not_a_receipt_waits_for_the_receipt_and_says_why() -> None:
    result = judge(200, b"<html>hello</html>")
    assert result.verdict is Verdict.DELIVERED and result.issues


@given(st.integers(100, 599), st.binary(max_size=2048))
def test_judge_never_raises(status: int, body: bytes) -> None:
    assert judge(status, body).verdict in Verdict
