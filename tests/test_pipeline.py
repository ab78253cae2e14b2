"""The pipeline's bookkeeping: every record ends accepted, rejected or filtered, and says why."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gateway.config import default_config
from gateway.pipeline import Outcome, Translation
from gateway.routing import Destination
from gateway.xml.catalog import Catalog, SchemaEntry
from gateway.xml.ns import NS_2014
from gateway.xml.validate import XmlValidator
from tests.records import batch_of, record, translate, translator


def outcomes(result: Translation) -> dict[str, tuple[Outcome, list[str]]]:
    return {o.label: (o.outcome, [i.rule for i in o.issues]) for o in result.outcomes}


def test_counts_add_up_and_each_fate_is_explained() -> None:
    result = translate(
        record(recordId="OK"),
        record(recordId="BAD", patient__cpr="3213779999"),
        record(recordId="NOT-SHARED", analysis__code="NPU10197", result__unit="%"),
        record(
            recordId="MICRO",
            analysis__code="NPU16328",
            result__unit=None,
            result__value="E. coli",
            result__referenceLow=None,
            result__referenceHigh=None,
        ),
    )
    counts = result.counts()
    assert counts["input"] == 4
    assert counts["accepted"] + counts["rejected"] + counts["filtered"] == 4
    fates = outcomes(result)
    assert fates["OK/v1"] == (Outcome.ACCEPTED, [])
    assert fates["BAD/v1"] == (Outcome.REJECTED, ["LPS-CPR"])
    assert fates["NOT-SHARED/v1"] == (Outcome.FILTERED, ["MAP-NOT-SHAREABLE"])
    assert fates["MICRO/v1"] == (Outcome.ACCEPTED, [])


def test_microbiology_goes_to_miba_as_xrpt05_never_to_lsp() -> None:
    result = translate(
        record(
            analysis__code="NPU16328",
            result__unit=None,
            result__value="Ingen vækst",
            result__referenceLow=None,
            result__referenceHigh=None,
        ),
        record(recordId="B"),
    )
    kinds = sorted((m.destination.value, m.kind) for m in result.messages)
    assert kinds == [("lsp", "XRPT01"), ("miba", "XRPT05")]


def test_a_destination_without_a_known_format_holds_its_records() -> None:
    config = default_config()
    miba = replace(config.receiver(Destination.MIBA), format="xrpt06")
    held = replace(
        translator(),
        config=replace(config, destinations={**config.destinations, Destination.MIBA: miba}),
    )
    result = held.translate(
        batch_of(
            record(
                analysis__code="NPU16328",
                result__unit=None,
                result__value="Ingen vækst",
                result__referenceLow=None,
                result__referenceHigh=None,
            )
        )
    )
    (outcome,) = result.outcomes
    assert (outcome.outcome, outcome.destination, outcome.held, outcome.message_id) == (
        Outcome.ACCEPTED,
        Destination.MIBA,
        True,
        None,
    )
    assert [i.rule for i in outcome.issues] == ["ROUTE-HELD"]
    assert result.messages == [] and result.counts()["held"] == 1


def test_identical_duplicate_is_filtered_and_a_conflicting_one_rejected() -> None:
    """The same version again in one input is decided as POST /records decides it."""
    result = translate(record(), record(), record(result__value="46"))
    fates = [(o.outcome, [i.rule for i in o.issues]) for o in result.outcomes]
    assert fates == [
        (Outcome.ACCEPTED, []),
        (Outcome.FILTERED, ["LPS-VERSION-DUPLICATE"]),
        (Outcome.REJECTED, ["LPS-VERSION-CONFLICT"]),
    ]
    assert len(result.messages) == 1 and result.messages[0].records == ("XMO-7f3a9c21/v1",)


def test_mapping_issues_point_at_file_and_line() -> None:
    result = translator().translate(
        batch_of(record(), record(recordId="X", analysis__code="NPU99999"))
    )
    issue = next(i for o in result.outcomes for i in o.issues if i.rule == "MAP-UNKNOWN-CODE")
    assert (issue.source, issue.record, issue.location) == ("test.json", "X/v1", "analysis.code")


def test_a_message_that_fails_validation_is_never_emitted(tmp_path: Path) -> None:
    """If the rendered letter broke the schema, its records are rejected with the findings."""
    strict = tmp_path / "strict.xsd"
    strict.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="{NS_2014}" elementFormDefault="qualified">'
        '<xs:element name="Emessage"><xs:complexType><xs:sequence>'
        '<xs:element name="Nothing"/></xs:sequence></xs:complexType></xs:element>'
        "</xs:schema>",
        encoding="utf-8",
    )
    catalog = Catalog(
        (
            SchemaEntry(
                NS_2014, "XR0131K", "LaboratoryReport", "XRPT01", strict, "a schema nothing passes"
            ),
        )
    )
    result = translator(XmlValidator(catalog=catalog)).translate(
        batch_of(record(), record(recordId="B"))
    )
    assert result.messages == []
    assert [o.outcome for o in result.outcomes] == [Outcome.REJECTED, Outcome.REJECTED]
    assert all("XSD" in [i.rule for i in o.issues] for o in result.outcomes)


def test_progress_reports_every_record() -> None:
    seen: list[int] = []
    records = [record(recordId=f"P{i}") for i in range(1234)]
    translator().translate(batch_of(*records), progress=seen.append)
    assert sum(seen) == 1234
