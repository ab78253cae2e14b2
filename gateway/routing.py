"""Which databanks a mapped result goes to (DESIGN §3; notes/danish-domain.md §0, §2.5 and §3).

Routing is data: the domain and `shareable` of analyses.csv, the exceptions in routing.csv and
the findings in notifiable.csv. `plan_routes` reads them in this order of precedence:

1. An analysis not agreed for sharing (analyses.csv `shareable` = no) goes nowhere.
2. An override in routing.csv replaces the domain default: `lsp`, `miba`, or `none` (nowhere,
   with the reason from the table).
3. Otherwise the domain decides: biochemistry and immunology go to LSP, microbiology to MiBa only.
4. A notifiable finding (notifiable.csv, by NPU code and result text) always adds MiBa, over
   1, 2 and 3: SSI must receive it whatever else holds.

Consent is never read here: a refused consent is a flag in the message, not a route.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.mapping.resolve import Mapped
from gateway.mapping.tables import (
    AnalysisDef,
    Destination,
    Domain,
    Mappings,
    Notifiable,
    default_mappings,
)

__all__ = ["NOT_AGREED", "Destination", "Routing", "destination_for", "plan_routes", "route"]

NOT_AGREED = "not agreed for sharing"  # the `filtered` reason of a `shareable` = no analysis

# Notes §0 rule 11 and §1.1: biochemistry and immunology go to LSP (the regional lab databank),
# never MiBa; microbiology goes to MiBa only, since LSP shows microbiology live from MiBa and a
# copy in both would be shown twice.
_BY_DOMAIN = {
    Domain.BIOCHEMISTRY: Destination.LSP,
    Domain.IMMUNOLOGY: Destination.LSP,
    Domain.MICROBIOLOGY: Destination.MIBA,
}


@dataclass(frozen=True, slots=True)
class Routing:
    """Where one result goes, and why; `filtered` is set exactly when `destinations` is empty."""

    destinations: tuple[Destination, ...]  # ordered, unique: the analysis's own databank first
    notifiable: Notifiable | None  # the notifiable.csv row its finding matched
    filtered: str | None  # why it goes nowhere, for the Issue that says so


def plan_routes(mapped: Mapped, tables: Mappings) -> Routing:
    """Every destination of a mapped result (precedence in the module docstring).

    Pure: it reads the result's analysis and value and the tables, never the consent (notes §0
    rules 8 and 9: a refused consent is carried as a flag and never changes the route).
    """
    destinations, filtered = _by_analysis(mapped.analysis, tables)
    notifiable = tables.notifiable_finding(mapped.analysis.npu_code, mapped.value.text)
    if notifiable is None:
        return Routing(destinations, None, filtered)
    # Notes §0 rule 10 and §2.2 (SSI): a notifiable finding always reaches SSI through MiBa, even
    # with refused consent, so neither the domain, an override nor `shareable` can keep it away.
    return Routing(tuple(dict.fromkeys((*destinations, Destination.MIBA))), notifiable, None)


def destination_for(analysis: AnalysisDef, tables: Mappings | None = None) -> Destination | None:
    """Where results of an analysis go before their findings are read; None: nowhere."""
    destinations, _ = _by_analysis(analysis, tables or default_mappings())
    return destinations[0] if destinations else None


def route(mapped: Mapped, tables: Mappings | None = None) -> Destination:
    """The first destination of a result, for callers that send a result to one databank.

    A filtered result keeps its domain's databank, which such callers report it under.
    """
    plan = plan_routes(mapped, tables or default_mappings())
    return plan.destinations[0] if plan.destinations else _BY_DOMAIN[mapped.analysis.domain]


def _by_analysis(
    analysis: AnalysisDef, tables: Mappings
) -> tuple[tuple[Destination, ...], str | None]:
    """Destinations and filter reason from the analysis alone (steps 1-3, before the finding)."""
    if not analysis.shareable:
        return (), NOT_AGREED  # notes §0 rule 1, §1.7 LAB-03: only agreed analyses are sent
    override = tables.routes.get(analysis.npu_code)
    if override is not None:  # routing.csv: each exception names its own source
        if override.destination is None:
            return (), override.reason
        return (override.destination,), None
    return (_BY_DOMAIN[analysis.domain],), None
