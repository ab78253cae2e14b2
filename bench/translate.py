"""Benchmark: render, validate and serialise 10,000 results as XRPT01 letters of 10.

Prints the median results/s over several runs and the ratio to a floor measured in the same run:
lxml parsing and serialising the very messages we produced (the least any XML pipeline does with
them). Intake (JSON → LabRecord) is timed separately. Not a test: it asserts nothing.

    python bench/translate.py [--results 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime

from lxml import etree

from gateway.clock import FixedClock, SequentialIds
from gateway.config import default_config
from gateway.intake import IntakeBatch, read_records
from gateway.mapping.tables import default_mappings
from gateway.pipeline import Translator
from gateway.xml.validate import XmlValidator

NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)
ANALYSES = [
    ("NPU19748", "45", "mg/L"),
    ("NPU02319", "8,4", "mmol/L"),
    ("NPU02593", "<3", "10^9/l"),
    ("NPU27300", "61", "mmol/mol"),
    ("NPU01685", "2,6", None),
    ("NPU02187", "5,9", "mmol/l"),
    ("NPU22089", "6,1", "mmol/l"),
    ("NPU18016", "88", "µmol/l"),
    ("NPU03429", "140", "mmol/L"),
    ("NPU03230", "4,1", "mmol/L"),
]


def records(count: int, per_sample: int = 10) -> list[dict[str, object]]:
    """`count` valid CRP/Hb/HbA1c/… records, `per_sample` results to each sample."""
    out = []
    for i in range(count):
        code, value, unit = ANALYSES[i % len(ANALYSES)]
        out.append(
            {
                "recordId": f"B-{i:06d}",
                "version": 1,
                "status": "final",
                "practice": {
                    "sor": "464181000016008",
                    "ydernummer": "012345",
                    "gln": "5790001382445",
                    "name": "Lægerne",
                },
                "patient": {"cpr": "2509479989", "family": "Elmer", "given": "Bruno"},
                "consent": "given",
                "sample": {
                    "id": f"S-{i // per_sample:06d}",
                    "collectedAt": "2025-06-02T09:14:00+02:00",
                },
                "analysis": {"system": "NPU", "code": code},
                "result": {
                    "value": value,
                    "unit": unit,
                    "referenceLow": "1",
                    "referenceHigh": "9",
                    "abnormal": "normal",
                },
                "performedAt": "2025-06-02T09:20:00+02:00",
                "lps": {"vendor": "XMO"},
            }
        )
    return out


def timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    payload = json.dumps(records(args.results)).encode()
    batch = read_records(payload, "bench.json", now=NOW)
    assert len(batch.records) == args.results, "benchmark input must be valid"
    validator = XmlValidator()
    mappings, config = default_mappings(), default_config()
    messages: list[bytes] = []

    def intake() -> None:
        read_records(payload, "bench.json", now=NOW)

    def translate() -> None:
        translator = Translator(config, mappings, validator, FixedClock(NOW), SequentialIds())
        result = translator.translate(IntakeBatch(batch.items, []))
        messages[:] = [m.content for m in result.messages]

    def floor() -> None:
        for content in messages:
            etree.tostring(etree.fromstring(content), xml_declaration=True, encoding="UTF-8")

    translate()  # warm-up: schema compilation, caches
    assert len(messages) == args.results // 10
    rows = []
    for name, action in (
        ("intake (JSON → records)", intake),
        ("translate (map, render, validate, serialise)", translate),
        ("floor: lxml parse + serialise of the same messages", floor),
    ):
        seconds = statistics.median(timed(action) for _ in range(args.repeat))
        rows.append((name, seconds))
    floor_s = rows[2][1]
    print(f"{args.results} results in letters of 10, median of {args.repeat} runs, one core")
    for name, seconds in rows:
        print(
            f"  {name:<52} {seconds * 1000:8.1f} ms  {args.results / seconds:10,.0f} results/s"
            f"  {seconds / floor_s:5.1f}× floor"
        )


if __name__ == "__main__":
    main()
