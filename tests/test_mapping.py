"""Mapping (gateway.mapping): code tables in mappings/, codes → NPU, units → UCUM (DESIGN §3).

Unknown codes and units are reported, never guessed; an analysis not agreed for sharing is
filtered (not an error, not sent); a broken table stops the gateway at start-up (`ConfigError`).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import ConfigError
from gateway.intake import read_records
from gateway.issues import Severity
from gateway.mapping.resolve import Mapping, map_record
from gateway.mapping.tables import Domain, Mappings, ResultType, load_mappings
from gateway.model import LabRecord
from tests.test_intake import DROP, NOW, make_record

REPO = Path(__file__).resolve().parent.parent
MAPPINGS = REPO / "mappings"
TABLES = (
    "analyses.csv",
    "units.csv",
    "local-codes.csv",
    "fee-codes.csv",
    "notifiable.csv",
    "routing.csv",
)
EXCEPTIONS_ONLY = ("routing.csv",)  # lists departures from a default and may be empty


def read_csv_table(name: str, folder: Path = MAPPINGS) -> tuple[dict[str, str], list[dict]]:
    """A table read independently of gateway.mapping: `# key: value` lines, then CSV rows."""
    meta: dict[str, str] = {}
    body: list[str] = []
    for line in (folder / name).read_text(encoding="utf-8").splitlines():
        if not body and line.startswith("#"):
            key, _, value = line[1:].partition(":")
            meta[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    return meta, list(csv.DictReader(io.StringIO("\n".join(body))))


@pytest.fixture(scope="module")
def tables() -> Mappings:
    return load_mappings()


def lab(
    code: str = "NPU19748",
    *,
    system: str = "NPU",
    value: str = "45",
    unit: str | None = "mg/L",
    vendor: str = "XMO",
) -> LabRecord:
    """An accepted LabRecord (through intake) with this analysis, value and unit."""
    data = make_record(
        "MAP-1",
        [
            ("analysis.system", system),
            ("analysis.code", code),
            ("analysis.text", DROP),
            ("result.value", value),
            ("result.unit", DROP if unit is None else unit),
            ("result.referenceLow", DROP),
            ("result.referenceHigh", DROP),
            ("result.abnormal", DROP),
            ("lps.vendor", vendor),
        ],
    )
    batch = read_records(json.dumps([data]).encode(), "mapping-test.json", now=NOW)
    assert batch.records, [str(i) for item in batch.items for i in item.issues]
    return batch.records[0]


def rules(mapping: Mapping) -> list[tuple[str, Severity, str | None]]:
    return [(issue.rule, issue.severity, issue.location) for issue in mapping.issues]


def assert_clean(mapping: Mapping, npu: str, ucum: str | None) -> None:
    assert mapping.mapped is not None, [str(i) for i in mapping.issues]
    assert not any(issue.blocking for issue in mapping.issues)
    assert mapping.mapped.analysis.npu_code == npu
    assert mapping.mapped.ucum == ucum


# --- the packaged tables --------------------------------------------------------------------


def test_packaged_tables_load(tables: Mappings) -> None:
    assert {info.name for info in tables.tables} == set(TABLES)
    for info in tables.tables:
        assert info.source.strip(), info
        assert info.version.strip(), info
    assert "NPU19748" in tables.analyses
    assert tables.analyses["NPU19748"].domain is Domain.BIOCHEMISTRY
    assert tables.analyses["NPU19748"].ucum == "mg/L"
    assert tables.analyses["NPU19748"].result_type is ResultType.NUMERIC


@pytest.mark.parametrize("name", sorted(p.name for p in MAPPINGS.glob("*.csv")))
def test_every_table_file_has_source_and_version(name: str) -> None:
    meta, rows = read_csv_table(name)
    assert meta.get("source"), f"{name}: no '# source:' line"
    assert meta.get("version"), f"{name}: no '# version:' line"
    assert rows or name in EXCEPTIONS_ONLY, f"{name}: no rows"


def test_loaded_tables_match_the_files(tables: Mappings) -> None:
    _, analyses = read_csv_table("analyses.csv")
    _, units = read_csv_table("units.csv")
    _, local = read_csv_table("local-codes.csv")
    _, fee = read_csv_table("fee-codes.csv")
    assert set(tables.analyses) == {row["npu_code"] for row in analyses}
    assert tables.units == {row["spelling"]: row["ucum"] for row in units}
    assert tables.local_codes == {(r["vendor"], r["local_code"]): r["npu_code"] for r in local}
    assert tables.fee_codes == {row["fee_code"]: row["npu_code"] for row in fee}
    for row in analyses:
        analysis = tables.analyses[row["npu_code"]]
        assert analysis.shareable is (row["shareable"] == "yes")
        assert analysis.ucum == (row["ucum"] or None)


def test_every_analysis_unit_is_spelled_in_units_csv(tables: Mappings) -> None:
    """Each analysis' UCUM is reachable, and its MedCom unit text maps back to that UCUM."""
    for analysis in tables.analyses.values():
        if analysis.ucum is None:
            assert analysis.result_type is not ResultType.NUMERIC or analysis.medcom_unit is None
            continue
        assert analysis.ucum in tables.units.values(), analysis.npu_code
        if analysis.medcom_unit:
            assert tables.ucum_for(analysis.medcom_unit) == analysis.ucum, analysis.npu_code


