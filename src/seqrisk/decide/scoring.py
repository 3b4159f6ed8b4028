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

Per chain the score shows, for one party at a time (the holder's attributable
loss or the venue's bad debt, never their sum), the expected loss and ES99 per
year (USD) with their standard errors, the fitted availability (1 - expected
downtime / year, from the downtime rate and mean duration of the chain and of
its common shocks, with the interval of the pooled rate), and the L2BEAT-style
risk entries of the catalog. A user book (``book=``) replaces the reference
positions: the whole book is copied to every chain.

Ranks carry their uncertainty. All chains share one run, so the difference of
two chains' figures has a *paired* standard error (influence functions, path
by path). Two chains are *separated* when their difference exceeds ``z``
paired standard errors, ``z`` set so that all pairs hold at once with 95 %
(Bonferroni: ``z = Phi^-1(1 - 0.025 / pairs)``, 3.8 for 26 chains). A chain's
rank interval runs from one plus the number of chains separated below it to
the number of chains not separated above it; chains in a run of neighbours
that are not separated are *tied* and share a rank. Another seed moves a rank
within its interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqrisk.catalog import Catalog, RiskEntry, risk_entries
from seqrisk.decide.base import Outcome, check_party
from seqrisk.decide.books import reference_book
from seqrisk.decide.measures import Estimate, measure, paired_diff
from seqrisk.decide.paths import to_outcome, with_paths
from seqrisk.display import Displayed, Shown, pm_usd
from seqrisk.exceptions import UsageError
from seqrisk.outage import OutageModel
from seqrisk.portfolio import Book
from seqrisk.units import HOUR_S, YEAR_S, format_duration

__all__ = ["ChainScore", "Scores", "availability", "rank_intervals", "score_chains", "separation_z"]


