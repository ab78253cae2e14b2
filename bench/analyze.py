"""Benchmark: `labgw analyze` over a generated extract of 1,000,000 rows.

Prints rows/s and the peak RSS of the analysing process, and the ratio to a floor measured in the
same run on the same file: Python's csv module reading every row (the least any analysis of a CSV
extract does). The analysis runs in a fresh process so its peak RSS is its own. Not a test: it
asserts nothing.

    python bench/analyze.py [--rows 1000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gateway.analyze.sample import generate

_CHILD = """
import json, resource, sys, time
from datetime import UTC, datetime
from pathlib import Path
from gateway.analyze import analyze_files
start = time.perf_counter()
report = analyze_files([Path(sys.argv[1])], now=datetime(2026, 11, 29, tzinfo=UTC))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_kib": peak, "records": report["volume"]["records"]}))
"""


def csv_floor(path: Path) -> float:
    start = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as handle:
        for _ in csv.reader(handle, delimiter=";"):
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "extract.csv"
        start = time.perf_counter()
        lines, _ = generate(args.rows, seed=1)
        with path.open("w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
        made = time.perf_counter() - start
        size_mib = path.stat().st_size / 2**20
        runs, peaks, floors = [], [], []
        for _ in range(args.repeat):
            floors.append(csv_floor(path))
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            runs.append(result["seconds"])
            peaks.append(result["peak_kib"] / 1024)
    seconds, floor = statistics.median(runs), statistics.median(floors)
    print(
        f"extract: {args.rows:,} rows, {size_mib:.0f} MiB, generated in {made:.1f} s "
        f"({args.rows / made:,.0f} rows/s)"
    )
    print(
        f"analyze: median {seconds:.1f} s = {args.rows / seconds:,.0f} rows/s, "
        f"peak RSS {statistics.median(peaks):.0f} MiB"
    )
    print(
        f"floor (csv.reader over the same file): {floor:.2f} s = {args.rows / floor:,.0f} rows/s;"
        f" analyze takes {seconds / floor:.1f}x the floor"
    )


if __name__ == "__main__":
    main()
