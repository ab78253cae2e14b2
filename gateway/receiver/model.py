"""The values a receiver passes between its steps: what arrived, what it decided, what it stored.

Plain frozen dataclasses, no behaviour: the steps that make and read them live in `arrival.py`
(verify and read), `judge.py` (the verdict), `answers.py` (the bytes going back) and `store.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.issues import Issue
from gateway.receipts.model import Original, ReceiptOutcome
from gateway.receiver.dedupe import Action

XML_TYPE = "text/xml; charset=utf-8"  # SOAP 1.1 and bare MedCom XML
FHIR_TYPE = "application/fhir+json"


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, kept so that a retransmission gets the same bytes again."""

    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Arrival:
    """A message whose signature and signer verified: only what was signed is in here."""

    original: Original
    payload: bytes  # the verified letter (XML) or the Bundle without its signature (FHIR)
    digest: str  # SHA-256 of the request body, hex

    @property
    def fhir(self) -> bool:
        return self.original.kind == "FHIR"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the receiver says about a message; a duplicate gets the first copy's verdict."""

    outcome: ReceiptOutcome
    issues: tuple[Issue, ...] = ()
    refuse_code: str | None = None


@dataclass(frozen=True, slots=True)
class Post:
    """A receipt to POST to the sender (async mode); `id` is given by the store."""

    message_id: str
    content_type: str
    body: bytes
    id: int = 0


@dataclass(frozen=True, slots=True)
class Received:
    """A message as stored, exactly once, with the receipt and the answer it got."""

    message_id: str
    kind: str
    envelope_id: str
    payload: bytes
    digest: str
    verdict: Verdict
    receipt: bytes
    answer: Answer
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Repeat:
    """A request that brought a message already stored: logged, never stored as a message."""

    message_id: str
    kind: str
    envelope_id: str
    digest: str
    action: Action
    outcome: ReceiptOutcome
    receipt: bytes
    answer: Answer
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Replay:
    """An answer given before, to give again byte for byte (a retransmission)."""

    message_id: str
    kind: str
    envelope_id: str
    outcome: ReceiptOutcome
    receipt: bytes
    answer: Answer


@dataclass(frozen=True, slots=True)
class Admission:
    """What the store did with a new message: stored it, or found what it had before.

    `first` is the stored first copy (None for PROCESS and for a REFUSE of an unknown message);
    `replay` the stored answer to repeat (REPLAY only); `posts` the receipts queued (PROCESS).
    """

    action: Action
    first: Received | None = None
    replay: Replay | None = None
    posts: tuple[Post, ...] = ()
