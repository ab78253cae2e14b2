"""The receiver's door: a request's signature and signer are checked before anything is read.

DESIGN §6 "Verification": the payload is taken only from what verification returned (the signed
Body of a DGWS envelope, the Bundle a JWS covers), so a wrapped or tampered message cannot slip
content past the signature. A request that does not verify gets no receipt, since nobody can be
held to it: DGWS answers HTTP 500 with a SOAP fault (DGWS 1.0 p.27-28, notes/security-
transport.md §2.1), the FHIR endpoint 401 with an OperationOutcome.

Then the facts a receipt must echo are read (`gateway.receipts.original.original_of`). A signed
request with no letter to name cannot be receipted either: a SOAP fault `syntax_error`, or 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.issues import Issue
from gateway.receipts.original import original_of
from gateway.receiver import answers
from gateway.receiver.model import Answer, Arrival
from gateway.security.dgws_verify import VerifyPolicy, verify_envelope
from gateway.security.jws import VerifiedBundle, verify_bundle
from gateway.security.trust import TrustStore

# medcom:FaultCode values (DGWS 1.0 p.27-28) the receiver answers with.
SYNTAX_ERROR = "syntax_error"
INVALID_SIGNATURE = "invalid_signature"
SECURITY_LEVEL_FAILED = "security_level_failed"

# By rule: the envelope is not DGWS's shape (syntax), or is intact but signed by someone, or at
# a time, the service does not accept (security level); every other refusal means the
# signature itself does not hold.
_FAULT_BY_RULE = {
    "DGWS-STRUCTURE": SYNTAX_ERROR,
    "DGWS-STALE": SECURITY_LEVEL_FAILED,
    "DGWS-IDCARD": SECURITY_LEVEL_FAILED,
}
_FAULT_BY_PREFIX = {"XML-": SYNTAX_ERROR, "RECEIPT-": SYNTAX_ERROR, "TRUST-": SECURITY_LEVEL_FAILED}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request turned away before any receipt: the answer, and why (for the log)."""

    answer: Answer
    issues: tuple[Issue, ...]
    reason: str  # the SOAP fault code, or the HTTP reason


def fault_code(issue: Issue) -> str:
    """The DGWS fault code for the first blocking issue of a refused envelope."""
    if issue.rule in _FAULT_BY_RULE:
        return _FAULT_BY_RULE[issue.rule]
    prefix = next((p for p in _FAULT_BY_PREFIX if issue.rule.startswith(p)), None)
    return _FAULT_BY_PREFIX[prefix] if prefix else INVALID_SIGNATURE


class Door:
    """Verifies requests against one pinned trust store."""

    def __init__(self, trust: TrustStore, policy: VerifyPolicy) -> None:
        self.trust = trust
        self.policy = policy

    def xml(self, body: bytes, digest: str, now: datetime) -> Arrival | Refusal:
        """A DGWS envelope: verified at `now` (replay window), then its letter read."""
        checked = verify_envelope(body, now=now, trust=self.trust, policy=self.policy)
        if checked.envelope is None or not checked.valid:
            return _fault(tuple(i for i in checked.issues if i.blocking) or checked.issues)
        payload = checked.envelope.payload_bytes()
        original = original_of(payload)
        if isinstance(original, tuple):
            return _fault(original)
        return Arrival(original, payload, digest)

    def fhir(self, body: bytes, digest: str) -> Arrival | Refusal:
        """A signed FHIR message Bundle: its JWS and signer, then its MessageHeader read."""
        checked = verify_bundle(body, self.trust)
        if not isinstance(checked, VerifiedBundle):
            return Refusal(answers.outcome(401, checked), checked, "unauthorized")
        original = original_of(checked.content)
        if isinstance(original, tuple):
            return Refusal(answers.outcome(400, original), original, "not-a-message")
        return Arrival(original, checked.content, digest)


def _fault(issues: tuple[Issue, ...]) -> Refusal:
    first = issues[0]
    code = fault_code(first)
    return Refusal(answers.soap_fault(code, f"{first.rule}: {first.message}"), issues, code)
