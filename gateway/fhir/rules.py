"""The FHIR validator's rule codes, in one place, and the one way to make an Issue from them.

Each code is documented in docs/issue-codes.md ("FHIR messages"); codes never change meaning.
"""

from __future__ import annotations

from gateway.issues import Issue, IssueType, Severity

JSON = "FHIR-JSON"
TOO_LARGE = "FHIR-TOO-LARGE"
TOO_DEEP = "FHIR-TOO-DEEP"
DUPLICATE_KEY = "FHIR-DUPLICATE-KEY"
STRUCTURE = "FHIR-STRUCTURE"
VALUE = "FHIR-VALUE"
CARDINALITY = "FHIR-CARDINALITY"
TYPE = "FHIR-TYPE"
FIXED = "FHIR-FIXED"
PATTERN = "FHIR-PATTERN"
SLICE = "FHIR-SLICE"
BINDING = "FHIR-BINDING"
INVARIANT = "FHIR-INVARIANT"
INVARIANT_FAILED = "FHIR-INVARIANT-ERROR"
REFERENCE = "FHIR-REFERENCE"
FULLURL = "FHIR-FULLURL"
MESSAGE_HEADER = "FHIR-MESSAGEHEADER"
EXTENSION_UNKNOWN = "FHIR-EXTENSION-UNKNOWN"
PROFILE_UNKNOWN = "FHIR-PROFILE-UNKNOWN"


def error(code: IssueType, rule: str, message: str, location: str | None) -> Issue:
    return Issue(Severity.ERROR, code, rule, message, location=location)


def warning(code: IssueType, rule: str, message: str, location: str | None) -> Issue:
    return Issue(Severity.WARNING, code, rule, message, location=location)
