"""Chain scores in money: what sequencer risk costs a standard reference book on each chain per year.

The **reference book** (:data:`REFERENCE_BOOK`) is placed on every chain at once
in one simulation, so all chains share the market paths and the common shocks;
positions on different chains never interact (cascades run per chain), so
each chain's columns are what the book would lose there alone:

* a 10x long ETH perp of $500k and a 10x short ETH perp of $500k ($1M of 10x
  perps, both directions of a move hurt), maintenance 5 %, penalty 5 %;
* a short 1-year at-the-money ETH call on $1M of notional (500 ETH at
  $2,000), delta-hedged, implied volatility 80 %;
* ETH at $2,000 with 80 % annual volatility, depth $1B for impact.

Per chain the score shows the attributable expected loss and ES99 per year
(holder + venue, USD) with their standard errors, the fitted availability
(1 - expected downtime / year, from the downtime rate and mean duration of the
chain and of its common shocks, with the interval of the pooled rate), and the
L2BEAT-style risk entries of the catalog. A user book (``book=``) replaces the
reference positions: its positions are copied to every chain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqrisk.catalog import Catalog, RiskEntry, risk_entries
from seqrisk.decide.base import Outcome
from seqrisk.decide.books import reference_book
from seqrisk.decide.measures import Estimate, measure
from seqrisk.decide.paths import to_outcome
from seqrisk.exceptions import UsageError
from seqrisk.outage import OutageModel
from seqrisk.portfolio import Book
from seqrisk.units import HOUR_S, YEAR_S

__all__ = ["ChainScore", "Scores", "availability", "score_chains"]

@dataclass(frozen=True)
class Interval:
    """A value with a (low, high) interval."""

    value: float
    low: float
    high: float


def availability(model: OutageModel, chain: str) -> tuple[Interval, Interval]:
    """Expected downtime (hours per year) and availability (share of time up), each with an interval.

    Downtime = own downtime rate x mean duration + each common shock's rate x
    its mean duration; the interval uses the pooled rate's interval of the
    chain's own rate (shocks at their point rate). Rates are the fitted event
    rates (self-excitation is not added on top).
    """
    law = model.chains.get(chain)
    own_r = law.rates_per_year.get("downtime", 0.0) if law else 0.0
    own_m = law.durations["downtime"].mean() if law and own_r > 0 else 0.0
    lo_r, hi_r = law.rate_intervals.get("downtime", (own_r, own_r)) if law else (0.0, 0.0)
    shock = sum(s.rate_per_year * s.duration.mean() for s in model.shocks
                if chain in s.members and s.type == "downtime")
    mean_m = own_m if own_m > 0 else (law.durations["downtime"].mean() if law and "downtime" in law.durations
                                      else 0.0)
    d = (own_r * own_m + shock) / HOUR_S
    d_lo, d_hi = (lo_r * mean_m + shock) / HOUR_S, (hi_r * mean_m + shock) / HOUR_S
    year_h = YEAR_S / HOUR_S
    return Interval(d, d_lo, d_hi), Interval(1 - d / year_h, 1 - d_hi / year_h, 1 - d_lo / year_h)


@dataclass(frozen=True)
class ChainScore:
    """One chain: money figures (USD per horizon) with standard errors, availability and risk entries."""

    chain: str
    expected_loss: Estimate
    es99: Estimate
    holder_el: Estimate
    venue_el: Estimate
    downtime_hours: Interval
    availability: Interval
    risk: tuple[RiskEntry, ...]


@dataclass(frozen=True)
class Scores:
    """Chains ranked by attributable ES99 of the reference book (then by EL), lowest risk first."""

    rows: tuple[ChainScore, ...]
    horizon_s: float
    n_paths: int
    seed: int
    book: str

    def summary(self) -> Any:
        """A DataFrame, one row per chain (USD per horizon; ``_se`` standard errors)."""
        import pandas as pd

        recs = []
        for i, r in enumerate(self.rows, 1):
            rec: dict[str, Any] = {"rank": i, "chain": r.chain, "el_usd": r.expected_loss.value,
                                   "el_se": r.expected_loss.se, "es99_usd": r.es99.value, "es99_se": r.es99.se,
                                   "venue_el_usd": r.venue_el.value, "venue_el_se": r.venue_el.se,
                                   "downtime_h_per_year": r.downtime_hours.value,
                                   "downtime_h_low": r.downtime_hours.low, "downtime_h_high": r.downtime_hours.high,
                                   "availability": r.availability.value, "availability_low": r.availability.low,
                                   "availability_high": r.availability.high}
            for e in r.risk:
                rec[e.name] = e.value
            recs.append(rec)
        return pd.DataFrame(recs).set_index("rank")


def score_chains(model: OutageModel, catalog: Catalog, *, chains: Sequence[str] | None = None,
                 book: Book | None = None, paths: int = 2000, seed: int = 0, horizon_s: float = YEAR_S,
                 simulate: Callable[..., Any] | None = None, scenario: Any = None) -> Scores:
    """Score ``chains`` (default: every catalog chain the model has) by the reference book's losses.

    One engine run over ``horizon_s`` (default a year) with every chain
    simulated; ``scenario`` (an engine Scenario) overrides the defaults.
    """
    ids = list(chains) if chains else [c.id for c in catalog.chains if c.id in model.chains]
    if not ids:
        raise UsageError("no chain to score (the model has none of the catalog's chains)", field="chains")
    for c in ids:
        catalog.chain(c)
        if c not in model.chains:  # an unmodelled chain would score as one that never fails
            raise UsageError("the outage model has no law for this chain", chain=c, field="chains")
    bk = reference_book(ids, book)
    if scenario is None:
        from seqrisk.engine import Scenario

        scenario = Scenario(paths=paths, seed=seed, horizon_s=horizon_s, chains=ids)
    else:
        scenario = scenario.replace(chains=ids)
    if simulate is None:
        from seqrisk.engine import simulate as engine_simulate

        simulate = engine_simulate
    out: Outcome = to_outcome(simulate(bk, model, scenario))
    names = list(out.extra["chains"])
    rows = []
    for c in ids:
        j = names.index(c)
        h = np.asarray(out.extra["chain_holder"])[:, j]
        v = np.asarray(out.extra["chain_venue"])[:, j]
        dt, av = availability(model, c)
        rows.append(ChainScore(
            chain=c, expected_loss=measure(h + v, "el", out.p_event)[0], es99=measure(h + v, "es99", out.p_event)[0],
            holder_el=measure(h, "el", out.p_event)[0], venue_el=measure(v, "el", out.p_event)[0],
            downtime_hours=dt, availability=av, risk=risk_entries(catalog.chain(c))))
    rows.sort(key=lambda r: (r.es99.value, r.expected_loss.value, r.chain))
    return Scores(rows=tuple(rows), horizon_s=float(scenario.horizon_s), n_paths=out.n_paths,
                  seed=int(getattr(scenario, "seed", seed)), book=bk.name)