def separation_z(n_items: int, level: float = 0.95) -> float:
    """The z that holds every pairwise comparison of ``n_items`` at once with probability ``level`` (Bonferroni)."""
    from scipy.stats import norm

    pairs = max(1, n_items * (n_items - 1) // 2)
    return float(norm.ppf(1.0 - (1.0 - level) / (2 * pairs)))

@dataclass(frozen=True)
class Interval:
    """A value with a (low, high) interval."""

    value: float
    low: float
    high: float


def availability(model: OutageModel, chain: str) -> tuple[Interval, Interval]:
    """Expected downtime (hours per year) and availability (share of time up), each with an interval.

    Downtime = own downtime rate x mean duration + each common shock's rate x
    P(the shock hits this chain) x P(a hit is a downtime) x the mean duration
    of a hit's downtime (a fitted shock hits two members at random and each
    other with a probability, and draws the hit's type); the interval uses the
    pooled rate's interval of the chain's own rate (shocks at their point
    rate). Rates are the fitted event rates (self-excitation is not added on
    top).
    """
    law = model.chains.get(chain)
    own_r = law.rates_per_year.get("downtime", 0.0) if law else 0.0
    own_m = law.durations["downtime"].mean() if law and own_r > 0 else 0.0
    lo_r, hi_r = law.rate_intervals.get("downtime", (own_r, own_r)) if law else (0.0, 0.0)
    shock = sum(s.rate_per_year * s.hit_probability() * s.mix.get("downtime", 0.0) * s.law("downtime").mean()
                for s in model.shocks if chain in s.members)
    mean_m = own_m if own_m > 0 else (law.durations["downtime"].mean() if law and "downtime" in law.durations
                                      else 0.0)
    d = (own_r * own_m + shock) / HOUR_S
    d_lo, d_hi = (lo_r * mean_m + shock) / HOUR_S, (hi_r * mean_m + shock) / HOUR_S
    year_h = YEAR_S / HOUR_S
    return Interval(d, d_lo, d_hi), Interval(1 - d / year_h, 1 - d_hi / year_h, 1 - d_lo / year_h)


@dataclass(frozen=True)
class ChainScore:
    """One chain: each party's EL and ES99 (USD per horizon, with standard errors), the chain's rank by the
    scoring party's measure with its interval and tie, availability and risk entries."""

    chain: str
    holder_el: Estimate
    holder_es99: Estimate
    venue_el: Estimate
    venue_es99: Estimate
    rank: int
    rank_low: int
    rank_high: int
    tied_above: bool
    tied_with: tuple[str, ...]
    downtime_hours: Interval
    availability: Interval
    risk: tuple[RiskEntry, ...]

    def el(self, party: str) -> Estimate:
        """Expected loss of ``party`` (holder or venue) on this chain (USD per horizon)."""
        return self.holder_el if check_party(party) == "holder" else self.venue_el

    def es99(self, party: str) -> Estimate:
        """ES 99% of ``party``'s loss on this chain (USD per horizon)."""
        return self.holder_es99 if check_party(party) == "holder" else self.venue_es99


@dataclass(frozen=True, repr=False)
class Scores(Displayed):
    """Chains ranked by one party's attributable loss measure (``by``: es99 or el), lowest risk first."""

    rows: tuple[ChainScore, ...]
    horizon_s: float
    n_paths: int
    seed: int
    book: str
    perspective: str = "holder"
    by: str = "es99"
    z: float = 2.0

    def summary(self) -> Any:
        """A DataFrame, one row per chain (USD per horizon; ``_se`` standard errors; rank interval and ties)."""
        import pandas as pd

        recs = []
        for r in self.rows:
            rec: dict[str, Any] = {"rank": r.rank, "rank_low": r.rank_low, "rank_high": r.rank_high,
                                   "chain": r.chain, "tied_above": r.tied_above, "tied_with": ",".join(r.tied_with)}
            for party in ("holder", "venue"):
                for name, e in (("el", r.el(party)), ("es99", r.es99(party))):
                    rec[f"{party}_{name}_usd"], rec[f"{party}_{name}_se"] = e.value, e.se
            rec.update({"downtime_h_per_year": r.downtime_hours.value, "downtime_h_low": r.downtime_hours.low,
                        "downtime_h_high": r.downtime_hours.high, "availability": r.availability.value,
                        "availability_low": r.availability.low, "availability_high": r.availability.high})
            for entry in r.risk:
                rec[entry.name] = entry.value
            recs.append(rec)
        return pd.DataFrame(recs).set_index("chain")

    def to_frame(self) -> Any:
        """The :meth:`summary` table."""
        return self.summary()

    def _shown(self) -> Shown:
        import pandas as pd

        rows = {r.chain: {"rank": f"{r.rank} ({r.rank_low}-{r.rank_high})",
                          **{f"{p} {n}": pm_usd(e.value, e.se) for p in ("holder", "venue")
                             for n, e in (("EL", r.el(p)), ("ES 99%", r.es99(p)))},
                          "downtime h/yr": f"{r.downtime_hours.value:.3g} ({r.downtime_hours.low:.3g}-"
                                           f"{r.downtime_hours.high:.3g})"} for r in self.rows}
        return Shown(f"Scores: chains ranked by the {self.perspective}'s {self.by} of book {self.book} over "
                     f"{format_duration(self.horizon_s)}, {self.n_paths:,} paths, seed {self.seed}",
                     pd.DataFrame.from_dict(rows, orient="index"),
                     ("USD over the horizon ± one standard error; rank with its interval (Bonferroni over all "
                      "pairs); downtime hours per year with its 95% interval.",))


def rank_intervals(losses: np.ndarray, p_event: np.ndarray | None, by: str = "es99", z: float | None = None
                   ) -> tuple[np.ndarray, list[int], list[tuple[int, int]], list[list[int]], list[bool]]:
    """Point values, order, rank intervals, non-separated sets and ranks of the columns of ``losses``.

    ``losses`` is (paths, items) on common random numbers; ``by`` a measure
    name of :func:`~seqrisk.decide.measures.measure`; ``z`` the separation
    threshold in paired standard errors (default :func:`separation_z`).
    Returns the values, the order (lowest value first), per item its rank
    interval ``(low, high)`` (1-based), per item the items not separated from
    it, and per item whether it is tied with the item ranked just above it.
    """
    k = losses.shape[1]
    z = separation_z(k) if z is None else z
    vals = np.array([measure(losses[:, i], by, p_event)[0].value for i in range(k)])
    sep = np.zeros((k, k), bool)  # sep[i, j]: j is separated from i
    for i in range(k):
        for j in range(i + 1, k):
            d = paired_diff(by, losses[:, i], losses[:, j], p_event, p_event)
            sep[i, j] = sep[j, i] = abs(d.value) > z * d.se
    intervals = []
    for i in range(k):
        below = int(np.sum(sep[i] & (vals < vals[i])))
        above = int(np.sum(sep[i] & (vals > vals[i])))
        intervals.append((1 + below, k - above))
    order = [int(i) for i in np.lexsort((np.arange(k), vals))]
    tied_above = [False] * k
    for pos in range(1, k):
        tied_above[order[pos]] = not sep[order[pos], order[pos - 1]]
    ties = [[j for j in range(k) if j != i and not sep[i, j]] for i in range(k)]
    return vals, order, intervals, ties, tied_above


def score_chains(model: OutageModel, catalog: Catalog, *, chains: Sequence[str] | None = None,
                 book: Book | None = None, paths: int = 2000, seed: int = 0, horizon_s: float = YEAR_S,
                 simulate: Callable[..., Any] | None = None, scenario: Any = None, perspective: str = "holder",
                 by: str = "es99", z: float | None = None) -> Scores:
    """Score ``chains`` (default: every catalog chain the model has) by ``perspective``'s loss on the reference
    book (or ``book``), ranked by ``by`` (``es99`` or ``el``) with rank intervals and ties.

    One engine run over ``horizon_s`` (default a year) with every chain
    simulated; ``scenario`` (an engine Scenario) overrides the defaults.
    """
    check_party(perspective)
    if by not in ("es99", "el"):
        raise UsageError("chains are ranked by es99 or el", field="by", value=by)
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
    out: Outcome = to_outcome(simulate(bk, model, with_paths(scenario)))
    names = list(out.extra["chains"])
    cols = [names.index(c) for c in ids]
    loss = {party: np.asarray(out.extra[f"chain_{party}"])[:, cols] for party in ("holder", "venue")}
    z = separation_z(len(ids)) if z is None else z
    _, order, intervals, ties, tied_above = rank_intervals(loss[perspective], out.p_event, by, z)
    rows = []
    for pos, i in enumerate(order, 1):
        c = ids[i]
        h, v = loss["holder"][:, i], loss["venue"][:, i]
        dt, av = availability(model, c)
        rows.append(ChainScore(
            chain=c, holder_el=measure(h, "el", out.p_event)[0], holder_es99=measure(h, "es99", out.p_event)[0],
            venue_el=measure(v, "el", out.p_event)[0], venue_es99=measure(v, "es99", out.p_event)[0],
            rank=pos, rank_low=intervals[i][0], rank_high=intervals[i][1], tied_above=tied_above[i],
            tied_with=tuple(ids[j] for j in ties[i]), downtime_hours=dt, availability=av,
            risk=risk_entries(catalog.chain(c))))
    return Scores(rows=tuple(rows), horizon_s=float(scenario.horizon_s), n_paths=out.n_paths,
                  seed=int(getattr(scenario, "seed", seed)), book=bk.name, perspective=perspective, by=by, z=z)
