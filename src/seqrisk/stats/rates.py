"""Poisson event rates: exact (Garwood) intervals and empirical-Bayes pooling across chains.

Rates are per year (365 days); exposures in years.

>>> lo, hi = garwood_interval(0, 1.0)
>>> (lo, round(hi, 3))
(0.0, 3.689)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from seqrisk._typing import FloatArray
from seqrisk.display import Displayed, Shown
from seqrisk.exceptions import DataError, NotFittedError
from seqrisk.stats.durations import minimize_bounded

__all__ = ["GammaPoissonPooling", "garwood_interval"]


def garwood_interval(count: Any, exposure: Any, *, level: float = 0.95) -> tuple[Any, Any]:
    """Exact (Garwood) interval for a Poisson rate: ``count`` events over ``exposure``.

    Lower ``chi2(a/2, 2k)/2/T`` (0 when k = 0), upper ``chi2(1-a/2, 2k+2)/2/T``,
    in events per unit of ``exposure``; vectorised. Zero exposure gives ``(0, inf)``.
    """
    k = np.asarray(count, dtype=float)
    t = np.asarray(exposure, dtype=float)
    a = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, sps.chi2.ppf(a / 2, 2 * np.maximum(k, 1.0)) / 2.0, 0.0) / t
        hi = sps.chi2.ppf(1 - a / 2, 2 * k + 2) / 2.0 / t
    lo = np.where(t > 0, lo, 0.0)
    hi = np.where(t > 0, hi, np.inf)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


#: Smallest prior shape a (hyperprior bound): Gamma(0.5) already spans ~4 orders of magnitude (95%),
#: and the bound keeps the prediction for a chain with little exposure finite and sensible.
A_MIN = 0.5


def _nb_loglik(k: FloatArray, t: FloatArray, m: FloatArray, a: FloatArray) -> FloatArray:
    """Negative-binomial marginal log-likelihood summed over chains, for arrays of (m, a)."""
    m, a = m[..., None], a[..., None]
    b = a / m
    ll = (special.gammaln(a + k) - special.gammaln(a) - special.gammaln(k + 1)
          + a * np.log(b / (b + t)) + k * np.log(np.where(t > 0, t / (b + t), 1.0)))
    return np.asarray(ll.sum(axis=-1))


class GammaPoissonPooling(Displayed):
    """Gamma-Poisson pooling of per-chain event counts (hierarchical or empirical Bayes).

    Model: ``k_c ~ Poisson(lambda_c T_c)``, ``lambda_c ~ Gamma(shape=a, rate=b)``
    with prior mean ``m = a/b`` (per year) and prior weight ``b = a/m`` (years of
    exposure the prior is worth). The negative-binomial marginal likelihood of
    ``(m, a)`` is maximised (``prior_*_`` attributes, the empirical-Bayes
    plug-in). ``a`` is bounded by the total count ``N``, so the prior weighs
    about as much as all the data it was estimated from at most (``b ~ T_total``):
    this bounds the complete-pooling limit when the counts show no over-dispersion.

    ``hyper="integrate"`` (default) integrates the chain posteriors over the
    hyperparameters on a grid (flat prior on ``log m``; on ``log a`` in
    ``[0.5, max(N, 1)]`` a standard logistic prior, i.e. the chains' coefficient
    of variation ``1/sqrt(a)`` has prior median 1, weakly informative), so the
    intervals carry the uncertainty of the pooled mean and of the amount of
    pooling; each chain's posterior is a mixture of gammas. Simulated coverage
    of the 95% intervals: 0.93 / 0.95 / 0.98 for true a = 0.7 / 2 / 8 with 30
    chains (the plug-in: 0.91 / 0.87 / 0.75).
    ``hyper="plugin"`` uses ``Gamma(a + k_c, b + T_c)`` at the maximum (classic
    empirical Bayes; intervals somewhat too narrow with few chains).
    Every chain gets a posterior, a chain with no event (or no exposure) included.

    Learned: ``prior_mean_per_year_``, ``prior_weight_years_``, ``prior_shape_``,
    ``rates_per_year_`` (posterior means), ``intervals_`` ((n, 2) equal-tailed
    posterior intervals), ``raw_rates_per_year_``, ``raw_intervals_`` (Garwood),
    ``shrinkage_`` (plug-in weight on the prior mean, ``b / (b + T_c)``),
    ``pooled_rate_per_year_`` and ``pooled_interval_`` (all chains as one, Garwood),
    ``weights_``, ``grid_shape_``, ``grid_weight_years_`` (the hyperparameter mixture).
    """

    def __init__(self, *, level: float = 0.95, hyper: str = "integrate", grid: int = 21) -> None:
        self.level = level
        self.hyper = hyper
        self.grid = grid

    def fit(self, counts: Sequence[float] | FloatArray, exposures_years: Sequence[float] | FloatArray,
            labels: Sequence[str] | None = None) -> GammaPoissonPooling:
        k = np.asarray(counts, dtype=float)
        t = np.asarray(exposures_years, dtype=float)
        if k.shape != t.shape or k.ndim != 1 or k.size == 0:
            raise DataError("counts and exposures must be 1-d arrays of the same length", value=(k.shape, t.shape))
        if np.any(k < 0) or np.any(t < 0) or not np.all(np.isfinite(t)):
            raise DataError("counts and exposures must be >= 0 and finite")
        if self.hyper not in ("integrate", "plugin"):
            raise DataError("hyper must be 'integrate' or 'plugin'", value=self.hyper)
        n_tot, t_tot = float(k.sum()), float(t.sum())
        if t_tot <= 0:
            raise DataError("no exposure: cannot estimate a rate")
        if n_tot <= 0:
            raise DataError("no events: the pooled rate would be 0 (use garwood_interval for an upper bound)")
        self.labels_ = list(labels) if labels is not None else [str(i) for i in range(k.size)]
        a_max = max(n_tot, 1.0)
        a_min = min(A_MIN, a_max)
        m0 = n_tot / t_tot

        def nll(theta: FloatArray) -> float:
            return float(-_nb_loglik(k, t, np.exp(theta[:1]), np.exp(theta[1:]))[0])

        bounds = [(np.log(m0) - 10, np.log(m0) + 10), (np.log(a_min), np.log(a_max))]
        best = min((minimize_bounded(nll, np.array([np.log(m0), np.log(a)]), bounds)
                    for a in (0.5 * a_max, 0.01 * a_max)), key=lambda r: r.fun)
        m, a_hat = float(np.exp(best.x[0])), float(np.exp(best.x[1]))
        b = a_hat / m
        self.prior_mean_per_year_ = m
        self.prior_weight_years_ = b
        self.prior_shape_ = a_hat
        self.at_weight_cap_ = bool(best.x[1] > np.log(a_max) - 1e-3)
        self.counts_ = k
        self.exposures_years_ = t
        self.loglik_ = float(-best.fun)
        if self.hyper == "plugin":
            self.weights_ = np.ones(1)
            self.grid_shape_ = np.array([a_hat])
            self.grid_weight_years_ = np.array([b])
        else:
            self._integrate(k, t, m, a_min, a_max)
        shape = self.grid_shape_[:, None] + k[None, :]           # (G, C)
        rate = self.grid_weight_years_[:, None] + t[None, :]
        self._shape, self._rate = shape, rate
        self.rates_per_year_ = self.weights_ @ (shape / rate)
        a = 1 - self.level
        self.intervals_ = np.column_stack([self._mixture_ppf(a / 2), self._mixture_ppf(1 - a / 2)])
        with np.errstate(divide="ignore", invalid="ignore"):
            self.raw_rates_per_year_ = np.where(t > 0, k / np.where(t > 0, t, 1.0), np.nan)
        lo, hi = garwood_interval(k, t, level=self.level)
        self.raw_intervals_ = np.column_stack([lo, hi])
        self.shrinkage_ = b / (b + t)
        self.pooled_rate_per_year_ = n_tot / t_tot
        self.pooled_interval_ = garwood_interval(n_tot, t_tot, level=self.level)
        return self

    def _integrate(self, k: FloatArray, t: FloatArray, m_hat: float, a_min: float, a_max: float) -> None:
        """Grid posterior of (log m, log a); two passes (wide, then around the mass)."""
        n = self.grid
        lm_lo, lm_hi = np.log(m_hat) - 4.0, np.log(m_hat) + 4.0
        la_lo, la_hi = np.log(a_min), np.log(a_max)
        for _ in range(2):
            lm = np.linspace(lm_lo, lm_hi, n)
            la = np.linspace(la_lo, la_hi, n)
            gm, ga = np.meshgrid(lm, la, indexing="ij")
            ll = _nb_loglik(k, t, np.exp(gm.ravel()), np.exp(ga.ravel()))
            ll = ll + ga.ravel() - 2 * np.logaddexp(0.0, ga.ravel())  # log-logistic(0, 1) prior on log a
            w = np.exp(ll - ll.max())
            w /= w.sum()
            keep = w > 1e-9
            mean_m = float(w @ gm.ravel())
            sd_m = float(np.sqrt(max(w @ (gm.ravel() - mean_m) ** 2, 1e-8)))
            lm_lo, lm_hi = mean_m - 6 * sd_m, mean_m + 6 * sd_m
            la_sel = ga.ravel()[keep]
            step = (la_hi - la_lo) / (n - 1)
            la_lo, la_hi = max(la_sel.min() - step, np.log(a_min)), min(la_sel.max() + step, np.log(a_max))
        order = np.argsort(w)[::-1]
        n_keep = int(np.searchsorted(np.cumsum(w[order]), 1 - 1e-4)) + 1
        keep = order[:n_keep]
        w = w[keep] / w[keep].sum()
        self.weights_ = w
        self.grid_shape_ = np.exp(ga.ravel()[keep])
        self.grid_mean_per_year_ = np.exp(gm.ravel()[keep])
        self.grid_weight_years_ = self.grid_shape_ / np.exp(gm.ravel()[keep])

    def _mixture_ppf(self, q: float) -> FloatArray:
        """Quantile ``q`` of every chain's posterior (mixture of gammas): safeguarded Newton on log rate."""
        shape, rate, w = self._shape, self._rate, self.weights_
        if w.size == 1:
            return np.asarray(sps.gamma.ppf(q, shape[0], scale=1.0 / rate[0]))
        mean = w @ (shape / rate)
        var = w @ (shape / rate ** 2 + (shape / rate) ** 2) - mean ** 2
        y = np.log(np.maximum(sps.gamma.ppf(q, mean ** 2 / var, scale=var / mean), 1e-300))  # moment-matched
        lo = np.log((shape / rate).min(axis=0)) - 25.0 / np.sqrt(shape.min(axis=0)) - 5.0
        hi = np.log((shape / rate).max(axis=0)) + 5.0
        y = np.clip(y, lo, hi)
        lg = special.gammaln(shape)
        for _ in range(60):
            x = np.exp(y)
            f = w @ special.gammainc(shape, rate * x[None, :]) - q
            dens = w @ np.exp(shape * (np.log(rate) + y[None, :]) - rate * x[None, :] - lg)  # x * pdf(x)
            lo = np.where(f < 0, y, lo)
            hi = np.where(f < 0, hi, y)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(f == 0, 0.0, np.where(dens > 0, f / dens, np.inf))
            if np.all(np.abs(step) < 1e-11):
                break
            y_new = y - step
            bad = ~np.isfinite(y_new) | (y_new < lo) | (y_new > hi)
            y = np.where(bad, 0.5 * (lo + hi), y_new)
        return np.asarray(np.exp(y))

    def _check(self) -> None:
        if not hasattr(self, "rates_per_year_"):
            raise NotFittedError("GammaPoissonPooling is not fitted; call fit() first")

    def sample(self, rng: np.random.Generator, size: int, chain: int | None = None) -> FloatArray:
        """Posterior draws of the rates per year: shape ``(size, n_chains)``, or ``(size,)`` for one chain index."""
        self._check()
        g = rng.choice(self.weights_.size, size=size, p=self.weights_)
        if chain is not None:
            return rng.gamma(self._shape[g, chain], 1.0 / self._rate[g, chain])
        return rng.gamma(self._shape[g], 1.0 / self._rate[g])

    def summary(self) -> pd.DataFrame:
        """Per chain: events, exposure (years), raw rate with Garwood interval, pooled rate with interval."""
        self._check()
        return pd.DataFrame({
            "events": self.counts_, "exposure_years": self.exposures_years_,
            "raw_rate_per_year": self.raw_rates_per_year_,
            "raw_low": self.raw_intervals_[:, 0], "raw_high": self.raw_intervals_[:, 1],
            "rate_per_year": self.rates_per_year_, "low": self.intervals_[:, 0], "high": self.intervals_[:, 1],
            "shrinkage": self.shrinkage_,
        }, index=pd.Index(self.labels_, name="chain"))

    def to_frame(self) -> pd.DataFrame:
        """The :meth:`summary` table (rates in events per year, exposure in years)."""
        return self.summary()

    def _shown(self) -> Shown:
        self._check()
        return Shown(
            f"GammaPoissonPooling ({self.hyper}): {int(self.counts_.sum())} events in "
            f"{self.exposures_years_.sum():.1f} chain-years on {len(self.labels_)} chains; prior mean "
            f"{self.prior_mean_per_year_:.3g} per year, worth {self.prior_weight_years_:.3g} years of exposure",
            self.summary().round(4),
            (f"Rates in events per year, {self.level:.0%} intervals (raw: Garwood; pooled: posterior). "
             ".plot() draws them as a forest plot.",))

    def plot(self, title: str = "raw vs pooled rates (events per year)") -> Any:
        """Forest plot: each chain's raw rate (Garwood interval) and pooled rate (posterior interval)."""
        from seqrisk.stats.plots import rate_forest

        self._check()
        return rate_forest(self, title)
