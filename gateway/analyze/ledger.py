"""Record versions across a whole extract, on disk, so memory stays flat at any size.

Duplicates, version gaps, corrections without an original, and what would really be sent (labgw
sends a record version once, in one letter per patient, sample and version) are only known once
every row has been seen; keeping millions of record ids in Python would cost gigabytes. A
temporary SQLite file holds one row per accepted record and destination (a notifiable finding may
go to MiBa besides LSP) and answers with GROUP BY at the end.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES = 5

# (record id, version, destination or None, letter hash or None, notifiable, consent refused,
# first row of its record: duplicates and per-record counts read only these)
Row = tuple[str, int, str | None, int | None, bool, bool, bool]


@dataclass(slots=True)
class LedgerFindings:
    duplicates: int = 0
    duplicates_routed: int = 0  # copies that would have been sent: labgw filters them
    gaps: int = 0
    no_original: int = 0
    results: Counter[str] = field(default_factory=Counter)  # destination → results sent
    letters: Counter[str] = field(default_factory=Counter)  # destination → letters sent
    notifiable: int = 0
    consent_refused: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)


class RecordLedger:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="labgw-analyze-")
        self._db = sqlite3.connect(Path(self._dir.name) / "records.db")
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-32768;"
            "PRAGMA temp_store=FILE; CREATE TABLE r (id TEXT NOT NULL, version INTEGER NOT NULL,"
            " destination TEXT, letter INTEGER, notifiable INTEGER, refused INTEGER,"
            " first INTEGER NOT NULL);"
        )

    def add(self, rows: list[Row]) -> None:
        self._db.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def findings(self) -> LedgerFindings:
        found = LedgerFindings()
        db = self._db
        db.execute("CREATE INDEX r_id ON r (id, version)")
        dups = db.execute(
            "SELECT id, version, COUNT(*), destination IS NOT NULL FROM r WHERE first"
            " GROUP BY id, version HAVING COUNT(*) > 1"
        ).fetchall()
        found.duplicates = sum(count - 1 for _, _, count, _ in dups)
        found.duplicates_routed = sum(count - 1 for _, _, count, routed in dups if routed)
        found.examples["AQ-DUPLICATE-VERSION"] = [f"{i}/v{v}" for i, v, _, _ in dups[:EXAMPLES]]
        gaps: list[str] = []
        orphans: list[str] = []
        per_id = "SELECT id, MIN(version), MAX(version), COUNT(DISTINCT version) FROM r GROUP BY id"
        for record_id, low, high, distinct in db.execute(per_id):
            if low > 1:
                found.no_original += 1
                if len(orphans) < EXAMPLES:
                    orphans.append(f"{record_id}/v{low}")
            elif high - low + 1 > distinct:
                found.gaps += 1
                if len(gaps) < EXAMPLES:
                    gaps.append(f"{record_id}/v{high}")
        found.examples["AQ-VERSION-GAP"] = gaps
        found.examples["AQ-CORRECTION-NO-ORIGINAL"] = orphans
        sent = (
            "SELECT destination, COUNT(*), COUNT(DISTINCT letter) FROM (SELECT destination, letter"
            " FROM r WHERE destination IS NOT NULL GROUP BY id, version, destination)"
            " GROUP BY destination"
        )
        for destination, results, letters in db.execute(sent):
            found.results[destination] = results
            found.letters[destination] = letters
        flags = (
            "SELECT COALESCE(SUM(notifiable), 0), COALESCE(SUM(refused), 0)"
            " FROM (SELECT notifiable, refused FROM r WHERE first AND destination IS NOT NULL"
            " GROUP BY id, version)"
        )
        found.notifiable, found.consent_refused = db.execute(flags).fetchone()
        return found

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()
