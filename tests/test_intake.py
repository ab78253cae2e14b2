"""Intake (gateway.intake): every field of the LPS record contract and every kind of bad input.

DESIGN §2: a record that fails is rejected with Issues naming the record, the field and the rule;
the other records in the same batch go on. Nothing is silently dropped: every input record ends as
accepted or rejected, and the counts add up. The rule codes are the `x-rule`s of
schemas/lps-record.schema.json (`LPS-UNKNOWN-FIELD` for fields the contract does not have).

`BASE`, `MUTATIONS` and `ACCEPTED` are reused by tests/test_contract.py.
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
from calendar import isleap, monthrange
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from gateway.cpr import birth_date, is_cpr
from gateway.intake import IntakeBatch, read_records
from gateway.issues import Issue, IssueType, Severity
from gateway.model import Abnormal, Consent, LabRecord, Status
from gateway.values import Comparator
from tests.records import NOW
from tests.records import record as base_record

REPO = Path(__file__).resolve().parent.parent
SCHEMA: dict[str, Any] = json.loads(
    (REPO / "schemas" / "lps-record.schema.json").read_text(encoding="utf-8")
)
ONE_MIB = 1 << 20
CPR = "2509479989"
REPLACEMENT_ID = "XA12345678"

BASE: dict[str, Any] = base_record(
    recordId="REC-0001", sample__material="blood", result__comment="kontrol om 14 dage"
)


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()  # as a change: remove the field


def apply(data: dict[str, Any], changes: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A deep copy of `data` with dotted-path changes applied (`DROP` removes the field)."""
    out = copy.deepcopy(data)
    for path, value in changes:
        *parents, leaf = path.split(".")
        node = out
        for name in parents:
            node = node[name]
        if value is DROP:
            node.pop(leaf, None)
        else:
            node[leaf] = copy.deepcopy(value)
    return out


def make_record(record_id: str = "REC-0001", changes: Iterable[tuple[str, Any]] = ()) -> dict:
    """A valid record (a copy of BASE) with its own id, then `changes` applied."""
    return apply(BASE, [("recordId", record_id), *changes])


@pytest.fixture
def base_record() -> dict[str, Any]:
    return make_record()


# --- encoding records as the practice systems send them -------------------------------------


def _json_bytes(text: str) -> bytes:
    # Lone surrogates (only inside strings) become JSON escapes, as a JSON encoder writes them.
    return text.encode("utf-8", "backslashreplace")


