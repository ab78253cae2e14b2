"""Issues as a receipt carries them, and back: the text both receipt syntaxes share.

A receiver's Issues travel in a receipt as text: one RefuseText line each in XCTL02, one
OperationOutcome.issue each in a FHIR acknowledgement. Text from a validator may hold anything
(control characters, line breaks, lone surrogates from a broken decoder); XML 1.0 and FHIR strings
refuse some of it, so it is cleaned once, here, before it is written.

Reading a receipt back, an Issue keeps the labgw rule code the receiver gave it (labgw's own
receivers do); a rule that is not shaped like one of ours becomes `RECEIPT-REPORTED`, so a foreign
receiver can never make up codes that look like labgw's.
"""

from __future__ import annotations

import re

from gateway.issues import Issue, IssueType, Severity
from gateway.receipts import rules

# What labgw's rule codes look like (`XSD`, `LPS-CPR-SHAPE`, `FHIR-INVARIANT` …).
RULE = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*")
RULE_MAX = 64
# Characters neither XML 1.0 nor a FHIR string may hold, and line breaks and tabs, which would
# split one Issue over several RefuseText lines.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BREAKS = re.compile("[\t\n\r]")
_SEVERITIES = {s.value: s for s in Severity}
_TYPES = {t.value: t for t in IssueType}


def clean(text: str) -> str:
    """One line of text any XML 1.0 document and any FHIR string can carry."""
    return _UNWRITABLE.sub("\ufffd", _BREAKS.sub(" ", text))


def writable(text: str) -> bool:
    """True when XML 1.0 and FHIR can carry the text as it is (line breaks included)."""
    return _UNWRITABLE.search(text) is None


def is_rule(text: str) -> bool:
    return len(text) <= RULE_MAX and RULE.fullmatch(text) is not None


def reported(
    severity: str | None,
    code: str | None,
    rule: str | None,
    message: str,
    location: str | None = None,
) -> Issue:
    """An Issue read from a receipt; what is unknown or foreign gets a safe default."""
    return Issue(
        _SEVERITIES.get(severity or "", Severity.ERROR),
        _TYPES.get(code or "", IssueType.PROCESSING),
        rule if rule and is_rule(rule) else rules.REPORTED,
        message,
        location=location or None,
    )


# XCTL02 RefuseText: `error structure [XSD] /Emessage/LaboratoryReport: the message`, the
# location left out when there is none. Close to how labgw prints an Issue (`Issue.__str__`),
# so a person at the other end reads it as easily as a program does.
_LINE = re.compile(
    r"(?P<severity>[a-z]+) (?P<code>[a-z-]+) \[(?P<rule>[^\]]+)\](?: (?P<location>.*?))?: "
    r"(?P<message>.*)",
    re.DOTALL,
)


def to_line(issue: Issue) -> str:
    where = f" {clean(issue.location)}" if issue.location else ""
    head = f"{issue.severity.value} {issue.code.value} [{clean(issue.rule)}]{where}"
    return f"{head}: {clean(issue.message)}"


def from_text(text: str) -> tuple[Issue, ...]:
    """The Issues in a RefuseText: one per line labgw wrote; other text, where a line break is
    only layout (`Med venlig hilsen<Break/>IT-Hotline`), one Issue per run of such lines."""
    found: list[Issue] = []
    foreign: list[str] = []
    for line in text.split("\n"):
        match = _LINE.fullmatch(line)
        if match is None:
            if line.strip():
                foreign.append(line.strip())
            continue
        if foreign:
            found.append(reported(None, None, None, " ".join(foreign)))
            foreign = []
        found.append(
            reported(
                match["severity"], match["code"], match["rule"], match["message"], match["location"]
            )
        )
    if foreign:
        found.append(reported(None, None, None, " ".join(foreign)))
    return tuple(found)
