"""Sweep one lever's parameter on common random numbers: both parties' curves and a stated trade-off.

A lever moves both parties' losses, often in opposite directions: a longer
grace period spares holders liquidations they could have avoided and leaves
the venue with more bad debt. A sweep therefore reports both expected-loss
curves, each with its standard error, and never adds them silently. The
decision belongs to one party (``perspective``, the party that controls the
lever); its objective is its own expected loss (plus its own cost of the lever
when ``with_cost``) plus ``weight`` times the other party's expected loss, the
weighting stated by the user (0: its own loss only). The sweep gives:

* the minimiser on the grid and a 90 % interval for it: a paired bootstrap of
  the paths (the same resampled paths for every grid value) re-finds the
  minimiser 400 times;
* the values whose paired difference to the minimiser is within two standard errors;
* for each grid value, the range of weights under which it is the optimum
  (the lower-left frontier of the two curves), so a reader with another
  weighting reads off their own optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqrisk.decide.base import Mitigation, Strategy, check_party
from seqrisk.decide.compare import Comparison, compare
from seqrisk.decide.measures import Estimate, PairedDiff, measure, paired_diff
from seqrisk.decide.paths import Simulate
from seqrisk.display import Displayed, Shown, pm_usd
from seqrisk.exceptions import UsageError
from seqrisk.outage import OutageModel

__all__ = ["BOOTSTRAP", "SweepResult", "optimal_weight_ranges", "sweep"]

#: paired bootstrap resamples for the interval of the minimiser
BOOTSTRAP = 400


def _other(party: str) -> str:
    return "venue" if party == "holder" else "holder"


@dataclass(frozen=True, repr=False)
class SweepResult(Displayed):
    """Both parties' expected loss along one parameter, the objective of the deciding party and its optimum.

    ``curve`` is ``own EL (+ own cost) + weight x other EL`` per value (USD over
    the horizon); ``best_interval`` is the 90 % paired-bootstrap interval of
    the minimiser; ``weight_ranges[i]`` is the ``(low, high)`` range of weights
    for which value ``i`` minimises the objective (None: for no weight).
    """

    param: str
    values: tuple[float, ...]
    perspective: str
    weight: float
    with_cost: bool
    holder: tuple[Estimate, ...]
    venue: tuple[Estimate, ...]
    curve: tuple[Estimate, ...]
    best_value: float
    best_interval: tuple[float, float]
    vs_best: tuple[PairedDiff, ...]
    near_best: tuple[float, ...]
    weight_ranges: tuple[tuple[float, float] | None, ...]
    comparison: Comparison

    def to_frame(self) -> Any:
        """One row per value: both parties' EL and the objective with standard errors (USD), the weight range."""
        import pandas as pd

        return pd.DataFrame({
            self.param: self.values,
            "holder_el_usd": [e.value for e in self.holder], "holder_el_se": [e.se for e in self.holder],
            "venue_el_usd": [e.value for e in self.venue], "venue_el_se": [e.se for e in self.venue],
            "objective_usd": [e.value for e in self.curve], "objective_se": [e.se for e in self.curve],
            "weight_range": self.weight_ranges})

    def plot(self) -> Any:
        """Both parties' EL and the objective along the parameter, with the optimum marked (plotly)."""
        from seqrisk.decide.plots import sweep_figure

        return sweep_figure(self)

    def _shown(self) -> Shown:
        import pandas as pd

        rows = {f"{v:g}": {"holder EL": pm_usd(h.value, h.se), "venue EL": pm_usd(w.value, w.se),
                           "objective": pm_usd(c.value, c.se)}
                for v, h, w, c in zip(self.values, self.holder, self.venue, self.curve, strict=True)}
        lo, hi = self.best_interval
        return Shown(f"SweepResult: {self.param} for the {self.perspective}, minimising {self.objective}; best "
                     f"{self.best_value:g} (90% interval {lo:g} to {hi:g})",
                     pd.DataFrame.from_dict(rows, orient="index").rename_axis(self.param),
                     ("USD over the horizon ± one standard error.",))

    @property
    def objective(self) -> str:
        """The objective in words."""
        own = "venue bad debt" if self.perspective == "venue" else "holder loss"
        other = "holder loss" if self.perspective == "venue" else "venue bad debt"
        text = own + (f" + {self.perspective}'s cost" if self.with_cost else "")
        return text + (f" + {self.weight:g} x {other}" if self.weight else "")


