"""The weighted loss distribution of a run: quantiles, exceedance curve and histogram without averaging by hand.

A simulated path stands for probability mass ``1/N``: with probability
``p_event`` its simulated outcome, with ``1 - p_event`` the no-outage
outcome (the *atom*, usually a loss of 0). So the distribution is a set of
(value, mass) points plus the atom. :class:`LossDistribution` holds them
either from every kept path (exact) or, by default, from the run's exact
upper tail (every outcome within the top ``KEEP_MASS`` of probability, as
for VaR and ES) plus a bounded systematic sample of the rest (paths whose id
is a multiple of ``stride``, each carrying ``stride`` times its mass); the
mass the sample leaves out sits on the atom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqrisk._typing import FloatArray, IntArray
from seqrisk.display import Displayed, Shown
from seqrisk.units import format_usd

__all__ = ["SAMPLE_PATHS", "LossDistribution", "sample_stride", "systematic_sample"]

#: Target size of the systematic sample of the body of the distribution, per series.
SAMPLE_PATHS = 20_000


def sample_stride(n_paths: int) -> int:
    """Keep every ``stride``-th path (by global id) in the body sample."""
    return max(1, -(-n_paths // SAMPLE_PATHS))


@dataclass(frozen=True, repr=False)
class LossDistribution(Displayed):
    """(value, probability) points of a loss over the horizon, USD, sorted by value; masses sum to 1.

    ``exact_from``: at and above this value every point is an exact outcome of the run (the tail, or all
    paths when they were kept); below it the points are a weighted sample.
    """

    values: FloatArray
    masses: FloatArray
    exact_from: float

    @classmethod
    def build(cls, atom: float, n_paths: int, tail: tuple[FloatArray, FloatArray],
              sample: tuple[FloatArray, FloatArray, int] | None = None) -> LossDistribution:
        """From the tail ``(values, p)`` (exact), an optional body sample ``(values, p, stride)`` and the atom."""
        tv, tp = tail
        n = max(n_paths, 1)
        vals = [np.asarray(tv, float)]
        mass = [np.asarray(tp, float) / n]
        exact_from = float(tv.min()) if tv.size else np.inf
        if sample is not None:
            sv, sp, stride = sample
            body = np.asarray(sv) < exact_from
            vals.append(np.asarray(sv, float)[body])
            mass.append(np.asarray(sp, float)[body] * stride / n)
        v = np.concatenate(vals)
        m = np.concatenate(mass)
        rest = max(1.0 - float(m.sum()), 0.0)
        v = np.append(v, atom)
        m = np.append(m, rest)
        o = np.argsort(v, kind="stable")
        v, m = v[o], m[o]
        uv, inv = np.unique(v, return_inverse=True)
        mm = np.bincount(inv, weights=m, minlength=uv.size)
        return cls(values=uv, masses=mm / mm.sum(), exact_from=exact_from if tv.size else -np.inf)

    @classmethod
    def from_paths(cls, values: FloatArray, p_event: FloatArray, atom: float) -> LossDistribution:
        """Exact, from every path (``p_event`` per path, the rest of each path's mass on ``atom``)."""
        n = max(values.size, 1)
        v = np.append(np.asarray(values, float), atom)
        m = np.append(np.asarray(p_event, float) / n, float(np.sum(1.0 - np.asarray(p_event))) / n)
        uv, inv = np.unique(v, return_inverse=True)
        mm = np.bincount(inv, weights=m, minlength=uv.size)
        return cls(values=uv, masses=mm / mm.sum(), exact_from=-np.inf)

    def cdf(self, x: FloatArray | float) -> FloatArray:
        """P(L <= x)."""
        c = np.cumsum(self.masses)
        i = np.searchsorted(self.values, np.asarray(x, float), side="right")
        return np.where(i > 0, c[np.maximum(i - 1, 0)], 0.0)

    def exceedance(self, x: FloatArray | float) -> FloatArray:
        """P(L > x), the exceedance curve (summed from the top, so small tail probabilities keep their digits)."""
        above = np.append(np.cumsum(self.masses[::-1])[::-1], 0.0)
        return above[np.searchsorted(self.values, np.asarray(x, float), side="right")]

    def quantile(self, level: FloatArray | float) -> FloatArray:
        """VaR: ``inf {x : P(L <= x) >= level}`` (USD)."""
        c = np.cumsum(self.masses)
        lv = np.asarray(level, float)
        i = np.searchsorted(c, lv - 1e-12, side="left")
        return self.values[np.minimum(i, self.values.size - 1)]

    def mean(self) -> float:
        """Expected loss of these points (exact with kept paths; else the body is sampled)."""
        return float(np.sum(self.values * self.masses))

    def histogram(self, bins: int | FloatArray = 50) -> tuple[FloatArray, FloatArray]:
        """(probability per bin, bin edges in USD) of the loss, the atom included in its bin."""
        h, edges = np.histogram(self.values, bins=bins, weights=self.masses)
        return h, edges

    def curve(self, points: int = 2000) -> tuple[FloatArray, FloatArray]:
        """(x, P(L > x)) at up to ``points`` values of the distribution above the atom, for plotting."""
        ex = self.exceedance(self.values)
        keep = np.unique(np.linspace(0, self.values.size - 1, min(self.values.size, points)).astype(int))
        return self.values[keep], ex[keep]


    def to_frame(self) -> pd.DataFrame:
        """One row per point: ``loss_usd``, ``probability`` (its mass), ``exceedance`` (P(L > loss_usd)) and
        ``exact`` (False where the point stands for a weighted sample of the body)."""
        return pd.DataFrame({"loss_usd": self.values, "probability": self.masses,
                             "exceedance": self.exceedance(self.values), "exact": self.values >= self.exact_from})

    def _shown(self) -> Shown:
        levels = np.array([0.5, 0.9, 0.95, 0.99, 0.999])
        table = pd.DataFrame({"loss": [format_usd(float(v)) for v in self.quantile(levels)]},
                             index=pd.Index([f"quantile {lv:g}" for lv in levels]))
        exact = ("every point exact" if not np.isfinite(self.exact_from) or self.exact_from <= self.values[0]
                 else f"exact from {format_usd(self.exact_from)} up, a weighted sample below")
        return Shown(f"LossDistribution: {self.values.size:,} points, mean {format_usd(self.mean())} (USD over the "
                     "horizon)", table, (f"{exact}; P(L > 0) = {float(self.exceedance(0.0)):.3g}. "
                                         ".to_frame() gives every point.",))


def systematic_sample(values: FloatArray, p: FloatArray, gid: IntArray, atom: float, stride: int
                      ) -> tuple[FloatArray, FloatArray, IntArray]:
    """The paths of a chunk in the body sample: global id a multiple of ``stride``, outcome not the atom."""
    sel = (gid % stride == 0) & (values != atom)
    return values[sel], p[sel], gid[sel]
