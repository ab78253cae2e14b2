"""XRPT05 rendering for MiBa: cultures with susceptibility, rapid tests, round trips."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.coverage import Action
from gateway.pipeline import Outcome
from gateway.routing import Destination
from gateway.xml.ns import q
from gateway.xml.reading import text
from gateway.xml.xrpt05_reader import read_micro_letters
from tests.records import record, translate

MICRO = {
    "result__unit": None,
    "result__referenceLow": None,
    "result__referenceHigh": None,
    "result__abnormal": None,
}


def micro(**changes: Any) -> dict[str, Any]:
    return record(**{**MICRO, **changes})


def culture(**changes: Any) -> dict[str, Any]:
    return micro(
        **{"analysis__code": "NPU16328", "result__value": "Escherichia coli > 10^5/ml", **changes}
    )


def local(code: str, value: str, record_id: str, **changes: Any) -> dict[str, Any]:
    return micro(
        recordId=record_id,
        analysis__system="LOCAL",
        analysis__code=code,
        result__value=value,
        **changes,
    )


def test_culture_with_susceptibility_is_one_investigation_with_a_pattern() -> None:
    result = translate(
        culture(sample__material="Urin"), local("RES-MEC", "S", "S1"), local("RES-SUL", "R", "S2")
    )
    assert result.counts()["accepted"] == 3
    (message,) = result.messages
    assert message.destination is Destination.MIBA and message.kind == "XRPT05"
    (letter,) = read_micro_letters(etree.fromstring(message.content))
    (finding,) = letter.findings
    assert (finding.code, finding.examination) == ("NPU16328", "dyrkning")
    assert finding.text == "Escherichia coli > 10^5/ml"
    assert finding.susceptibility == (("LGW00101", "S"), ("LGW00102", "R"))


def test_a_category_typed_in_lower_case_is_sent_as_s_i_or_r_in_xml_and_fhir() -> None:
    records = (culture(), local("RES-MEC", "s", "S1"), local("RES-SUL", " r ", "S2"))
    (message,) = translate(*records).messages
    (letter,) = read_micro_letters(etree.fromstring(message.content))
    assert letter.findings[0].susceptibility == (("LGW00101", "S"), ("LGW00102", "R"))
    (fhir,) = translate(*records, syntax="fhir").messages
    assert b'"valueString":"S"' in fhir.content and b'"valueString":"R"' in fhir.content


def test_susceptibility_without_a_culture_is_rejected_alone() -> None:
    result = translate(local("RES-MEC", "S", "S1"), local("STREPA", "Positiv", "A1"))
    fates = {o.label: (o.outcome, [i.rule for i in o.issues]) for o in result.outcomes}
    assert fates["S1/v1"] == (Outcome.REJECTED, ["XRPT05-NO-CULTURE"])
    assert fates["A1/v1"] == (Outcome.ACCEPTED, [])


def test_susceptibility_must_be_s_i_or_r() -> None:
    result = translate(culture(), local("RES-MEC", "følsom", "S1"))
    fates = {o.label: [i.rule for i in o.issues] for o in result.outcomes}
    assert fates["S1/v1"] == ["MAP-VALUE-TYPE"]


def test_rapid_test_with_refused_consent_is_still_sent_and_flagged() -> None:
    result = translate(local("COVAG", "Positiv", "C1", consent="refused"))
    (message,) = result.messages
    (letter,) = read_micro_letters(etree.fromstring(message.content))
    assert letter.consent_given is False
    (finding,) = letter.findings
    assert (finding.code, finding.examination, finding.text) == (
        "LGW00003",
        "observerbar_egenskab",
        "Positiv",
    )


def test_one_status_per_letter() -> None:
    result = translate(
        local("STREPA", "Positiv", "A1"), local("MONO", "Negativ", "A2", status="preliminary")
    )
    assert sorted(len(m.records) for m in result.messages) == [1, 1]
    statuses = sorted(
        read_micro_letters(etree.fromstring(m.content))[0].status for m in result.messages
    )
    assert statuses == ["svar_endeligt", "svar_midlertidigt"]


CANCELLED = {"version": 2, "status": "cancelled"}


def test_a_cancelled_susceptibility_says_annulleret_in_whole_words() -> None:
    """Susceptibility holds eight characters: a cancelled cell is `-` (no category) with the
    word and the sentence in its SusceptibilityValue, never `annulleret` cut to `annuller`."""
    result = translate(
        culture(**CANCELLED),
        local("RES-MEC", "S", "S1", **CANCELLED),
        local("RES-SUL", "R", "S2", **CANCELLED),
    )
    assert result.counts()["accepted"] == 3, [str(i) for i in result.issues]
    (message,) = result.messages
    root = etree.fromstring(message.content)
    (letter,) = read_micro_letters(root)
    assert letter.status == "svar_rettet"
    (finding,) = letter.findings
    assert finding.text == "annulleret"
    assert finding.susceptibility == (("LGW00101", "annulleret"), ("LGW00102", "annulleret"))
    entries = root.findall(f".//{q('PatternEntry')}")
    assert [text(e, "Susceptibility") for e in entries] == ["-", "-"]
    for entry in entries:
        assert text(entry, "SusceptibilityValue/Operator") == "ikke_angivet"
        assert text(entry, "SusceptibilityValue/Value") == "annulleret"
        assert text(entry, "SusceptibilityValue/Comments/Text/Paragraph") == (
            "Svaret er annulleret af afsender."
        )
    assert b"annuller<" not in message.content


def test_a_cancelled_finding_carries_nothing_of_the_withdrawn_value() -> None:
    result = translate(
        local(
            "STREPA",
            "Positiv",
            "A1",
            result__referenceHigh="1",
            result__abnormal="abnormal",
            **CANCELLED,
        )
    )
    (message,) = result.messages
    (finding,) = read_micro_letters(etree.fromstring(message.content))[0].findings
    assert finding.text == "annulleret"
    assert (finding.value, finding.lower, finding.upper, finding.validation) == (None,) * 4
    uses = {u.field: u.action for u in message.coverage}
    assert uses["result.referenceHigh"] is Action.LEFT_OUT
    assert uses["result.abnormal"] is Action.LEFT_OUT


def test_long_texts_become_paragraphs() -> None:
    text = "Blandingsflora. " * 40 + "\nKontrol anbefales."
    result = translate(
        culture(result__value=text.strip()[:600]),
        local("STREPA", "Positiv", "A1", result__comment=text),
    )
    assert result.counts()["rejected"] == 0
    letters = [read_micro_letters(etree.fromstring(m.content))[0] for m in result.messages]
    assert any(
        f.comments and "Kontrol anbefales." in f.comments[0]
        for letter in letters
        for f in letter.findings
    )


ORDINAL = ["STREPA", "MONO", "COVAG"]
SUSCEPTIBILITY = ["RES-MEC", "RES-SUL", "RES-NIT"]
STATUS = {"preliminary": "svar_midlertidigt", "final": "svar_endeligt", "corrected": "svar_rettet"}


@st.composite
def micro_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    status = draw(st.sampled_from(sorted(STATUS)))
    consent = draw(st.sampled_from(["given", "refused", None]))
    common = {"status": status, "consent": consent}
    records = [culture(recordId="CUL", **common)] if draw(st.booleans()) else []
    if records:
        for index, code in enumerate(
            draw(st.lists(st.sampled_from(SUSCEPTIBILITY), unique=True, max_size=3))
        ):
            records.append(local(code, draw(st.sampled_from("SIR")), f"SUS{index}", **common))
    for index, code in enumerate(draw(st.lists(st.sampled_from(ORDINAL), min_size=1, max_size=3))):
        text = draw(
            st.text(
                st.characters(codec="utf-8", categories=["L", "N", "Zs"]), min_size=1, max_size=60
            )
            .map(str.strip)
            .filter(bool)
        )
        records.append(local(code, text, f"ORD{index}", sample__id=f"T{index}", **common))
    return records


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(micro_sets())
def test_round_trip_keeps_codes_values_susceptibility_status_and_consent(
    records: list[dict[str, Any]],
) -> None:
    result = translate(*records)
    assert result.counts()["rejected"] == 0, [str(i) for i in result.issues if i.blocking]
    letters = {
        m.message_id: read_micro_letters(etree.fromstring(m.content))[0] for m in result.messages
    }
    for outcome, source in zip(result.outcomes, records, strict=True):
        letter = letters[outcome.message_id or ""]
        assert letter.status == STATUS[source["status"]]
        assert letter.consent_given == {"given": True, "refused": False}.get(
            source.get("consent") or ""
        )
        value = source["result"]["value"].strip()
        if source["recordId"].startswith("SUS"):
            assert value in [s for _, s in letter.findings[0].susceptibility]
        else:
            assert any(f.text == value for f in letter.findings)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(micro_sets().map(lambda records: [{**r, **CANCELLED} for r in records]))
def test_every_cancelled_result_reads_back_as_annulleret(records: list[dict[str, Any]]) -> None:
    result = translate(*records)
    assert result.counts()["rejected"] == 0, [str(i) for i in result.issues if i.blocking]
    for message in result.messages:
        root = etree.fromstring(message.content)
        (letter,) = read_micro_letters(root)
        assert letter.status == "svar_rettet"
        for finding in letter.findings:
            assert finding.text == "annulleret"
            assert all(category == "annulleret" for _, category in finding.susceptibility)
        assert {e.text for e in root.iter(q("Susceptibility"))} <= {"-"}
        assert root.find(f".//{q('ReferenceInterval')}") is None
        assert root.find(f".//{q('ResultValidation')}") is None
