"""Risk measures of one run and their paired differences against another on the same paths.

Point values follow :func:`seqrisk.allocation.tail_measures` (order-index VaR
and ES) for equally weighted paths, and the Rockafellar-Uryasev form
``VaR + E[w (X - VaR)+] / (1 - a)`` for weighted paths. Standard errors of
differences use influence functions evaluated path by path, so two runs on
common random numbers give the *paired* error ``sd(IF_b - IF_a) / sqrt(N)``;
the unpaired ``sqrt(se_a^2 + se_b^2)`` is kept for comparison.

* EL: ``IF = w x - EL``
* ES_a: ``IF = w ((x - VaR)+ / (1 - a) + VaR) - ES``
* P(liquidation): ``IF = w 1{liq} - p``
* VaR_a: error from the binomial spread of the order statistic (unpaired only;
  paired VaR differences get a 100-resample paired bootstrap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqrisk._typing import BoolArray, FloatArray
from seqrisk.allocation import tail_measures

__all__ = ["Estimate", "PairedDiff", "level_name", "measure", "paired_diff"]

_Z = 1.959963984540054
#: paired-bootstrap resamples for VaR differences
_BOOT = 100


def level_name(alpha: float) -> str:
    """``0.99 -> '99'``, ``0.999 -> '99.9'``."""
    return f"{alpha * 100:g}"


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo figure (USD or probability) with its standard error."""

    value: float
    se: float

    def interval(self, z: float = _Z) -> tuple[float, float]:
        return (self.value - z * self.se, self.value + z * self.se)


@dataclass(frozen=True)
class PairedDiff:
    """``strategy - baseline`` of one measure: paired and unpaired standard errors."""

    value: float
    se: float
    se_unpaired: float


def _w(n: int, weights: FloatArray | None) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, float)
    return w * (n / w.sum())


def _var_weighted(x: FloatArray, w: FloatArray, alpha: float) -> float:
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    i = int(np.searchsorted(cum, alpha - 1e-12, side="left"))
    return float(x[order][min(i, x.size - 1)])


def _var_se(x: FloatArray, alpha: float) -> float:
    n = x.size
    half = _Z * math.sqrt(n * alpha * (1 - alpha))
    s = np.sort(x)
    lo = s[max(0, math.floor(n * alpha - half) - 1)]
    hi = s[min(n - 1, math.ceil(n * alpha + half) - 1)]
    return float((hi - lo) / (2 * _Z))


def measure(x: FloatArray, name: str, weights: FloatArray | None = None) -> tuple[Estimate, FloatArray | None]:
    """A measure (``'el'``, ``'var99'``, ``'es99.9'``, ``'p'`` for a 0/1 array) and its influence values.

    Returns the estimate and the per-path influence function (None for VaR).
    """
    x = np.asarray(x, float)
    n = x.size
    w = _w(n, weights)
    if name in ("el", "p"):
        y = w * x
        m = float(y.mean())
        return Estimate(m, float(y.std(ddof=1) / math.sqrt(n))), y - m
    kind, alpha = name[:3], float(name[3:]) / 100.0
    if weights is None:
        tm = tail_measures(x, alpha)
        var, es = tm.var, tm.es
        var_se, es_se = _var_se(x, alpha), tm.es_se
    else:
        var = _var_weighted(x, w, alpha)
        es = var + float(np.mean(w * np.maximum(x - var, 0.0))) / (1 - alpha)
        var_se = math.nan
        es_se = math.nan
    infl = w * (np.maximum(x - var, 0.0) / (1 - alpha) + var) - es
    if weights is not None:
        es_se = float(infl.std(ddof=1) / math.sqrt(n))
    if kind == "var":
        return Estimate(var, var_se), None
    return Estimate(es, es_se), infl


def paired_diff(name: str, base: FloatArray, other: FloatArray, weights_base: FloatArray | None = None,
                weights_other: FloatArray | None = None, *, seed: int = 0) -> PairedDiff:
    """``measure(other) - measure(base)`` with its paired and unpaired standard errors."""
    eb, ib = measure(base, name, weights_base)
    eo, io = measure(other, name, weights_other)
    n = np.size(base)
    unpaired = math.hypot(eb.se, eo.se)
    if ib is not None and io is not None:
        return PairedDiff(eo.value - eb.value, float((io - ib).std(ddof=1) / math.sqrt(n)), unpaired)
    # VaR: paired bootstrap over paths (order statistic by partition, O(n) per resample)
    rng = np.random.default_rng(seed)
    xb, xo = np.asarray(base, float), np.asarray(other, float)
    reps = np.empty(_BOOT)
    for r in range(_BOOT):
        idx = rng.integers(0, n, n)
        reps[r] = (_var_boot(xo[idx], name, None if weights_other is None else weights_other[idx])
                   - _var_boot(xb[idx], name, None if weights_base is None else weights_base[idx]))
    return PairedDiff(eo.value - eb.value, float(reps.std(ddof=1)), unpaired)


def _var_boot(x: FloatArray, name: str, weights: FloatArray | None) -> float:
    alpha = float(name[3:]) / 100.0
    if weights is not None:
        return _var_weighted(x, _w(x.size, weights), alpha)
    k = min(max(-(-round(alpha * 1e6) * x.size // 1_000_000), 1), x.size)
    return float(np.partition(x, k - 1)[k - 1])


def liquidation_probability(liquidated: BoolArray, weights: FloatArray | None = None) -> Estimate:
    """P(any liquidation on a path) with its standard error."""
    return measure(np.asarray(liquidated, float), "p", weights)[0]