# --- codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "code", "vendor", "value", "unit", "npu", "ucum"),
    [
        pytest.param("NPU", "NPU19748", "XMO", "45", "mg/L", "NPU19748", "mg/L", id="npu-itself"),
        pytest.param("LOCAL", "CRP", "XMO", "45", "mg/L", "NPU19748", "mg/L", id="local-crp"),
        pytest.param(
            "LOCAL", "HBA1C", "EG Clinea", "52", "mmol/mol", "NPU27300", "mmol/mol", id="local-any"
        ),
        pytest.param(
            "LOCAL", "XMO-URINDYRK", "XMO", "E. coli", None, "NPU16328", None, id="local-vendor"
        ),
        pytest.param("FEE", "9901", "XMO", "45", "mg/L", "NPU19748", "mg/L", id="fee-crp"),
        pytest.param("FEE", "9903", "WinPLC", "1,9", None, "NPU01685", "1", id="fee-inr"),
    ],
)
def test_code_is_mapped_to_npu(
    tables: Mappings,
    system: str,
    code: str,
    vendor: str,
    value: str,
    unit: str | None,
    npu: str,
    ucum: str | None,
) -> None:
    record = lab(code, system=system, value=value, unit=unit, vendor=vendor)
    mapping = map_record(record, tables)
    assert_clean(mapping, npu, ucum)
    assert mapping.issues == ()
    assert mapping.filtered is False
    assert mapping.mapped is not None and mapping.mapped.record is record
    expected_from = None if system == "NPU" else f"{system}:{code}"
    assert mapping.mapped.mapped_from == expected_from


@pytest.mark.parametrize(
    ("system", "code", "vendor"),
    [
        pytest.param("NPU", "NPU99999", "XMO", id="npu-not-in-table"),
        pytest.param("NPU", "DNK05451", "XMO", id="dnk-not-in-table"),
        pytest.param("LOCAL", "XYZ42", "XMO", id="local-unknown"),
        pytest.param("LOCAL", "crp", "XMO", id="local-other-case-not-guessed"),
        pytest.param("LOCAL", "NPU19748", "XMO", id="local-npu-lookalike-not-guessed"),
        pytest.param("LOCAL", "XMO-URINDYRK", "EG Clinea", id="other-vendors-local-code"),
        pytest.param("FEE", "9999", "XMO", id="fee-unknown"),
        pytest.param("FEE", "NPU19748", "XMO", id="fee-npu-lookalike-not-guessed"),
    ],
)
def test_unknown_code_is_reported_never_guessed(
    tables: Mappings, system: str, code: str, vendor: str
) -> None:
    record = lab(code, system=system, value="45", unit=None, vendor=vendor)
    mapping = map_record(record, tables)
    assert mapping.mapped is None
    assert mapping.filtered is False
    assert rules(mapping) == [("MAP-UNKNOWN-CODE", Severity.ERROR, "analysis.code")]
    [issue] = mapping.issues
    assert issue.record == "MAP-1/v1"
    assert code in issue.message


