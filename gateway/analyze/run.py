"""Extract files in, one report out: the thin file-reading edge around `Analysis`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.analyze.limits import Limits, default_limits
from gateway.analyze.stream import stream_file
from gateway.analyze.tally import Analysis
from gateway.intake.contract import default_contract
from gateway.intake.readers import FileProblem
from gateway.mapping.tables import Mappings, default_mappings

Progress = Callable[[int], None]  # bytes read since the last call


def analyze_files(
    paths: Iterable[Path],
    *,
    now: datetime,
    mappings: Mappings | None = None,
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The report of `labgw analyze` for these extracts.

    A file that cannot be read is a file issue in the report; the other files are still analysed.
    """
    analysis = Analysis(now, mappings or default_mappings(), limits or default_limits())
    contract = default_contract()
    try:
        for path in paths:
            analysis.inputs.append(path.name)
            try:
                for block in stream_file(path, contract):
                    analysis.add_block(path.name, block.records)
                    for issue in block.file_issues:
                        if issue not in analysis.file_issues:
                            analysis.file_issues.append(issue)
                    if progress:
                        progress(block.bytes_read)
            except FileProblem as problem:
                analysis.file_issues.append(problem.issue)
        return analysis.report()
    finally:
        analysis.close()
