"""gateway.privacy: what counts as a CPR number and is redacted, the log filter, the keyed
pseudonyms and where their key comes from; the log scan of tests/conftest.py can fail; intake
Issues do not quote a CPR number typed into the wrong field."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.cpr import is_cpr
from gateway.errors import ConfigError
from gateway.intake import read_records
from gateway.privacy import (
    KeySource,
    Pseudonyms,
    RedactingFilter,
    cpr_is_date_shaped,
    derive_key,
    find_cpr,
    install_log_redaction,
    redact,
    redact_json,
)
from gateway.service.config import load_service_config
from tests.conftest import CprScan
from tests.records import NOW, record

CPR = "2509479989"
KEY = b"k" * 32

# ---------------------------------------------------------------- what is redacted


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"cpr {CPR} given", "cpr [CPR] given"),
        ("250947-9989", "[CPR]"),
        (f"<CivilRegistrationNumber>{CPR}</CivilRegistrationNumber>",
         "<CivilRegistrationNumber>[CPR]</CivilRegistrationNumber>"),
        (f'{{"cpr":"{CPR}"}}', '{"cpr":"[CPR]"}'),
        (f"NPU{CPR}", "NPU[CPR]"),
        (f"{CPR},010101-1234;3112999999", "[CPR],[CPR];[CPR]"),
        ("3002479989 3104479989 2902001234", "[CPR] [CPR] [CPR]"),
        ("[CPR] stays [CPR]", "[CPR] stays [CPR]"),
    ],
    ids=[
        "plain",
        "dashed",
        "xml",
        "json",
        "glued-to-letters",
        "several",
        "no-date-but-date-shaped",  # redaction over-matches what validation refuses
        "idempotent",
    ],
)  # fmt: skip
def test_cpr_numbers_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert find_cpr(expected) == []


@pytest.mark.parametrize(
    "text",
    [
        "3213479989",  # day 32
        "2513479989",  # month 13
        "0009479989",  # day 0
        "59114458133979",  # a 14-digit message id
        "25094799891",  # 11 digits
        "250947-99891",
        "1250947-9989",
        "2025-12-01T09:10:45.365834+00:00",
        "sha256:1cfd651bfaa65f4c177d89e4b9b7df92c27f52a1aeea921031a3f9ba30250947",
        "digest 2509479989abcdef0011223344556677",  # 10 decimal digits inside a hex token
        "bbb75dbc-072c-520e-8693-a2509479989b",  # … inside a UUID
        "pt:2509479989abcdef",
    ],
)
def test_what_only_looks_like_a_cpr_number_is_left_alone(text: str) -> None:
    assert redact(text) == text
    assert find_cpr(text) == []


_SEPARATORS = st.sampled_from(list(" ,;:()[]{}'\"/=<>|\n\t"))
_TEXT = st.text(max_size=30)


def _embedded(prefix: str, left: str, middle: str, right: str, suffix: str) -> tuple[str, str]:
    """The text with `middle` embedded, and what redact should make of it, if middle is one."""
    text = f"{prefix}{left}{middle}{right}{suffix}"
    return text, f"{redact(prefix)}{left}[CPR]{right}{redact(suffix)}"


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(0, 9999),
    st.booleans(),
    _TEXT,
    _SEPARATORS,
    _SEPARATORS,
    _TEXT,
)
def test_any_date_shaped_cpr_in_any_text_is_redacted(
    born: date, serial: int, dashed: bool, prefix: str, left: str, right: str, suffix: str
) -> None:
    cpr = f"{born:%d%m%y}{'-' if dashed else ''}{serial:04d}"
    text, expected = _embedded(prefix, left, cpr, right, suffix)
    assert cpr in find_cpr(text)
    assert redact(text) == expected
    assert find_cpr(redact(text)) == []


@given(st.integers(0, 39), st.integers(0, 19), st.integers(0, 999_999), st.booleans())
def test_redaction_is_at_least_as_broad_as_validation(
    day: int, month: int, rest: int, dashed: bool
) -> None:
    """Every number intake and MC-CPR accept as a CPR number is redacted, and so is every
    day 01-31 in a month 01-12 that is no date (31 April, 30 February): over-matching is
    the safe side for text people read."""
    digits = f"{day:02d}{month:02d}{rest:06d}"
    cpr = f"{digits[:6]}-{digits[6:]}" if dashed else digits
    if is_cpr(digits):
        assert cpr_is_date_shaped(digits)
    shaped = 1 <= day <= 31 and 1 <= month <= 12
    assert find_cpr(f"cpr {cpr}.") == ([cpr] if shaped else [])
    assert (redact(cpr) == "[CPR]") is shaped


@given(st.from_regex(r"[0-9]{11,30}", fullmatch=True), _TEXT, _SEPARATORS, _SEPARATORS, _TEXT)
def test_longer_digit_runs_are_not_cut(
    digits: str, prefix: str, left: str, right: str, suffix: str
) -> None:
    text = f"{prefix}{left}{digits}{right}{suffix}"
    assert f"{left}{digits}{right}" in redact(text)


@given(
    st.one_of(
        st.tuples(st.sampled_from([0, *range(32, 100)]), st.integers(0, 99)),
        st.tuples(st.integers(0, 99), st.sampled_from([0, *range(13, 100)])),
    ),
    st.integers(0, 99_9999),
    _SEPARATORS,
)
def test_ten_digits_that_are_no_date_are_left_alone(
    day_month: tuple[int, int], rest: int, separator: str
) -> None:
    day, month = day_month
    text = f"id{separator}{day:02d}{month:02d}{rest:06d}{separator}"
    assert redact(text) == text


def test_json_strings_and_keys_are_redacted_numbers_are_not() -> None:
    value = {"cpr": CPR, CPR: [f"x {CPR}", 2509479989, None, True], "n": 1.5}
    assert redact_json(value) == {
        "cpr": "[CPR]",
        "[CPR]": ["x [CPR]", 2509479989, None, True],
        "n": 1.5,
    }


# ---------------------------------------------------------------- logs


def _record(msg: str, *args: Any, exc: bool = False, stack: str | None = None) -> logging.LogRecord:
    """A record made directly, not by a logger: the process's factory may redact already."""
    info = None
    if exc:
        try:
            raise ValueError(f"no patient {CPR}")
        except ValueError:
            info = sys.exc_info()
    return logging.LogRecord("t", logging.ERROR, __file__, 1, msg, args, info, sinfo=stack)


