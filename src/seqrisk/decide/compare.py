"""Compare strategies against a baseline on common random numbers, and sweep one parameter.

Every strategy runs the engine with the baseline's scenario (same seed, same
paths) changed only by its levers, so the engine draws the same market and
outage paths. Per strategy and perspective (holder,
venue = bad debt, total = both) the figures are EL, VaR and ES at 99 % and
99.9 % (USD over the horizon) and P(any liquidation), each with its Monte Carlo
standard error, and the difference to the baseline with its *paired* standard
error (and the unpaired one, to show what the pairing buys).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from seqrisk.decide.base import (
    Mitigation,
    Outcome,
    Setup,
    Strategy,
    as_strategies,
    effective_inputs,
    replace_fields,
)
from seqrisk.decide.measures import Estimate, PairedDiff, measure, paired_diff
from seqrisk.decide.paths import Simulate, engine_simulate, to_outcome
from seqrisk.exceptions import UsageError
from seqrisk.outage import OutageModel

__all__ = [
    "MEASURES",
    "PERSPECTIVES",
    "Comparison",
    "StrategyResult",
    "SweepResult",
    "compare",
    "run_setup",
    "sweep",
]

PERSPECTIVES = ("holder", "venue", "total")
MEASURES = ("el", "var99", "es99", "var99.9", "es99.9")

def run_setup(setup: Setup, simulate: Simulate | None = None) -> tuple[Outcome, dict[str, float]]:
    """Run the engine on a setup, then its covers; returns the outcome and all costs (USD per horizon)."""
    sim = simulate or engine_simulate()
    out = to_outcome(sim(setup.book, setup.model, setup.scenario))
    costs = dict(setup.costs_usd)
    for cover in setup.covers:
        out, add = cover(out, setup)
        for k, v in add.items():
            costs[k] = costs.get(k, 0.0) + float(v)
    return out, costs


def _series(out: Outcome, perspective: str) -> np.ndarray:
    if perspective == "holder":
        return np.asarray(out.holder_usd, float)
    if perspective == "venue":
        return np.asarray(out.venue_usd, float)
    return out.total_usd


@dataclass(frozen=True)
class StrategyResult:
    """One strategy's figures. Keys are ``'<perspective>.<measure>'`` and ``'p_liquidation'``.

    ``diffs`` hold ``strategy - baseline`` (empty for the baseline itself);
    ``cost_usd`` is the strategy's cost over the horizon (capital, premium, fees).
    """

    name: str
    levers: tuple[str, ...]
    n_paths: int
    cost_usd: float
    costs_usd: Mapping[str, float]
    measures: Mapping[str, Estimate]
    diffs: Mapping[str, PairedDiff] = field(default_factory=dict)

    def reduction_per_usd(self, key: str = "total.es99") -> float:
        """Risk reduction (baseline - strategy) per dollar of cost; inf when free and helpful, nan if no diff."""
        d = self.diffs.get(key)
        if d is None:
            return math.nan
        if self.cost_usd <= 0:
            return math.inf if d.value < 0 else (0.0 if d.value == 0 else -math.inf)
        return -d.value / self.cost_usd


def _p_liq(out: Outcome) -> Estimate:
    if out.liquidated is not None:
        return measure(np.asarray(out.liquidated, float), "p", out.p_event)[0]
    if out.p_liquidation is not None:
        return Estimate(*out.p_liquidation)
    return Estimate(math.nan, math.nan)


def _measures(out: Outcome) -> dict[str, Estimate]:
    res: dict[str, Estimate] = {}
    for p in PERSPECTIVES:
        x = _series(out, p)
        for m in MEASURES:
            res[f"{p}.{m}"] = measure(x, m, out.p_event)[0]
    res["p_liquidation"] = _p_liq(out)
    return res


def _diffs(base: Outcome, out: Outcome) -> dict[str, PairedDiff]:
    if base.n_paths != out.n_paths:
        raise UsageError("strategies must run on the same number of paths to be paired", field="paths")
    res: dict[str, PairedDiff] = {}
    for p in PERSPECTIVES:
        xb, xo = _series(base, p), _series(out, p)
        for m in MEASURES:
            res[f"{p}.{m}"] = paired_diff(m, xb, xo, base.p_event, out.p_event)
    if base.liquidated is not None and out.liquidated is not None:
        res["p_liquidation"] = paired_diff("p", np.asarray(base.liquidated, float),
                                           np.asarray(out.liquidated, float), base.p_event, out.p_event)
    else:  # the engine gives no per-path liquidation flags: only the unpaired error is known
        a, b = _p_liq(base), _p_liq(out)
        res["p_liquidation"] = PairedDiff(b.value - a.value, math.nan, math.hypot(a.se, b.se))
    return res


@dataclass(frozen=True)
class Comparison:
    """Strategies against the baseline (the first row), with the per-path outcomes kept."""

    results: tuple[StrategyResult, ...]
    outcomes: tuple[Outcome, ...]

    @property
    def baseline(self) -> StrategyResult:
        return self.results[0]

    def best_levers(self, key: str = "total.es99") -> list[tuple[str, float]]:
        """Strategies ranked by risk reduction of ``key`` per dollar of cost (best first)."""
        rows = [(r.name, r.reduction_per_usd(key)) for r in self.results[1:]]
        return sorted(rows, key=lambda t: -t[1] if not math.isnan(t[1]) else math.inf)

    def summary(self) -> Any:
        """A DataFrame: one row per strategy, columns ``<key>``, ``<key>_se``, ``d_<key>``, ``d_<key>_se``."""
        import pandas as pd

        rows = []
        for r in self.results:
            row: dict[str, Any] = {"strategy": r.name, "cost_usd": r.cost_usd}
            for k, e in r.measures.items():
                row[k], row[f"{k}_se"] = e.value, e.se
                d = r.diffs.get(k)
                row[f"d_{k}"] = d.value if d else 0.0
                row[f"d_{k}_se"] = d.se if d else 0.0
                row[f"d_{k}_se_unpaired"] = d.se_unpaired if d else 0.0
            row["reduction_per_usd"] = r.reduction_per_usd()
            rows.append(row)
        return pd.DataFrame(rows).set_index("strategy")


def compare(book: Any, model: OutageModel, scenario: Any,
            strategies: Sequence[Strategy | Mitigation] | Mapping[str, Sequence[Mitigation]], *,
            simulate: Simulate | None = None, baseline: Strategy | None = None) -> Comparison:
    """Run the baseline and each strategy on the same scenario (seed, paths); figures and paired differences.

    ``baseline`` defaults to no lever on ``scenario`` as given.
    """
    strats = [baseline or Strategy("baseline"), *as_strategies(strategies)]
    model, scenario = effective_inputs(model, scenario)
    start = Setup(book=book, scenario=scenario, model=model)
    setups = [s.apply(start) for s in strats]
    setups = _common_chains(setups)
    results: list[StrategyResult] = []
    outcomes: list[Outcome] = []
    for s, setup in zip(strats, setups, strict=True):
        out, costs = run_setup(setup, simulate)
        outcomes.append(out)
        results.append(StrategyResult(
            name=s.name, levers=tuple(lv.label for lv in s.levers), n_paths=out.n_paths,
            cost_usd=float(sum(costs.values())), costs_usd=costs, measures=_measures(out),
            diffs=_diffs(outcomes[0], out) if len(outcomes) > 1 else {}))
    return Comparison(tuple(results), tuple(outcomes))


def _common_chains(setups: list[Setup]) -> list[Setup]:
    """Simulate the same chains in every run (the union of the books' chains) so outage paths are shared.

    Only when the scenario leaves ``chains`` to the book (engine scenarios); the
    engine draws outages per simulated chain, so a strategy that moves positions
    to a new chain would otherwise change every random stream.
    """
    sc = setups[0].scenario
    if getattr(type(sc), "model_fields", None) is None or "chains" not in type(sc).model_fields:
        return setups
    if any(getattr(s.scenario, "chains", None) is not None for s in setups):
        return setups
    union = list(dict.fromkeys(c for s in setups for c in s.book.chains))
    return [replace(s, scenario=replace_fields(s.scenario, "scenario", chains=union)) for s in setups]


@dataclass(frozen=True)
class SweepResult:
    """An objective along one parameter, its minimiser, and the values not distinguishable from it.

    ``objective`` is a key (e.g. ``'total.el'`` = venue bad debt + holder
    loss), plus the strategy's cost when ``with_cost``. ``near_best`` lists the
    values whose paired difference to the minimiser is within 2 standard errors.
    """

    param: str
    values: tuple[float, ...]
    objective: str
    with_cost: bool
    curve: tuple[Estimate, ...]
    best_value: float
    vs_best: tuple[PairedDiff, ...]
    near_best: tuple[float, ...]
    comparison: Comparison


def _objective(out: Outcome, key: str) -> np.ndarray:
    persp, _, m = key.partition(".")
    if m != "el" or persp not in PERSPECTIVES:
        raise UsageError("a sweep objective is an expected loss: holder.el, venue.el or total.el", field="objective",
                         value=key)
    return _series(out, persp)


def sweep(book: Any, model: OutageModel, scenario: Any, param: str, values: Sequence[float],
          make: Callable[[float], Strategy | Mitigation], *, objective: str = "total.el", with_cost: bool = False,
          simulate: Simulate | None = None) -> SweepResult:
    """Evaluate ``make(v)`` for each value on common random numbers; the curve of ``objective`` and its minimiser."""
    if len(values) < 2:
        raise UsageError("a sweep needs at least two values", field="sweep")
    strats = []
    for v in values:
        s = make(v)
        strats.append(s if isinstance(s, Strategy) else Strategy(f"{param}={v:g}", (s,)))
    cmp = compare(book, model, scenario, strats, simulate=simulate)
    rows, outs = cmp.results[1:], cmp.outcomes[1:]
    ys = [_objective(o, objective) for o in outs]
    ps = [o.p_event for o in outs]
    cost = [r.cost_usd if with_cost else 0.0 for r in rows]  # known exactly: added to the mean, no error
    curve = tuple(Estimate(e.value + c, e.se) for e, c in
                  ((measure(y, "el", p)[0], c) for y, p, c in zip(ys, ps, cost, strict=True)))
    ib = int(np.argmin([c.value for c in curve]))
    vs = tuple(PairedDiff(d.value + c - cost[ib], d.se, d.se_unpaired) for d, c in
               ((paired_diff("el", ys[ib], y, ps[ib], p), c) for y, p, c in zip(ys, ps, cost, strict=True)))
    near = tuple(float(v) for v, d in zip(values, vs, strict=True) if d.value <= 2 * d.se)
    return SweepResult(param=param, values=tuple(float(v) for v in values), objective=objective, with_cost=with_cost,
                       curve=curve, best_value=float(values[ib]), vs_best=vs, near_best=near, comparison=cmp)