def _copy_tables(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    for name in TABLES:
        shutil.copy(MAPPINGS / name, folder / name)
    return folder


def _edit(folder: Path, name: str, change: Callable[[str], str]) -> None:
    path = folder / name
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


@pytest.mark.parametrize("vendor_row_first", [True, False], ids=["vendor-row-first", "star-first"])
def test_vendor_specific_local_code_beats_the_star_row(
    tmp_path: Path, vendor_row_first: bool
) -> None:
    folder = _copy_tables(tmp_path)
    vendor_row = "XMO,CRP,NPU02319,test: XMO uses CRP for haemoglobin\n"

    def add(text: str) -> str:
        header, _, rows = text.partition("vendor,local_code,npu_code,notes\n")
        head = header + "vendor,local_code,npu_code,notes\n"
        return head + vendor_row + rows if vendor_row_first else text + vendor_row

    _edit(folder, "local-codes.csv", add)
    tables = load_mappings(folder)
    assert tables.local_codes[("XMO", "CRP")] == "NPU02319"
    assert tables.local_codes[("*", "CRP")] == "NPU19748"
    xmo = map_record(lab("CRP", system="LOCAL", value="8,4", unit="mmol/L", vendor="XMO"), tables)
    assert_clean(xmo, "NPU02319", "mmol/L")
    other = map_record(lab("CRP", system="LOCAL", value="45", unit="mg/L", vendor="Other"), tables)
    assert_clean(other, "NPU19748", "mg/L")


# --- units ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("npu", "value", "unit", "ucum"),
    [
        pytest.param("NPU19748", "45", "mg/l", "mg/L", id="mg/l"),
        pytest.param("NPU19748", "45", "mg/L", "mg/L", id="mg/L"),
        pytest.param("NPU18016", "88", "µmol/l", "umol/L", id="micro-sign-µmol/l"),
        pytest.param("NPU18016", "88", "μmol/l", "umol/L", id="greek-mu-μmol/l"),
        pytest.param("NPU18016", "88", "umol/L", "umol/L", id="umol/L"),
        pytest.param("NPU02593", "6,1", "10^9/l", "10*9/L", id="10^9/l"),
        pytest.param("NPU02593", "6,1", "10*9/L", "10*9/L", id="ucum-10*9/L"),
        pytest.param("NPU02319", "8,4", "mmol/l", "mmol/L", id="mmol/l"),
        pytest.param("NPU27300", "52", "mmol/mol", "mmol/mol", id="mmol/mol"),
        pytest.param("NPU01685", "2,5", "1", "1", id="ratio-1"),
        pytest.param("NPU19748", "45", " mg/L", "mg/L", id="leading-blank"),
    ],
)
def test_unit_spelling_is_mapped_to_ucum(
    tables: Mappings, npu: str, value: str, unit: str, ucum: str
) -> None:
    mapping = map_record(lab(npu, value=value, unit=unit), tables)
    assert_clean(mapping, npu, ucum)
    assert mapping.issues == ()


def test_missing_unit_is_implied_by_the_analysis(tables: Mappings) -> None:
    mapping = map_record(lab("NPU19748", unit=None), tables)
    assert_clean(mapping, "NPU19748", "mg/L")
    assert rules(mapping) == [("MAP-UNIT-IMPLIED", Severity.INFORMATION, "result.unit")]
    inr = map_record(lab("NPU01685", value="2,5", unit=None), tables)
    assert_clean(inr, "NPU01685", "1")
    assert inr.issues == ()


@pytest.mark.parametrize(
    ("npu", "unit"),
    [
        pytest.param("NPU19748", "furlongs", id="nonsense"),
        pytest.param("NPU19748", "mg/dl", id="mg/dl-not-in-table"),
        pytest.param("NPU02319", "mmol", id="mmol-without-volume"),
        pytest.param("NPU02593", "10^12/l", id="10^12/l"),
    ],
)
def test_unknown_unit(tables: Mappings, npu: str, unit: str) -> None:
    mapping = map_record(lab(npu, unit=unit), tables)
    assert mapping.mapped is None
    assert rules(mapping) == [("MAP-UNIT-UNKNOWN", Severity.ERROR, "result.unit")]
    assert mapping.issues[0].record == "MAP-1/v1"


@pytest.mark.parametrize(
    ("npu", "unit"),
    [
        pytest.param("NPU19748", "mmol/L", id="crp-in-mmol/L"),
        pytest.param("NPU02319", "mg/L", id="hb-in-mg/L"),
        pytest.param("NPU02593", "%", id="leukocytes-in-%"),
        pytest.param("NPU27300", "%", id="hba1c-ifcc-in-%"),
        pytest.param("NPU01685", "mg/l", id="inr-with-a-unit"),
    ],
)
def test_wrong_unit_for_the_analysis(tables: Mappings, npu: str, unit: str) -> None:
    mapping = map_record(lab(npu, unit=unit), tables)
    assert mapping.mapped is None
    assert rules(mapping) == [("MAP-UNIT-MISMATCH", Severity.ERROR, "result.unit")]


def test_unit_for_an_analysis_without_unit_is_a_warning(tables: Mappings) -> None:
    mapping = map_record(lab("NPU04206", value="1+", unit="mg/L"), tables)
    assert mapping.mapped is not None and mapping.mapped.ucum is None
    assert rules(mapping) == [("MAP-UNIT-UNEXPECTED", Severity.WARNING, "result.unit")]


