"""The fuzz targets: each takes bytes from outside and must answer with its documented result.

A target raises only when the code under test broke its contract: an exception escaped, or the
answer was not of the documented type. Hangs and memory are bounded by the runner
(`tests/fuzz/run.py`: libFuzzer's `-timeout`/`-rss_limit_mb`, or `guarded` below) and by
hypothesis' deadline in `tests/test_fuzz.py`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import FrameType

from hypothesis import strategies as st

from gateway.fhir.validate import FhirValidator
from gateway.intake import IntakeBatch, read_records
from gateway.issues import Issue
from gateway.receipts.model import Receipt
from gateway.receipts.parse import parse_receipt
from gateway.security.dgws_verify import Verification, verify_envelope
from gateway.security.jws import VerifiedBundle, verify_bundle
from gateway.xml.validate import XmlValidator

FUZZ = Path(__file__).resolve().parent
CORPUS = FUZZ / "corpus"
REGRESSIONS = FUZZ / "regressions"
CRASHES = FUZZ / "crashes"
# The instant the corpus was signed and rendered for; signed seeds verify 30 s later.
NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)
VERIFY_AT = datetime(2025, 12, 1, 8, 0, 30, tzinfo=UTC)


class Broken(AssertionError):
    """A target answered outside its contract."""


class Hang(Exception):
    """One input ran longer than the per-input time limit."""


def _issues_only(found: Iterator[Issue]) -> None:
    for issue in found:
        if not isinstance(issue, Issue):
            raise Broken(f"yielded {issue!r}, not an Issue")


def _intake(name: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        batch = read_records(data, name, now=NOW)
        if not isinstance(batch, IntakeBatch):
            raise Broken(f"read_records answered {type(batch).__name__}")

    return run


def _xml(data: bytes) -> None:
    _issues_only(_xml_validator().iter_issues(data, "fuzz"))


def _fhir(data: bytes) -> None:
    _issues_only(fhir_validator().iter_issues(data, "fuzz"))


def _receipt(data: bytes) -> None:
    found = parse_receipt(data)
    if isinstance(found, tuple):
        if not found:
            raise Broken("parse_receipt answered no receipt and no Issues")
        _issues_only(iter(found))
    elif not isinstance(found, Receipt):
        raise Broken(f"parse_receipt answered {type(found).__name__}")


def _dgws(data: bytes) -> None:
    found = verify_envelope(data, now=VERIFY_AT, trust=None)
    if not isinstance(found, Verification):
        raise Broken(f"verify_envelope answered {type(found).__name__}")
    _issues_only(iter(found.issues))
    if found.envelope is None and not found.issues:
        raise Broken("verify_envelope refused without saying why")


def _jws(data: bytes) -> None:
    found = verify_bundle(data, None)
    if isinstance(found, tuple):
        if not found:
            raise Broken("verify_bundle answered no bundle and no Issues")
        _issues_only(iter(found))
    elif not isinstance(found, VerifiedBundle):
        raise Broken(f"verify_bundle answered {type(found).__name__}")


@cache
def _xml_validator() -> XmlValidator:
    return XmlValidator()


@cache
def fhir_validator() -> FhirValidator:
    """Built once per process: compiling the profiles takes seconds."""
    return FhirValidator()


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    run: Callable[[bytes], None]

    @property
    def corpus(self) -> Path:
        return CORPUS / self.name

    def seeds(self) -> list[bytes]:
        return [path.read_bytes() for path in sorted(self.corpus.iterdir()) if path.is_file()]


TARGETS = {
    target.name: target
    for target in (
        Target("intake_json", _intake("fuzz.json")),
        Target("intake_ndjson", _intake("fuzz.ndjson")),
        Target("intake_csv", _intake("fuzz.csv")),
        Target("xml_validate", _xml),
        Target("fhir_validate", _fhir),
        Target("receipt", _receipt),
        Target("dgws_verify", _dgws),
        Target("jws_verify", _jws),
    )
}


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `Hang` in the main thread if the block runs longer than `seconds`."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"one input ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def guarded(target: Target, data: bytes, seconds: float) -> None:
    """Run one input under the per-input time limit."""
    with time_limit(seconds):
        target.run(data)


# Tokens that steer mutations into the parsers' interesting corners.
TOKENS = (
    b"<",
    b">",
    b"</",
    b"/>",
    b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
    b"&e;",
    b"<![CDATA[",
    b"]]>",
    b"xmlns:",
    b'"',
    b"'",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b"\\u0000",
    b"\\ud800",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\r\n",
    b"\n",
    b";",
    b'""',
    b"9" * 40,
    b"2025-02-30T25:61:00+02:00",
    b"0101011234",
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with one to four mutations: byte flips, truncation, splicing, insertions."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(("flip", "truncate", "splice", "insert", "token", "delete")))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "splice":
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other)))
            data[at:] = other[start:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        else:
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)
