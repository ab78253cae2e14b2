"""XRPT01 rendering: the standard's rules, round trips, letter splitting and reproducibility."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.clock import FixedClock, SequentialIds
from gateway.config import default_config
from gateway.coverage import Action
from gateway.mapping.tables import default_mappings
from gateway.pipeline import Outcome, Translator
from gateway.values import parse_value
from gateway.xml.validate import XmlValidator
from gateway.xml.xrpt01_reader import read_letters
from tests.records import NOW, batch_of, record, translate

_OFFICIAL: dict[Path, etree.XMLSchema] = {}


def official_schema(path: Path) -> etree.XMLSchema:
    if path not in _OFFICIAL:
        _OFFICIAL[path] = etree.XMLSchema(etree.parse(str(path)))
    return _OFFICIAL[path]


def assert_valid_everywhere(content: bytes, official: Path | None) -> None:
    """Our validator and, where present, the official MedCom schema accept the message."""
    issues = [i for i in XmlValidator().iter_issues(content) if i.blocking]
    assert issues == []
    if official is not None:
        schema = official_schema(official)
        ok = schema.validate(etree.fromstring(content))
        assert ok, str(schema.error_log)


def test_sample_record_renders_a_valid_letter(official_2014_xsd: Path) -> None:
    result = translate(record())
    assert result.counts()["accepted"] == 1
    (message,) = result.messages
    assert_valid_everywhere(message.content, official_2014_xsd)
    (letter,) = read_letters(etree.fromstring(message.content))
    assert letter.cpr == "2509479989"
    assert letter.consent_given is True
    (res,) = letter.results
    assert (res.analysis_code, res.value, res.unit, res.validation) == (
        "NPU19748",
        "45",
        "mg/l",
        "for_hoej",
    )
    assert (res.lower, res.upper, res.status) == ("0", "8", "svar_endeligt")


def test_times_are_danish_local_hours_and_minutes() -> None:
    winter = record(sample__collectedAt="2025-01-15T07:05:59Z", performedAt="2025-01-15T07:30:00Z")
    summer = record(
        recordId="S2",
        sample__id="S2",
        sample__collectedAt="2025-07-15T07:05:59Z",
        performedAt="2025-07-15T07:30:00Z",
    )
    result = translate(winter, summer)
    sampled = sorted(read_letters(etree.fromstring(m.content))[0].sampled for m in result.messages)
    assert sampled == ["2025-01-15 08:05", "2025-07-15 09:05"]


def test_comparators_become_operator_and_decimal_comma_a_point() -> None:
    result = translate(
        record(result__value="<5"),
        record(recordId="B", result__value=">100"),
        record(recordId="C", result__value="4,50", result__referenceLow="3,5"),
    )
    (message,) = result.messages
    results = read_letters(etree.fromstring(message.content))[0].results
    assert [(r.operator, r.value) for r in results] == [
        ("mindre_end", "5"),
        ("stoerre_end", "100"),
        (None, "4.50"),
    ]
    assert results[2].lower == "3.5"


def test_text_longer_than_twelve_characters_goes_to_result_text_value() -> None:
    long_text = "Escherichia coli > 10^5"
    result = translate(
        record(
            analysis__code="NPU03987",
            result__value=long_text,
            result__unit=None,
            result__referenceLow=None,
            result__referenceHigh=None,
        )
    )
    (res,) = read_letters(etree.fromstring(result.messages[0].content))[0].results
    assert res.result_type == "alfanumerisk"
    assert len(res.value) <= 12
    assert res.text_value == long_text


def test_number_too_long_for_value_is_rejected_alone() -> None:
    result = translate(record(result__value="1234567890,123"), record(recordId="OK"))
    outcomes = {o.label: o for o in result.outcomes}
    assert outcomes["XMO-7f3a9c21/v1"].outcome is Outcome.REJECTED
    assert [i.rule for i in outcomes["XMO-7f3a9c21/v1"].issues] == ["XRPT01-VALUE-LENGTH"]
    assert outcomes["OK/v1"].outcome is Outcome.ACCEPTED


def test_one_letter_per_patient_sample_and_version() -> None:
    result = translate(
        record(),
        record(recordId="B", analysis__code="NPU02319", result__value="8,4", result__unit="mmol/L"),
        record(version=2, status="corrected", result__value="54"),
        record(recordId="C", sample__id="OTHER"),
        record(recordId="D", patient__cpr="1212778221"),
    )
    sizes = sorted(len(m.records) for m in result.messages)
    assert sizes == [1, 1, 1, 2]
    assert len({m.message_id for m in result.messages}) == 4


def test_more_than_99_results_are_split_into_letters(official_2014_xsd: Path) -> None:
    records = [record(recordId=f"R{i:03d}") for i in range(150)]
    result = translate(*records)
    assert sorted(len(m.records) for m in result.messages) == [51, 99]
    for message in result.messages:
        assert_valid_everywhere(message.content, official_2014_xsd)


def test_consent_refused_is_a_flag_and_unknown_is_not_stated() -> None:
    refused = translate(record(consent="refused"))
    unknown = translate(record(consent=None))
    assert refused.counts()["accepted"] == unknown.counts()["accepted"] == 1
    assert read_letters(etree.fromstring(refused.messages[0].content))[0].consent_given is False
    assert read_letters(etree.fromstring(unknown.messages[0].content))[0].consent_given is None


def test_cancellation_is_a_corrected_result_that_says_so() -> None:
    result = translate(record(version=2, status="cancelled"))
    (res,) = read_letters(etree.fromstring(result.messages[0].content))[0].results
    assert (res.status, res.value, res.unit) == ("svar_rettet", "annulleret", None)
    assert res.text_value and "annulleret" in res.text_value
    # the withdrawn value's interval (0-8) and flag (high) are not sent with it
    assert (res.operator, res.lower, res.upper, res.validation) == (None, None, None, None)
    uses = {u.field: u for u in result.messages[0].coverage}
    for field in ("result.referenceLow", "result.referenceHigh", "result.abnormal", "result.unit"):
        assert uses[field].action is Action.LEFT_OUT and uses[field].target is None, field


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(), min_size=1, max_size=4).flatmap(
        lambda xs: st.tuples(*(lab_records(i) for i in range(len(xs))))
    )
)
def test_a_cancelled_result_carries_nothing_of_the_withdrawn_value(
    records: tuple[dict[str, Any], ...],
) -> None:
    result = translate(*({**r, "version": 2, "status": "cancelled"} for r in records))
    assert result.counts()["accepted"] == len(records), [str(i) for i in result.issues]
    for message in result.messages:
        (letter,) = read_letters(etree.fromstring(message.content))
        for res, source in zip(letter.results, message.records, strict=True):
            assert (res.status, res.result_type, res.value) == (
                "svar_rettet",
                "alfanumerisk",
                "annulleret",
            ), source
            assert (res.operator, res.unit, res.lower, res.upper, res.validation) == (
                (None,) * 5
            ), source
            assert res.text_value == "Svaret er annulleret af afsender."


def test_output_is_byte_for_byte_reproducible() -> None:
    records = [record(), record(recordId="B", sample__id="S-2")]
    first = translate(*records)
    second = translate(*records)
    assert [m.content for m in first.messages] == [m.content for m in second.messages]
    later = Translator(
        default_config(),
        default_mappings(),
        XmlValidator(),
        FixedClock(NOW.replace(hour=12)),
        SequentialIds(start=500),
    )
    third = later.translate(batch_of(*records))
    assert [m.message_id for m in third.messages] == [m.message_id for m in first.messages]
    assert [m.envelope_id for m in third.messages] != [m.envelope_id for m in first.messages]


def _leaves(data: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in data.items():
        if isinstance(value, dict):
            out |= _leaves(value, f"{prefix}{key}.")
        elif value is not None:
            out.add(f"{prefix}{key}")
    return out


def test_coverage_accounts_for_every_field_given() -> None:
    given_record = record(sample__material="blood", result__comment="se journal")
    result = translate(given_record)
    (message,) = result.messages
    covered = {use.field for use in message.coverage if "XMO-7f3a9c21/v1" in use.records}
    assert _leaves(given_record) <= covered


# --- property-based round trip: record → XRPT01 → read back ------------------------------

NUMERIC = [
    ("NPU19748", ["mg/L", "mg/l"], "mg/l"),
    ("NPU02319", ["mmol/L", "mmol/l"], "mmol/l"),
    ("NPU02593", ["10^9/l", "10^9/L"], "10^9/l"),
    ("NPU27300", ["mmol/mol"], "mmol/mol"),
    ("NPU18016", ["µmol/l", "umol/L"], "µmol/l"),
    ("NPU01685", [None], None),
]
ORDINAL = ["NPU03987", "NPU04206", "NPU21578"]
STATUS = {"preliminary": "svar_midlertidigt", "final": "svar_endeligt", "corrected": "svar_rettet"}
VALIDATION = {
    "high": "for_hoej",
    "low": "for_lav",
    "abnormal": "unormal",
    "normal": None,
    None: None,
}


@st.composite
def numbers(draw: st.DrawFn) -> str:
    whole = draw(st.integers(min_value=0, max_value=99999))
    frac = draw(st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=3)))
    mark = draw(st.sampled_from([",", "."]))
    return f"{whole}{mark}{frac}" if frac is not None else str(whole)


@st.composite
def lab_records(draw: st.DrawFn, index: int) -> dict[str, Any]:
    numeric = draw(st.booleans())
    changes: dict[str, Any] = {
        "recordId": f"H{index}",
        "sample__id": draw(st.sampled_from(["S1", "S2"])),
        "status": draw(st.sampled_from(sorted(STATUS))),
        "consent": draw(st.sampled_from(["given", "refused", "unknown", None])),
        "result__abnormal": draw(st.sampled_from(sorted(VALIDATION, key=str))),
        "result__comment": draw(
            st.one_of(
                st.none(),
                st.lists(
                    st.text(
                        st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]),
                        min_size=1,
                        max_size=30,
                    )
                    .map(str.strip)
                    .filter(bool),
                    min_size=1,
                    max_size=3,
                ).map("\n".join),
            )
        ),
    }
    if numeric:
        code, spellings, _ = draw(st.sampled_from(NUMERIC))
        low, high = draw(st.one_of(st.none(), numbers())), draw(st.one_of(st.none(), numbers()))
        if low and high and Decimal(low.replace(",", ".")) > Decimal(high.replace(",", ".")):
            low, high = high, low
        changes |= {
            "analysis__code": code,
            "result__unit": draw(st.sampled_from(spellings)),
            "result__value": draw(st.sampled_from(["", "<", ">"])) + draw(numbers()),
            "result__referenceLow": low,
            "result__referenceHigh": high,
        }
    else:
        text = draw(
            st.text(
                st.characters(codec="utf-8", categories=["L", "N", "Zs"], include_characters="+-"),
                min_size=1,
                max_size=40,
            )
            .map(str.strip)
            .filter(lambda t: bool(t) and parse_value(t).number is None)
        )
        changes |= {
            "analysis__code": draw(st.sampled_from(ORDINAL)),
            "result__unit": None,
            "result__value": text,
            "result__referenceLow": None,
            "result__referenceHigh": None,
        }
    return record(**changes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(), min_size=1, max_size=6).flatmap(
        lambda xs: st.tuples(*(lab_records(i) for i in range(len(xs))))
    )
)
def test_round_trip_keeps_values_units_comparators_intervals_statuses_consent(
    records: tuple[dict[str, Any], ...],
) -> None:
    result = translate(*records)
    assert result.counts()["rejected"] == 0, [str(i) for i in result.issues if i.blocking]
    letters, results = {}, {}
    for message in result.messages:
        (letter,) = read_letters(etree.fromstring(message.content))
        letters[message.message_id] = letter
        results.update(zip(message.records, letter.results, strict=True))
    for outcome, source in zip(result.outcomes, records, strict=True):
        letter, read = letters[outcome.message_id or ""], results[outcome.label]
        consent = source.get("consent")
        assert letter.consent_given == {"given": True, "refused": False}.get(consent or "")
        assert read.analysis_code == source["analysis"]["code"]
        assert _same_value(read, source["result"]["value"])
        assert read.status == STATUS[source["status"]]
        assert read.validation == VALIDATION[source["result"].get("abnormal")]
        assert read.comments == (
            (source["result"]["comment"],) if source["result"].get("comment") else ()
        )
        for limit, got in (("referenceLow", read.lower), ("referenceHigh", read.upper)):
            sent = source["result"].get(limit)
            assert got == (sent.replace(",", ".") if sent else None)
        spelled = next(
            (medcom for code, _, medcom in NUMERIC if code == source["analysis"]["code"]), None
        )
        assert read.unit == spelled


def _same_value(read: Any, raw: str) -> bool:
    operators = {"<": "mindre_end", ">": "stoerre_end"}
    if read.result_type == "numerisk":
        operator = operators.get(raw[0])
        digits = raw[1:] if operator else raw
        return read.operator == operator and read.value == digits.replace(",", ".")
    text = raw.strip()
    return read.value == text if len(text) <= 12 else read.text_value == text


@pytest.mark.parametrize(
    "value",
    ["0,0010", "12345,6789", "<0,5", ">99999"],
    ids=["trailing-zeros", "twelve-chars", "lt-decimal", "gt-big"],
)
def test_numbers_are_never_rounded(value: str) -> None:
    result = translate(record(result__value=value, result__referenceLow=None))
    (res,) = read_letters(etree.fromstring(result.messages[0].content))[0].results
    assert res.value == value.lstrip("<>").replace(",", ".")
