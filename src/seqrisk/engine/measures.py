"""Risk measures of a weighted, streamed loss sample with exact tail merging.

Each simulated path j represents mass ``1/N``: with probability ``p_j`` its
simulated outcome ``x_j`` and with ``1 - p_j`` the no-outage outcome ``a0``
(known exactly; ``p_j = 1`` without conditioning). Means are averages of
``y_j = p_j f(x_j) + (1 - p_j) f(a0)``, with standard error ``sd(y)/sqrt(N)``.

VaR and ES come from the weighted empirical distribution. Only its upper tail
matters, so each chunk keeps its largest outcomes up to a mass ``keep_mass``
(a superset of the global tail, hence the merge is exact):

- ``VaR_a = inf {x : F(x) >= a}`` (for equal weights: the ``ceil(a N)``-th
  smallest value, as in the benchmark's reference model);
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
    """The largest outcomes of a stream: value, event weight ``p`` and global path id.

    Outcomes equal to the no-outage value ``atom`` are not stored: they are
    counted (``n_atom``, and the sums of their ``p`` and ``p**2``) and join the
    atom's mass, which they are indistinguishable from. What is stored is
    trimmed to the outcomes with less than ``keep_mass`` of stored mass above
    them, a superset of the global tail whatever the grouping. While the stored
    mass is below ``keep_mass`` nothing can be trimmed and the outcomes are only
    appended; :meth:`finish` puts them in their canonical order (value
    descending, then path id) once the stream ends.
    """

    keep_mass: float
    n_total: int
    atom: float = 0.0
    value: FloatArray = field(default_factory=lambda: np.zeros(0))
    p: FloatArray = field(default_factory=lambda: np.zeros(0))
    path: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    n_atom: int = 0
    sum_p_atom: float = 0.0
    sum_p2_atom: float = 0.0

    def add(self, value: FloatArray, p: FloatArray, path: IntArray) -> None:
        at = value == self.atom
        if at.any():
            self.n_atom += int(at.sum())
            self.sum_p_atom += float(p[at].sum())
            self.sum_p2_atom += float((p[at] ** 2).sum())
            keep = ~at
            value, p, path = value[keep], p[keep], path[keep]
        self.value = np.concatenate([self.value, value])
        self.p = np.concatenate([self.p, p])
        self.path = np.concatenate([self.path, path])
        if self.p.sum() / self.n_total >= self.keep_mass:  # otherwise nothing can go: sorting waits for finish()
            self._trim()

    def finish(self) -> None:
        """Trim and sort (value descending, then path id): the same arrays whatever the chunking."""
        self._trim()

    def merge(self, other: TailBuffer) -> None:
        self.n_atom += other.n_atom
        self.sum_p_atom += other.sum_p_atom
        self.sum_p2_atom += other.sum_p2_atom
        self.add(other.value, other.p, other.path)

    def _trim(self) -> None:
        if self.p.sum() / self.n_total < self.keep_mass:
            order = np.lexsort((self.path, -self.value))
            self.value, self.p, self.path = self.value[order], self.p[order], self.path[order]
            return
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


def tail_measures(buf: TailBuffer, n: int, sum_p: float, sum_p2: float,
                  levels: tuple[float, ...] = LEVELS) -> dict[float, dict[str, float]]:
    """VaR and ES (with standard errors) at each level, USD.

    ``n``, ``sum_p`` and ``sum_p2`` are the number of paths and the sums of
    their event weights and squared weights.
    """
    n = max(n, 1)
    a0 = buf.atom
    atom_mass = (n - sum_p + buf.sum_p_atom) / n
    order = np.argsort(-np.concatenate([buf.value, [a0]]), kind="stable")
    v = np.concatenate([buf.value, [a0]])[order]
    m = np.concatenate([buf.p / n, [atom_mass]])[order]
    pv = np.concatenate([buf.p, [np.nan]])[order]
    samp = ~np.isnan(pv)
    ps = pv[samp]
    # paths whose outcome differs from the atom ("non-atom"): sums of (1 - p) and (1 - p)^2
    n_na = n - buf.n_atom
    s_na1 = n_na - (sum_p - buf.sum_p_atom)
    s_na2 = n_na - 2 * (sum_p - buf.sum_p_atom) + (sum_p2 - buf.sum_p2_atom)
    out: dict[float, dict[str, float]] = {}
    lo_level = 1.0 - buf.keep_mass
    for a in levels:
        var = _quantile(v, m, a)
        ex = np.maximum(v[samp] - var, 0.0)
        c0 = max(a0 - var, 0.0)
        # per path y = p (x - VaR)^+ + (1 - p) c0 (non-atom paths), y = c0 (atom-like paths)
        sum_y = float(np.sum(ps * ex)) + c0 * (s_na1 + buf.n_atom)
        sum_y2 = float(np.sum((ps * ex + (1 - ps) * c0) ** 2 - ((1 - ps) * c0) ** 2)) + c0 * c0 * (s_na2 + buf.n_atom)
        mean_y = sum_y / n
        var_y = max(sum_y2 / n - mean_y ** 2, 0.0) * n / max(n - 1, 1)
        es = var + mean_y / (1.0 - a)
        es_se = math.sqrt(var_y / n) / (1.0 - a)
        ind = (v[samp] > var).astype(float)
        c1 = 1.0 if a0 > var else 0.0
        sum_f = float(np.sum(ps * ind)) + c1 * (s_na1 + buf.n_atom)
        sum_f2 = float(np.sum((ps * ind + (1 - ps) * c1) ** 2 - ((1 - ps) * c1) ** 2)) + c1 * (s_na2 + buf.n_atom)
        mf = sum_f / n
        s_f = math.sqrt(max(sum_f2 / n - mf * mf, 0.0) / n)
        hi = _quantile(v, m, min(a + s_f, 1.0 - 1e-15))
        lo = _quantile(v, m, max(a - s_f, lo_level))
        out[a] = {"var": var, "var_se": max(hi - lo, 0.0) / 2.0, "es": es, "es_se": es_se}
    return out
