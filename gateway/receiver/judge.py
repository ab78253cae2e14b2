"""The verdict on a new message: is it a kind this databank takes, and is it valid?

A receiver answers every message it can name with a receipt (MedCom KR1 "always ack"): positive
when the payload is valid (KR3), negative with the validator's Issues when it is not (KR6: AE
"when profile validation fails"; XCTL02 with RefuseCode `syntaksfejl`). A message of a kind the
databank does not take (an XRPT05 sent to Laboratoriesvarportalen) is refused the same way.
A duplicate never comes here: it gets the verdict of its first copy (`dedupe.py`).

Validators are built once per receiver; the FHIR one loads packages and compiles profiles, so it
is built at the first FHIR message (a receiver that only sees XML never pays for it).
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.fhir.validate import FhirValidator
from gateway.issues import Issue, IssueType, Severity
from gateway.receipts.model import ReceiptOutcome
from gateway.receiver.model import Arrival, Verdict
from gateway.validator import Validator
from gateway.xml.validate import XmlValidator

WRONG_KIND = "RECEIVER-WRONG-KIND"
FAULT_NEGATIVE = "RECEIVER-FAULT-NEGATIVE"
FAULT_VARIED = "RECEIVER-FAULT-VARIED"
BUNDLE_ID_REUSED = "RECEIVER-BUNDLE-ID-REUSED"

# XCTL02 RefuseCode (receipts-common.xsd RefusalReason).
REFUSE_SYNTAX = "syntaksfejl"
REFUSE_RECEIVER = "problem_med_modtagerID"
REFUSE_UNSPECIFIED = "ikke_specificeret"


def refusal(rule: str, message: str, refuse_code: str = REFUSE_UNSPECIFIED) -> Verdict:
    """A negative verdict for one reason of the receiver's own."""
    issue = Issue(Severity.ERROR, IssueType.PROCESSING, rule, message)
    return Verdict(ReceiptOutcome.NEGATIVE, (issue,), refuse_code)


def opposite(verdict: Verdict) -> Verdict:
    """Fault `vary_duplicate_receipt`: the other outcome, which MedCom forbids for a duplicate."""
    if verdict.outcome is ReceiptOutcome.POSITIVE:
        return refusal(FAULT_VARIED, "fault injection: a duplicate answered with the other outcome")
    return Verdict(ReceiptOutcome.POSITIVE)


class Judge:
    """Judges new messages for one databank."""

    def __init__(self, accepts: Callable[[str], bool], role: str) -> None:
        self.accepts = accepts
        self.role = role
        self._xml = XmlValidator()
        self._fhir: FhirValidator | None = None

    def verdict(self, arrival: Arrival, *, negative: bool, accept_invalid: bool) -> Verdict:
        """The verdict; `negative` and `accept_invalid` are the faults of those names."""
        kind = arrival.original.kind
        if not self.accepts(kind):
            message = f"{self.role} does not take {kind} messages"
            return refusal(WRONG_KIND, message, REFUSE_RECEIVER)
        if negative:
            return refusal(FAULT_NEGATIVE, "fault injection: every message gets a negative receipt")
        issues = tuple(
            issue
            for issue in self._validator(arrival).iter_issues(arrival.payload, "payload")
            if issue.blocking
        )
        if issues and not accept_invalid:
            return Verdict(ReceiptOutcome.NEGATIVE, issues, REFUSE_SYNTAX)
        return Verdict(ReceiptOutcome.POSITIVE)

    def _validator(self, arrival: Arrival) -> Validator:
        if not arrival.fhir:
            return self._xml
        if self._fhir is None:
            self._fhir = FhirValidator()
        return self._fhir
