"""One target under atheris: `python -m tests.fuzz.worker NAME [libFuzzer flags] DIR...`.

Started by `tests/fuzz/run.py`, one process per target. The `gateway` package is imported only
inside `instrument_imports`, so libFuzzer sees the coverage of its Python code.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["gateway"]):
    from tests.fuzz.targets import TARGETS


def main() -> None:
    target = TARGETS[sys.argv[1]]
    target.run(b"")  # build what the target builds once (validators) before fuzzing starts
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
