"""Forecasts a user can act on, and posterior predictive checks of the fitted model.

* :func:`forecast_counts`: per chain and event type, the predictive number of
  outages over a horizon after the as-of date (own events, common shocks and
  follow-on outages, with every parameter drawn from its posterior per
  replicate): its mean, 90% and 95% intervals and ``P(at least one)``. Given
  the parameters counts are Poisson (or clustered); over the posterior they are
  negative-binomial-like, wider than a Poisson at the posterior mean.
* :func:`predictive_checks`: replicate the observed history (same chains, same
  observation windows) from the fitted model and compare four statistics with
  what was observed: chains with no event, the largest count of one chain, the
  total count, and same-day pairs of events on different chains (the
  cross-chain dependence). Each gets its predictive mean, 90% interval and the
  two tail probabilities ``P(T_rep >= T_obs)`` and ``P(T_rep <= T_obs)``: a
  small one flags what the model does not reproduce.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from seqrisk._typing import FloatArray, IntArray
from seqrisk.stats.events import EventSet
from seqrisk.stats.simulate import SimulatedEvents, simulate_history
from seqrisk.units import DAY_S, YEAR_S

__all__ = ["CHECKS", "ChainForecast", "Check", "forecast_counts", "predictive_checks", "same_day_pairs"]

CHECKS = {
    "zero_count_chains": "chains with no event",
    "max_chain_count": "most events on one chain",
    "total_count": "events in all",
    "same_day_pairs": "same-day cross-chain pairs",
}


@dataclass(frozen=True)
class ChainForecast:
    """Predictive count of one chain and type over the horizon."""

    chain: str
    type: str
    mean: float
    interval_90: tuple[int, int]
    interval_95: tuple[int, int]
    p_at_least_one: float
    mc_se: float          # Monte Carlo standard error of p_at_least_one


@dataclass(frozen=True)
class Check:
    """One posterior predictive check."""

    name: str
    observed: float
    mean: float
    interval_90: tuple[float, float]
    p_upper: float        # P(T_rep >= T_obs)
    p_lower: float        # P(T_rep <= T_obs)
    replicates: FloatArray

    @property
    def label(self) -> str:
        """What the statistic counts, in words."""
        return CHECKS[self.name]

    @property
    def p_value(self) -> float:
        """Two-sided tail probability, ``min(1, 2 min(p_upper, p_lower))``."""
        return min(1.0, 2.0 * min(self.p_upper, self.p_lower))


def same_day_pairs(rep: IntArray, chain: IntArray, t: FloatArray, n_reps: int, window_s: float = DAY_S) -> IntArray:
    """Per replicate, the number of pairs of events on different chains starting within ``window_s``."""
    o = np.lexsort((t, rep))
    rep, chain, t = rep[o], chain[o], t[o]
    out = np.zeros(n_reps, np.int64)
    d = 1
    while True:
        ok = (rep[d:] == rep[:-d]) & (t[d:] - t[:-d] < window_s) if rep.size > d else np.zeros(0, bool)
        if not ok.any():
            break
        diff = ok & (chain[d:] != chain[:-d])
        np.add.at(out, rep[d:][diff], 1)
        d += 1
    return out


def _stats(rep: IntArray, chain: IntArray, t: FloatArray, n_reps: int, n_chains: int) -> dict[str, FloatArray]:
    per = np.zeros((n_reps, n_chains), np.int64)
    np.add.at(per, (rep, chain), 1)
    return {"zero_count_chains": (per == 0).sum(axis=1).astype(float),
            "max_chain_count": per.max(axis=1).astype(float),
            "total_count": per.sum(axis=1).astype(float),
            "same_day_pairs": same_day_pairs(rep, chain, t, n_reps).astype(float)}


def predictive_checks(stats: object, n_reps: int = 2000, seed: int = 0) -> tuple[list[Check], SimulatedEvents]:
    """Posterior predictive checks of a fitted :class:`~seqrisk.stats.OutageStatistics` (see module doc)."""
    from seqrisk.stats.model import OutageStatistics

    assert isinstance(stats, OutageStatistics)
    es: EventSet = stats.events
    windows = {c: w for c, w in es.windows.items() if w and c in stats.model.chains}
    factor, top = _rate_factor(stats, list(windows))
    sim = simulate_history(stats.model, windows, n_reps, seed=seed, rate_factor=factor, max_factor=top)
    chains = sim.chains
    pos = {c: i for i, c in enumerate(chains)}
    obs = [e for e in es.events if e.chain in pos and e.type in sim.types]
    o = _stats(np.zeros(len(obs), np.int64), np.array([pos[e.chain] for e in obs], np.int64),
               np.array([e.start_utc for e in obs]), 1, len(chains))
    r = _stats(sim.rep, sim.chain, sim.t, n_reps, len(chains))
    out = []
    for name in CHECKS:
        x, y = r[name], float(o[name][0])
        out.append(Check(name, y, float(x.mean()), (float(np.quantile(x, 0.05)), float(np.quantile(x, 0.95))),
                         float(np.mean(x >= y)), float(np.mean(x <= y)), x))
    return out, sim


def _rate_factor(stats: object, chains: Sequence[str]) -> tuple[Callable[[int, FloatArray], FloatArray] | None,
                                                               float]:
    """The time structure's rate factor relative to the as-of date (None when no covariate varies in time)."""
    tr = getattr(stats, "trend", None)
    if tr is None or not ({"first_year", "calendar"} & set(tr.covariates)):
        return None, 1.0
    now = {c: float(tr.chain_factor(c, np.array([tr.as_of_s]))[0]) for c in chains}
    ts = np.linspace(min(a for w in tr.windows.values() for a, _ in w), tr.as_of_s, 800)
    top = max(float(np.max(tr.chain_factor(c, ts))) / now[c] for c in chains) * 1.01

    def factor(c: int, t: FloatArray) -> FloatArray:
        return tr.chain_factor(chains[c], t) / now[chains[c]]

    return factor, max(top, 1.0)


