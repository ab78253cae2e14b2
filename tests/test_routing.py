"""Routing (gateway.routing): every rule of DESIGN §3 and notes/danish-domain.md §0, one test each.

Rules are checked with the packaged tables where they hold a case, and with tables changed in
memory (`dataclasses.replace`) where they do not yet (routing.csv has no rows; no biochemistry
finding is notifiable), so each rule is tested whatever the tables hold today.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import ConfigError
from gateway.mapping.resolve import Mapped, map_record
from gateway.mapping.tables import (
    AnalysisDef,
    Domain,
    Mappings,
    Notifiable,
    NotifiableList,
    NotifiableStatus,
    RouteOverride,
    finding_key,
    load_mappings,
)
from gateway.model import Consent, LabRecord
from gateway.routing import (
    NOT_AGREED,
    Destination,
    destination_for,
    plan_routes,
    route,
)
from gateway.values import ResultValue
from tests.test_mapping import MAPPINGS, lab, read_csv_table

LSP, MIBA = Destination.LSP, Destination.MIBA
CRP, SARS_AG, STREP_A, MONO, URINE_CULTURE = (
    "NPU19748",
    "LGW00003",
    "LGW00001",
    "LGW00002",
    "NPU16328",
)
HBA1C_DCCT = "NPU03835"  # shareable = no in analyses.csv
EXAMPLE = Notifiable(
    disease="test disease",
    list=NotifiableList.L2,
    status=NotifiableStatus.PENDING,
    source="tests/test_routing.py",
)


@pytest.fixture(scope="module")
def tables() -> Mappings:
    return load_mappings()


@pytest.fixture(scope="module")
def base() -> LabRecord:
    """One accepted record (through intake); tests vary its value and consent."""
    return lab(CRP, value="45", unit="mg/L")


def mapped(
    tables: Mappings,
    base: LabRecord,
    npu_code: str,
    value: str = "45",
    consent: Consent = Consent.GIVEN,
    analysis: AnalysisDef | None = None,
) -> Mapped:
    """A mapped result of `npu_code` (or of `analysis`, changed from the table's) with `value`."""
    result = replace(base.result, value=ResultValue(raw=value), unit=None)
    record = replace(base, result=result, consent=consent)
    return Mapped(record, analysis or tables.analyses[npu_code], None)


def with_override(tables: Mappings, npu_code: str, destination: Destination | None) -> Mappings:
    override = RouteOverride(destination, f"test: {npu_code} elsewhere", "tests")
    return replace(tables, routes={**tables.routes, npu_code: override})


def with_notifiable(tables: Mappings, npu_code: str, finding: str) -> Mappings:
    notifiable = {**tables.notifiable, (npu_code, finding_key(finding)): EXAMPLE}
    return replace(tables, notifiable=notifiable)


# --- domain default ---------------------------------------------------------------------------


@pytest.mark.parametrize("domain", [Domain.BIOCHEMISTRY, Domain.IMMUNOLOGY])
def test_biochemistry_and_immunology_go_to_lsp_only(
    tables: Mappings, base: LabRecord, domain: Domain
) -> None:
    """Notes §0 rule 11, §1.1: biochemistry and immunology go to LSP, never to MiBa."""
    analysis = replace(tables.analyses[CRP], domain=domain)
    plan = plan_routes(mapped(tables, base, CRP, analysis=analysis), tables)
    assert (plan.destinations, plan.notifiable, plan.filtered) == ((LSP,), None, None)


@pytest.mark.parametrize("npu_code", [STREP_A, MONO, URINE_CULTURE, SARS_AG])
def test_microbiology_goes_to_miba_only(tables: Mappings, base: LabRecord, npu_code: str) -> None:
    """Notes §0 rules 9 and 11, §2.5: microbiology goes to MiBa only; LSP shows it from MiBa."""
    plan = plan_routes(mapped(tables, base, npu_code, value="negativ"), tables)
    assert (plan.destinations, plan.filtered) == ((MIBA,), None)


def test_analysis_not_agreed_for_sharing_is_filtered(tables: Mappings, base: LabRecord) -> None:
    """Notes §0 rule 1, §1.7 (MedCom LAB-03): only analyses agreed for sharing are sent."""
    plan = plan_routes(mapped(tables, base, HBA1C_DCCT, value="6,1"), tables)
    assert (plan.destinations, plan.filtered) == ((), NOT_AGREED)
    assert destination_for(tables.analyses[HBA1C_DCCT], tables) is None


# --- routing.csv overrides --------------------------------------------------------------------


@pytest.mark.parametrize(("npu_code", "to"), [(CRP, MIBA), (STREP_A, LSP)])
def test_override_replaces_the_domain_default(
    tables: Mappings, base: LabRecord, npu_code: str, to: Destination
) -> None:
    """routing.csv (DESIGN §3, routing rules as data): an override replaces the domain default."""
    changed = with_override(tables, npu_code, to)
    plan = plan_routes(mapped(changed, base, npu_code, value="negativ"), changed)
    assert (plan.destinations, plan.filtered) == ((to,), None)
    assert destination_for(changed.analyses[npu_code], changed) is to


def test_override_none_filters_with_its_reason(tables: Mappings, base: LabRecord) -> None:
    """routing.csv `none`: the analysis is sent nowhere and the Issue says the table's reason."""
    changed = with_override(tables, CRP, None)
    plan = plan_routes(mapped(changed, base, CRP), changed)
    assert (plan.destinations, plan.filtered) == ((), f"test: {CRP} elsewhere")


# --- notifiable findings ----------------------------------------------------------------------


def test_notifiable_finding_adds_miba_to_an_lsp_analysis(tables: Mappings, base: LabRecord) -> None:
    """Notes §0 rule 10: a notifiable finding always reaches SSI via MiBa, whatever the domain;
    the analysis's own databank stays first."""
    changed = with_notifiable(tables, CRP, "999")
    plan = plan_routes(mapped(changed, base, CRP, value="999"), changed)
    assert (plan.destinations, plan.notifiable, plan.filtered) == ((LSP, MIBA), EXAMPLE, None)
    assert route(mapped(changed, base, CRP, value="999"), changed) is LSP


@pytest.mark.parametrize("to", [None, LSP], ids=["none", "lsp"])
def test_notifiable_finding_goes_to_miba_whatever_the_override(
    tables: Mappings, base: LabRecord, to: Destination | None
) -> None:
    """Notes §0 rule 10, §2.2 (SSI): notifiable results reach MiBa regardless; an override to
    `none` or `lsp` cannot keep them away."""
    changed = with_override(tables, SARS_AG, to)
    plan = plan_routes(mapped(changed, base, SARS_AG, value="positiv"), changed)
    assert plan.destinations == ((LSP, MIBA) if to else (MIBA,))
    assert plan.filtered is None
    assert plan.notifiable is not None


def test_notifiable_finding_goes_to_miba_even_if_not_agreed_for_sharing(
    tables: Mappings, base: LabRecord
) -> None:
    """Notes §0 rule 10: the LAB-03 sharing agreement does not decide what SSI must receive."""
    changed = with_notifiable(tables, HBA1C_DCCT, "notifiable")
    plan = plan_routes(mapped(changed, base, HBA1C_DCCT, value="notifiable"), changed)
    assert (plan.destinations, plan.filtered) == ((MIBA,), None)


@pytest.mark.parametrize("value", ["positiv", "POSITIV", " Positiv ", "Positive", "pos", "PoS"])
def test_notifiable_lookup_ignores_case_and_blanks(
    tables: Mappings, base: LabRecord, value: str
) -> None:
    """Notes §0 rule 10: notifiable = lookup on (analysis, result); practice systems differ in
    case and blanks, which must not make a positive SARS-CoV-2 antigen test unreported."""
    plan = plan_routes(mapped(tables, base, SARS_AG, value=value), tables)
    assert plan.notifiable is not None
    assert plan.notifiable.disease == "Coronavirussygdom 2019 (covid-19)"
    assert plan.destinations == (MIBA,)


def test_blank_runs_inside_a_finding_do_not_count() -> None:
    """notifiable.csv is matched on the words of a finding, not on their spacing."""
    assert finding_key("  ikke   påvist\t") == finding_key("Ikke påvist")


@pytest.mark.parametrize("value", ["negativ", "inkonklusiv", "positiv?", ""])
def test_non_notifiable_finding_of_a_notifiable_analysis_is_not_notifiable(
    tables: Mappings, base: LabRecord, value: str
) -> None:
    """Notes §3.2: covid-19 is notifiable on a positive test only; other results of the same
    analysis follow the domain (MiBa) without a notification."""
    plan = plan_routes(mapped(tables, base, SARS_AG, value=value), tables)
    assert (plan.destinations, plan.notifiable) == ((MIBA,), None)


@pytest.mark.parametrize("npu_code", [STREP_A, MONO])
def test_strep_a_and_mononucleosis_are_not_notifiable(
    tables: Mappings, base: LabRecord, npu_code: str
) -> None:
    """Notes §3.2: strep A pharyngitis and mononucleosis are not notifiable."""
    assert not [key for key in tables.notifiable if key[0] == npu_code]
    assert plan_routes(mapped(tables, base, npu_code, value="positiv"), tables).notifiable is None


@pytest.mark.parametrize(
    ("npu_code", "value", "status", "listed"),
    [
        (SARS_AG, "positiv", NotifiableStatus.CONFIRMED, NotifiableList.COVID_19),
        (URINE_CULTURE, "CPO", NotifiableStatus.PENDING, NotifiableList.L1B),
    ],
)
def test_pending_and_confirmed_status_are_carried(
    tables: Mappings,
    base: LabRecord,
    npu_code: str,
    value: str,
    status: NotifiableStatus,
    listed: NotifiableList,
) -> None:
    """Notes §3.1-3.2: SARS-CoV-2 is verified notifiable (BEK 2477/2021); CPO on a GP culture is
    inference, pending SSI. The routing carries which, with the list and the source."""
    notifiable = plan_routes(mapped(tables, base, npu_code, value=value), tables).notifiable
    assert notifiable is not None
    assert (notifiable.status, notifiable.list) == (status, listed)
    assert "§3" in notifiable.source


# --- consent ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("npu_code", "value"),
    [(CRP, "45"), (STREP_A, "positiv"), (SARS_AG, "positiv"), (HBA1C_DCCT, "6,1")],
)
@pytest.mark.parametrize("consent", [Consent.REFUSED, Consent.UNKNOWN])
def test_consent_never_changes_routing(
    tables: Mappings, base: LabRecord, npu_code: str, value: str, consent: Consent
) -> None:
    """Notes §0 rules 8 and 9, §2.2: refused (or unknown) consent is a flag in the message; it
    never blocks or moves a result, notifiable or not."""
    given_ = plan_routes(mapped(tables, base, npu_code, value, Consent.GIVEN), tables)
    assert plan_routes(mapped(tables, base, npu_code, value, consent), tables) == given_