def encode(records: Sequence[object], fmt: str) -> bytes:
    if fmt == "json":
        return _json_bytes(json.dumps(list(records), ensure_ascii=False, indent=1))
    if fmt == "ndjson":
        return _json_bytes("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    raise AssertionError(fmt)


def _flat_columns(node: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, child in node["properties"].items():
        if child.get("type") == "object":
            out.extend(_flat_columns(child, f"{name}_"))
        else:
            out.append(prefix + name)
    return out


CSV_COLUMNS = _flat_columns(SCHEMA)


def _cell(record: dict[str, Any], column: str) -> str:
    group, _, leaf = column.partition("_")
    value = record.get(group) if not leaf else (record.get(group) or {}).get(leaf)
    return "" if value is None else str(value)


def to_csv(records: Sequence[dict[str, Any]], sep: str = ";", newline: str = "\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator=newline)
    writer.writerow(CSV_COLUMNS)
    for record in records:
        writer.writerow([_cell(record, column) for column in CSV_COLUMNS])
    return buffer.getvalue()


def read(data: bytes, source: str, fmt: str | None = None) -> IntakeBatch:
    return read_records(data, source, now=NOW, fmt=fmt)


# --- checks used everywhere -----------------------------------------------------------------


def assert_counts(batch: IntakeBatch, total: int, accepted: int) -> None:
    """Every input record ends as accepted or rejected, and the counts add up."""
    assert len(batch.items) == total, [item.label for item in batch.items]
    assert len(batch.records) + len(batch.rejected) == total
    assert len(batch.records) == accepted, [
        (item.label, [str(i) for i in item.issues]) for item in batch.rejected
    ]
    for item in batch.rejected:
        assert any(issue.blocking for issue in item.issues), "a rejection always says why"
    for item in batch.items:
        if item.accepted:
            assert not any(issue.blocking for issue in item.issues)


def all_issues(batch: IntakeBatch) -> list[Issue]:
    return [*batch.file_issues, *(i for item in batch.items for i in item.issues)]


def assert_no_secrets(batch: IntakeBatch, secrets: Iterable[str] = ()) -> None:
    """CPR numbers (and other x-sensitive values) never appear in an issue or a label."""
    secrets = {CPR, REPLACEMENT_ID, *secrets}
    for issue in all_issues(batch):
        shown = " ".join([str(issue), issue.message, json.dumps(issue.to_dict())])
        for secret in secrets:
            assert secret not in shown, f"sensitive value leaked into {issue}"
    for item in batch.items:
        for secret in secrets:
            assert secret not in item.label


def only_rules(issues: Iterable[Issue]) -> set[tuple[str, str | None]]:
    return {(issue.rule, issue.location) for issue in issues}


# --- the cases ------------------------------------------------------------------------------

NAME = "REC-0002/v1"  # the mutated record is the second of three
POSITION = "<position>"  # named by its position: "item 2" in a JSON array, line 2 in NDJSON


@dataclass(frozen=True)
class Case:
    """One broken record: which field, what kind of break, and the issues it must give."""

    id: str
    kind: str  # missing | type | long | form | unknown | rule
    path: str
    changes: tuple[tuple[str, Any], ...]
    expect: tuple[tuple[str, str], ...]  # (rule, location) that must be among the issues
    name: str = NAME
    exact: bool = False  # the issues are exactly `expect`

    def __str__(self) -> str:
        return self.id


def _case(
    kind: str,
    path: str,
    value: Any,
    rule: str,
    label: str,
    *,
    location: str | None = None,
    name: str = NAME,
    more: tuple[tuple[str, Any], ...] = (),
) -> Case:
    return Case(
        id=f"{path}:{kind}:{label}",
        kind=kind,
        path=path,
        changes=((path, value), *more),
        expect=((rule, location or path),),
        name=name,
    )


def _field(
    path: str,
    rule: str,
    *,
    missing: bool = False,
    wrong: Sequence[tuple[str, Any]] = (),
    max_length: int | None = None,
    long_char: str = "A",
    forms: Sequence[tuple[str, Any]] = (),
    name: str = NAME,
    more: tuple[tuple[str, Any], ...] = (),
    location: str | None = None,
) -> list[Case]:
    """The standard breaks of one field: missing, wrong types, one char too long, bad forms."""
    kw: dict[str, Any] = {"name": name, "more": more, "location": location}
    cases = []
    if missing:
        cases.append(_case("missing", path, DROP, rule, "dropped", **kw))
    cases += [_case("type", path, value, rule, label, **kw) for label, value in wrong]
    if max_length is not None:
        cases.append(
            _case("long", path, long_char * (max_length + 1), rule, f"{max_length + 1}", **kw)
        )
    cases += [_case("form", path, value, rule, label, **kw) for label, value in forms]
    return cases


_NO_CPR = (("patient.cpr", DROP),)
_TYPES_STR = [("int", 42), ("list", ["x"]), ("object", {"a": "b"}), ("bool", True)]
_TYPES_STR_REQ = [*_TYPES_STR, ("null", None)]
_TYPES_OBJ = [("string", "x"), ("list", []), ("null", None)]

MUTATIONS: list[Case] = [
    # --- top level
    *_field(
        "recordId",
        "LPS-RECORD-ID",
        missing=True,
        wrong=[("int", 12345), ("null", None)],
        name=POSITION,
        forms=[("empty", "")],
    ),
    _case("long", "recordId", "A" * 65, "LPS-RECORD-ID", "65", name="A" * 64 + "/v1"),
    _case("form", "recordId", "-REC", "LPS-RECORD-ID", "leading-dash", name="-REC/v1"),
    _case("form", "recordId", "REC 2", "LPS-RECORD-ID", "inner-blank", name="REC 2/v1"),
    _case(
        "form", "recordId", "REC-0002\n", "LPS-RECORD-ID", "trailing-newline", name="REC-0002\n/v1"
    ),
    *_field(
        "version",
        "LPS-VERSION",
        missing=True,
        wrong=[("string", "1"), ("float", 1.5), ("bool", True), ("null", None)],
        name="REC-0002",
    ),
    _case("form", "version", 0, "LPS-VERSION", "zero", name="REC-0002/v0"),
    _case("form", "version", -1, "LPS-VERSION", "negative", name="REC-0002/v-1"),
    *_field(
        "status",
        "LPS-STATUS",
        missing=True,
        wrong=[("int", 1), ("null", None)],
        forms=[("unknown-word", "done"), ("capitalised", "Final"), ("empty", "")],
    ),
    *_field("practice", "LPS-PRACTICE", missing=True, wrong=_TYPES_OBJ),
    *_field(
        "practice.sor",
        "LPS-SOR",
        wrong=[("int", 464181000016008), ("list", ["464181000016008"])],
        forms=[
            ("10-digits", "1234567890"),
            ("19-digits", "4641810000160081234"),
            ("letter", "46418100001600A"),
            ("empty", ""),
        ],
    ),
    *_field(
        "practice.ydernummer",
        "LPS-YDERNUMMER",
        wrong=[("int", 12345), ("bool", False)],
        forms=[("4-digits", "1234"), ("7-digits", "1234567"), ("letter", "01234a")],
    ),
    Case(
        "practice:rule:neither-sor-nor-ydernummer",
        "rule",
        "practice",
        (("practice.sor", DROP), ("practice.ydernummer", DROP)),
        (("LPS-PRACTICE", "practice"),),
        exact=True,
    ),
    Case(
        "practice:rule:sor-and-ydernummer-null",
        "rule",
        "practice",
        (("practice.sor", None), ("practice.ydernummer", None)),
        (("LPS-PRACTICE", "practice"),),
        exact=True,
    ),
    *_field(
        "practice.gln",
        "LPS-GLN",
        missing=True,
        wrong=[("int", 5790001382445), ("null", None)],
        forms=[
            ("12-digits", "579000138244"),
            ("14-digits", "57900013824450"),
            ("letter", "579000138244X"),
            ("trailing-newline", "5790001382445\n"),
        ],
    ),
    _case("rule", "practice.gln", "5790001382446", "LPS-GLN", "check-digit"),
    _case("rule", "practice.gln", "5790001382454", "LPS-GLN", "check-digit-2"),
    *_field(
        "practice.name",
        "LPS-PRACTICE-NAME",
        missing=True,
        wrong=[("int", 1), ("null", None)],
        max_length=35,
        long_char="æ",
        forms=[("empty", "")],
    ),
    *_field("patient", "LPS-PATIENT-ID", missing=True, wrong=[*_TYPES_OBJ, ("cpr-string", CPR)]),
    *_field(
        "patient.cpr",
        "LPS-CPR",
        wrong=[("int", 2509479989), ("list", [CPR])],
        forms=[
            ("9-digits", "250947998"),
            ("11-digits", "25094799890"),
            ("with-dash", "250947-9989"),
            ("letter", "25094799X9"),
            ("empty", ""),
            ("trailing-newline", CPR + "\n"),
            ("blank-inside", "250947 9989"),
        ],
    ),
    _case("rule", "patient.cpr", "3213779999", "LPS-CPR", "day-32-month-13"),
    _case("rule", "patient.cpr", "0013779999", "LPS-CPR", "day-00"),
    _case("rule", "patient.cpr", "2500479989", "LPS-CPR", "month-00"),
    _case("rule", "patient.cpr", "2513479989", "LPS-CPR", "month-13"),
    _case("rule", "patient.cpr", "3002479989", "LPS-CPR", "30-february"),
    _case("rule", "patient.cpr", "3104479989", "LPS-CPR", "31-april"),
    _case("rule", "patient.cpr", "2902471234", "LPS-CPR", "29-february-1947"),
    _case("rule", "patient.cpr", "2902003234", "LPS-CPR", "29-february-1900"),
    *_field(
        "patient.replacementId",
        "LPS-REPLACEMENT-ID",
        wrong=[("int", 1234567890), ("object", {"id": REPLACEMENT_ID})],
        forms=[
            ("9-chars", "XA1234567"),
            ("11-chars", "XA123456789"),
            ("dash", "XA-2345678"),
            ("empty", ""),
        ],
        more=_NO_CPR,
    ),
    Case(
        "patient:rule:cpr-and-replacementId",
        "rule",
        "patient",
        (("patient.replacementId", REPLACEMENT_ID),),
        (("LPS-PATIENT-ID", "patient"),),
        exact=True,
    ),
    Case(
        "patient:rule:neither-cpr-nor-replacementId",
        "rule",
        "patient",
        _NO_CPR,
        (("LPS-PATIENT-ID", "patient"),),
        exact=True,
    ),
    Case(
        "patient:rule:cpr-and-replacementId-null",
        "rule",
        "patient",
        (("patient.cpr", None), ("patient.replacementId", None)),
        (("LPS-PATIENT-ID", "patient"),),
        exact=True,
    ),
    *_field(
        "patient.family",
        "LPS-PATIENT-NAME",
        missing=True,
        wrong=[("int", 1), ("null", None)],
        max_length=70,
        long_char="ø",
        forms=[("empty", "")],
    ),
    *_field("patient.given", "LPS-PATIENT-NAME", wrong=[("int", 1)], max_length=70, long_char="å"),
    *_field(
        "consent",
        "LPS-CONSENT",
        wrong=[("int", 1), ("bool", False), ("list", ["given"])],
        forms=[("yes", "yes"), ("danish", "nægtet"), ("upper", "REFUSED"), ("empty", "")],
    ),
    *_field("sample", "LPS-SCHEMA", missing=True, wrong=_TYPES_OBJ),
    *_field(
        "sample.id",
        "LPS-SAMPLE-ID",
        missing=True,
        wrong=[("int", 42), ("null", None)],
        max_length=20,
        forms=[
            ("empty", ""),
            ("leading-blank", " S-1"),
            ("trailing-blank", "S-1 "),
            ("newline-inside", "S-1\nS-2"),
        ],
    ),
    *_field(
        "sample.collectedAt",
        "LPS-DATETIME",
        missing=True,
        wrong=[("epoch-int", 1748848440), ("null", None)],
        forms=[
            ("june-31", "2025-06-31T09:14:00+02:00"),
            ("month-13", "2025-13-02T09:14:00+02:00"),
            ("hour-25", "2025-06-02T25:14:00+02:00"),
            ("date-only", "2025-06-02"),
            ("danish-order", "02-06-2025 09:14"),
            ("words", "Tuesday morning"),
            ("empty", ""),
        ],
    ),
    *_field("sample.material", "LPS-MATERIAL", wrong=[("int", 1)], max_length=35),
    *_field("analysis", "LPS-SCHEMA", missing=True, wrong=_TYPES_OBJ),
    *_field(
        "analysis.system",
        "LPS-CODE-SYSTEM",
        missing=True,
        wrong=[("int", 1), ("null", None)],
        forms=[("snomed", "SNOMED"), ("lower", "npu"), ("empty", "")],
    ),
    *_field(
        "analysis.code",
        "LPS-CODE",
        missing=True,
        wrong=[("int", 19748), ("null", None)],
        max_length=20,
        forms=[("empty", ""), ("blank-inside", "NPU 19748"), ("semicolon", "NPU19748;1")],
    ),
    _case("rule", "analysis.code", "NPU1974", "LPS-CODE", "npu-4-digits"),
    _case("rule", "analysis.code", "NPU197480", "LPS-CODE", "npu-6-digits"),
    _case("rule", "analysis.code", "npu19748", "LPS-CODE", "npu-lower-case"),
    _case("rule", "analysis.code", "19748", "LPS-CODE", "npu-no-prefix"),
    _case("rule", "analysis.code", "XYZ12345", "LPS-CODE", "npu-other-prefix"),
    *_field("analysis.text", "LPS-ANALYSIS-TEXT", wrong=[("int", 1)], max_length=200),
    *_field("result", "LPS-SCHEMA", missing=True, wrong=_TYPES_OBJ),
    *_field(
        "result.value",
        "LPS-VALUE",
        missing=True,
        wrong=[("int", 45), ("float", 4.5), ("null", None)],
        max_length=2000,
        forms=[("empty", ""), ("blank", "   ")],
    ),
    *_field("result.unit", "LPS-UNIT", wrong=[("int", 1)], max_length=30),
    *_field(
        "result.referenceLow",
        "LPS-REFERENCE",
        wrong=[("int", 0), ("float", 0.5)],
        max_length=12,
        long_char="1",
        forms=[("comparator", "<5"), ("word", "abc"), ("thousands", "1.000,5"), ("blank", " ")],
    ),
    _case("rule", "result.referenceLow", "10", "LPS-REFERENCE", "above-high"),
    _case("rule", "result.referenceLow", "8,5", "LPS-REFERENCE", "above-high-decimal-comma"),
    *_field(
        "result.referenceHigh",
        "LPS-REFERENCE",
        wrong=[("int", 8)],
        max_length=12,
        long_char="9",
        forms=[("comparator", ">8"), ("word", "høj")],
    ),
    *_field(
        "result.abnormal",
        "LPS-ABNORMAL",
        wrong=[("int", 1), ("bool", True)],
        forms=[("letter", "H"), ("danish", "forhøjet"), ("empty", "")],
    ),
    *_field("result.comment", "LPS-COMMENT", wrong=[("int", 1)], max_length=2000),
    *_field(
        "performedAt",
        "LPS-DATETIME",
        missing=True,
        wrong=[("epoch-int", 1748848800), ("null", None)],
        forms=[("june-31", "2025-06-31T09:21:00+02:00"), ("date-only", "2025-06-02")],
    ),
    *_field("lps", "LPS-SCHEMA", missing=True, wrong=_TYPES_OBJ),
    *_field(
        "lps.vendor",
        "LPS-VENDOR",
        missing=True,
        wrong=[("int", 1), ("null", None)],
        max_length=35,
        forms=[("empty", "")],
    ),
    *_field("lps.version", "LPS-VENDOR", wrong=[("float", 2025.2)], max_length=35),
    # --- fields the contract does not have
    *(
        _case("unknown", path, "x", "LPS-UNKNOWN-FIELD", "unknown")
        for path in (
            "extra",
            "practice.phone",
            "patient.mrn",
            "sample.tube",
            "analysis.loinc",
            "result.flag",
            "lps.build",
        )
    ),
    _case("unknown", "patient.CPR", CPR, "LPS-UNKNOWN-FIELD", "cpr-in-wrong-case-field"),
    # --- characters XML cannot carry
    *(
        _case("rule", path, value, "LPS-CONTROL-CHAR", label)
        for path, value, label in (
            ("practice.name", "Læger\x07ne", "bell"),
            ("patient.family", "Berg\x00gren", "nul"),
            ("patient.given", "El\x1bmer", "escape"),
            ("sample.material", "blo\x0bod", "vertical-tab"),
            ("analysis.text", "C\x08RP", "backspace"),
            ("result.value", "4\x015", "start-of-heading"),
            ("result.unit", "mg/L\x1f", "unit-separator"),
            ("result.comment", "\x1b[31mrød\x1b[0m", "ansi-escape"),
            ("result.comment", "a\ud800b", "lone-surrogate"),
            ("result.comment", "a\uffffb", "non-character"),
            ("lps.vendor", "X\x02MO", "start-of-text"),
            ("lps.version", "2025\x0c2", "form-feed"),
        )
    ),
    # --- times: order, future, offsets
    Case(
        "performedAt:rule:before-collectedAt",
        "rule",
        "performedAt",
        (("performedAt", "2025-06-02T09:10:00+02:00"),),
        (("LPS-DATE-ORDER", "performedAt"),),
        exact=True,
    ),
    Case(
        "performedAt:rule:before-collectedAt-offset-less-is-danish-time",
        "rule",
        "performedAt",
        (
            ("sample.collectedAt", "2025-06-02T07:14:00Z"),
            ("performedAt", "2025-06-02T09:10:00"),
        ),
        (("LPS-DATE-ORDER", "performedAt"),),
        exact=True,
    ),
    Case(
        "performedAt:rule:in-the-future",
        "rule",
        "performedAt",
        (("performedAt", "2025-12-01T12:00:00+01:00"),),
        (("LPS-DATE-FUTURE", "performedAt"),),
        exact=True,
    ),
    Case(
        "sample.collectedAt:rule:both-in-the-future",
        "rule",
        "sample.collectedAt",
        (
            ("sample.collectedAt", "2026-01-02T09:14:00+01:00"),
            ("performedAt", "2026-01-02T09:20:00+01:00"),
        ),
        (("LPS-DATE-FUTURE", "sample.collectedAt"), ("LPS-DATE-FUTURE", "performedAt")),
        exact=True,
    ),
]


def _has_offset(hours: int, *, naive: str) -> Callable[[LabRecord], bool]:
    def check(record: LabRecord) -> bool:
        at = record.sample.collected_at
        return at.utcoffset() == timedelta(hours=hours) and at.replace(
            tzinfo=None
        ) == datetime.fromisoformat(naive)

    return check


# (id, changes, check on the accepted LabRecord)
ACCEPTED: list[tuple[str, tuple[tuple[str, Any], ...], Callable[[LabRecord], bool]]] = [
    ("base", (), lambda r: r.key == "REC-0002/v1"),
    ("sor-only", (("practice.ydernummer", DROP),), lambda r: r.practice.ydernummer is None),
    ("ydernummer-only", (("practice.sor", DROP),), lambda r: r.practice.sor is None),
    ("sor-null", (("practice.sor", None),), lambda r: r.practice.ydernummer == "012345"),
    (
        "replacementId-instead-of-cpr",
        (*_NO_CPR, ("patient.replacementId", REPLACEMENT_ID)),
        lambda r: r.patient.cpr is None and r.patient.replacement_id == REPLACEMENT_ID,
    ),
    (
        "cpr-null-and-replacementId",
        (("patient.cpr", None), ("patient.replacementId", REPLACEMENT_ID)),
        lambda r: r.patient.replacement_id == REPLACEMENT_ID,
    ),
    ("cpr-mod11-not-required", (("patient.cpr", "0101709999"),), lambda r: True),
    ("cpr-day-31", (("patient.cpr", "3112999999"),), lambda r: True),
    ("cpr-29-february-1948", (("patient.cpr", "2902481234"),), lambda r: True),
    ("cpr-29-february-2000", (("patient.cpr", "2902004234"),), lambda r: True),
    ("cpr-29-february-1896", (("patient.cpr", "2902965234"),), lambda r: True),
    ("given-absent", (("patient.given", DROP),), lambda r: r.patient.given is None),
    ("given-null", (("patient.given", None),), lambda r: r.patient.given is None),
    ("consent-absent-is-unknown", (("consent", DROP),), lambda r: r.consent is Consent.UNKNOWN),
    ("consent-null-is-unknown", (("consent", None),), lambda r: r.consent is Consent.UNKNOWN),
    ("consent-refused", (("consent", "refused"),), lambda r: r.consent is Consent.REFUSED),
    ("consent-unknown", (("consent", "unknown"),), lambda r: r.consent is Consent.UNKNOWN),
    *(
        (f"status-{s}", (("status", s),), lambda r, s=s: r.status is Status(s))
        for s in ("preliminary", "final", "corrected", "cancelled")
    ),
    ("version-2", (("version", 2),), lambda r: r.key == "REC-0002/v2"),
    ("material-absent", (("sample.material", DROP),), lambda r: r.sample.material is None),
    ("text-absent", (("analysis.text", DROP),), lambda r: r.analysis.text is None),
    ("unit-null", (("result.unit", None),), lambda r: r.result.unit is None),
    (
        "reference-absent",
        (("result.referenceLow", DROP), ("result.referenceHigh", DROP)),
        lambda r: r.result.reference_low is None and r.result.reference_high is None,
    ),
    (
        "reference-decimal-comma-compared-as-numbers",
        (("result.referenceLow", "8,3"), ("result.referenceHigh", "10,5")),
        lambda r: (r.result.reference_low, r.result.reference_high) == ("8,3", "10,5"),
    ),
    (
        "reference-equal-limits",
        (("result.referenceLow", "5"), ("result.referenceHigh", "5,0")),
        lambda r: True,
    ),
    (
        "reference-negative-low",
        (("result.referenceLow", "-1"),),
        lambda r: r.result.reference_low == "-1",
    ),
    ("abnormal-null", (("result.abnormal", None),), lambda r: r.result.abnormal is None),
    ("abnormal-low", (("result.abnormal", "low"),), lambda r: r.result.abnormal is Abnormal.LOW),
    ("comment-null", (("result.comment", None),), lambda r: r.result.comment is None),
    (
        "comment-tab-and-newline",
        (("result.comment", "a\tb\r\nc"),),
        lambda r: r.result.comment == "a\tb\r\nc",
    ),
    ("lps-version-absent", (("lps.version", DROP),), lambda r: r.lps.version is None),
    (
        "value-decimal-comma",
        (("result.value", "4,50"),),
        lambda r: r.result.value.raw == "4,50" and r.result.value.number == Decimal("4.50"),
    ),
    (
        "value-comparator",
        (("result.value", "<5"),),
        lambda r: r.result.value.comparator is Comparator.LT,
    ),
    (
        "value-text",
        (("result.value", "Positiv"), ("result.unit", DROP)),
        lambda r: r.result.value.raw == "Positiv" and not r.result.value.is_numeric,
    ),
    (
        "local-code-any-shape",
        (("analysis.system", "LOCAL"), ("analysis.code", "crp.2-b_X")),
        lambda r: r.analysis.code == "crp.2-b_X",
    ),
    ("dnk-code", (("analysis.code", "DNK05451"),), lambda r: r.analysis.code == "DNK05451"),
    ("recordId-64", (("recordId", "R" * 64),), lambda r: r.record_id == "R" * 64),
    ("recordId-punctuation", (("recordId", "XMO:7f3a/9c.21-b"),), lambda r: True),
    ("practice-name-35", (("practice.name", "æ" * 35),), lambda r: r.practice.name == "æ" * 35),
    ("family-70", (("patient.family", "ø" * 70),), lambda r: r.patient.family == "ø" * 70),
    ("sample-id-20", (("sample.id", "S" * 20),), lambda r: r.sample.id == "S" * 20),
    ("sample-id-inner-blank", (("sample.id", "S 1"),), lambda r: r.sample.id == "S 1"),
    (
        "code-20",
        (("analysis.system", "LOCAL"), ("analysis.code", "C" * 20)),
        lambda r: len(r.analysis.code) == 20,
    ),
    ("value-2000", (("result.value", "x" * 2000),), lambda r: len(r.result.value.raw) == 2000),
    ("comment-2000", (("result.comment", "y" * 2000),), lambda r: True),
    ("vendor-35", (("lps.vendor", "V" * 35),), lambda r: r.lps.vendor == "V" * 35),
    ("reference-12", (("result.referenceHigh", "123456789,12"),), lambda r: True),
    (
        "summer-time-without-offset",
        (("sample.collectedAt", "2025-06-02T09:14:00"), ("performedAt", "2025-06-02T09:20:00")),
        _has_offset(2, naive="2025-06-02T09:14:00"),
    ),
    (
        "winter-time-without-offset",
        (("sample.collectedAt", "2025-01-15T09:14:00"), ("performedAt", "2025-01-15T09:20:00")),
        _has_offset(1, naive="2025-01-15T09:14:00"),
    ),
    (
        "day-after-dst-starts",
        (("sample.collectedAt", "2025-03-30T03:30:00"), ("performedAt", "2025-03-30T04:00:00")),
        _has_offset(2, naive="2025-03-30T03:30:00"),
    ),
    (
        "night-before-dst-starts",
        (("sample.collectedAt", "2025-03-30T01:30:00"), ("performedAt", "2025-03-30T01:40:00")),
        _has_offset(1, naive="2025-03-30T01:30:00"),
    ),
    (
        "space-instead-of-T",
        (("sample.collectedAt", "2025-06-02 09:14"), ("performedAt", "2025-06-02 09:20")),
        _has_offset(2, naive="2025-06-02T09:14:00"),
    ),
    (
        "utc-Z",
        (("sample.collectedAt", "2025-06-02T07:14:00Z"), ("performedAt", "2025-06-02T07:20:00Z")),
        lambda r: r.sample.collected_at == datetime(2025, 6, 2, 7, 14, tzinfo=UTC),
    ),
    (
        "performed-later-in-other-offset",
        (("performedAt", "2025-06-02T07:20:00Z"),),
        lambda r: r.performed_at > r.sample.collected_at,
    ),
    (
        "performed-equal-collected",
        (("performedAt", "2025-06-02T09:14:00+02:00"),),
        lambda r: r.performed_at == r.sample.collected_at,
    ),
    (
        "performed-just-now",
        (("performedAt", "2025-12-01T08:59:00+01:00"),),
        lambda r: r.performed_at < NOW,
    ),
]


def _expected_name(case: Case, fmt: str) -> str | None:
    if case.name == POSITION:
        return "item 2" if fmt == "json" else None
    return case.name


def _related(found: str | None, expected: str) -> bool:
    """The issue is about the expected field, one of its parents, or one of its children."""
    if found is None:
        return False
    return found == expected or expected.startswith(found + ".") or found.startswith(expected + ".")


def _secrets(case: Case) -> set[str]:
    """Values written into x-sensitive (patient) fields by this case."""
    return {
        str(value)
        for path, value in case.changes
        if path.startswith("patient") and isinstance(value, str | int) and len(str(value)) >= 6
    }


# --- per-field tests ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
@pytest.mark.parametrize("case", MUTATIONS, ids=str)
def test_bad_field_is_rejected_with_its_rule_and_the_batch_goes_on(case: Case, fmt: str) -> None:
    records = [
        make_record("REC-0001"),
        make_record("REC-0002", case.changes),
        make_record("REC-0003"),
    ]
    source = f"batch.{fmt}"
    batch = read(encode(records, fmt), source)

    assert batch.file_issues == []
    assert_counts(batch, 3, accepted=2)
    first, bad, last = batch.items
    assert first.record is not None and first.record.key == "REC-0001/v1"
    assert last.record is not None and last.record.key == "REC-0003/v1"
    assert bad.record is None
    found = only_rules(bad.issues)
    for expected in case.expect:
        assert expected in found, f"expected {expected}, got {[str(i) for i in bad.issues]}"
    if case.exact:
        assert found == set(case.expect), [str(i) for i in bad.issues]
    name = _expected_name(case, fmt)
    for issue in bad.issues:
        assert issue.severity is Severity.ERROR, str(issue)
        assert any(_related(issue.location, loc) for _, loc in case.expect), str(issue)
        assert issue.record == name, str(issue)
        assert issue.source == source
        assert issue.line == (2 if fmt == "ndjson" else None), str(issue)
        assert issue.message.strip()
    assert bad.label == (name or f"{source}:2")
    assert_no_secrets(batch, _secrets(case))


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        pytest.param("practice.gln", DROP, IssueType.REQUIRED, id="missing-is-required"),
        pytest.param("sample.id", 42, IssueType.STRUCTURE, id="wrong-type-is-structure"),
        pytest.param("lps.vendor", "V" * 36, IssueType.TOO_LONG, id="too-long-is-too-long"),
        pytest.param("status", "done", IssueType.CODE_INVALID, id="not-in-enum-is-code-invalid"),
        pytest.param("extra", 1, IssueType.STRUCTURE, id="unknown-field-is-structure"),
    ],
)
def test_issue_type_says_what_kind_of_break(path: str, value: Any, code: IssueType) -> None:
    batch = read(encode([make_record("REC-0002", [(path, value)])], "json"), "one.json")
    assert_counts(batch, 1, accepted=0)
    [issue] = batch.items[0].issues
    assert (issue.location, issue.code) == (path, code)


def test_rejected_record_gets_every_contract_issue_not_just_the_first() -> None:
    changes = [("status", "done"), ("sample.id", ""), ("lps.vendor", DROP), ("extra", 1)]
    batch = read(encode([make_record("REC-0002", changes)], "json"), "one.json")
    assert_counts(batch, 1, accepted=0)
    assert {
        ("LPS-STATUS", "status"),
        ("LPS-SAMPLE-ID", "sample.id"),
        ("LPS-VENDOR", "lps.vendor"),
        ("LPS-UNKNOWN-FIELD", "extra"),
    } <= only_rules(batch.items[0].issues)


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
@pytest.mark.parametrize(
    ("changes", "check"),
    [pytest.param(changes, check, id=name) for name, changes, check in ACCEPTED],
)
def test_valid_variations_are_accepted(
    changes: tuple[tuple[str, Any], ...], check: Callable[[LabRecord], bool], fmt: str
) -> None:
    records = [make_record("REC-0001"), make_record("REC-0002", changes), make_record("REC-0003")]
    batch = read(encode(records, fmt), f"batch.{fmt}")
    assert batch.file_issues == []
    assert_counts(batch, 3, accepted=3)
    assert all(item.issues == () for item in batch.items), [
        str(i) for item in batch.items for i in item.issues
    ]
    record = batch.items[1].record
    assert record is not None
    assert check(record), record


def test_base_record_is_read_field_by_field(base_record: dict[str, Any]) -> None:
    batch = read(encode([base_record], "json"), "one.json")
    assert_counts(batch, 1, accepted=1)
    record = batch.records[0]
    assert record.key == "REC-0001/v1"
    assert record.status is Status.FINAL
    assert record.practice.sor == "464181000016008"
    assert record.practice.ydernummer == "012345"
    assert record.practice.gln == "5790001382445"
    assert record.practice.name == "Lægerne Søndergade"
    assert (record.patient.cpr, record.patient.replacement_id) == (CPR, None)
    assert (record.patient.family, record.patient.given) == ("Berggren", "Elmer")
    assert record.consent is Consent.GIVEN
    assert record.sample.id == "S-2025-0042"
    assert record.sample.collected_at == datetime(2025, 6, 2, 7, 14, tzinfo=UTC)
    assert record.sample.material == "blood"
    assert (record.analysis.system.value, record.analysis.code) == ("NPU", "NPU19748")
    assert record.analysis.text == "CRP"
    assert record.result.value.raw == "45"
    assert record.result.value.number == Decimal("45")
    assert record.result.unit == "mg/L"
    assert (record.result.reference_low, record.result.reference_high) == ("0", "8")
    assert record.result.abnormal is Abnormal.HIGH
    assert record.result.comment == "kontrol om 14 dage"
    assert record.performed_at == datetime(2025, 6, 2, 7, 20, tzinfo=UTC)
    assert (record.lps.vendor, record.lps.version) == ("XMO", "2025.2")


# --- the case table covers the whole contract -----------------------------------------------


def _schema_fields(
    node: dict[str, Any] = SCHEMA, prefix: str = ""
) -> Iterable[tuple[str, dict[str, Any], bool]]:
    required = set(node.get("required", ()))
    for name, child in node.get("properties", {}).items():
        path = prefix + name
        yield path, child, name in required
        if "properties" in child:
            yield from _schema_fields(child, path + ".")


SCHEMA_FIELDS = {path: (node, required) for path, node, required in _schema_fields()}


@pytest.mark.parametrize("path", sorted(SCHEMA_FIELDS))
def test_every_contract_field_has_its_cases(path: str) -> None:
    """Each property of the schema is broken in every way its schema allows."""
    node, required = SCHEMA_FIELDS[path]
    kinds = {case.kind for case in MUTATIONS if case.path == path}
    wanted = {"type"}
    if required:
        wanted.add("missing")
    if "maxLength" in node:
        wanted.add("long")
    if {"pattern", "enum", "minimum", "minLength"} & set(node):
        wanted.add("form")
    if node.get("additionalProperties") is False:
        assert any(
            case.kind == "unknown" and case.path.rpartition(".")[0] == path for case in MUTATIONS
        ), f"no unknown-field case inside {path}"
    assert wanted <= kinds, f"{path}: missing case kinds {sorted(wanted - kinds)}"


def _documented_rule(path: str) -> str:
    node: dict[str, Any] = SCHEMA
    rule = "LPS-SCHEMA"
    for name in path.split("."):
        node = node["properties"][name]
        rule = node.get("x-rule", rule)
    return rule


@pytest.mark.parametrize(
    "case", [c for c in MUTATIONS if c.kind in ("missing", "type", "long", "form")], ids=str
)
def test_case_table_uses_the_rule_documented_in_the_schema(case: Case) -> None:
    [(rule, location)] = case.expect
    assert location == case.path
    assert rule == _documented_rule(case.path)


# --- bad files and bad lines ----------------------------------------------------------------


def _file_issue(batch: IntakeBatch, rule: str, source: str) -> Issue:
    assert batch.items == [], [item.label for item in batch.items]
    [issue] = batch.file_issues
    assert issue.rule == rule, str(issue)
    assert issue.blocking
    assert issue.source == source
    return issue


@pytest.mark.parametrize(
    ("data", "line"),
    [
        pytest.param(b'[{"recordId": "REC-0001",\n  "version": 1,\n  "status": }]', 3, id="value"),
        pytest.param(b"[\n{}\n,\n", 4, id="truncated"),
        pytest.param(b"{'recordId': 'REC-0001'}", 1, id="single-quotes"),
        pytest.param(b'[{"recordId": "REC-0001",}]', 1, id="trailing-comma"),
        pytest.param(b"recordId;version\nREC-0001;1\n", 1, id="csv-in-a-json-file"),
    ],
)
def test_malformed_json_file_is_one_file_issue(data: bytes, line: int) -> None:
    batch = read(data, "broken.json")
    issue = _file_issue(batch, "LPS-JSON-SYNTAX", "broken.json")
    assert issue.line == line


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"recordId": "REC-BAD", "version": 1, "status": "final",',
        "not json at all",
        '{"recordId": "REC-BAD"}}',
        "{'recordId': 'REC-BAD'}",
    ],
    ids=["truncated", "words", "extra-brace", "single-quotes"],
)
@pytest.mark.parametrize("position", [0, 2, 4], ids=["first", "middle", "last"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_malformed_ndjson_line_rejects_only_that_line(
    bad_line: str, position: int, newline: str
) -> None:
    good = [json.dumps(make_record(f"REC-{n}"), ensure_ascii=False) for n in range(1, 5)]
    lines = [*good[:position], bad_line, *good[position:]]
    lines.insert(3 if position < 3 else 1, "")  # a blank line is skipped but counted
    text = newline.join(lines) + newline
    batch = read(text.encode(), "feed.ndjson")

    assert batch.file_issues == [], [str(i) for i in batch.file_issues]
    assert_counts(batch, 5, accepted=4)
    physical = [number for number, line in enumerate(lines, start=1) if line.strip()]
    assert [item.line for item in batch.items] == physical
    [rejected] = batch.rejected
    bad_number = lines.index(bad_line) + 1
    assert rejected.line == bad_number
    [issue] = rejected.issues
    assert (issue.rule, issue.line, issue.source) == ("LPS-JSON-SYNTAX", bad_number, "feed.ndjson")
    assert rejected.label == f"feed.ndjson:{bad_number}"
    assert [r.record_id for r in batch.records] == ["REC-1", "REC-2", "REC-3", "REC-4"]


def test_ndjson_issues_carry_the_line_even_for_a_single_record() -> None:
    data = encode([make_record("REC-0001", [("status", "done")])], "ndjson")
    batch = read(data, "one.ndjson")
    assert_counts(batch, 1, accepted=0)
    [issue] = batch.items[0].issues
    assert (issue.rule, issue.line, issue.record) == ("LPS-STATUS", 1, "REC-0001/v1")


def test_example_with_mistakes_is_rejected_line_by_line() -> None:
    path = REPO / "examples" / "rejected" / "mistakes.ndjson"
    batch = read(path.read_bytes(), path.name)
    assert batch.file_issues == []
    assert_counts(batch, 7, accepted=3)
    by_line = {item.line: only_rules(item.issues) for item in batch.rejected}
    assert by_line == {
        1: {("LPS-CPR", "patient.cpr")},
        3: {("LPS-DATETIME", "sample.collectedAt"), ("LPS-DATETIME", "performedAt")},
        4: {("LPS-JSON-SYNTAX", None)},
        6: {("LPS-PATIENT-ID", "patient")},
    }
    assert_no_secrets(batch, ["3213779999"])


@pytest.mark.parametrize(
    "path", sorted((REPO / "examples" / "records").iterdir()), ids=lambda p: p.name
)
def test_example_records_are_all_accepted(path: Path) -> None:
    batch = read(path.read_bytes(), path.name)
    assert not any(issue.blocking for issue in batch.file_issues)
    assert batch.items and not batch.rejected


@pytest.mark.parametrize(
    ("data", "source", "where"),
    [
        pytest.param(b"5", "one.json", "item 1", id="json-number"),
        pytest.param(b'"REC-0001"', "one.json", "item 1", id="json-string"),
        pytest.param(b"null", "one.json", "item 1", id="json-null"),
        pytest.param(b"true", "one.json", "item 1", id="json-bool"),
    ],
)
def test_json_value_that_is_not_an_object(data: bytes, source: str, where: str) -> None:
    batch = read(data, source)
    assert batch.file_issues == []
    assert_counts(batch, 1, accepted=0)
    [issue] = batch.items[0].issues
    assert (issue.rule, issue.record) == ("LPS-NOT-OBJECT", where)
    assert batch.items[0].label == where


def test_array_items_that_are_not_objects_are_rejected_one_by_one() -> None:
    items = [make_record("REC-1"), 5, ["REC-2"], None, "x", make_record("REC-3")]
    batch = read(encode(items, "json"), "mixed.json")
    assert_counts(batch, 6, accepted=2)
    for index in (1, 2, 3, 4):
        [issue] = batch.items[index].issues
        assert (issue.rule, issue.record) == ("LPS-NOT-OBJECT", f"item {index + 1}")


def test_ndjson_lines_that_are_not_objects_are_rejected_one_by_one() -> None:
    lines = [json.dumps(make_record("REC-1")), "[1, 2]", '"text"', "null", "42"]
    lines.append(json.dumps(make_record("REC-2")))
    batch = read(("\n".join(lines) + "\n").encode(), "feed.ndjson")
    assert_counts(batch, 6, accepted=2)
    for item in batch.items[1:5]:
        [issue] = item.issues
        assert (issue.rule, issue.line) == ("LPS-NOT-OBJECT", item.line)
    assert [item.line for item in batch.items] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("data", "source"),
    [
        pytest.param(b"", "empty.json", id="empty-json"),
        pytest.param(b"", "empty.ndjson", id="empty-ndjson"),
        pytest.param(b"", "empty.csv", id="empty-csv"),
        pytest.param(b"  \n\r\n\t", "blank.ndjson", id="only-blanks"),
        pytest.param(b"[]", "array.json", id="empty-array"),
        pytest.param(b" [ \n ] \n", "array.json", id="empty-array-with-blanks"),
        pytest.param(b"\xef\xbb\xbf[]", "bom-array.json", id="empty-array-with-bom"),
    ],
)
def test_empty_input(data: bytes, source: str) -> None:
    issue = _file_issue(read(data, source), "LPS-EMPTY", source)
    assert issue.code is IssueType.REQUIRED


def _huge_record() -> dict[str, Any]:
    return make_record("REC-HUGE", [("result.comment", "x" * (ONE_MIB + 1))])


def test_huge_ndjson_line_is_rejected_and_neighbours_accepted() -> None:
    lines = [json.dumps(make_record("REC-1")), json.dumps(_huge_record())]
    lines.append(json.dumps(make_record("REC-2")))
    batch = read(("\n".join(lines) + "\n").encode(), "feed.ndjson")
    assert_counts(batch, 3, accepted=2)
    [item] = batch.rejected
    [issue] = item.issues
    assert (issue.rule, issue.line, item.line) == ("LPS-LINE-TOO-LONG", 2, 2)
    assert "REC-HUGE" not in item.label  # rejected unread
    assert [r.record_id for r in batch.records] == ["REC-1", "REC-2"]


@pytest.mark.parametrize("levels", [14, 15, 16, 5_000, 200_000])
def test_json_nested_too_deep_is_a_file_issue_never_a_recursion_error(levels: int) -> None:
    """Found while adding the service limits: json.loads raised RecursionError on deep input."""
    data = b'{"recordId": "REC-DEEP", "x": ' + b"[" * levels + b"]" * levels + b"}"
    batch = read(data, "deep.json")
    rules = [i.rule for i in batch.file_issues]
    assert ("LPS-JSON-TOO-DEEP" in rules) == (levels + 1 > 16), rules


def test_too_deep_ndjson_line_is_rejected_and_neighbours_accepted() -> None:
    deep = "[" * 5_000 + "]" * 5_000
    lines = [json.dumps(make_record("REC-1")), deep, json.dumps(make_record("REC-2"))]
    batch = read(("\n".join(lines) + "\n").encode(), "feed.ndjson")
    assert_counts(batch, 3, accepted=2)
    [item] = batch.rejected
    assert [(i.rule, i.line) for i in item.issues] == [("LPS-JSON-TOO-DEEP", 2)]


def test_huge_csv_line_is_rejected_and_neighbours_accepted() -> None:
    records = [make_record("REC-1"), _huge_record(), make_record("REC-2")]
    batch = read(to_csv(records).encode(), "extract.csv")
    assert_counts(batch, 3, accepted=2)
    [item] = batch.rejected
    [issue] = item.issues
    assert (issue.rule, issue.line, item.line) == ("LPS-LINE-TOO-LONG", 3, 3)
    assert [r.record_id for r in batch.records] == ["REC-1", "REC-2"]


@pytest.mark.parametrize(
    ("data", "source"),
    [
        pytest.param(
            json.dumps([BASE], ensure_ascii=False).encode("utf-16"), "utf16.json", id="utf16-json"
        ),
        pytest.param(
            json.dumps(BASE, ensure_ascii=False).encode("utf-16-le") + b"\n",
            "utf16le.ndjson",
            id="utf16le-no-bom-ndjson",
        ),
        pytest.param(to_csv([BASE]).encode("utf-16"), "utf16.csv", id="utf16-csv"),
        pytest.param(to_csv([BASE]).encode("utf-16-be"), "utf16be.csv", id="utf16be-no-bom-csv"),
        pytest.param(
            gzip.compress(encode([BASE], "json"), mtime=0), "records.json", id="gzip-as-json"
        ),
        pytest.param(gzip.compress(to_csv([BASE]).encode(), mtime=0), "x.csv", id="gzip-as-csv"),
        pytest.param(
            json.dumps([BASE], ensure_ascii=False).encode("latin-1"),
            "latin1.json",
            id="latin1-json",
        ),
        pytest.param(
            json.dumps(BASE, ensure_ascii=False).encode("latin-1"),
            "latin1.ndjson",
            id="latin1-ndjson",
        ),
    ],
)
def test_wrong_encoding_is_one_file_issue(data: bytes, source: str) -> None:
    _file_issue(read(data, source), "LPS-ENCODING", source)


def test_latin1_csv_is_read_with_an_information_issue() -> None:
    records = [make_record("REC-1"), make_record("REC-2", [("patient.family", "Sørensen")])]
    batch = read(to_csv(records).encode("latin-1"), "extract.csv")
    assert_counts(batch, 2, accepted=2)
    [note] = batch.file_issues
    assert note.rule == "LPS-ENCODING-LATIN1"
    assert note.severity is Severity.INFORMATION
    assert note.source == "extract.csv"
    assert [r.practice.name for r in batch.records] == ["Lægerne Søndergade"] * 2
    assert batch.records[1].patient.family == "Sørensen"


def test_utf8_csv_has_no_encoding_issue() -> None:
    batch = read(to_csv([make_record("REC-1")]).encode(), "extract.csv")
    assert batch.file_issues == []
    assert batch.records[0].practice.name == "Lægerne Søndergade"


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_utf8_with_bom(fmt: str) -> None:
    records = [make_record("REC-1"), make_record("REC-2")]
    body = to_csv(records).encode() if fmt == "csv" else encode(records, fmt)
    batch = read(b"\xef\xbb\xbf" + body, f"bom.{fmt}")
    assert batch.file_issues == []
    assert_counts(batch, 2, accepted=2)
    assert [r.record_id for r in batch.records] == ["REC-1", "REC-2"]
    assert batch.records[0].practice.name == "Lægerne Søndergade"


@pytest.mark.parametrize(
    ("data", "source", "fmt"),
    [
        pytest.param(encode([BASE], "json"), "POST /records", None, id="json-array-content"),
        pytest.param(
            json.dumps(BASE, indent=2).encode(), "POST /records", None, id="json-object-content"
        ),
        pytest.param(
            encode([BASE, make_record("REC-2")], "ndjson"), "POST /records", None, id="ndjson"
        ),
        pytest.param(to_csv([BASE]).encode(), "POST /records", None, id="csv-content"),
        pytest.param(to_csv([BASE]).encode(), "extract.txt", None, id="txt-is-csv"),
        pytest.param(encode([BASE], "ndjson"), "feed.jsonl", None, id="jsonl"),
        pytest.param(to_csv([BASE]).encode(), "upload.bin", "csv", id="fmt-given"),
    ],
)
def test_format_is_detected_from_name_or_content(data: bytes, source: str, fmt: str | None) -> None:
    batch = read(data, source, fmt)
    assert batch.file_issues == []
    assert batch.items and not batch.rejected


# --- CSV --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sep", [";", ","], ids=["semicolon", "comma"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_csv_separators_and_danish_decimal_comma(sep: str, newline: str) -> None:
    records = [
        make_record("REC-1"),
        make_record(
            "REC-2",
            [
                ("result.value", "4,5"),
                ("result.referenceLow", "3,5"),
                ("result.referenceHigh", "8,8"),
                ("result.comment", "a; b, c"),
            ],
        ),
    ]
    text = to_csv(records, sep=sep, newline=newline)
    if sep == ",":
        assert '"4,5"' in text  # a comma-separated extract quotes the decimal comma
    else:
        assert ";4,5;" in text
    batch = read(text.encode(), "extract.csv")
    assert batch.file_issues == []
    assert_counts(batch, 2, accepted=2)
    first, second = batch.records
    assert first.practice.ydernummer == "012345", "leading zero kept: CSV cells stay text"
    assert first.version == 1
    value = second.result.value
    assert (value.raw, value.number) == ("4,5", Decimal("4.5"))
    assert (second.result.reference_low, second.result.reference_high) == ("3,5", "8,8")
    assert second.result.comment == "a; b, c"
    assert [item.line for item in batch.items] == [2, 3]


def test_csv_empty_cells_are_absent_fields() -> None:
    records = [
        make_record(
            "REC-1",
            [
                ("practice.sor", None),
                ("patient.cpr", None),
                ("patient.replacementId", REPLACEMENT_ID),
                ("patient.given", None),
                ("consent", None),
                ("sample.material", None),
                ("analysis.text", None),
                ("result.unit", None),
                ("result.referenceLow", None),
                ("result.referenceHigh", None),
                ("result.abnormal", None),
                ("result.comment", None),
                ("lps.version", None),
            ],
        )
    ]
    batch = read(to_csv(records).encode(), "extract.csv")
    assert_counts(batch, 1, accepted=1)
    record = batch.records[0]
    assert record.practice.sor is None and record.practice.ydernummer == "012345"
    assert record.patient.cpr is None and record.patient.replacement_id == REPLACEMENT_ID
    assert record.consent is Consent.UNKNOWN, "missing consent is unknown, never refused"
    assert record.result.unit is None and record.result.abnormal is None
    assert record.lps.version is None


def test_csv_blank_cells_are_absent_too() -> None:
    text = to_csv([make_record("REC-1")]).replace(";given;", ";  ;")
    batch = read(text.encode(), "extract.csv")
    assert_counts(batch, 1, accepted=1)
    assert batch.records[0].consent is Consent.UNKNOWN


def test_csv_empty_required_cells_are_missing_fields() -> None:
    records = [
        make_record("REC-1"),
        make_record("REC-2", [("practice.sor", None), ("practice.ydernummer", None)]),
        make_record("REC-3", [("result.value", None)]),
        make_record("REC-4"),
    ]
    batch = read(to_csv(records).encode(), "extract.csv")
    assert_counts(batch, 4, accepted=2)
    second, third = batch.rejected
    assert only_rules(second.issues) == {("LPS-PRACTICE", "practice")}
    assert only_rules(third.issues) == {("LPS-VALUE", "result.value")}
    assert (second.line, third.line) == (3, 4)
    assert second.issues[0].record == "REC-2/v1"


@pytest.mark.parametrize(
    "row",
    [
        pytest.param("REC-2;1;final", id="too-few"),
        pytest.param(None, id="one-cell-short"),
        pytest.param("EXTRA", id="too-many"),
    ],
)
def test_csv_row_with_wrong_number_of_cells(row: str | None) -> None:
    lines = to_csv([make_record("REC-1"), make_record("REC-2"), make_record("REC-3")]).splitlines()
    if row is None:
        lines[2] = lines[2].rpartition(";")[0]
    elif row == "EXTRA":
        lines[2] += ";extra"
    else:
        lines[2] = row
    batch = read(("\n".join(lines) + "\n").encode(), "extract.csv")
    assert_counts(batch, 3, accepted=2)
    [item] = batch.rejected
    [issue] = item.issues
    assert (issue.rule, issue.line, issue.source) == ("LPS-CSV-ROW", 3, "extract.csv")
    assert [r.record_id for r in batch.records] == ["REC-1", "REC-3"]
    assert_no_secrets(batch)


def test_csv_quoted_cell_over_two_lines_keeps_line_numbers() -> None:
    records = [
        make_record("REC-1", [("result.comment", "first line\nsecond line")]),
        make_record("REC-2"),
    ]
    text = to_csv(records) + "\n"  # a trailing blank line is not a record
    batch = read(text.encode(), "extract.csv")
    assert_counts(batch, 2, accepted=2)
    assert batch.records[0].result.comment == "first line\nsecond line"
    assert [item.line for item in batch.items] == [2, 4]


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        pytest.param("1", True, id="1"),
        pytest.param("3", True, id="3"),
        pytest.param("0", False, id="zero"),
        pytest.param("-1", False, id="negative"),
        pytest.param("1.0", False, id="decimal"),
        pytest.param("one", False, id="word"),
        pytest.param("²", False, id="superscript-two"),
    ],
)
def test_csv_version_cell_is_an_integer(version: str, accepted: bool) -> None:
    lines = to_csv([make_record("REC-1"), make_record("REC-2"), make_record("REC-3")]).splitlines()
    lines[2] = lines[2].replace("REC-2;1;", f"REC-2;{version};", 1)
    batch = read(("\n".join(lines) + "\n").encode(), "extract.csv")
    assert_counts(batch, 3, accepted=3 if accepted else 2)
    item = batch.items[1]
    if accepted:
        assert item.record is not None and item.record.version == int(version)
    else:
        assert only_rules(item.issues) == {("LPS-VERSION", "version")}


