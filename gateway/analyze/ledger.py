"""Record versions across a whole extract, on disk, so memory stays flat at any size.

Duplicates, version gaps and corrections without an original are only visible once every row has
been seen; keeping millions of record ids in Python would cost gigabytes. A temporary SQLite file
holds them and answers the three questions with GROUP BY at the end.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES = 5


@dataclass(slots=True)
class VersionFindings:
    duplicates: int = 0
    gaps: int = 0
    no_original: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)


class VersionLedger:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="labgw-analyze-")
        self._db = sqlite3.connect(Path(self._dir.name) / "versions.db")
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-32768;"
            "PRAGMA temp_store=FILE; CREATE TABLE v (id TEXT NOT NULL, version INTEGER NOT NULL);"
        )

    def add(self, rows: list[tuple[str, int]]) -> None:
        self._db.executemany("INSERT INTO v VALUES (?, ?)", rows)

    def findings(self) -> VersionFindings:
        found = VersionFindings()
        db = self._db
        db.execute("CREATE INDEX v_id ON v (id, version)")
        dups = db.execute(
            "SELECT id, version, COUNT(*) FROM v GROUP BY id, version HAVING COUNT(*) > 1"
        ).fetchall()
        found.duplicates = sum(count - 1 for _, _, count in dups)
        found.examples["AQ-DUPLICATE-VERSION"] = [f"{i}/v{v}" for i, v, _ in dups[:EXAMPLES]]
        per_id = "SELECT id, MIN(version), MAX(version), COUNT(DISTINCT version) FROM v GROUP BY id"
        gaps: list[str] = []
        orphans: list[str] = []
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
        return found

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()
