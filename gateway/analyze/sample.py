"""Synthetic Health Hub extracts with known defects, so every count of a report can be checked.

Each row carries at most one injected defect, and `SampleTruth` counts them as they are written:
a test compares the report of `labgw analyze` with that truth, number by number. The rows look
like real practice data (Danish units with decimal commas, fee-table and local codes, five LPS
vendors, times with and without offsets) but every person in them is invented.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.cpr import century

HEADER = (
    "recordId;version;status;practice_sor;practice_ydernummer;practice_gln;practice_name;"
    "patient_cpr;patient_replacementId;patient_family;patient_given;consent;sample_id;"
    "sample_collectedAt;sample_material;analysis_system;analysis_code;analysis_text;"
    "result_value;result_unit;result_referenceLow;result_referenceHigh;result_abnormal;"
    "result_comment;performedAt;lps_vendor;lps_version"
)
_DK = ZoneInfo("Europe/Copenhagen")
_START = datetime(2025, 1, 1, 8, 0, tzinfo=_DK)
_VENDORS = (
    ("XMO", "7.4"),
    ("EG Clinea", "3.2"),
    ("WinPLC", "9.1"),
    ("Novax", "12"),
    ("MultiMed", "5"),
)
_FAMILIES = ("Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen")
_GIVEN = ("Søren", "Mette", "Anne", "Lars", "Ida", "Jørgen", "Freja")


def _number(low: float, high: float, decimals: int) -> Callable[[random.Random], str]:
    def draw(rng: random.Random) -> str:
        return f"{rng.uniform(low, high):.{decimals}f}".replace(".", ",")

    return draw


def _choice(*values: str) -> Callable[[random.Random], str]:
    return lambda rng: rng.choice(values)


@dataclass(frozen=True, slots=True)
class _Analysis:
    system: str
    code: str
    unit: str
    value: Callable[[random.Random], str]
    destination: str  # lsp, miba, or "filtered" for analyses not agreed for sharing
    notifiable_when: str = ""  # the value that makes the finding notifiable


_ANALYSES = (
    _Analysis("NPU", "NPU19748", "mg/l", _number(1, 180, 0), "lsp"),
    _Analysis("FEE", "9901", "mg/l", _number(1, 120, 0), "lsp"),
    _Analysis("LOCAL", "CRP", "mg/l", _number(1, 120, 0), "lsp"),
    _Analysis("NPU", "NPU27300", "mmol/mol", _number(30, 95, 0), "lsp"),
    _Analysis("NPU", "NPU03835", "%", _number(4.5, 11, 1), "filtered"),
    _Analysis("NPU", "NPU02319", "mmol/l", _number(6, 10.5, 1), "lsp"),
    _Analysis("FEE", "9903", "", _number(1, 3.8, 1), "lsp"),
    _Analysis("LOCAL", "INR", "", _number(1, 3.8, 1), "lsp"),
    _Analysis("NPU", "NPU02187", "mmol/l", _number(4, 14, 1), "lsp"),
    _Analysis("NPU", "NPU03987", "", _choice("neg", "1+", "2+", "3+"), "lsp"),
    _Analysis("NPU", "NPU21578", "", _choice("neg", "pos"), "lsp"),
    _Analysis("NPU", "NPU16328", "", _choice("Escherichia coli", "ingen vækst"), "miba"),
    _Analysis("LOCAL", "STREPA", "", _choice("positiv", "negativ"), "miba"),
    _Analysis("LOCAL", "COVAG", "", _choice("negativ", "negativ", "positiv"), "miba", "positiv"),
)
_CRP = _ANALYSES[0]
_SENT = ("lsp", "miba", "miba+notifiable")
SAME_SAMPLE = 0.35  # share of rows that are another analysis of the previous row's sample
_PLAUSIBLE_BREAKERS = {"NPU19748": "2500", "NPU02319": "45,0", "NPU27300": "900"}

# Defects and how often each is injected; the rest of the rows are clean.
DEFECTS = (
    ("LPS-CPR", 0.010),  # not a date-shaped CPR number: rejected at intake
    ("LPS-DATETIME", 0.005),  # a date without a time: rejected at intake
    ("AQ-TIME-NO-OFFSET", 0.020),  # accepted, read as Danish time
    ("MAP-VALUE-TYPE", 0.005),  # text where the analysis has numbers
    ("AQ-IMPLAUSIBLE", 0.003),  # outside the physiological limits
    ("MAP-UNKNOWN-CODE", 0.010),  # a local code no table maps
    ("MAP-UNIT-MISMATCH", 0.005),  # CRP in mmol/l
    ("AQ-DUPLICATE-VERSION", 0.003),  # the same record version twice
    ("AQ-VERSION-GAP", 0.002),  # versions 1 and 3, no 2
    ("AQ-CORRECTION-NO-ORIGINAL", 0.002),  # a correction whose original is not in the extract
    ("consent_refused", 0.010),  # not a defect: a flag that must never drop a result
)


@dataclass(slots=True)
class SampleTruth:
    """What was written: row count, injected defects, and where the clean rows would go."""

    rows: int = 0
    defects: Counter[str] = field(default_factory=Counter)
    routing: Counter[str] = field(default_factory=Counter)
    unmapped_codes: Counter[str] = field(default_factory=Counter)
    letters: Counter[str] = field(default_factory=Counter)  # destination → letters sent

    def to_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "defects": dict(sorted(self.defects.items())),
            "routing": dict(sorted(self.routing.items())),
            "unmapped_codes": dict(sorted(self.unmapped_codes.items())),
            "letters": dict(sorted(self.letters.items())),
        }


@dataclass(slots=True)
class _Visit:
    """One patient's sample at one practice; several analyses may be done on it."""

    practice: _Practice
    cpr: str
    family: str
    given: str
    consent: str
    sample_id: str
    when: datetime
    letters: set[tuple[str, int, str]] = field(default_factory=set)


