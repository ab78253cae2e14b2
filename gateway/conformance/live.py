"""`--target URL`: drive a receiver under test with the transport suites' messages.

Each case's bytes are signed afresh (the receiver checks Timestamp freshness), sent as labgw's
sender sends (mTLS, the configured trust store, `gateway.delivery.sender.Sender`), and what comes
back is named by one word the case's `live.receipt` is compared with: `positive` / `negative` /
`transient` (a receipt in the answer), `fault` (a SOAP fault), `refused` (an HTTP refusal with
no receipt). A `send: twice` case sends the same bytes again and expects the same receipt.

Letter and message ids carry a tag unique to the run, so a second run against the same receiver
is not answered as a duplicate of the first.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from gateway.conformance.observe import Validators
from gateway.conformance.result import Observation
from gateway.conformance.run import NotApplicable
from gateway.conformance.suite import Case, Suite
from gateway.conformance.transport import SIGNER, Kit, payload, signed
from gateway.delivery.seal import FHIR_CONTENT_TYPE, XML_CONTENT_TYPE
from gateway.delivery.sender import Sender, SendResult, TransportConfig, Verdict
from gateway.outbox.model import Envelope
from gateway.receipts.fhir_ack import KIND as ACK_KIND
from gateway.security.keys import SigningIdentity, load_identity
from gateway.service.config import load_service_config


@dataclass
class LiveTarget:
    url: str
    kit: Kit
    transport: TransportConfig
    tag: str  # unique per run

    @property
    def name(self) -> str:
        return self.url

    @cached_property
    def validators(self) -> Validators:
        return Validators()

    @classmethod
    def from_config(cls, url: str, path: Path) -> LiveTarget:
        """The identity and TLS of a service configuration; the other certificates a case may
        sign with are looked for beside the identity (`<name>.pem`, `<name>.key.pem`, as
        `labgw certs init` writes them)."""
        config = load_service_config(path)
        identity = load_identity(config.identity, config.identity_key, config.password)
        folder = config.identity.parent

        def named(name: str) -> SigningIdentity | None:
            if name == SIGNER:
                return identity
            cert, key = folder / f"{name}.pem", folder / f"{name}.key.pem"
            return load_identity(cert, key) if cert.is_file() and key.is_file() else None

        tag = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        return cls(url, Kit(datetime.now(UTC), named, None), config.transport, tag)

    def observe(self, suite: Suite, case: Case) -> Observation:
        if suite.kind not in ("dgws", "jws") or not case.live:
            raise NotApplicable("a live receiver is driven by the transport suites' cases")
        kit = replace(self.kit, now=datetime.now(UTC))  # inside the receiver's window
        tag = f"{self.tag}-{case.id}"
        try:
            data = signed(suite, case, kit, payload(suite, self.validators, tag), tag)
        except LookupError as exc:
            raise NotApplicable(f"{exc}: it is not beside the configured identity") from None
        content_type = XML_CONTENT_TYPE if suite.kind == "dgws" else FHIR_CONTENT_TYPE
        envelope = Envelope(tag, 1, tag, data, content_type, "conformance", kit.now)
        times = 2 if case.live.get("send") == "twice" else 1
        answers = asyncio.run(self._send(envelope, times))
        words = [_word(answer) for answer in answers]
        outcome = words[0]
        if times == 2 and (words[1] != words[0] or not _same_receipt(*answers)):
            outcome = f"{words[0]}, then {words[1]} (a duplicate must get the same receipt)"
        name = "envelope.xml" if suite.kind == "dgws" else "message.json"
        outputs = {name: data}
        outputs |= {
            f"answer-{n}.txt": answer.detail.encode("utf-8") for n, answer in enumerate(answers, 1)
        }
        for n, answer in enumerate(answers, 1):
            if answer.receipt is not None:
                outputs[f"receipt-{n}{_suffix(answer)}"] = answer.receipt.content
        notes = [answer.detail for answer in answers]
        return Observation(outcome=outcome, outputs=outputs, notes=notes, live=True)

    async def _send(self, envelope: Envelope, times: int) -> list[SendResult]:
        sender = Sender(self.transport)
        await sender.start()
        try:
            return [await sender.post(self.url, envelope) for _ in range(times)]
        finally:
            await sender.close()


def _word(answer: SendResult) -> str:
    if answer.verdict is Verdict.RECEIPT and answer.receipt is not None:
        return answer.receipt.outcome.value
    if any(issue.rule == "RECEIPT-FAULT" for issue in answer.issues):
        return "fault"
    if answer.verdict is Verdict.REFUSED:
        return "refused"
    return f"no answer ({answer.detail})"


def _same_receipt(first: SendResult, second: SendResult) -> bool:
    """A duplicate's receipt says what the first one said (outcome, letter, Issues); answers
    without receipts are compared by their word alone."""
    if first.receipt is None or second.receipt is None:
        return True
    said = (first.receipt.outcome, first.receipt.message_id, first.receipt.issues)
    return said == (second.receipt.outcome, second.receipt.message_id, second.receipt.issues)


def _suffix(answer: SendResult) -> str:
    return ".json" if answer.receipt is not None and answer.receipt.kind == ACK_KIND else ".xml"
