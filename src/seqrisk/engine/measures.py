"""Risk measures of a weighted, streamed loss sample with exact tail merging.

Each simulated path j represents mass ``1/N``: with probability ``p_j`` its
simulated outcome ``x_j`` and with ``1 - p_j`` the no-outage outcome ``a0``
(known exactly; ``p_j = 1`` without conditioning). Means are averages of
``y_j = p_j f(x_j) + (1 - p_j) f(a0)``, with standard error ``sd(y)/sqrt(N)``.

VaR and ES come from the weighted empirical distribution. Only its upper tail
matters, so each chunk keeps its largest outcomes up to a mass ``keep_mass``
(a superset of the global tail, hence the merge is exact):

- ``VaR_a = inf {x : F(x) >= a}`` (for equal weights: the ``ceil(a N)``-th
  smallest value, as in the benchmark SPEC);
- ``ES_a = VaR_a + E[(X - VaR_a)^+] / (1 - a)`` (Rockafellar-Uryasev: the exact
  expected shortfall of the empirical law), standard error from the per-path
  terms of the expectation;
- the VaR's standard error is half the width of the order-statistic interval
  ``[q(a - s_F), q(a + s_F)]`` with ``s_F`` the standard error of the
  weighted CDF at VaR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from seqrisk._typing import FloatArray, IntArray

__all__ = ["LEVELS", "TailBuffer", "WeightedTotals", "tail_measures"]

LEVELS = (0.95, 0.99, 0.999)


@dataclass
class TailBuffer:
    """The largest outcomes of a stream: value, event weight ``p`` and global path id."""

    keep_mass: float
    n_total: int
    value: FloatArray = field(default_factory=lambda: np.zeros(0))
    p: FloatArray = field(default_factory=lambda: np.zeros(0))
    path: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))

    def add(self, value: FloatArray, p: FloatArray, path: IntArray) -> None:
        self.value = np.concatenate([self.value, value])
        self.p = np.concatenate([self.p, p])
        self.path = np.concatenate([self.path, path])
        self._trim()

    def merge(self, other: TailBuffer) -> None:
        self.add(other.value, other.p, other.path)

    def _trim(self) -> None:
        order = np.lexsort((self.path, -self.value))
        v, p, idx = self.value[order], self.p[order], self.path[order]
        mass_before = np.concatenate([[0.0], np.cumsum(p)[:-1]]) / self.n_total
        keep = mass_before < self.keep_mass
        self.value, self.p, self.path = v[keep], p[keep], idx[keep]


@dataclass
class WeightedTotals:
    """Sums over paths of ``y`` and ``y**2`` for a set of named per-path quantities."""

    n: int = 0
    sum_p: float = 0.0
    sum_p2: float = 0.0
    s1: dict[str, FloatArray] = field(default_factory=dict)
    s2: dict[str, FloatArray] = field(default_factory=dict)

    def add(self, name: str, y: FloatArray) -> None:
        """Add the per-path terms ``y`` (shape (paths,) or (paths, k))."""
        a, b = y.sum(axis=0), (y * y).sum(axis=0)
        if name in self.s1:
            self.s1[name] = self.s1[name] + a
            self.s2[name] = self.s2[name] + b
        else:
            self.s1[name], self.s2[name] = np.asarray(a, float), np.asarray(b, float)

    def merge(self, other: WeightedTotals) -> None:
        self.n += other.n
        self.sum_p += other.sum_p
        self.sum_p2 += other.sum_p2
        for k in other.s1:
            if k in self.s1:
                self.s1[k] = self.s1[k] + other.s1[k]
                self.s2[k] = self.s2[k] + other.s2[k]
            else:
                self.s1[k], self.s2[k] = other.s1[k].copy(), other.s2[k].copy()

    def mean_se(self, name: str) -> tuple[FloatArray, FloatArray]:
        """Mean and its standard error of quantity ``name``."""
        n = max(self.n, 1)
        m = self.s1[name] / n
        var = np.maximum(self.s2[name] / n - m * m, 0.0) * n / max(n - 1, 1)
        return m, np.sqrt(var / n)


def _quantile(vals: FloatArray, mass: FloatArray, level: float) -> float:
    """``inf {x : F(x) >= level}`` from values sorted descending with masses (total mass 1)."""
    above = np.concatenate([[0.0], np.cumsum(mass)[:-1]])
    ok = np.flatnonzero(above <= 1.0 - level + 1e-12)
    if ok.size == 0:
        return float(vals[0])
    return float(vals[ok[-1]]) if ok[-1] < vals.size else float(vals[-1])


def tail_measures(buf: TailBuffer, atom_value: float, n: int, sum_p: float, sum_p2: float,
                  levels: tuple[float, ...] = LEVELS) -> dict[float, dict[str, float]]:
    """VaR and ES (with standard errors) at each level, USD."""
    n = max(n, 1)
    atom_mass = (n - sum_p) / n
    v = np.concatenate([buf.value, [atom_value]])
    m = np.concatenate([buf.p / n, [atom_mass]])
    pv = np.concatenate([buf.p, [np.nan]])
    order = np.argsort(-v, kind="stable")
    v, m, pv = v[order], m[order], pv[order]
    s1m = n - 2 * sum_p + sum_p2  # sum over paths of (1 - p)^2
    out: dict[float, dict[str, float]] = {}
    lo_level = 1.0 - buf.keep_mass
    for a in levels:
        var = _quantile(v, m, a)
        samp = ~np.isnan(pv)
        ex = np.where(samp, np.maximum(v - var, 0.0), 0.0)
        c0 = max(atom_value - var, 0.0)
        sum_y = float(np.sum(pv[samp] * ex[samp])) + c0 * (n - sum_p)
        sum_y2 = float(np.sum((pv[samp] * ex[samp]) ** 2 + 2 * pv[samp] * (1 - pv[samp]) * ex[samp] * c0)) \
            + c0 * c0 * s1m
        mean_y = sum_y / n
        var_y = max(sum_y2 / n - mean_y ** 2, 0.0) * n / max(n - 1, 1)
        es = var + mean_y / (1.0 - a)
        es_se = math.sqrt(var_y / n) / (1.0 - a)
        ind = samp & (v > var)
        c1 = 1.0 if atom_value > var else 0.0
        sum_f = float(np.sum(pv[ind])) + c1 * (n - sum_p)
        sum_f2 = float(np.sum(pv[ind] ** 2 + 2 * pv[ind] * (1 - pv[ind]) * c1)) + c1 * s1m
        mf = sum_f / n
        s_f = math.sqrt(max(sum_f2 / n - mf * mf, 0.0) / n)
        hi = _quantile(v, m, min(a + s_f, 1.0 - 1e-15))
        lo = _quantile(v, m, max(a - s_f, lo_level))
        out[a] = {"var": var, "var_se": max(hi - lo, 0.0) / 2.0, "es": es, "es_se": es_se}
    return out
