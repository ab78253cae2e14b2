"""What a receiver does with a message whose ids it may have seen: one table per syntax.

MedCom's reliable-messaging rules (notes/security-transport.md §5.1, §5.2; notes/medcom-fhir.md
§5): a receiver "SHALL accept duplicates", "SHALL NOT present duplicates to end-users", and
"SHALL return the same ack content as for the first copy; never positive then negative". What
counts as a duplicate depends on the ids the syntax carries:

- XML letters in DGWS envelopes: DGWS's technical retry resends the same bytes and "the provider
  returns the stored answer" (handled before this table, by the request's digest); otherwise
  the letter id decides (MedCom envelope rule: a resend has a new envelope id, the same letter id).
- FHIR messages (043_Reliable_Messaging-FHIR): Bundle.id and MessageHeader.id together.

Pure: facts about what the store holds in; an `Action` out.
"""

from __future__ import annotations

import enum


class Action(enum.StrEnum):
    PROCESS = "process"  # new: validate, store once, receipt
    REPLAY = "replay"  # "original response lost → resend original response": the stored bytes
    SAME_CONTENT = "same-content"  # a resend: the first receipt's content, new receipt ids
    REFUSE = "refuse"  # an envelope id reused for another message: an error, negative receipt


class BundleSeen(enum.Enum):
    NO = "no"
    WITH_THIS_MESSAGE = "with-this-message"
    WITH_OTHER_MESSAGE = "with-other-message"


# 043_Reliable_Messaging-FHIR, "Duplicate detection" (notes/security-transport.md §5.2):
# (MessageHeader.id seen, Bundle.id seen) → what to do.
FHIR_TABLE: dict[tuple[bool, BundleSeen], Action] = {
    (False, BundleSeen.NO): Action.PROCESS,
    # "both seen: original response lost → resend original response"
    (True, BundleSeen.WITH_THIS_MESSAGE): Action.REPLAY,
    # "only message id seen: resubmission: reprocess or reject" — we answer as for the first
    # copy (same ack content, new ack ids), so a resend never changes the verdict.
    (True, BundleSeen.NO): Action.SAME_CONTENT,
    # "only envelope id seen: error, Bundle.id MUST never be reused"
    (False, BundleSeen.WITH_OTHER_MESSAGE): Action.REFUSE,
    (True, BundleSeen.WITH_OTHER_MESSAGE): Action.REFUSE,
}


def fhir_action(message_seen: bool, bundle: BundleSeen) -> Action:
    """The FHIR table's answer; a Bundle.id seen with this very message implies the message."""
    return FHIR_TABLE[(message_seen or bundle is BundleSeen.WITH_THIS_MESSAGE, bundle)]


def xml_action(letter_seen: bool) -> Action:
    """MedCom envelope rule: a letter id seen before is a resend; the receipt keeps its content."""
    return Action.SAME_CONTENT if letter_seen else Action.PROCESS
