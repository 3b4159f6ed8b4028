"""Compare strategies against a baseline on common random numbers, and sweep one parameter.

Every strategy runs the engine with the baseline's scenario (same seed, same
paths) changed only by its levers, so the engine draws the same market and
outage paths (MODEL.md section 5). Per strategy and perspective (holder,
venue = bad debt, total = both) the figures are EL, VaR and ES at 99 % and
99.9 % (USD over the horizon) and P(any liquidation), each with its Monte Carlo
standard error, and the difference to the baseline with its *paired* standard
error (and the unpaired one, to show what the pairing buys).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqrisk.exceptions import UsageError
from seqrisk.mitigation.base import Mitigation, Outcome, Setup, Strategy, as_strategies
from seqrisk.mitigation.measures import Estimate, PairedDiff, measure, paired_diff
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
    "to_outcome",
]

PERSPECTIVES = ("holder", "venue", "total")
MEASURES = ("el", "var99", "es99", "var99.9", "es99.9")

#: ``simulate(book, model, scenario)``: the engine, or a stand-in returning an :class:`Outcome`.
Simulate = Callable[[Any, OutageModel, Any], Any]


def to_outcome(result: Any) -> Outcome:
    """Per-path arrays of an engine :class:`SimulationResult` (or an :class:`Outcome`, returned as is)."""
    if isinstance(result, Outcome):
        return result
    raise UsageError(f"cannot read per-path losses from a {type(result).__name__}", field="result")


def _engine_simulate() -> Simulate:
    import importlib

    sim: Simulate = importlib.import_module("seqrisk.engine").simulate  # imported late: layer 3, heavy
    return sim


def run_setup(setup: Setup, simulate: Simulate | None = None) -> tuple[Outcome, dict[str, float]]:
    """Run the engine on a setup, then its covers; returns the outcome and all costs (USD per horizon)."""
    sim = simulate or _engine_simulate()
    out = to_outcome(sim(setup.book, setup.model, setup.scenario))
    costs = dict(setup.costs_usd)
    for cover in setup.covers:
        out, add = cover(out)
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


def _measures(out: Outcome) -> dict[str, Estimate]:
    res: dict[str, Estimate] = {}
    for p in PERSPECTIVES:
        x = _series(out, p)
        for m in MEASURES:
            res[f"{p}.{m}"] = measure(x, m, out.weights)[0]
    res["p_liquidation"] = measure(np.asarray(out.liquidated, float), "p", out.weights)[0]
    return res


def _diffs(base: Outcome, out: Outcome) -> dict[str, PairedDiff]:
    if base.n_paths != out.n_paths:
        raise UsageError("strategies must run on the same number of paths to be paired", field="paths")
    res: dict[str, PairedDiff] = {}
    for p in PERSPECTIVES:
        xb, xo = _series(base, p), _series(out, p)
        for m in MEASURES:
            res[f"{p}.{m}"] = paired_diff(m, xb, xo, base.weights, out.weights)
    res["p_liquidation"] = paired_diff("p", np.asarray(base.liquidated, float), np.asarray(out.liquidated, float),
                                       base.weights, out.weights)
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
    start = Setup(book=book, scenario=scenario, model=model)
    results: list[StrategyResult] = []
    outcomes: list[Outcome] = []
    for s in strats:
        setup = s.apply(start)
        out, costs = run_setup(setup, simulate)
        outcomes.append(out)
        results.append(StrategyResult(
            name=s.name, levers=tuple(lv.label for lv in s.levers), n_paths=out.n_paths,
            cost_usd=float(sum(costs.values())), costs_usd=costs, measures=_measures(out),
            diffs=_diffs(outcomes[0], out) if len(outcomes) > 1 else {}))
    return Comparison(tuple(results), tuple(outcomes))


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


def _objective(out: Outcome, key: str, cost: float) -> np.ndarray:
    persp, _, m = key.partition(".")
    if m != "el":
        raise UsageError("a sweep objective is an expected loss: holder.el, venue.el or total.el", field="objective",
                         value=key)
    return _series(out, persp) + cost


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
    ys = [_objective(o, objective, r.cost_usd if with_cost else 0.0) for r, o in zip(rows, outs, strict=True)]
    w = outs[0].weights
    curve = tuple(measure(y, "el", w)[0] for y in ys)
    ib = int(np.argmin([c.value for c in curve]))
    vs = tuple(paired_diff("el", ys[ib], y, w, w) for y in ys)
    near = tuple(float(v) for v, d in zip(values, vs, strict=True) if d.value <= 2 * d.se)
    return SweepResult(param=param, values=tuple(float(v) for v in values), objective=objective, with_cost=with_cost,
                       curve=curve, best_value=float(values[ib]), vs_best=vs, near_best=near, comparison=cmp)
