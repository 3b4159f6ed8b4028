"""Compare strategies against a baseline on common random numbers.

Every strategy runs the engine with the baseline's scenario (same seed, same
paths) changed only by its levers, so the engine draws the same market and
outage paths. Per strategy and party (the holder's attributable loss, the
venue's bad debt; never their sum) the figures are EL, VaR and ES at 99 % and
99.9 % (USD over the horizon) and P(any liquidation), each with its Monte Carlo
standard error, and the difference to the baseline with its *paired* standard
error (and the unpaired one, to show what the pairing buys). Costs carry the
party that pays them, so a reduction per dollar is always one party's loss
against that party's cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from seqrisk.decide.base import (
    PARTIES,
    Cost,
    Mitigation,
    Outcome,
    Setup,
    Strategy,
    as_strategies,
    check_party,
    cost_of,
    costs_by_item,
    effective_inputs,
    replace_fields,
)
from seqrisk.decide.measures import Estimate, PairedDiff, measure, paired_diff
from seqrisk.decide.paths import Simulate, engine_simulate, to_outcome, with_paths
from seqrisk.display import Displayed, Shown, pm_usd
from seqrisk.exceptions import UsageError
from seqrisk.outage import OutageModel

__all__ = ["MEASURES", "PERSPECTIVES", "Comparison", "StrategyResult", "compare", "run_setup"]

#: The parties whose losses are measured, each on its own.
PERSPECTIVES = PARTIES
MEASURES = ("el", "var99", "es99", "var99.9", "es99.9")


def run_setup(setup: Setup, simulate: Simulate | None = None) -> tuple[Outcome, tuple[Cost, ...]]:
    """Run the engine on a setup, then its covers; returns the outcome and all its costs (USD per horizon)."""
    sim = simulate or engine_simulate()
    out = to_outcome(sim(setup.book, setup.model, with_paths(setup.scenario)))
    costs = tuple(setup.costs)
    for cover in setup.covers:
        out, add = cover(out, setup)
        costs = (*costs, *add)
    return out, costs


def per_usd(diff: float, cost_usd: float) -> float:
    """Loss cut per dollar of cost (``-diff / cost``); ``inf`` when free and helpful, ``-inf`` when free and
    harmful, 0 when free and neutral."""
    if cost_usd <= 0:
        return math.inf if diff < 0 else (0.0 if diff == 0 else -math.inf)
    return -diff / cost_usd


@dataclass(frozen=True)
class StrategyResult:
    """One strategy's figures. Keys are ``'<party>.<measure>'`` (``holder.el``, ``venue.es99`` ...) and
    ``'p_liquidation'``.

    ``diffs`` hold ``strategy - baseline`` (empty for the baseline itself);
    ``costs`` are the strategy's costs over the horizon with the party paying each.
    """

    name: str
    levers: tuple[str, ...]
    n_paths: int
    costs: tuple[Cost, ...]
    measures: Mapping[str, Estimate]
    diffs: Mapping[str, PairedDiff] = field(default_factory=dict)
    description: str = "no lever"
    party: str | None = None

    @property
    def costs_usd(self) -> dict[str, float]:
        """USD per cost item (capital, premium, trading ...), whoever pays."""
        return costs_by_item(self.costs)

    def cost_usd(self, party: str | None = None) -> float:
        """Cost (USD over the horizon) paid by ``party``; by anyone when None."""
        return cost_of(self.costs, party)

    def reduction_per_usd(self, key: str = "holder.es99") -> float:
        """Cut of ``key`` (baseline - strategy) per dollar of cost paid by the same party; nan without a diff."""
        d = self.diffs.get(key)
        if d is None:
            return math.nan
        return per_usd(d.value, self.cost_usd(key.partition(".")[0]))


def _p_liq(out: Outcome) -> Estimate:
    if out.liquidated is not None:
        return measure(np.asarray(out.liquidated, float), "p", out.p_event)[0]
    if out.p_liquidation is not None:
        return Estimate(*out.p_liquidation)
    return Estimate(math.nan, math.nan)


def _measures(out: Outcome) -> dict[str, Estimate]:
    res: dict[str, Estimate] = {}
    for p in PERSPECTIVES:
        x = out.loss_usd(p)
        for m in MEASURES:
            res[f"{p}.{m}"] = measure(x, m, out.p_event)[0]
    res["p_liquidation"] = _p_liq(out)
    return res


def _diffs(base: Outcome, out: Outcome) -> dict[str, PairedDiff]:
    if base.n_paths != out.n_paths:
        raise UsageError("strategies must run on the same number of paths to be paired", field="paths")
    res: dict[str, PairedDiff] = {}
    for p in PERSPECTIVES:
        xb, xo = base.loss_usd(p), out.loss_usd(p)
        for m in MEASURES:
            res[f"{p}.{m}"] = paired_diff(m, xb, xo, base.p_event, out.p_event)
    if base.liquidated is not None and out.liquidated is not None:
        res["p_liquidation"] = paired_diff("p", np.asarray(base.liquidated, float),
                                           np.asarray(out.liquidated, float), base.p_event, out.p_event)
    else:  # the engine gives no per-path liquidation flags: only the unpaired error is known
        a, b = _p_liq(base), _p_liq(out)
        res["p_liquidation"] = PairedDiff(b.value - a.value, math.nan, math.hypot(a.se, b.se))
    return res


@dataclass(frozen=True, repr=False)
class Comparison(Displayed):
    """Strategies against the baseline (the first row), with the per-path outcomes kept.

    Shows as a table: each party's EL and ES 99% (USD over the horizon, ± standard error), the change of
    the holder's and the venue's ES 99% against the baseline (± paired standard error) and each party's cost.
    """

    results: tuple[StrategyResult, ...]
    outcomes: tuple[Outcome, ...]

    @property
    def baseline(self) -> StrategyResult:
        return self.results[0]

    def best_levers(self, key: str = "holder.es99", *, party: str | None = None) -> list[tuple[str, float]]:
        """Strategies ranked by the cut of ``key`` per dollar of the same party's cost (best first).

        ``party`` keeps only the strategies that party controls.
        """
        rows = [(r.name, r.reduction_per_usd(key)) for r in self.results[1:] if party is None or r.party == party]
        return sorted(rows, key=lambda t: -t[1] if not math.isnan(t[1]) else math.inf)

    def summary(self, perspective: str | None = None) -> Any:
        """A DataFrame: one row per strategy, columns ``<key>``, ``<key>_se``, ``d_<key>``, ``d_<key>_se``,
        ``d_<key>_se_unpaired``, ``cost_<party>_usd`` (``perspective`` keeps one party's columns)."""
        import pandas as pd

        keep = PERSPECTIVES if perspective is None else (check_party(perspective),)
        rows = []
        for r in self.results:
            row: dict[str, Any] = {"strategy": r.name, "controlled_by": r.party or "-", "levers": r.description}
            for p in keep:
                row[f"cost_{p}_usd"] = r.cost_usd(p)
            for k, e in r.measures.items():
                if k.partition(".")[0] not in keep and k != "p_liquidation":
                    continue
                row[k], row[f"{k}_se"] = e.value, e.se
                d = r.diffs.get(k)
                row[f"d_{k}"] = d.value if d else 0.0
                row[f"d_{k}_se"] = d.se if d else 0.0
                row[f"d_{k}_se_unpaired"] = d.se_unpaired if d else 0.0
            rows.append(row)
        return pd.DataFrame(rows).set_index("strategy")

    def to_frame(self, perspective: str | None = None) -> Any:
        """The :meth:`summary` table (USD over the horizon)."""
        return self.summary(perspective)

    def plot(self, key: str = "es99") -> Any:
        """Forest plot of each strategy's change of ``key`` against the baseline, per party, with 95% intervals
        from the paired standard errors (a plotly figure)."""
        from seqrisk.decide.plots import effects_figure

        if key not in MEASURES:
            raise UsageError(f"no such measure (one of {', '.join(MEASURES)})", field="key", value=key)
        return effects_figure(self, key)

    def _shown(self) -> Shown:
        import pandas as pd

        rows: dict[str, dict[str, str]] = {}
        for r in self.results:
            row = {"controlled_by": r.party or "-"}
            for p in PERSPECTIVES:
                row[f"{p} EL"] = pm_usd(r.measures[f"{p}.el"].value, r.measures[f"{p}.el"].se)
                row[f"{p} ES 99%"] = pm_usd(r.measures[f"{p}.es99"].value, r.measures[f"{p}.es99"].se)
                d = r.diffs.get(f"{p}.es99")
                row[f"{p} ES 99% change"] = pm_usd(d.value, d.se) if d else ""
                row[f"{p} cost"] = pm_usd(r.cost_usd(p), math.nan)
            rows[r.name] = row
        return Shown(f"Comparison: {len(self.results) - 1} strategies against the baseline on the same "
                     f"{self.baseline.n_paths:,} paths", pd.DataFrame.from_dict(rows, orient="index"),
                     ("USD over the horizon, ± one Monte Carlo standard error; changes are strategy - baseline "
                      "with the paired standard error. More: .summary(perspective), .best_levers(key).",))


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
            name=s.name, levers=tuple(lv.label for lv in s.levers), n_paths=out.n_paths, costs=costs,
            measures=_measures(out), diffs=_diffs(outcomes[0], out) if len(outcomes) > 1 else {},
            description=s.describe(), party=s.party))
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
