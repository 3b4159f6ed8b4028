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
from scipy import optimize, special
from scipy import stats as sps

from seqrisk._typing import FloatArray
from seqrisk.exceptions import DataError, NotFittedError

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


class GammaPoissonPooling:
    """Empirical-Bayes gamma-Poisson pooling of per-chain event counts.

    Model: ``k_c ~ Poisson(lambda_c T_c)``, ``lambda_c ~ Gamma(shape=a, rate=b)``
    with prior mean ``m = a/b`` (per year) and prior weight ``b`` (years of
    exposure the prior is worth). ``(m, b)`` maximise the negative-binomial
    marginal likelihood; ``b`` is capped at the total exposure (the prior may not
    weigh more than all the data it was estimated from, which bounds the
    complete-pooling limit when the counts show no over-dispersion). Posterior:
    ``Gamma(a + k_c, b + T_c)``; every chain gets one, a chain with no event
    (or no exposure) included.

    Learned: ``prior_mean_per_year_``, ``prior_weight_years_``, ``prior_shape_``,
    ``posterior_shape_``, ``posterior_rate_years_`` (arrays per chain),
    ``pooled_rate_per_year_``/``rates_per_year_`` (posterior means),
    ``intervals_`` ((n, 2) equal-tailed posterior intervals), ``raw_rates_per_year_``,
    ``raw_intervals_`` (Garwood), ``shrinkage_`` (weight on the prior mean,
    ``b / (b + T_c)``).
    """

    def __init__(self, *, level: float = 0.95) -> None:
        self.level = level

    def fit(self, counts: Sequence[float] | FloatArray, exposures_years: Sequence[float] | FloatArray,
            labels: Sequence[str] | None = None) -> GammaPoissonPooling:
        k = np.asarray(counts, dtype=float)
        t = np.asarray(exposures_years, dtype=float)
        if k.shape != t.shape or k.ndim != 1 or k.size == 0:
            raise DataError("counts and exposures must be 1-d arrays of the same length", value=(k.shape, t.shape))
        if np.any(k < 0) or np.any(t < 0) or not np.all(np.isfinite(t)):
            raise DataError("counts and exposures must be >= 0 and finite")
        n_tot, t_tot = float(k.sum()), float(t.sum())
        if t_tot <= 0:
            raise DataError("no exposure: cannot estimate a rate")
        if n_tot <= 0:
            raise DataError("no events: the pooled rate would be 0 (use garwood_interval for an upper bound)")
        self.labels_ = list(labels) if labels is not None else [str(i) for i in range(k.size)]
        b_max = t_tot
        b_min = 1e-6 * t_tot

        def nll(theta: FloatArray) -> float:
            m, b = np.exp(theta[0]), np.exp(theta[1])
            a = m * b
            ll = (special.gammaln(a + k) - special.gammaln(a) - special.gammaln(k + 1)
                  + a * np.log(b / (b + t)) + k * np.log(np.where(t > 0, t / (b + t), 1.0)))
            return float(-ll.sum())

        m0 = n_tot / t_tot
        starts = [np.array([np.log(m0), np.log(b)]) for b in (b_min * 10, 0.1 * t_tot, b_max)]
        best = min((optimize.minimize(nll, x0, method="L-BFGS-B",
                                      bounds=[(np.log(m0) - 10, np.log(m0) + 10), (np.log(b_min), np.log(b_max))])
                    for x0 in starts), key=lambda r: r.fun)
        m, b = float(np.exp(best.x[0])), float(np.exp(best.x[1]))
        self.prior_mean_per_year_ = m
        self.prior_weight_years_ = b
        self.prior_shape_ = m * b
        self.at_weight_cap_ = bool(best.x[1] > np.log(b_max) - 1e-3)
        self.counts_ = k
        self.exposures_years_ = t
        self.posterior_shape_ = self.prior_shape_ + k
        self.posterior_rate_years_ = b + t
        self.rates_per_year_ = self.posterior_shape_ / self.posterior_rate_years_
        a = 1 - self.level
        self.intervals_ = np.column_stack([
            sps.gamma.ppf(a / 2, self.posterior_shape_, scale=1 / self.posterior_rate_years_),
            sps.gamma.ppf(1 - a / 2, self.posterior_shape_, scale=1 / self.posterior_rate_years_)])
        with np.errstate(divide="ignore", invalid="ignore"):
            self.raw_rates_per_year_ = np.where(t > 0, k / np.where(t > 0, t, 1.0), np.nan)
        lo, hi = garwood_interval(k, t, level=self.level)
        self.raw_intervals_ = np.column_stack([lo, hi])
        self.shrinkage_ = b / (b + t)
        self.pooled_rate_per_year_ = n_tot / t_tot
        self.pooled_interval_ = garwood_interval(n_tot, t_tot, level=self.level)
        self.loglik_ = float(-best.fun)
        return self

    def _check(self) -> None:
        if not hasattr(self, "rates_per_year_"):
            raise NotFittedError("GammaPoissonPooling is not fitted; call fit() first")

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        """Posterior draws of every chain's rate per year, shape ``(size, n_chains)``."""
        self._check()
        return rng.gamma(self.posterior_shape_, 1.0 / self.posterior_rate_years_, size=(size, self.counts_.size))

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