@pytest.mark.parametrize(
    ("char", "encoding", "rejected_by"),
    [
        pytest.param("\u2028", "utf-8", None, id="line-separator"),
        pytest.param("\u2029", "utf-8", None, id="paragraph-separator"),
        pytest.param("\x85", "utf-8", None, id="next-line-utf8"),
        pytest.param("\x85", "latin-1", None, id="next-line-latin1-byte-0x85"),
        pytest.param("\x0c", "utf-8", "LPS-CONTROL-CHAR", id="form-feed"),
        pytest.param("\x1e", "utf-8", "LPS-CONTROL-CHAR", id="record-separator"),
    ],
)
def test_csv_line_break_characters_inside_a_cell_do_not_split_the_record(
    char: str, encoding: str, rejected_by: str | None
) -> None:
    records = [
        make_record("REC-1"),
        make_record("REC-2", [("result.comment", f"før{char}efter")]),
        make_record("REC-3"),
    ]
    batch = read(to_csv(records).encode(encoding), "extract.csv")
    assert_counts(batch, 3, accepted=2 if rejected_by else 3)
    item = batch.items[1]
    assert item.line == 3
    if rejected_by:
        assert only_rules(item.issues) == {(rejected_by, "result.comment")}
    else:
        assert item.record is not None and item.record.result.comment == f"før{char}efter"
    assert [i.line for i in batch.items] == [2, 3, 4]


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85"], ids=["LS", "PS", "NEL"])
def test_ndjson_line_break_characters_inside_a_string_do_not_split_the_record(char: str) -> None:
    records = [
        make_record("REC-1"),
        make_record("REC-2", [("result.comment", f"før{char}efter")]),
        make_record("REC-3"),
    ]
    data = encode(records, "ndjson")
    assert char.encode() in data  # JSON allows these unescaped inside strings
    batch = read(data, "feed.ndjson")
    assert_counts(batch, 3, accepted=3)
    assert [item.line for item in batch.items] == [1, 2, 3]
    assert batch.records[1].result.comment == f"før{char}efter"