# --- values and sharing ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["Positiv", "neg", "1+", "ikke målt", "4,5,6"])
def test_text_value_for_a_numeric_analysis(tables: Mappings, value: str) -> None:
    mapping = map_record(lab("NPU19748", value=value, unit="mg/L"), tables)
    assert mapping.mapped is None
    assert rules(mapping) == [("MAP-VALUE-TYPE", Severity.ERROR, "result.value")]


@pytest.mark.parametrize(
    ("npu", "value", "unit"),
    [
        pytest.param("NPU19748", "<5", "mg/L", id="numeric-with-comparator"),
        pytest.param("NPU19748", ">160", "mg/L", id="numeric-greater-than"),
        pytest.param("NPU04206", "1+", None, id="ordinal-stix"),
        pytest.param("NPU21578", "Negativ", None, id="ordinal-text"),
        pytest.param("NPU16328", "Ingen vækst", None, id="taxon-text"),
    ],
)
def test_value_kinds_that_fit(tables: Mappings, npu: str, value: str, unit: str | None) -> None:
    mapping = map_record(lab(npu, value=value, unit=unit), tables)
    assert mapping.mapped is not None, [str(i) for i in mapping.issues]
    assert not any(issue.blocking for issue in mapping.issues)


@pytest.mark.parametrize(
    ("npu", "value", "unit"),
    [
        pytest.param("NPU10197", "97", "%", id="NPU10197-pulse-oximetry"),
        pytest.param("NPU03835", "6,5", "%", id="NPU03835-hba1c-dcct"),
    ],
)
def test_not_shareable_analysis_is_filtered(
    tables: Mappings, npu: str, value: str, unit: str
) -> None:
    assert tables.analyses[npu].shareable is False
    mapping = map_record(lab(npu, value=value, unit=unit), tables)
    assert mapping.filtered is True
    assert mapping.mapped is not None and mapping.mapped.analysis.npu_code == npu
    assert rules(mapping) == [("MAP-NOT-SHAREABLE", Severity.INFORMATION, "analysis.code")]
    assert mapping.issues[0].record == "MAP-1/v1"


def test_not_shareable_analysis_with_a_broken_unit_is_an_error_not_a_filter(
    tables: Mappings,
) -> None:
    mapping = map_record(lab("NPU10197", value="97", unit="mg/L"), tables)
    assert mapping.mapped is None
    assert mapping.filtered is False
    assert rules(mapping) == [("MAP-UNIT-MISMATCH", Severity.ERROR, "result.unit")]


# --- broken tables --------------------------------------------------------------------------


def _drop_meta(key: str) -> Callable[[str], str]:
    return lambda text: "\n".join(
        line for line in text.splitlines() if not line.startswith(f"# {key}:")
    )