def test_the_filter_redacts_message_arguments_traceback_and_stack() -> None:
    record = _record("patient %s (%r)", CPR, {"cpr": CPR}, exc=True, stack=f"stack {CPR}")
    assert RedactingFilter().filter(record) is True
    text = logging.Formatter().format(record)
    assert "patient [CPR] ({'cpr': '[CPR]'})" in text
    assert "ValueError: no patient [CPR]" in text and "stack [CPR]" in text
    assert find_cpr(text) == [] and record.args == () and record.exc_info is None


def test_a_broken_format_string_is_kept_redacted() -> None:
    record = _record("patient %s %s", CPR)
    RedactingFilter().filter(record)
    assert CPR not in record.getMessage() and "[CPR]" in record.getMessage()


def test_installed_redaction_reaches_every_logger_and_handler() -> None:
    install_log_redaction()
    install_log_redaction()  # idempotent: one wrapper
    factory = logging.getLogRecordFactory()
    assert not isinstance(getattr(factory, "inner", None), type(factory))
    seen = CprScan()
    logger = logging.getLogger("labgw.test-privacy")
    logger.addHandler(seen)
    try:
        logger.error("cpr %s", CPR)
        try:
            raise RuntimeError(f"payload <CivilRegistrationNumber>{CPR}</…>")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(seen)
    assert seen.scanned == 2 and seen.findings == []


def test_the_log_scan_finds_a_cpr_that_reaches_a_log() -> None:
    """The session's scan can fail: a record that bypassed the filter, given to a handler of
    its own (so the session's collected lines stay clean)."""
    scan = CprScan()
    scan.handle(_record("sending letter for 250947-9989"))
    scan.handle(_record("sending letter 59114458133979"))
    assert scan.scanned == 2 and len(scan.findings) == 1
    assert "[CPR]" in scan.findings[0] and find_cpr(scan.findings[0]) == []


# ---------------------------------------------------------------- pseudonyms and their key


def test_pseudonyms_are_stable_per_key_and_differ_between_keys() -> None:
    ours, theirs = Pseudonyms(KEY), Pseudonyms(b"z" * 32)
    assert ours.patient(CPR) == Pseudonyms(KEY).patient(CPR) == ours.patient("250947-9989")
    assert re.fullmatch(r"pt:[0-9a-f]{16}", ours.patient(CPR))
    assert ours.patient(CPR) != theirs.patient(CPR)
    assert ours.patient(CPR) != ours.patient("2509479988")
    assert ours.patient("R:ABC1234567") != ours.patient(CPR)
    with pytest.raises(ValueError):
        Pseudonyms(b"short")


@given(st.binary(min_size=16, max_size=64), st.from_regex(r"[0-9]{10}", fullmatch=True))
def test_no_pseudonym_is_taken_for_a_cpr_number(key: bytes, cpr: str) -> None:
    pseudonym = Pseudonyms(key).patient(cpr)
    assert find_cpr(pseudonym) == [] and redact(pseudonym) == pseudonym


