"""The report's levers: standard levers compared on the headline run's own random numbers, advice per party.

The levers: an oracle grace period of one hour and forced inclusion through L1
(the venue's), a 25 % margin buffer, indemnity cover and moving half of the
riskiest chain's positions to the book's safest chain (the holder's); plus a
grace-period sweep for the venue's trade-off. Every run uses the headline
scenario (same seed, same paths), and the baseline *is* the headline run, so
the page has one baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seqrisk.catalog import Catalog
from seqrisk.decide import (
    Advice,
    Comparison,
    GracePeriod,
    Strategy,
    SweepResult,
    advise,
    compare,
    parse_strategy,
    sweep,
)
from seqrisk.engine import Scenario, SimulationResult
from seqrisk.outage import OutageModel
from seqrisk.portfolio import Book

__all__ = ["GRACE_SWEEP_S", "MitigationSection", "standard_comparison", "standard_strategies"]

#: Grace periods of the report's sweep (seconds).
GRACE_SWEEP_S = (0.0, 300.0, 900.0, 1800.0, 3600.0, 2 * 3600.0, 4 * 3600.0)
#: The weight of the holders' loss in the venue's grace objective (stated on the page): 0, its own bad debt
#: only; the page gives each grace period's range of weights under which it would be the best.
GRACE_WEIGHT = 0.0


@dataclass(frozen=True)
class MitigationSection:
    """What the report shows about levers: the comparison, the advice to each party, the grace sweep."""

    comparison: Comparison
    advice: dict[str, Advice]
    grace: SweepResult | None


def standard_strategies(book: Book, model: OutageModel, worst_chain: str | None = None) -> list[Strategy]:
    """The levers the report compares, chosen for this book.

    The move lever takes half of ``worst_chain``'s positions (default: the
    book's chain with the highest downtime rate) to the book's chain with the
    lowest downtime rate.
    """
    specs = ["grace=1h", "forced-inclusion", "buffer=0.25", "insure=indemnity,deductible=10k,limit=5M"]
    chains = list(book.chains)
    if len(chains) > 1:
        def rate(c: str) -> float:
            law = model.chains.get(c)
            return law.rates_per_year.get("downtime", 0.0) if law else 0.0
        worst = worst_chain if worst_chain in chains else max(chains, key=rate)
        safest = min((c for c in chains if c != worst), key=rate)
        specs.append(f"move={worst}:{safest}:0.5")
    return [parse_strategy(s) for s in specs]


def standard_comparison(book: Book, model: OutageModel, scenario: Scenario, catalog: Catalog,
                        worst_chain: str | None = None, baseline: SimulationResult | None = None,
                        grace_values_s: Sequence[float] = GRACE_SWEEP_S) -> MitigationSection:
    """Compare the standard levers on ``scenario`` (the headline's), advise each party, sweep the grace period.

    ``baseline`` is the headline run: reused as the comparison's baseline so
    the page shows one set of baseline figures.
    """
    from seqrisk.engine import simulate as engine_simulate

    def same_run(sc: Any) -> bool:
        """``sc`` draws the headline run's paths (the same scenario but for which chains are named, the book's,
        and whether per-path losses are kept)."""
        skip = {"chains", "keep_paths"}
        return (sc.model_dump(exclude=skip) == scenario.model_dump(exclude=skip)
                and sc.chains in (None, list(book.chains)) and scenario.chains in (None, list(book.chains)))

    def run(bk: Any, om: OutageModel, sc: Any) -> Any:
        if baseline is not None and bk is book and same_run(sc) and _has_paths(baseline):
            return baseline
        return engine_simulate(bk, om, sc)

    cmp = compare(book, model, scenario, standard_strategies(book, model, worst_chain), simulate=run)
    advice = {party: advise(cmp, party) for party in ("holder", "venue")}
    grace = None
    if len(grace_values_s) >= 2:
        grace = sweep(book, model, scenario, "grace", list(grace_values_s), GracePeriod,
                      perspective="venue", weight=GRACE_WEIGHT, simulate=run)
    return MitigationSection(comparison=cmp, advice=advice, grace=grace)


def _has_paths(result: Any) -> bool:
    """The run kept its per-path losses (a comparison pairs them)."""
    from seqrisk.exceptions import SeqriskError

    try:
        result.path_losses()
    except SeqriskError:
        return False
    return True