def _rename_column(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        lines = text.splitlines()
        header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
        names = lines[header].split(",")
        lines[header] = ",".join(new if name == old else name for name in names)
        return "\n".join(lines) + "\n"

    return change


def _append(row: str) -> Callable[[str], str]:
    return lambda text: text.rstrip("\n") + "\n" + row + "\n"


BROKEN: list[Any] = [
    pytest.param("analyses.csv", _drop_meta("source"), id="analyses-without-source"),
    pytest.param("units.csv", _drop_meta("version"), id="units-without-version"),
    pytest.param("local-codes.csv", _drop_meta("source"), id="local-codes-without-source"),
    pytest.param("fee-codes.csv", _drop_meta("version"), id="fee-codes-without-version"),
    pytest.param(
        "analyses.csv",
        lambda t: t.replace("# source:", "# source:   \n# was:", 1),
        id="empty-source",
    ),
    pytest.param("analyses.csv", _rename_column("ucum", "ucum_code"), id="analyses-no-ucum-column"),
    pytest.param(
        "analyses.csv", _rename_column("shareable", "shared"), id="analyses-no-shareable-column"
    ),
    pytest.param("units.csv", _rename_column("spelling", "unit"), id="units-no-spelling-column"),
    pytest.param(
        "local-codes.csv", _rename_column("npu_code", "npu"), id="local-codes-no-npu-column"
    ),
    pytest.param(
        "fee-codes.csv", _rename_column("fee_code", "code"), id="fee-codes-no-fee-code-column"
    ),
    pytest.param(
        "analyses.csv",
        _append("NPU19748,CRP2;P,P—CRP again,biochemistry,mg/L,mg/l,numeric,yes,duplicate"),
        id="duplicate-npu-code",
    ),
    pytest.param(
        "analyses.csv",
        _append("NPU99001,X;P,P—X,chemistry,mg/L,mg/l,numeric,yes,"),
        id="unknown-domain",
    ),
    pytest.param(
        "analyses.csv",
        _append("NPU99001,X;P,P—X,biochemistry,mg/L,mg/l,numeric,ja,"),
        id="shareable-not-yes-no",
    ),
    pytest.param(
        "analyses.csv",
        _append("NPU99001,X;P,P—X,biochemistry,mg/L,mg/l,number,yes,"),
        id="unknown-result-type",
    ),
    pytest.param(
        "local-codes.csv", _append("*,NEW,NPU99999,points nowhere"), id="local-code-to-unknown-npu"
    ),
    pytest.param("fee-codes.csv", _append("9950,NPU99999,points nowhere"), id="fee-to-unknown-npu"),
    pytest.param(
        "local-codes.csv",
        _append("*,CRP,NPU02319,conflicts with the first CRP row"),
        id="local-code-listed-twice-with-different-npu",
    ),
    pytest.param(
        "fee-codes.csv",
        _append("9901,NPU27300,conflicts with the first 9901 row"),
        id="fee-code-listed-twice-with-different-npu",
    ),
    pytest.param(
        "units.csv", _append("mg/l,mmol/L"), id="unit-spelling-listed-twice-with-different-ucum"
    ),
]


@pytest.mark.parametrize(("name", "change"), BROKEN)
def test_broken_table_is_a_config_error(
    tmp_path: Path, name: str, change: Callable[[str], str]
) -> None:
    folder = _copy_tables(tmp_path)
    load_mappings(folder)  # the copy itself loads
    _edit(folder, name, change)
    with pytest.raises(ConfigError):
        load_mappings(folder)


@pytest.mark.parametrize("name", TABLES)
def test_missing_table_file_is_a_config_error(tmp_path: Path, name: str) -> None:
    folder = _copy_tables(tmp_path)
    (folder / name).unlink()
    with pytest.raises(ConfigError, match=name):
        load_mappings(folder)


# --- every analysis with every spelling of its unit -----------------------------------------


def _unit_pairs() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(NPU code, unit spelling) pairs from the files: spellings that fit, and that do not."""
    _, analyses = read_csv_table("analyses.csv")
    _, units = read_csv_table("units.csv")
    fits: list[tuple[str, str]] = []
    misfits: list[tuple[str, str]] = []
    for row in analyses:
        if not row["ucum"]:
            continue
        for unit in units:
            pair = (row["npu_code"], unit["spelling"])
            (fits if unit["ucum"] == row["ucum"] else misfits).append(pair)
    return fits, misfits


FITS, MISFITS = _unit_pairs()
_ANALYSES = {row["npu_code"]: row for row in read_csv_table("analyses.csv")[1]}

numbers = st.builds(
    lambda cmp, whole, frac, mark: f"{cmp}{whole}{mark + frac if frac else ''}",
    st.sampled_from(["", "", "<", ">"]),
    st.integers(0, 99999).map(str),
    st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=4)),
    st.sampled_from([",", "."]),
)


def test_the_pair_lists_cover_every_analysis_with_a_unit() -> None:
    with_unit = {code for code, row in _ANALYSES.items() if row["ucum"]}
    assert {code for code, _ in FITS} == with_unit
    assert MISFITS


@given(pair=st.sampled_from(FITS), value=numbers)
def test_every_analysis_accepts_every_spelling_of_its_unit(
    tables: Mappings, pair: tuple[str, str], value: str
) -> None:
    npu, spelling = pair
    mapping = map_record(lab(npu, value=value, unit=spelling), tables)
    assert mapping.mapped is not None, [str(i) for i in mapping.issues]
    assert mapping.mapped.ucum == _ANALYSES[npu]["ucum"]
    assert mapping.filtered is (_ANALYSES[npu]["shareable"] == "no")
    assert {issue.rule for issue in mapping.issues} <= {"MAP-NOT-SHAREABLE"}


@given(pair=st.sampled_from(MISFITS), value=numbers)
def test_every_analysis_refuses_the_spellings_of_other_units(
    tables: Mappings, pair: tuple[str, str], value: str
) -> None:
    npu, spelling = pair
    mapping = map_record(lab(npu, value=value, unit=spelling), tables)
    assert mapping.mapped is None
    assert rules(mapping) == [("MAP-UNIT-MISMATCH", Severity.ERROR, "result.unit")]