def test_csv_without_offset_is_danish_local_time() -> None:
    records = [
        make_record(
            "REC-1",
            [("sample.collectedAt", "2025-06-05 13:20"), ("performedAt", "2025-06-05 13:26")],
        ),
        make_record(
            "REC-2",
            [("sample.collectedAt", "2025-02-05 13:20"), ("performedAt", "2025-02-05 13:26")],
        ),
    ]
    batch = read(to_csv(records).encode(), "extract.csv")
    assert_counts(batch, 2, accepted=2)
    summer, winter = batch.records
    assert summer.sample.collected_at == datetime(2025, 6, 5, 11, 20, tzinfo=UTC)
    assert winter.sample.collected_at == datetime(2025, 2, 5, 12, 20, tzinfo=UTC)
    assert summer.performed_at.utcoffset() == timedelta(hours=2)
    assert winter.performed_at.utcoffset() == timedelta(hours=1)


# The years each 7th digit can give (CPR-kontoret: year digits and 7th digit name the century).
_CPR_YEARS = {
    **dict.fromkeys((0, 1, 2, 3), (range(1900, 2000),)),
    **dict.fromkeys((4, 9), (range(1937, 2037),)),
    **dict.fromkeys((5, 6, 7, 8), (range(1858, 1900), range(2000, 2058))),
}


