"""The bytes a receiver sends back: receipts with fresh ids, and the HTTP answers around them.

- Sync (DGWS): HTTP 200 with the receipt; XML in a SOAP envelope (`gateway.receipts.soap.wrap`),
  FHIR as the acknowledgement Bundle itself.
- Async: HTTP 202 with an empty body; the bare receipt is POSTed afterwards (`delivery.py`).
- Refusals: SOAP fault with HTTP 500 (DGWS), OperationOutcome with 401/400 (FHIR).

Every receipt gets its own ids and send time, also when it repeats an earlier receipt's content
(MedCom: "SHALL change envelope id/sent time of a re-sent ack").
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from gateway.clock import IdFactory
from gateway.issues import Issue
from gateway.receipts import soap
from gateway.receipts.fhir_ack import render_fhir_ack
from gateway.receipts.model import Original
from gateway.receipts.xctl import render_xctl
from gateway.receiver.config import ReceiptMode
from gateway.receiver.model import FHIR_TYPE, XML_TYPE, Answer, Post, Verdict
from gateway.report import operation_outcome

ACCEPTED = Answer(202, "", b"")


def soap_fault(code: str, text: str) -> Answer:
    """DGWS: a refused request is HTTP 500 with a SOAP fault naming the medcom:FaultCode."""
    return Answer(500, XML_TYPE, soap.fault(code, text))


def outcome(status: int, issues: Sequence[Issue]) -> Answer:
    """A refused FHIR request: the status and an OperationOutcome with the Issues."""
    body = json.dumps(operation_outcome(issues), ensure_ascii=False).encode("utf-8")
    return Answer(status, FHIR_TYPE, body)


def plain(status: int, text: str) -> Answer:
    """A short answer for people (an injected failure, a wrong Content-Type)."""
    return Answer(status, "text/plain; charset=utf-8", text.encode("utf-8"))


class Receipts:
    """Renders receipts and the answers that carry them, for one receipt mode."""

    def __init__(self, mode: ReceiptMode, ids: IdFactory) -> None:
        self.mode = mode
        self.ids = ids

    def render(self, verdict: Verdict, original: Original, sent: datetime) -> bytes:
        """XCTL03/XCTL02 for a letter, a MedCom acknowledgement for a FHIR message."""
        if original.kind == "FHIR":
            return render_fhir_ack(
                verdict.outcome,
                original,
                ack_id=str(uuid.uuid4()),
                bundle_id=str(uuid.uuid4()),
                sent=sent,
                issues=verdict.issues,
            )
        return render_xctl(  # MedCom letter and envelope ids alike: 14 digits
            verdict.outcome,
            original,
            receipt_id=self.ids.envelope_id(),
            envelope_id=self.ids.envelope_id(),
            sent=sent,
            issues=verdict.issues,
            refuse_code=verdict.refuse_code,
        )

    def answer(self, kind: str, receipt: bytes) -> Answer:
        """What the HTTP request itself gets back."""
        if self.mode is ReceiptMode.ASYNC:
            return ACCEPTED
        if kind == "FHIR":
            return Answer(200, FHIR_TYPE, receipt)
        return Answer(200, XML_TYPE, soap.wrap(receipt))

    def posts(self, message_id: str, kind: str, receipt: bytes, *, twice: bool) -> tuple[Post, ...]:
        """The receipt to POST (async mode; none in sync mode), twice for fault
        `duplicate_receipt`."""
        if self.mode is ReceiptMode.SYNC:
            return ()
        post = Post(message_id, FHIR_TYPE if kind == "FHIR" else XML_TYPE, receipt)
        return (post, post) if twice else (post,)

    def stranger(self, verdict: Verdict, original: Original, sent: datetime) -> tuple[Post, ...]:
        """Fault `unknown_receipt` (async): a receipt for a message id nobody sent."""
        if self.mode is ReceiptMode.SYNC:
            return ()
        unknown = replace(
            original, message_id=self._new_id(original), envelope_id=self._new_id(original)
        )
        receipt = self.render(verdict, unknown, sent)
        return self.posts(unknown.message_id, unknown.kind, receipt, twice=False)

    def _new_id(self, original: Original) -> str:
        return str(uuid.uuid4()) if original.kind == "FHIR" else self.ids.envelope_id()