# --- single-destination callers ---------------------------------------------------------------


def test_route_is_the_first_destination_and_a_filtered_result_keeps_its_domain(
    tables: Mappings, base: LabRecord
) -> None:
    """Callers that send to one databank still get one: the first, or the domain's if filtered."""
    assert route(mapped(tables, base, SARS_AG, value="positiv")) is MIBA
    assert route(mapped(tables, base, CRP)) is LSP
    assert route(mapped(tables, base, HBA1C_DCCT, value="6,1")) is LSP


def test_a_mapped_record_routes_like_its_analysis(tables: Mappings) -> None:
    """From intake through mapping: a positive SARS-CoV-2 antigen test by its LOCAL code."""
    mapping = map_record(lab("COVAG", system="LOCAL", value="Positiv", unit=None), tables)
    assert mapping.mapped is not None, [str(issue) for issue in mapping.issues]
    plan = plan_routes(mapping.mapped, tables)
    assert plan.destinations == (MIBA,)
    assert plan.notifiable is not None


# --- property ---------------------------------------------------------------------------------

FINDINGS = ("positiv", "CPO", "negativ", "45", " POS ")


@given(data=st.data())
def test_property_destinations_unique_nonempty_unless_filtered_miba_when_notifiable(
    tables: Mappings, base: LabRecord, data: st.DataObject
) -> None:
    """For any analysis (any domain, shared or not), any overrides and notifiable findings, any
    value and consent: destinations are unique, empty exactly when filtered (with a reason),
    include MiBa whenever the finding is notifiable, and are the same with refused consent."""
    codes = st.sampled_from(sorted(tables.analyses))
    overrides = st.builds(
        RouteOverride, st.sampled_from([None, *Destination]), st.just("reason"), st.just("src")
    )
    changed = replace(
        tables,
        routes=data.draw(st.dictionaries(codes, overrides)),
        notifiable=data.draw(
            st.dictionaries(
                st.tuples(codes, st.sampled_from(FINDINGS).map(finding_key)), st.just(EXAMPLE)
            )
        ),
    )
    analysis = replace(
        tables.analyses[data.draw(codes)],
        domain=data.draw(st.sampled_from(Domain)),
        shareable=data.draw(st.booleans()),
    )
    value = data.draw(st.sampled_from(FINDINGS) | st.text(max_size=12))
    consent = data.draw(st.sampled_from(Consent))
    plan = plan_routes(mapped(changed, base, analysis.npu_code, value, consent, analysis), changed)
    assert len(set(plan.destinations)) == len(plan.destinations)
    assert bool(plan.destinations) is (plan.filtered is None)
    assert plan.filtered is None or plan.filtered.strip()
    if plan.notifiable is not None:
        assert MIBA in plan.destinations
    refused = mapped(changed, base, analysis.npu_code, value, Consent.REFUSED, analysis)
    assert plan_routes(refused, changed) == plan


