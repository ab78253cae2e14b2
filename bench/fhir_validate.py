"""Benchmark: validate a 20-Observation MedCom-style FHIR message against MedCom's packages.

The message follows HomeCareObservation 1.2.1's `Bundle-ReceiveTestExample2` (MessageHeader,
Patient, DiagnosticReport, PractitionerRole, Practitioner, two Organizations, Provenance) with its
two Observations repeated to 20. Prints the validator's start-up time (package load from a cold
and a warm disk cache, plus compiling the profiles the message uses), the median time per
message, and the peak RSS of the process. The same message over and over lets the validator
reuse verdicts on narrative text it has seen; a second figure validates messages whose
narratives are all new (as a sender's messages mostly are). Not a test: it asserts nothing.

    python bench/fhir_validate.py [--packages DIR] [--repeat 200]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.fhir import packages as fhir_packages
from gateway.fhir.validate import FhirValidator

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "medcom-fhir"
EXAMPLE = "examples/homecareobservation-1.2.1/Bundle-ReceiveTestExample2.json"


def message(observations: int = 20, tag: str | None = None) -> bytes:
    """The example with its Observations cloned to `observations`, all referenced by the report.

    With `tag`, every narrative gets a line naming it and its resource, so no div repeats."""
    bundle: dict[str, Any] = json.loads((REFERENCE / EXAMPLE).read_text(encoding="utf-8"))
    entries = bundle["entry"]
    templates = [e for e in entries if e["resource"]["resourceType"] == "Observation"]
    kept = [e for e in entries if e["resource"]["resourceType"] != "Observation"]
    report = next(
        e["resource"] for e in kept if e["resource"]["resourceType"] == "DiagnosticReport"
    )
    report["result"] = []
    for number in range(observations):
        entry = copy.deepcopy(templates[number % len(templates)])
        oid = f"Observation{number:02d}"
        entry["resource"]["id"] = oid
        entry["fullUrl"] = entry["fullUrl"].rsplit("/", 1)[0] + f"/{oid}"
        report["result"].append({"reference": f"Observation/{oid}"})
        kept.append(entry)
    bundle["entry"] = kept
    if tag is not None:
        for entry in kept:
            resource = entry["resource"]
            line = f"<p>{tag} {resource['resourceType']}/{resource['id']}</p></div>"
            text = resource["text"]
            text["div"] = text["div"][: -len("</div>")] + line
    return json.dumps(bundle, ensure_ascii=False).encode("utf-8")


def start(packages: Path, data: bytes) -> tuple[float, FhirValidator]:
    """Seconds to load the packages, build the validator and validate once (compiling)."""
    fhir_packages._LOADED.clear()
    began = time.perf_counter()
    validator = FhirValidator(ig_paths=[packages])
    list(validator.iter_issues(data))
    return time.perf_counter() - began, validator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=Path, default=REFERENCE / "packages")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    data = message()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["LABGW_CACHE_DIR"] = cache
        cold, _ = start(args.packages, data)
        warm, validator = start(args.packages, data)
    issues = [str(i) for i in validator.iter_issues(data) if i.blocking]
    assert not issues, "benchmark message must be valid:\n" + "\n".join(issues)
    times = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        list(validator.iter_issues(data))
        times.append(time.perf_counter() - began)
    fresh_times = []
    for number in range(args.repeat):
        data_fresh = message(tag=f"message {number}")
        began = time.perf_counter()
        found = list(validator.iter_issues(data_fresh))
        fresh_times.append(time.perf_counter() - began)
        assert not [i for i in found if i.blocking], "a tagged message must be valid too"
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"20-Observation message: {len(data) / 1024:.1f} KiB, {len(json.loads(data)['entry'])}")
    print(
        f"  start-up, no disk cache (unpack {len(validator.packages)} packages, compile)"
        f"  {cold * 1000:8.1f} ms"
    )
    print(f"  start-up, disk cache warm                               {warm * 1000:8.1f} ms")
    print(
        f"  validate, median of {args.repeat} (p90)                     "
        f"{statistics.median(times) * 1000:8.2f} ms  "
        f"({statistics.quantiles(times, n=10)[-1] * 1000:.2f} ms)"
    )
    print(
        f"  validate, every narrative new, median of {args.repeat} (p90)     "
        f"{statistics.median(fresh_times) * 1000:8.2f} ms  "
        f"({statistics.quantiles(fresh_times, n=10)[-1] * 1000:.2f} ms)"
    )
    rate = 1 / statistics.median(times)
    print(f"  messages/s, one core                                    {rate:8.0f}")
    print(f"  peak RSS                                                {rss_mib:8.1f} MiB")


if __name__ == "__main__":
    main()