def optimal_weight_ranges(own: Sequence[float], other: Sequence[float]) -> list[tuple[float, float] | None]:
    """For each point ``i``, the weights ``w >= 0`` under which ``own[i] + w other[i]`` is the smallest.

    Point estimates: the lower-left frontier of the two curves. ``None`` for a
    point that is never the optimum; the high end may be ``inf``.
    """
    v, h = np.asarray(own, float), np.asarray(other, float)
    out: list[tuple[float, float] | None] = []
    for i in range(v.size):
        lo, hi = 0.0, math.inf
        for j in range(v.size):
            if j == i:
                continue
            dh, dv = h[i] - h[j], v[j] - v[i]
            if dh > 0:
                hi = min(hi, dv / dh)
            elif dh < 0:
                lo = max(lo, dv / dh)
            elif dv < 0 or (dv == 0 and j < i):  # equal curves: the first of equal points is the optimum
                hi = -1.0
        out.append((lo, hi) if lo <= hi else None)
    return out


def _argmin_interval(y: np.ndarray, values: Sequence[float], seed: int) -> tuple[float, float]:
    """90 % interval of the minimiser of the column means of ``y`` (paths, values) by a paired bootstrap.

    Values tied at the minimum of a resample (equal to rounding, e.g. no bad
    debt at any of them) all count: the interval runs from the 5 % quantile of
    the first tied value to the 95 % quantile of the last.
    """
    rng = np.random.default_rng(seed)
    n = y.shape[0]
    first, last = np.empty(BOOTSTRAP, np.int64), np.empty(BOOTSTRAP, np.int64)
    for b in range(BOOTSTRAP):
        m = y[rng.integers(0, n, n)].mean(axis=0)
        tied = np.flatnonzero(m <= m.min() + 1e-9 * max(1.0, float(np.abs(m).max())))
        first[b], last[b] = tied[0], tied[-1]
    lo = np.quantile(first, 0.05, method="inverted_cdf")
    hi = np.quantile(last, 0.95, method="inverted_cdf")
    return float(values[int(lo)]), float(values[int(hi)])


def sweep(book: Any, model: OutageModel, scenario: Any, param: str, values: Sequence[float],
          make: Callable[[float], Strategy | Mitigation], *, perspective: str = "holder", weight: float = 0.0,
          with_cost: bool = False, simulate: Simulate | None = None) -> SweepResult:
    """Evaluate ``make(v)`` for each value on common random numbers; both curves, the objective, its optimum.

    The objective is ``perspective``'s expected loss (plus its cost when
    ``with_cost``) plus ``weight`` times the other party's (USD over the horizon).
    """
    check_party(perspective)
    if len(values) < 2:
        raise UsageError("a sweep needs at least two values", field="sweep")
    if not (weight >= 0 and math.isfinite(weight)):
        raise UsageError("the weight of the other party's loss is a number >= 0", field="weight", value=weight)
    strats = []
    for v in values:
        s = make(v)
        strats.append(s if isinstance(s, Strategy) else Strategy(f"{param}={v:g}", (s,)))
    cmp = compare(book, model, scenario, strats, simulate=simulate)
    rows, outs = cmp.results[1:], cmp.outcomes[1:]
    other = _other(perspective)
    costs = np.array([r.cost_usd(perspective) if with_cost else 0.0 for r in rows])  # exact: no error
    per_path = []  # per-path objective (USD), the cost added after
    for o in outs:
        p = np.ones(o.n_paths) if o.p_event is None else np.asarray(o.p_event, float)
        per_path.append(p * (o.loss_usd(perspective) + weight * o.loss_usd(other)))
    y = np.column_stack(per_path)
    curve = tuple(Estimate(float(y[:, i].mean()) + costs[i], float(y[:, i].std(ddof=1) / math.sqrt(y.shape[0])))
                  for i in range(y.shape[1]))
    ib = int(np.argmin([c.value for c in curve]))
    vs = []
    for i in range(y.shape[1]):
        d = paired_diff("el", y[:, ib], y[:, i])
        vs.append(PairedDiff(d.value + costs[i] - costs[ib], d.se, d.se_unpaired))
    near = tuple(float(v) for v, d in zip(values, vs, strict=True) if d.value <= 2 * d.se)
    seed = int(getattr(scenario, "seed", 0))
    interval = _argmin_interval(y + costs[None, :], values, seed)
    holder = tuple(measure(o.loss_usd("holder"), "el", o.p_event)[0] for o in outs)
    venue = tuple(measure(o.loss_usd("venue"), "el", o.p_event)[0] for o in outs)
    own = [(h if perspective == "holder" else v).value + c for h, v, c in zip(holder, venue, costs, strict=True)]
    oth = [(v if perspective == "holder" else h).value for h, v in zip(holder, venue, strict=True)]
    return SweepResult(param=param, values=tuple(float(v) for v in values), perspective=perspective,
                       weight=float(weight), with_cost=with_cost, holder=holder, venue=venue, curve=curve,
                       best_value=float(values[ib]), best_interval=interval, vs_best=tuple(vs), near_best=near,
                       weight_ranges=tuple(optimal_weight_ranges(own, oth)), comparison=cmp)