# --- the tables -------------------------------------------------------------------------------


def test_loaded_notifiable_and_routing_tables_match_the_files(tables: Mappings) -> None:
    """Read independently of gateway.mapping: one entry per row, keyed as the lookup keys it."""
    _, notifiable = read_csv_table("notifiable.csv")
    _, routing = read_csv_table("routing.csv")
    assert set(tables.notifiable) == {
        (r["npu_code"], finding_key(r["finding"])) for r in notifiable
    }
    assert len(tables.notifiable) == len(notifiable)
    for row in notifiable:
        found = tables.notifiable[(row["npu_code"], finding_key(row["finding"]))]
        assert (found.disease, found.list, found.status, found.source) == (
            row["disease"],
            row["list"],
            row["status"],
            row["source"],
        )
    assert set(tables.routes) == {row["npu_code"] for row in routing}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the packaged tables to break."""
    return Path(shutil.copytree(MAPPINGS, tmp_path / "mappings"))


def _append(folder: Path, name: str, *rows: str) -> int:
    """Append rows to a table; the file line of the last one."""
    path = folder / name
    text = path.read_text(encoding="utf-8").rstrip("\n") + "\n" + "\n".join(rows) + "\n"
    path.write_text(text, encoding="utf-8")
    return len(text.splitlines())


MALFORMED = [
    pytest.param(
        "notifiable.csv", "NPU99999,positiv,d,2,pending,s", "not in analyses", id="n-code"
    ),
    pytest.param("notifiable.csv", "LGW00003,påvist,d,3,pending,s", "list must be", id="n-list"),
    pytest.param("notifiable.csv", "LGW00003,påvist,d,2,maybe,s", "status must", id="n-status"),
    pytest.param("notifiable.csv", "LGW00003,,d,2,pending,s", "empty finding", id="n-finding"),
    pytest.param("notifiable.csv", "LGW00003,påvist,,2,pending,s", "empty disease", id="n-disease"),
    pytest.param("notifiable.csv", "LGW00003,påvist,d,2,pending,", "empty source", id="n-source"),
    pytest.param("notifiable.csv", "LGW00003, POSITIV ,d,2,pending,s", "twice", id="n-twice"),
    pytest.param("routing.csv", "NPU99999,lsp,r,s", "not in analyses", id="r-code"),
    pytest.param("routing.csv", "NPU19748,both,r,s", "destination must", id="r-destination"),
    pytest.param("routing.csv", "NPU19748,none,,s", "empty reason", id="r-reason"),
    pytest.param("routing.csv", "NPU19748,miba,r,", "empty source", id="r-source"),
    pytest.param("routing.csv", f"{HBA1C_DCCT},lsp,r,s", "not shareable", id="r-not-shareable"),
]


@pytest.mark.parametrize(("name", "row", "says"), MALFORMED)
def test_malformed_row_is_a_config_error_naming_file_and_line(
    folder: Path, name: str, row: str, says: str
) -> None:
    """A broken table stops labgw at start-up, pointing at the line to fix."""
    line = _append(folder, name, row)
    with pytest.raises(ConfigError, match=rf"^{re.escape(name)}:{line}: .*{says}"):
        load_mappings(folder)


def test_override_listed_twice_names_the_second_line(folder: Path) -> None:
    line = _append(folder, "routing.csv", "NPU19748,miba,r,s", "NPU19748,lsp,r,s")
    with pytest.raises(ConfigError, match=rf"^routing.csv:{line}: NPU19748 is listed twice"):
        load_mappings(folder)


def test_line_numbers_count_comments_and_cells_that_span_lines(folder: Path) -> None:
    """The reported line is the file line an editor shows, past a quoted cell with a newline."""
    spanning = 'LGW00003,påvist,d,2,pending,"two\nlines"'
    line = _append(folder, "notifiable.csv", spanning, "LGW00003,bad,d,9,pending,s")
    with pytest.raises(ConfigError, match=rf"^notifiable.csv:{line}: list must be"):
        load_mappings(folder)
    assert load_mappings(MAPPINGS).notifiable  # the packaged copy is untouched


def test_notifiable_table_in_the_old_format_is_refused(folder: Path) -> None:
    """A site copy of the earlier notifiable.csv (npu_code, positive_values) must be migrated."""
    (folder / "notifiable.csv").write_text(
        "# source: site\n# version: 1\nnpu_code,positive_values\nLGW00003,positiv|pos\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"notifiable.csv: missing column\(s\)"):
        load_mappings(folder)


def test_an_override_row_is_loaded(folder: Path) -> None:
    _append(folder, "routing.csv", "NPU19748,none,not shared: test,tests")
    assert load_mappings(folder).routes == {
        "NPU19748": RouteOverride(None, "not shared: test", "tests")
    }