def test_the_key_comes_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "key").write_bytes(KEY + b"\n")
    assert KeySource(file=tmp_path / "key").read() == KEY
    monkeypatch.setenv("LABGW_TEST_PRIVACY_KEY", KEY.decode())
    assert KeySource(env="LABGW_TEST_PRIVACY_KEY").read() == KEY
    assert KeySource().read() is None


@pytest.mark.parametrize(
    ("source", "named"),
    [
        (KeySource(file=Path("/nonexistent/key")), "cannot read"),
        (KeySource(env="LABGW_UNSET_FOR_TEST"), "$LABGW_UNSET_FOR_TEST is not set"),
        (KeySource(env="LABGW_SHORT_KEY_FOR_TEST"), "at least 16 bytes"),
    ],
    ids=["unreadable-file", "unset-env", "short-key"],
)
def test_a_bad_key_is_refused(
    source: KeySource, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABGW_UNSET_FOR_TEST", raising=False)
    monkeypatch.setenv("LABGW_SHORT_KEY_FOR_TEST", "short")
    with pytest.raises(ConfigError, match=re.escape(named)):
        source.require()


def test_without_a_key_nothing_runs() -> None:
    """A random key would leave the outbox's record bodies unreadable after a restart."""
    with pytest.raises(ConfigError, match=r"\[privacy\] key_file or key_env is required"):
        KeySource().require()


def test_each_use_of_the_key_gets_its_own() -> None:
    pseudonyms, bodies = derive_key(KEY, "patient pseudonyms v1"), derive_key(KEY, "outbox v1")
    assert len(pseudonyms) == len(bodies) == 32
    assert len({pseudonyms, bodies, KEY}) == 3
    assert derive_key(KEY, "outbox v1") == bodies != derive_key(b"z" * 32, "outbox v1")


def _service_toml(tmp_path: Path, privacy: str) -> Path:
    path = tmp_path / "labgw.toml"
    path.write_text(f'[signing]\nidentity = "k.p12"\n[privacy]\n{privacy}\n', encoding="utf-8")
    return path


def test_the_service_file_names_where_the_key_is(tmp_path: Path) -> None:
    config = load_service_config(_service_toml(tmp_path, 'key_file = "secrets/pseudonym.key"'))
    assert config.privacy == KeySource(file=tmp_path / "secrets" / "pseudonym.key")
    config = load_service_config(_service_toml(tmp_path, 'key_env = "LABGW_PRIVACY_KEY"'))
    assert config.privacy == KeySource(env="LABGW_PRIVACY_KEY")
    assert load_service_config(_service_toml(tmp_path, "")).privacy == KeySource()


@pytest.mark.parametrize(
    ("privacy", "named"),
    [
        ('key = "0123456789abcdef0123"', "key_file or key_env"),
        ('key_file = "k"\nkey_env = "K"', "not both"),
        ("key_env = 3", "environment variable"),
    ],
    ids=["inline-key", "both", "not-a-name"],
)
def test_a_key_never_comes_inline(tmp_path: Path, privacy: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_service_config(_service_toml(tmp_path, privacy))


# ---------------------------------------------------------------- intake Issues


@pytest.mark.parametrize(
    "changes",
    [
        {"status": CPR},
        {"consent": CPR},
        {"analysis": {"system": CPR, "code": "NPU19748"}},
        {"analysis": {"system": "NPU", "code": f"NPU{CPR}"}},
        {"performedAt": f"2025-06-02 {CPR}"},
        {"practice__sor": CPR},
        {"practice__gln": "250947-9989"},
        {"result": {"value": "45", "unit": "mg/L", "referenceLow": CPR, "referenceHigh": "8"}},
        {CPR: "a field named by a CPR number"},
    ],
    ids=["status", "consent", "code-system", "npu-code", "time", "sor", "gln", "reference",
         "field-name"],
)  # fmt: skip
def test_intake_issues_do_not_quote_a_cpr_number(changes: dict[str, Any]) -> None:
    """A CPR number typed into the wrong field is refused without being repeated: Issues go
    back to the practice system, into the outbox and to the operator's screen."""
    data = record(**{k: v for k, v in changes.items() if k != CPR})
    if CPR in changes:
        data[CPR] = changes[CPR]
    batch = read_records(json.dumps([data]).encode(), "t.json", now=NOW)
    issues = [issue.to_dict() for item in batch.items for issue in item.issues]
    assert issues, "the record was accepted"
    assert find_cpr(json.dumps(issues)) == []
