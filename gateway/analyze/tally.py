"""The analysis itself: every record of an extract counted once, into one JSON-able report.

It runs each record through the same intake, mapping and routing a translation would use, so the
preview says what labgw would really send, and adds what only a whole extract shows: volumes per
practice and month, which codes are in use, and data-quality findings with advice.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.analyze.ledger import EXAMPLES, RecordLedger, Row
from gateway.analyze.limits import Limits
from gateway.config import GatewayConfig, default_config
from gateway.formats import FORMATS
from gateway.intake.readers import RawRecord
from gateway.intake.record import RecordBuilder
from gateway.issues import Issue
from gateway.letters import letter_key
from gateway.mapping.resolve import map_record, npu_code_for
from gateway.mapping.tables import Mappings
from gateway.model import Consent, LabRecord
from gateway.routing import destination_for, plan_routes

_OFFSET = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")
_UNIT_RULES = ("MAP-UNIT-MISMATCH", "MAP-UNIT-UNKNOWN")

# Advice per finding; intake and mapping rules not listed get the generic advice.
ADVICE = {
    "LPS-CPR": "Fix the CPR number in the practice system; the record cannot be shared.",
    "LPS-DATETIME": "Send date and time of day with a UTC offset (ISO 8601).",
    "AQ-TIME-NO-OFFSET": "Send times with a UTC offset; labgw assumes Danish time without one.",
    "MAP-VALUE-TYPE": "Results written as text where the analysis has numbers: record the "
    "number on the lab card and any remark in the comment.",
    "MAP-UNKNOWN-CODE": "Add the codes to mappings/ or have the practice system send NPU codes.",
    "MAP-UNIT-MISMATCH": "Check the unit: the value is probably in another unit than the "
    "NPU definition, and would be misread.",
    "MAP-UNIT-UNKNOWN": "Add the unit spelling to mappings/units.csv if it is a real unit.",
    "AQ-IMPLAUSIBLE": "Check the value and its unit; it lies outside physiological limits "
    "(mappings/plausibility.csv).",
    "AQ-DUPLICATE-VERSION": "The same record version was extracted twice; a new version must "
    "have a new version number.",
    "AQ-VERSION-GAP": "Versions are missing between the first and the last; check that every "
    "version is extracted.",
    "AQ-CORRECTION-NO-ORIGINAL": "A later version without version 1 in the extract; include "
    "the original or check the version numbering.",
}
_GENERIC = "See docs/issue-codes.md for the rule and fix the field in the practice system."
TITLES = {
    "AQ-TIME-NO-OFFSET": "times without UTC offset",
    "AQ-IMPLAUSIBLE": "values outside physiological limits",
    "AQ-DUPLICATE-VERSION": "duplicate record versions",
    "AQ-VERSION-GAP": "record version gaps",
    "AQ-CORRECTION-NO-ORIGINAL": "corrections without an original",
}


@dataclass(slots=True)
class _Code:
    count: int = 0
    practices: set[str] = field(default_factory=set)
    npu: str | None = None


@dataclass(slots=True)
class _Finding:
    title: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)


class Analysis:
    """Feed it blocks of records with `add_block`; `report` gives the result; then `close`."""

    def __init__(
        self,
        now: datetime,
        mappings: Mappings,
        limits: Limits,
        config: GatewayConfig | None = None,
    ) -> None:
        self.builder = RecordBuilder(now)
        self.config = config or default_config()
        self.mappings = mappings
        self.limits = limits
        self.inputs: list[str] = []
        self.records = self.accepted = 0
        self.practices: set[str] = set()
        self.vendors: Counter[str] = Counter()
        self.months: Counter[str] = Counter()
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.codes: dict[tuple[str, str], _Code] = defaultdict(_Code)
        self.units: Counter[tuple[str, str, str | None, str]] = Counter()
        self.filtered: Counter[str] = Counter()
        self.findings: dict[str, _Finding] = {}
        self.file_issues: list[Issue] = []
        self.ledger = RecordLedger()

    def add_block(self, source: str, raws: list[RawRecord]) -> None:
        rows: list[Row] = []
        for raw in raws:
            self.records += 1
            if raw.issues or not isinstance(raw.data, dict):
                self._rejected(raw.issues, f"{source}:{raw.line}")
                continue
            record, issues = self.builder.build(raw.data, source=source, line=raw.line)
            self._raw_quality(raw.data, record.key if record else f"{source}:{raw.line}")
            if record is None:
                self._rejected(issues, f"{source}:{raw.line}")
                self._code_seen(raw.data)
                continue
            self.accepted += 1
            rows.extend(self._record(record))
        self.ledger.add(rows)

    def _rejected(self, issues: list[Issue] | tuple[Issue, ...], where: str) -> None:
        self.filtered["rejected at intake"] += 1
        for issue in issues:
            if issue.blocking:
                title = f"rejected at intake: {issue.location or 'record'}"
                self._finding(issue.rule, title).add(issue.record or where)

    def _finding(self, code: str, title: str) -> _Finding:
        found = self.findings.get(code)
        if found is None:
            found = self.findings[code] = _Finding(TITLES.get(code, title))
        return found

    def _raw_quality(self, data: dict[str, Any], label: str) -> None:
        sample = data.get("sample")
        times = (
            sample.get("collectedAt") if isinstance(sample, dict) else None,
            data.get("performedAt"),
        )
        if any(isinstance(t, str) and len(t) > 10 and not _OFFSET.search(t) for t in times):
            self._finding("AQ-TIME-NO-OFFSET", "").add(label)

    def _code_seen(self, data: dict[str, Any]) -> None:
        analysis, practice, lps = data.get("analysis"), data.get("practice"), data.get("lps")
        if isinstance(analysis, dict) and isinstance(practice, dict):
            self._code(
                str(analysis.get("system")),
                str(analysis.get("code")),
                str(lps.get("vendor")) if isinstance(lps, dict) else "",
                _practice_id(practice.get("sor"), practice.get("ydernummer")),
            )

    def _code(self, system: str, code_text: str, vendor: str, practice: str) -> _Code:
        """Count a code in use; its NPU code is resolved once, when it is first seen."""
        code = self.codes[(system, code_text)]
        if not code.count:
            npu = npu_code_for(system, code_text, vendor, self.mappings)
            code.npu = npu if npu in self.mappings.analyses else None
        code.count += 1
        code.practices.add(practice)
        return code

    def _record(self, record: LabRecord) -> list[Row]:
        """Count one accepted record; its ledger rows say where it would go, and in which letters
        (one row per destination: a notifiable finding may go to MiBa besides LSP)."""
        practice = _practice_id(record.practice.sor, record.practice.ydernummer)
        self.practices.add(practice)
        self.vendors[record.lps.vendor] += 1
        when = record.sample.collected_at
        self.months[when.strftime("%Y-%m")] += 1
        self.first = when if self.first is None or when < self.first else self.first
        self.last = when if self.last is None or when > self.last else self.last
        mapping = map_record(record, self.mappings)
        system, code_text = record.analysis.system.value, record.analysis.code
        code = self._code(system, code_text, record.lps.vendor, practice)
        for issue in mapping.issues:
            if issue.rule in _UNIT_RULES:
                self.units[(system, code_text, code.npu, record.result.unit or "")] += 1
            if issue.blocking:
                title = f"not sendable: {issue.location or 'analysis'}"
                self._finding(issue.rule, title).add(record.key)
        mapped = mapping.mapped
        unsent: Row = (record.record_id, record.version, None, None, False, False, True)
        if mapped is None:
            self.filtered["not mapped or not valid for its analysis"] += 1
            return [unsent]
        routing = plan_routes(mapped, self.mappings)
        if routing.filtered is not None:
            self.filtered[routing.filtered] += 1
            return [unsent]
        limits = self.limits.plausible.get(mapped.analysis.npu_code)
        number = mapped.value.number
        if (
            limits
            and number is not None
            and mapped.ucum == mapped.analysis.ucum
            and not limits[0] <= number <= limits[1]
        ):
            self._finding("AQ-IMPLAUSIBLE", "").add(record.key)
        rows: list[Row] = []
        for place, destination in enumerate(routing.destinations):
            fmt = FORMATS.get(self.config.receiver(destination).format)
            per_status = bool(fmt and fmt.per_status)
            rows.append(
                (
                    record.record_id,
                    record.version,
                    destination.value,
                    hash((destination, *letter_key(record, per_status=per_status))),
                    routing.notifiable is not None,
                    record.consent is Consent.REFUSED,
                    place == 0,
                )
            )
        return rows

    def report(self) -> dict[str, Any]:
        """The report as JSON-able data; see docs/analyze.md for its fields."""
        ledger = self.ledger.findings()
        for rule, count in (
            ("AQ-DUPLICATE-VERSION", ledger.duplicates),
            ("AQ-VERSION-GAP", ledger.gaps),
            ("AQ-CORRECTION-NO-ORIGINAL", ledger.no_original),
        ):
            if count:
                found = self._finding(rule, "")
                found.count, found.examples = count, ledger.examples[rule]
        if ledger.duplicates_routed:
            self.filtered["duplicate record version"] = ledger.duplicates_routed
        codes = []
        for (system, code_text), code in sorted(self.codes.items(), key=lambda kv: -kv[1].count):
            analysis = self.mappings.analyses.get(code.npu) if code.npu else None
            destination = destination_for(analysis, self.mappings) if analysis else None
            codes.append(
                {
                    "system": system,
                    "code": code_text,
                    "count": code.count,
                    "practices": len(code.practices),
                    "npu": analysis.npu_code if analysis else None,
                    "name": analysis.short_name if analysis else None,
                    "domain": analysis.domain.value if analysis else None,
                    "shareable": analysis.shareable if analysis else None,
                    "destination": destination.value if destination else None,
                }
            )
        total = max(self.records, 1)
        return {
            "labgw_analyze": 1,
            "inputs": self.inputs,
            "volume": {
                "records": self.records,
                "accepted": self.accepted,
                "rejected": self.records - self.accepted,
                "practices": len(self.practices),
                "vendors": dict(self.vendors.most_common()),
                "first": self.first.date().isoformat() if self.first else None,
                "last": self.last.date().isoformat() if self.last else None,
                "per_month": dict(sorted(self.months.items())),
            },
            "codes": codes,
            "unmapped": [
                {k: c[k] for k in ("system", "code", "count", "practices")}
                for c in codes
                if c["npu"] is None
            ],
            "unit_mismatches": [
                {
                    "system": system,
                    "code": code_text,
                    "npu": npu,
                    "unit": unit,
                    "expected": (self.mappings.analyses[npu].ucum if npu else None) or "",
                    "count": count,
                }
                for (system, code_text, npu, unit), count in self.units.most_common()
            ],
            "routing": {
                "lsp": ledger.results["lsp"],
                "miba": ledger.results["miba"],
                "letters": {"lsp": ledger.letters["lsp"], "miba": ledger.letters["miba"]},
                "filtered": dict(self.filtered.most_common()),
                "notifiable": ledger.notifiable,
                "consent_refused": ledger.consent_refused,
            },
            "quality": [
                {
                    "code": code,
                    "title": found.title,
                    "count": found.count,
                    "share": round(found.count / total, 6),
                    "examples": found.examples,
                    "recommendation": ADVICE.get(code, _GENERIC),
                }
                for code, found in sorted(self.findings.items(), key=lambda kv: -kv[1].count)
            ],
            "file_issues": [issue.to_dict() for issue in self.file_issues],
        }

    def close(self) -> None:
        self.ledger.close()


def _practice_id(sor: object, ydernummer: object) -> str:
    """A practice is counted by its SOR code, else its ydernummer (the contract requires one)."""
    return str(sor or ydernummer or "")
