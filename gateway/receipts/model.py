"""What a receipt says, whatever its syntax: which message, and positive, negative or transient.

XCTL03 PositiveReceipt → positive; XCTL02 NegativeReceipt → negative (with its refuse code);
FHIR Acknowledgement `ok` → positive, `fatal-error` → negative, `transient-error` → transient
(notes/medcom-fhir.md §5: AE = fatal, "no point in re-sending without change"; AR = transient,
"wait and try again").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.issues import Issue


class ReceiptOutcome(enum.StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    TRANSIENT = "transient"


@dataclass(frozen=True, slots=True)
class Party:
    """One side of a FHIR message, as much as its acknowledgement must name again.

    A MedCom acknowledgement is itself a MedCom message: its MessageHeader needs both endpoints,
    and its sender and receiver must be Organizations in the Bundle with SOR and GLN identifiers
    (medcom-messaging-organization). A reference alone cannot give that, so the reader keeps it.
    """

    endpoint: str  # MessageHeader.source.endpoint (sender), destination.endpoint (receiver)
    organization_id: str = ""  # Organization.id, when the reference resolves inside the Bundle
    name: str = ""
    sor: str = ""
    gln: str = ""


@dataclass(frozen=True, slots=True)
class Original:
    """The facts of a received message that its receipt must echo."""

    kind: str  # XRPT01, XRPT05, FHIR
    message_id: str  # Letter/Identifier, or MessageHeader.id
    envelope_id: str  # Envelope/Identifier, or Bundle.id
    version_code: str  # XR0131K, XR0532M; "" for FHIR
    sender: str  # sender EAN/GLN (XML) or the sender Organization reference (FHIR)
    receiver: str  # receiver EAN/GLN (XML) or the destination Organization reference (FHIR)
    sender_party: Party | None = None  # FHIR only: the sender's endpoint and Organization
    receiver_party: Party | None = None  # FHIR only: the primary receiver's


@dataclass(frozen=True, slots=True)
class Receipt:
    kind: str  # XCTL03, XCTL02, FHIR-ACK
    outcome: ReceiptOutcome
    message_id: str  # the message it acknowledges (OriginalLetterIdentifier, response.identifier)
    envelope_id: str  # the envelope it acknowledges (OriginalEnvelopeIdentifier; "" for FHIR)
    receipt_id: str  # the receipt's own id (its Letter/Identifier, its MessageHeader.id)
    refuse_code: str | None = None  # XCTL02 RefuseCode; FHIR: the first issue's details code
    issues: tuple[Issue, ...] = ()  # what the receiver found (negative and transient receipts)
    content: bytes = b""  # the exact bytes received or rendered
