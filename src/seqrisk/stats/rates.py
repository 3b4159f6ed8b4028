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
from seqrisk.stats.optim import minimize_bounded

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
#: Level of each chain's own exact (Garwood) interval that the reported interval always contains.
ROBUST_LEVEL = 0.80


def _nb_loglik(k: FloatArray, t: FloatArray, m: FloatArray, a: FloatArray) -> FloatArray:
    """Negative-binomial marginal log-likelihood summed over chains, for arrays of (m, a)."""
    m, a = m[..., None], a[..., None]
    b = a / m
    ll = (special.gammaln(a + k) - special.gammaln(a) - special.gammaln(k + 1)
          + a * np.log(b / (b + t)) + k * np.log(np.where(t > 0, t / (b + t), 1.0)))
    return np.asarray(ll.sum(axis=-1))


def _log_hyperprior(log_a: FloatArray) -> FloatArray:
    """Standard logistic prior on log a (the chains' coefficient of variation 1/sqrt(a) has prior median 1)."""
    return np.asarray(log_a - 2 * np.logaddexp(0.0, log_a))


def gamma_mixture_ppf(q: float, weights: FloatArray, shape: FloatArray, rate: FloatArray) -> FloatArray:
    """Quantile ``q`` of each column's mixture of gammas ``sum_g w[g, c] Gamma(shape[g, c], rate[g, c])``.

    ``weights`` is (G,) (shared by the columns) or (G, C). Safeguarded Newton on the log scale from a
    moment-matched start, bracketed so it cannot leave the mixture's support; converges to 1e-11.
    """
    w = weights[:, None] if weights.ndim == 1 else weights
    if w.shape[0] == 1:
        return np.asarray(sps.gamma.ppf(q, shape[0], scale=1.0 / rate[0]))
    mean = np.sum(w * shape / rate, axis=0)
    var = np.sum(w * (shape / rate ** 2 + (shape / rate) ** 2), axis=0) - mean ** 2
    var = np.maximum(var, 1e-300)
    y = np.log(np.maximum(sps.gamma.ppf(q, mean ** 2 / var, scale=var / mean), 1e-300))  # moment-matched
    lo = np.log((shape / rate).min(axis=0)) - 25.0 / np.sqrt(shape.min(axis=0)) - 5.0
    hi = np.log((shape / rate).max(axis=0)) + 5.0 + 5.0 / np.sqrt(shape.min(axis=0))
    y = np.clip(y, lo, hi)
    lg = special.gammaln(shape)
    log_rate = np.log(rate)
    for _ in range(80):
        x = np.exp(y)
        f = np.sum(w * special.gammainc(shape, rate * x[None, :]), axis=0) - q
        dens = np.sum(w * np.exp(shape * (log_rate + y[None, :]) - rate * x[None, :] - lg), axis=0)  # x * pdf
        lo = np.where(f < 0, y, lo)
        hi = np.where(f < 0, hi, y)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # an infinite step bisects instead
            step = np.where(f == 0, 0.0, np.where(dens > 0, f / dens, np.inf))
        if np.all(np.abs(step) < 1e-11):
            break
        y_new = y - step
        bad = ~np.isfinite(y_new) | (y_new < lo) | (y_new > hi)
        y = np.where(bad, 0.5 * (lo + hi), y_new)
    return np.asarray(np.exp(y))


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
    hyperparameters (flat prior on ``log m``; on ``log a`` in
    ``[0.5, max(N, 1)]`` a standard logistic prior, i.e. the chains' coefficient
    of variation ``1/sqrt(a)`` has prior median 1, weakly informative) by
    tensor Gauss-Legendre quadrature on the box that holds the posterior mass
    (found by a first coarse pass), so each chain's posterior is a mixture of
    gammas whose means and quantiles are accurate to better than 0.1% (tested
    against adaptive quadrature). ``hyper="plugin"`` uses ``Gamma(a + k_c, b +
    T_c)`` at the maximum (classic empirical Bayes; intervals too narrow with
    few chains).

    Reported intervals (``intervals_``) are the equal-tailed posterior
    intervals (``posterior_intervals_``) widened where needed to contain the
    chain's own exact Garwood interval at ``robust_level`` (80%): whatever a
    chain's true rate, its interval then covers it at least 80% of the time,
    not only on average over chains (pooling shrinks the riskiest chains toward
    the mean, and pure posterior intervals cover the top fifth of chains only
    ~80% of the time at the catalog's design). Posterior draws
    (:meth:`sample`, :meth:`posterior_draws`) are the hierarchical posterior itself.

    Learned: ``prior_mean_per_year_``, ``prior_weight_years_``, ``prior_shape_``,
    ``rates_per_year_`` (posterior means), ``intervals_`` ((n, 2), see above),
    ``posterior_intervals_``, ``raw_rates_per_year_``, ``raw_intervals_``
    (Garwood), ``shrinkage_`` (plug-in weight on the prior mean, ``b / (b +
    T_c)``), ``pooled_rate_per_year_`` and ``pooled_interval_`` (all chains as
    one, Garwood), ``weights_``, ``grid_shape_``, ``grid_weight_years_`` (the
    hyperparameter mixture), ``loglik_`` (maximised marginal log-likelihood).
    """

    def __init__(self, *, level: float = 0.95, hyper: str = "integrate", grid: int = 32,
                 robust_level: float = ROBUST_LEVEL) -> None:
        self.level = level
        self.hyper = hyper
        self.grid = grid
        self.robust_level = robust_level

    def fit(self, counts: Sequence[float] | FloatArray, exposures_years: Sequence[float] | FloatArray,
            labels: Sequence[str] | None = None, *,
            raw_exposures_years: Sequence[float] | FloatArray | None = None) -> GammaPoissonPooling:
        """Fit to counts over exposures (years). ``raw_exposures_years``: the calendar exposures behind
        covariate-adjusted (effective) ``exposures_years``, for the raw rates and their Garwood intervals."""
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
            self.grid_mean_per_year_ = np.array([m])
        else:
            self._integrate(k, t, m, a_min, a_max)
        shape = self.grid_shape_[:, None] + k[None, :]           # (G, C)
        rate = self.grid_weight_years_[:, None] + t[None, :]
        self._shape, self._rate = shape, rate
        self.rates_per_year_ = self.weights_ @ (shape / rate)
        a = 1 - self.level
        self.posterior_intervals_ = np.column_stack([self._mixture_ppf(a / 2), self._mixture_ppf(1 - a / 2)])
        t_raw = t if raw_exposures_years is None else np.asarray(raw_exposures_years, dtype=float)
        self.raw_exposures_years_ = t_raw
        with np.errstate(divide="ignore", invalid="ignore"):
            self.raw_rates_per_year_ = np.where(t_raw > 0, k / np.where(t_raw > 0, t_raw, 1.0), np.nan)
        lo, hi = garwood_interval(k, t_raw, level=self.level)
        self.raw_intervals_ = np.column_stack([lo, hi])
        rlo, rhi = garwood_interval(k, t, level=self.robust_level)
        rhi = np.where(np.isfinite(rhi), rhi, 0.0)  # no exposure: nothing of its own to contain
        self.intervals_ = np.column_stack([np.minimum(self.posterior_intervals_[:, 0], rlo),
                                           np.maximum(self.posterior_intervals_[:, 1], rhi)])
        self.shrinkage_ = b / (b + t)
        self.pooled_rate_per_year_ = n_tot / t_tot
        self.pooled_interval_ = garwood_interval(n_tot, t_tot, level=self.level)
        self.rate_factor_ = np.ones(k.size)
        return self

    def _integrate(self, k: FloatArray, t: FloatArray, m_hat: float, a_min: float, a_max: float) -> None:
        """Posterior of (log m, log a) by tensor Gauss-Legendre quadrature on the box holding its mass.

        A coarse uniform pass over ``log m in log m_hat +- 5`` and the whole
        ``log a`` range finds the mass; the box is then ``+- 8`` posterior
        standard deviations in ``log m`` and the cells with mass in ``log a``
        (clipped to the prior's range), with ``grid`` nodes per axis.
        """
        la_lo, la_hi = np.log(a_min), np.log(a_max)
        n0 = 25
        lm = np.linspace(np.log(m_hat) - 5.0, np.log(m_hat) + 5.0, n0)
        la = np.linspace(la_lo, la_hi, n0) if la_hi > la_lo else np.array([la_lo])
        gm, ga = np.meshgrid(lm, la, indexing="ij")
        ll = _nb_loglik(k, t, np.exp(gm.ravel()), np.exp(ga.ravel())) + _log_hyperprior(ga.ravel())
        w = np.exp(ll - ll.max())
        w /= w.sum()
        mean_m = float(w @ gm.ravel())
        sd_m = float(np.sqrt(max(w @ (gm.ravel() - mean_m) ** 2, 1e-6)))
        box_m = (mean_m - 8 * sd_m, mean_m + 8 * sd_m)
        if la_hi > la_lo:
            sel = ga.ravel()[w > 1e-12]
            step = (la_hi - la_lo) / (n0 - 1)
            box_a = (max(sel.min() - step, la_lo), min(sel.max() + step, la_hi))
        else:
            box_a = (la_lo, la_hi)
        x, wx = np.polynomial.legendre.leggauss(self.grid)
        lm = 0.5 * (box_m[0] + box_m[1]) + 0.5 * (box_m[1] - box_m[0]) * x
        wm = 0.5 * (box_m[1] - box_m[0]) * wx
        if box_a[1] > box_a[0]:
            la = 0.5 * (box_a[0] + box_a[1]) + 0.5 * (box_a[1] - box_a[0]) * x
            wa = 0.5 * (box_a[1] - box_a[0]) * wx
        else:
            la, wa = np.array([box_a[0]]), np.ones(1)
        gm, ga = np.meshgrid(lm, la, indexing="ij")
        gw = np.outer(wm, wa).ravel()
        ll = _nb_loglik(k, t, np.exp(gm.ravel()), np.exp(ga.ravel())) + _log_hyperprior(ga.ravel()) + np.log(gw)
        w = np.exp(ll - ll.max())
        keep = w > 1e-14 * w.sum()
        w = w[keep] / w[keep].sum()
        self.weights_ = w
        self.grid_shape_ = np.exp(ga.ravel()[keep])
        self.grid_mean_per_year_ = np.exp(gm.ravel()[keep])
        self.grid_weight_years_ = self.grid_shape_ / self.grid_mean_per_year_

    def scale_rates(self, factor: Sequence[float] | FloatArray) -> GammaPoissonPooling:
        """Turn every chain's posterior into that of ``factor_c`` times its rate (a known multiplier, e.g. its
        covariates at the as-of date): means, intervals, draws and predictive probabilities follow; raw rates
        and the hyperparameters stay as fitted. Returns self."""
        self._check()
        f = np.asarray(factor, dtype=float)
        self._rate = self._rate / f[None, :]
        self.rates_per_year_ = self.rates_per_year_ * f
        self.intervals_ = self.intervals_ * f[:, None]
        self.posterior_intervals_ = self.posterior_intervals_ * f[:, None]
        self.rate_factor_ = self.rate_factor_ * f
        return self

    def _mixture_ppf(self, q: float) -> FloatArray:
        """Quantile ``q`` of every chain's posterior (mixture of gammas)."""
        return gamma_mixture_ppf(q, self.weights_, self._shape, self._rate)

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

    def posterior_draws(self, n: int, seed: int = 0) -> tuple[FloatArray, FloatArray]:
        """``n`` equally weighted hyperparameter atoms and, per chain, the gamma posterior given each.

        Returns ``(shape, rate)``, each (n, chains): in atom ``j`` chain ``c``'s rate
        is ``Gamma(shape[j, c], rate[j, c])`` (rate in years). The atoms are a
        systematic resample of the quadrature posterior (one uniform offset from
        ``seed``), so their mixture is the posterior up to the atoms' spacing.
        """
        self._check()
        u = (np.arange(n) + np.random.default_rng(seed).random()) / n
        g = np.minimum(np.searchsorted(np.cumsum(self.weights_), u), self.weights_.size - 1)
        return self._shape[g].copy(), self._rate[g].copy()

    def gamma_atoms(self, chain: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Chain ``chain``'s rate posterior as a gamma mixture: ``(weights, shape, rate)`` over the
        hyperparameter atoms (rate in years)."""
        self._check()
        return self.weights_.copy(), self._shape[:, chain].copy(), self._rate[:, chain].copy()

    def predictive_zero_probability(self, horizon_years: Any, scale: Any = 1.0) -> FloatArray:
        """Predictive ``P(no event in h years)`` per chain: ``sum_g w_g (r_g / (r_g + h))^s_g`` (negative
        binomial); ``scale`` multiplies the rate (e.g. the share of a group's events that hit one chain)."""
        self._check()
        h = np.asarray(horizon_years, dtype=float) * np.asarray(scale, dtype=float)
        return np.asarray(self.weights_ @ np.exp(self._shape * np.log(self._rate / (self._rate + h))))

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
