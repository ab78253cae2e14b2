"""Fuzz every target for a time budget: `python -m tests.fuzz.run [--seconds N] [--target NAME]`.

With atheris installed each target runs coverage-guided (libFuzzer over the instrumented `gateway`
package) in its own process, seeded from `tests/fuzz/corpus/<target>/`; inputs it finds worth
keeping go to `build/fuzz/<target>/`, never into the committed corpus. Without atheris (or with
`--engine hypothesis`) hypothesis mutates the seeds instead: byte flips, truncation, splicing and
insertions. Either way each input runs under a per-input time limit, the process under a memory
limit; the run prints the inputs tried and crashes found per target, writes each crashing input
to `tests/fuzz/crashes/`, and exits 1 if any target crashed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import re
import resource
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz.targets import CRASHES, FUZZ, TARGETS, Target, guarded, mutated

WORK = FUZZ.parent.parent / "build" / "fuzz"
MEMORY_MB = 2048


@dataclass(frozen=True, slots=True)
class Outcome:
    target: str
    tried: int
    crashes: list[Path]


def _hypothesis(target: Target, seconds: float, per_input: float) -> Outcome:
    """Mutate the seeds for `seconds`; stop at the first crash, shrunk, and keep it."""
    seeds = target.seeds()
    tried = 0
    last = b""

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated(seeds))
    def one(data: bytes) -> None:
        nonlocal tried, last
        tried += 1
        last = data
        guarded(target, data, per_input)

    stop = time.monotonic() + seconds
    try:
        for seed in seeds:
            last = seed
            tried += 1
            guarded(target, seed, per_input)
        while time.monotonic() < stop:
            one()
    except Exception:
        traceback.print_exc()
        CRASHES.mkdir(parents=True, exist_ok=True)
        path = CRASHES / f"{target.name}-crash-{hashlib.sha1(last).hexdigest()}"
        path.write_bytes(last)
        return Outcome(target.name, tried, [path])
    return Outcome(target.name, tried, [])


def _atheris(target: Target, seconds: float, per_input: float) -> Outcome:
    """One libFuzzer process for the target; its log goes to build/fuzz/<target>.log."""
    WORK.joinpath(target.name).mkdir(parents=True, exist_ok=True)
    CRASHES.mkdir(parents=True, exist_ok=True)
    before = set(CRASHES.glob(f"{target.name}-*"))
    log = WORK / f"{target.name}.log"
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.worker",
        target.name,
        f"-max_total_time={round(seconds)}",
        f"-timeout={max(1, round(per_input))}",
        f"-rss_limit_mb={MEMORY_MB}",
        f"-artifact_prefix={CRASHES}/{target.name}-",
        "-print_final_stats=1",
        str(WORK / target.name),
        str(target.corpus),
    ]
    with log.open("w") as out:
        code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
    text = log.read_text("utf-8", "replace")
    crashes = sorted(set(CRASHES.glob(f"{target.name}-*")) - before)
    if code != 0:
        print(text[-4000:], file=sys.stderr)
        if not crashes:  # the fuzzer itself failed: count it as a crash, never as a pass
            crashes = [log]
    return Outcome(target.name, _executed(text), crashes)


def _executed(log: str) -> int:
    """How many inputs libFuzzer ran, from its final stats or else its last status line."""
    final = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    if final:
        return int(final.group(1))
    status = re.findall(r"^#(\d+)\s", log, re.MULTILINE)
    return int(status[-1]) if status else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="budget per target")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="repeatable")
    parser.add_argument(
        "--engine",
        choices=("atheris", "hypothesis"),
        default="atheris" if importlib.util.find_spec("atheris") else "hypothesis",
    )
    parser.add_argument("--per-input", type=float, default=10.0, help="seconds one input may take")
    options = parser.parse_args(argv)
    if options.engine == "hypothesis":
        limit = MEMORY_MB * 2**20 * 2  # address space, not RSS: leave room for mappings
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    fuzz = _atheris if options.engine == "atheris" else _hypothesis
    print(f"engine: {options.engine}, {options.seconds:g} s per target")
    outcomes = []
    for name in options.target or list(TARGETS):
        outcome = fuzz(TARGETS[name], options.seconds, options.per_input)
        outcomes.append(outcome)
        print(f"{name:15} {outcome.tried:>10} inputs  {len(outcome.crashes)} crashes", flush=True)
        for path in outcome.crashes:
            print(f"  crash: {path}")
    print(f"{'total':15} {sum(o.tried for o in outcomes):>10} inputs", end="  ")
    print(f"{sum(len(o.crashes) for o in outcomes)} crashes")
    return 1 if any(o.crashes for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