@dataclass(slots=True)
class _Practice:
    sor: str
    ydernummer: str
    gln: str
    name: str
    vendor: tuple[str, str]


def _gln(rng: random.Random) -> str:
    body = "579" + "".join(rng.choice("0123456789") for _ in range(9))
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _practices(rng: random.Random, count: int) -> list[_Practice]:
    return [
        _Practice(
            sor=str(rng.randrange(10**14, 10**15)),
            ydernummer=f"{rng.randrange(10**5, 10**6)}",
            gln=_gln(rng),
            name=f"Lægehuset {i + 1}",
            vendor=_VENDORS[i % len(_VENDORS)],
        )
        for i in range(count)
    ]


def generate(rows: int, seed: int = 1) -> tuple[Iterator[str], SampleTruth]:
    """CSV lines (header first) of a synthetic extract, and the truth filled in as they are read."""
    truth = SampleTruth()
    return _lines(rows, random.Random(seed), truth), truth


def _lines(rows: int, rng: random.Random, truth: SampleTruth) -> Iterator[str]:
    yield HEADER
    practices = _practices(rng, max(3, min(2000, rows // 2500)))
    clean: list[tuple[str, str]] = []  # recent clean rows and their routes: duplicate sources
    next_id = 0
    written = 0
    visit: _Visit | None = None
    while written < rows:
        next_id += 1
        defect = _pick_defect(rng)
        if visit is None or rng.random() > SAME_SAMPLE:
            visit = _new_visit(rng, practices, next_id, written, rows)
        if defect == "AQ-DUPLICATE-VERSION" and clean:
            line, destination = rng.choice(clean)
            # labgw sends a record version once: a routed copy is filtered as a duplicate.
            truth.routing["duplicate" if destination in _SENT else destination] += 1
            yield line
        else:
            if defect == "AQ-DUPLICATE-VERSION":
                defect = None
            analysis = _analysis_for(rng, defect)
            record_id = f"R{next_id:08d}"
            version = 2 if defect == "AQ-CORRECTION-NO-ORIGINAL" else 1
            if defect == "AQ-VERSION-GAP" and written + 1 < rows:
                line, value = _row(rng, record_id, 1, visit, analysis, defect)
                _count(truth, visit, analysis, defect, value, 1)
                yield line
                written += 1
                truth.rows += 1
                version = 3
            line, value = _row(rng, record_id, version, visit, analysis, defect)
            destination = _count(truth, visit, analysis, defect, value, version)
            if destination in (*_SENT, "filtered") and defect is None:
                clean.append((line, destination))
                if len(clean) > 64:
                    clean.pop(0)
            if defect == "MAP-UNKNOWN-CODE":
                truth.unmapped_codes[analysis.code] += 1
            yield line
        if defect:
            truth.defects[defect] += 1
        written += 1
        truth.rows += 1


def _cpr(born: datetime, serial: int) -> str:
    """A CPR number for someone born on `born`: where the serial's first digit would put the
    birth in another century (`gateway.cpr.century`), it is moved to one that does not, so a
    birthday of 29 February 2000 stays a date intake accepts."""
    year = born.year % 100
    if century(year, serial // 1000) != born.year - year:
        serial = serial % 1000 + (4000 if born.year >= 2000 else 0)
    return born.strftime("%d%m%y") + f"{serial:04d}"


def _new_visit(
    rng: random.Random, practices: list[_Practice], number: int, written: int, rows: int
) -> _Visit:
    born = datetime(1930, 1, 1) + timedelta(days=rng.randrange(33_000))
    # Office hours only: a time without offset in the night of a DST change would be ambiguous.
    day = _START + timedelta(days=written * 365 // max(rows, 1))
    return _Visit(
        practice=rng.choice(practices),
        cpr=_cpr(born, rng.randrange(10_000)),
        family=rng.choice(_FAMILIES),
        given=rng.choice(_GIVEN),
        consent=rng.choice(("given", "given", "")),
        sample_id=f"S{number:08d}",
        when=day + timedelta(minutes=rng.randrange(480)),
    )


def _count(
    truth: SampleTruth,
    visit: _Visit,
    analysis: _Analysis,
    defect: str | None,
    value: str,
    version: int,
) -> str:
    """Where a new row goes; a routed row opens a letter unless its sample's letter is open."""
    destination = _destination(analysis, defect, value)
    truth.routing[destination] += 1
    if destination in _SENT:
        if defect == "consent_refused":
            truth.routing["consent_refused"] += 1
        consent = "refused" if defect == "consent_refused" else visit.consent
        letter = (destination.split("+")[0], version, consent)
        if letter not in visit.letters:
            visit.letters.add(letter)
            truth.letters[letter[0]] += 1
    return destination


def _pick_defect(rng: random.Random) -> str | None:
    draw = rng.random()
    for name, share in DEFECTS:
        if draw < share:
            return name
        draw -= share
    return None


def _analysis_for(rng: random.Random, defect: str | None) -> _Analysis:
    if defect == "MAP-UNKNOWN-CODE":
        code = f"LAB{rng.randrange(1, 6)}"
        return _Analysis("LOCAL", code, "", _choice("7"), "blocked")
    if defect in ("MAP-VALUE-TYPE", "MAP-UNIT-MISMATCH", "AQ-IMPLAUSIBLE"):
        if defect == "AQ-IMPLAUSIBLE":
            code = rng.choice(sorted(_PLAUSIBLE_BREAKERS))
            return next(a for a in _ANALYSES if a.code == code)
        return _CRP
    return rng.choice(_ANALYSES)


def _destination(analysis: _Analysis, defect: str | None, value: str) -> str:
    if defect in ("LPS-CPR", "LPS-DATETIME"):
        return "rejected"
    if defect in ("MAP-VALUE-TYPE", "MAP-UNIT-MISMATCH", "MAP-UNKNOWN-CODE"):
        return "blocked"
    if analysis.notifiable_when and value == analysis.notifiable_when:
        return f"{analysis.destination}+notifiable"
    return analysis.destination


def _row(
    rng: random.Random,
    record_id: str,
    version: int,
    visit: _Visit,
    analysis: _Analysis,
    defect: str | None,
) -> tuple[str, str]:
    """One CSV row and its result value (the value decides whether the result is notifiable)."""
    cpr = "3213" + visit.cpr[4:] if defect == "LPS-CPR" else visit.cpr
    collected = visit.when.isoformat(timespec="minutes")
    performed = (visit.when + timedelta(minutes=rng.randrange(2, 30))).isoformat(timespec="minutes")
    if defect == "AQ-TIME-NO-OFFSET":
        collected, performed = collected[:16], performed[:16]
    elif defect == "LPS-DATETIME":
        collected = collected[:10]
    value = analysis.value(rng)
    unit = analysis.unit
    if defect == "MAP-VALUE-TYPE":
        value = "hæmolyseret"
    elif defect == "MAP-UNIT-MISMATCH":
        unit = "mmol/l"
    elif defect == "AQ-IMPLAUSIBLE":
        value = _PLAUSIBLE_BREAKERS[analysis.code]
    consent = "refused" if defect == "consent_refused" else visit.consent
    practice = visit.practice
    vendor, vendor_version = practice.vendor
    line = ";".join(
        (
            record_id,
            str(version),
            "final" if version == 1 else "corrected",
            practice.sor,
            practice.ydernummer,
            practice.gln,
            practice.name,
            cpr,
            "",
            visit.family,
            visit.given,
            consent,
            visit.sample_id,
            collected,
            "",
            analysis.system,
            analysis.code,
            "",
            value,
            unit,
            "",
            "",
            "",
            "",
            performed,
            vendor,
            vendor_version,
        )
    )
    return line, value