def forecast_counts(stats: object, horizon_s: float = YEAR_S, n_reps: int = 20000, seed: int = 0,
                    chains: Sequence[str] | None = None) -> list[ChainForecast]:
    """Predictive counts per chain and type over ``[as_of, as_of + horizon]`` (see module doc).

    Every chain of the model whose observation reaches the as-of date is
    simulated (a follow-on outage may come from any of them); ``chains``
    selects what is returned. Calendar time is held at the as-of date; chain
    age advances (the time structure, when kept)."""
    from seqrisk.stats.model import OutageStatistics

    assert isinstance(stats, OutageStatistics)
    as_of = stats.events.as_of_utc
    live = [c for c, w in stats.events.windows.items() if c in stats.model.chains and w and w[-1][1] >= as_of - 1.0]
    live = live or list(stats.model.chains)
    windows = {c: [(as_of, as_of + horizon_s)] for c in live}
    tr = stats.trend
    factor = None
    top = 1.0
    if tr is not None and "first_year" in tr.covariates:
        now = {c: float(tr.chain_factor(c, np.array([as_of]), hold_calendar=True)[0]) for c in live}

        def factor(c: int, t: FloatArray) -> FloatArray:
            return tr.chain_factor(live[c], t, hold_calendar=True) / now[live[c]]

        top = max(1.0, float(np.exp(max(0.0, -tr.coefficient("first_year")))) * 1.01)
    sim = simulate_history(stats.model, windows, n_reps, seed=seed, rate_factor=factor, max_factor=top)
    cnt = sim.counts()
    out = []
    for ci, c in enumerate(sim.chains):
        if chains is not None and c not in chains:
            continue
        for ti, ty in enumerate(sim.types):
            x = cnt[:, ci, ti]
            p = float(np.mean(x >= 1))
            out.append(ChainForecast(c, ty, float(x.mean()),
                                     (int(np.quantile(x, 0.05)), int(np.quantile(x, 0.95))),
                                     (int(np.quantile(x, 0.025)), int(np.quantile(x, 0.975))),
                                     p, float(np.sqrt(p * (1 - p) / n_reps))))
    return out
