"""Observations from labgw itself (`--target self`) and from a vendor's folder (`DIR`).

Self runs each case's input through the very code the gateway runs in production: intake, the
translation pipeline with its validators, the receipt reader, signature verification. A folder
holds a vendor's own output per case (`<case id>.<ext>`), judged by the same validators.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.clock import FixedClock, SequentialIds
from gateway.config import default_config
from gateway.conformance.result import Observation
from gateway.conformance.suite import Case, Suite
from gateway.intake import read_records
from gateway.mapping.tables import default_mappings
from gateway.pipeline import Translator
from gateway.receipts.model import Receipt
from gateway.receipts.parse import parse_receipt
from gateway.xml.validate import XmlValidator

if TYPE_CHECKING:
    from gateway.fhir.validate import FhirValidator


@dataclass
class Validators:
    """Built once per run: schemas and profiles are slow to load and safe to share."""

    payloads: dict[tuple[str, str], bytes] = field(default_factory=dict)  # transport messages

    @cached_property
    def xml(self) -> XmlValidator:
        return XmlValidator()

    @cached_property
    def fhir(self) -> FhirValidator:
        from gateway.fhir.validate import FhirValidator

        return FhirValidator()

    def translator(self, suite: Suite) -> Translator:
        """A deterministic pipeline: the suite's instant and sequential ids, so outputs repeat."""
        syntax = suite.format or "xml"
        settings = default_config().with_format(syntax)
        fhir = self.fhir if syntax == "fhir" else None
        return Translator(
            settings,
            default_mappings(),
            self.xml,
            FixedClock(suite.now),
            SequentialIds(),
            fhir,
        )

    def check_message(self, data: bytes, name: str) -> Observation:
        """A finished message: FHIR JSON (by name or first byte) or MedCom XML."""
        start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        is_json = name.lower().endswith(".json") or start in (b"{", b"[")
        validator = self.fhir if is_json else self.xml
        issues = tuple(validator.iter_issues(data, name))
        blocking = any(issue.blocking for issue in issues)
        return Observation(
            issues=issues,
            outcome="invalid" if blocking else "valid",
            inputs={name: data},
            outputs={name: data},
        )


def observe_self(suite: Suite, case: Case, validators: Validators) -> Observation:
    if case.records is not None:
        data = case.records.read_bytes()
        if suite.kind == "intake":
            return _intake(suite, data, case.records.name)
        return _translate(suite, data, case.records.name, validators)
    if case.message is not None:
        return validators.check_message(case.message.read_bytes(), case.message.name)
    if case.receipt is not None:
        return _receipt(case.receipt.read_bytes(), case.receipt.name)
    raise ValueError(
        f"{case.full_id}: transport cases are observed by gateway.conformance.transport"
    )


def observe_folder(suite: Suite, case: Case, folder: Path, validators: Validators) -> Observation:
    """The vendor's file for the case, judged as labgw judges its own output.

    Raises:
        FileNotFoundError: the folder has no file named by the case id.
    """
    # `S1.json`, never `S1.A1.json`: the name without its last suffix is the case id.
    found = sorted(p for p in folder.glob(f"{case.id}.*") if p.is_file() and p.stem == case.id)
    if not found:
        raise FileNotFoundError(f"no file {case.id}.* in {folder}")
    path = found[0]
    data = path.read_bytes()
    if suite.kind == "intake":
        return _intake(suite, data, path.name)
    if suite.kind == "receipt":
        return _receipt(data, path.name)
    observation = validators.check_message(data, path.name)
    observation.one_message = True
    return observation


def _intake(suite: Suite, data: bytes, name: str) -> Observation:
    batch = read_records(data, name, now=suite.now)
    issues = [*batch.file_issues]
    for item in batch.items:
        issues.extend(item.issues)
    rejected = any(issue.blocking for issue in issues)
    return Observation(
        issues=tuple(issues),
        outcome="rejected" if rejected else "accepted",
        inputs={name: data},
        notes=[f"{len(batch.items)} record(s) read"],
    )


def _translate(suite: Suite, data: bytes, name: str, validators: Validators) -> Observation:
    batch = read_records(data, name, now=suite.now)
    result = validators.translator(suite).translate(batch)
    outcomes = Counter(outcome.outcome.value for outcome in result.outcomes)
    outcome = (
        "rejected"
        if outcomes["rejected"] or not result.outcomes
        else "filtered"
        if outcomes["filtered"] == len(result.outcomes)
        else "accepted"
    )
    return Observation(
        issues=tuple(result.issues),
        outcome=outcome,
        destinations=tuple(sorted({m.destination.value for m in result.messages})),
        messages=len(result.messages),
        inputs={name: data},
        outputs={m.filename: m.content for m in result.messages},
        notes=[f"{k}: {v}" for k, v in sorted(outcomes.items())],
    )


def _receipt(data: bytes, name: str) -> Observation:
    found = parse_receipt(data)
    if not isinstance(found, Receipt):
        return Observation(issues=found, outcome="unreadable", inputs={name: data})
    facts = {
        "kind": found.kind,
        "message_id": found.message_id,
        "envelope_id": found.envelope_id,
        "receipt_id": found.receipt_id,
        "refuse_code": found.refuse_code,
        "issues": sorted({issue.rule for issue in found.issues}),  # what the receiver said
    }
    return Observation(
        outcome=found.outcome.value,
        inputs={name: data},
        outputs={name: data},
        facts=facts,
        notes=[
            f"{found.kind} for message {found.message_id}",
            *(f"receiver said: {issue.rule} {issue.message}" for issue in found.issues),
        ],
    )
