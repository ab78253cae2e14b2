"""The receipts' rule codes, in one place, and the one way to make an Issue from them.

Each code is documented in docs/issue-codes.md ("Receipts"); codes never change meaning. The
readers never raise on what arrives: whatever is wrong with a receipt (or with a message that is
to get one) comes back as Issues with these codes.
"""

from __future__ import annotations

from gateway.issues import Issue, IssueType, Severity

TOO_LARGE = "RECEIPT-TOO-LARGE"
SYNTAX = "RECEIPT-SYNTAX"
UNSAFE = "RECEIPT-UNSAFE"
TOO_DEEP = "RECEIPT-TOO-DEEP"
KIND = "RECEIPT-KIND"
MULTIPLE = "RECEIPT-MULTIPLE"
MISSING = "RECEIPT-MISSING"
INVALID = "RECEIPT-INVALID"
ECHO = "RECEIPT-ECHO"
SCHEMA = "RECEIPT-SCHEMA"
FAULT = "RECEIPT-FAULT"
REPORTED = "RECEIPT-REPORTED"


def fatal(code: IssueType, rule: str, message: str, location: str | None = None) -> Issue:
    """A finding that leaves nothing to read: no receipt (or no Original) comes out."""
    return Issue(Severity.FATAL, code, rule, message, location=location)
