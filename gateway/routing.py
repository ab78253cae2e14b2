"""Which databank a mapped result goes to (DESIGN §3, notes/danish-domain.md §0 and §2.5).

Biochemistry and immunology go to Laboratoriesvarportalen (LSP) and never to MiBa; microbiology
goes to MiBa only, because LSP shows microbiology from MiBa and sending both would duplicate it.
"""

from __future__ import annotations

import enum

from gateway.mapping.resolve import Mapped
from gateway.mapping.tables import AnalysisDef, Domain


class Destination(enum.StrEnum):
    LSP = "lsp"  # Laboratoriesvarportalen (clinical biochemistry and immunology)
    MIBA = "miba"  # the Danish Microbiology Database at SSI


def route(mapped: Mapped) -> Destination:
    """The one destination of a result, by the domain of its NPU analysis."""
    return destination_for(mapped.analysis)


def destination_for(analysis: AnalysisDef) -> Destination:
    if analysis.domain is Domain.MICROBIOLOGY:
        return Destination.MIBA
    return Destination.LSP