@cache
def _births(spans: tuple[range, ...]) -> dict[str, date]:
    """DDMMYY of every day in the years `spans`: the birthdays a 7th digit allows."""
    return {
        f"{born:%d%m%y}": born
        for span in spans
        for year in span
        for month in range(1, 13)
        for born in (date(year, month, day) for day in range(1, monthrange(year, month)[1] + 1))
    }


@example(29, 2, 0, 3)  # 1900: no leap year
@example(29, 2, 0, 4)  # 2000: a leap year
@example(29, 2, 96, 5)  # 1896
@example(30, 2, 48, 0)
@example(31, 4, 47, 0)
@example(31, 12, 99, 9)
@given(st.integers(0, 33), st.integers(0, 13), st.integers(0, 99), st.integers(0, 9))
def test_a_cpr_number_is_a_real_date_of_birth_in_the_century_its_7th_digit_gives(
    day: int, month: int, year: int, seventh: int
) -> None:
    """Accepted exactly when DDMMYY is the birthday of someone born in the years the 7th digit
    stands for (any day or month that is none is refused); modulus 11 is not asked."""
    cpr = f"{day:02d}{month:02d}{year:02d}{seventh}123"
    born = _births(_CPR_YEARS[seventh]).get(cpr[:6])
    assert birth_date(cpr) == born
    assert is_cpr(cpr) is (born is not None)


def test_29_february_is_a_date_exactly_in_leap_years() -> None:
    """Every year digits with every 7th digit: only where the century makes a leap year."""
    for year in range(100):
        for seventh, spans in _CPR_YEARS.items():
            (full,) = [y for span in spans for y in span if y % 100 == year]
            assert is_cpr(f"2902{year:02d}{seventh}000") is isleap(full), (year, seventh)


@given(st.dates(date(1858, 1, 1), date(2057, 12, 31)), st.integers(0, 9), st.integers(0, 999))
def test_every_birthday_with_a_fitting_7th_digit_is_accepted_at_intake(
    born: date, seventh: int, serial: int
) -> None:
    assume(any(born.year in span for span in _CPR_YEARS[seventh]))
    cpr = f"{born:%d%m%y}{seventh}{serial:03d}"
    batch = read(encode([make_record("REC-0001", [("patient.cpr", cpr)])], "json"), "one.json")
    assert_counts(batch, 1, accepted=1)


def test_csv_bad_cpr_is_rejected_without_echoing_it() -> None:
    records = [
        make_record("REC-1"),
        make_record("REC-2", [("patient.cpr", "3213779999")]),
        make_record("REC-3", [("patient.cpr", "32137799")]),
        make_record("REC-4"),
    ]
    batch = read(to_csv(records).encode(), "extract.csv")
    assert_counts(batch, 4, accepted=2)
    for item in batch.rejected:
        assert only_rules(item.issues) == {("LPS-CPR", "patient.cpr")}
    assert_no_secrets(batch, ["3213779999", "32137799"])


def test_csv_header_with_unknown_column() -> None:
    text = to_csv([make_record("REC-1")])
    header, _, rest = text.partition("\n")
    text = header + ";patient_email\n" + rest.rstrip("\n") + ";x@example.org\n"
    batch = read(text.encode(), "extract.csv")
    assert_counts(batch, 1, accepted=0)
    assert only_rules(batch.items[0].issues) == {("LPS-UNKNOWN-FIELD", "patient.email")}
