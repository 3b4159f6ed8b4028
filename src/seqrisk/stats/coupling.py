"""Volatility coupling: beta of ``lambda_c(t) = lambda_c exp(beta (log sigma_t - log sigma_ref))``.

Poisson regression of events per chain-day on the day's log realized
volatility, with a fixed effect per chain and an exposure offset (the share of
the day the chain was live). The chain effects are profiled out exactly: given
its total ``n_c`` a chain's events fall on its exposed days with probabilities
``E_cd exp(beta x_d) / sum_d E_cd exp(beta x_d)``, so

    l(beta) = sum_{c,d} y_cd beta x_d - sum_c n_c log sum_d E_cd exp(beta x_d)

is the profile log-likelihood of the fixed-effects Poisson GLM. The interval
is the profile-likelihood (LR) interval; the test of beta = 0 is the LR test.

``sigma_ref`` (annualised) is set so that the exposure-weighted mean of
``exp(beta (log sigma_d - log sigma_ref))`` over the fitted days is 1: the
pooled base rates are averages over the same history, so at ``sigma_ref`` the
engine's intensity equals the base rate on average.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special
from scipy import stats as sps

from seqrisk._typing import FloatArray
from seqrisk.display import Displayed, Shown
from seqrisk.exceptions import DataError, NotFittedError

__all__ = ["VolatilityCoupling"]


class VolatilityCoupling(Displayed):
    """Fixed-effects Poisson regression of daily event counts on log volatility.

    ``fit(log_vol, exposure_days, counts)`` with ``log_vol`` shape ``(D,)``
    (log of annualised volatility per day), ``exposure_days`` and ``counts``
    shape ``(C, D)``. Learned: ``beta_``, ``se_`` (Wald), ``interval_``
    (profile likelihood), ``lr_stat_``, ``p_value_`` (test of beta = 0),
    ``sigma_ref_`` (annualised), ``n_events_``, ``n_chain_days_``, ``n_chains_``.
    """

    def __init__(self, *, level: float = 0.95, max_abs_beta: float = 20.0) -> None:
        self.level = level
        self.max_abs_beta = max_abs_beta

    def fit(self, log_vol: Any, exposure_days: Any, counts: Any) -> VolatilityCoupling:
        x = np.asarray(log_vol, dtype=float)
        e = np.atleast_2d(np.asarray(exposure_days, dtype=float))
        y = np.atleast_2d(np.asarray(counts, dtype=float))
        if e.shape != y.shape or e.shape[1] != x.size:
            raise DataError("exposure and counts must be (chains, days) with days = len(log_vol)",
                            value=(x.shape, e.shape, y.shape))
        if not np.all(np.isfinite(x)) or np.any(e < 0) or np.any(y < 0):
            raise DataError("log volatility must be finite, exposures and counts >= 0")
        if np.any((y > 0) & (e <= 0)):
            raise DataError("an event falls on a day with no exposure")
        n_c = y.sum(axis=1)
        keep = n_c > 0
        self.n_events_ = int(n_c.sum())
        self.n_chains_ = int(keep.sum())
        self.n_chain_days_ = float(e.sum())
        if self.n_events_ < 2:
            raise DataError(f"{self.n_events_} event(s) inside the price history: beta is not estimable")
        ek, yk, nk = e[keep], y[keep], n_c[keep]
        xc = x - x[(ek > 0).any(axis=0)].mean()  # centre for numerical stability (beta unchanged)
        sxc = float((yk.sum(axis=0) * xc).sum())

        def ll(beta: float) -> float:  # each chain's log of its exposure-weighted sum of exp(beta x): a logsumexp
            log_s = special.logsumexp(np.broadcast_to(beta * xc, ek.shape), b=ek, axis=1)
            return float(beta * sxc - (nk * log_s).sum())

        def info(beta: float) -> float:
            w = ek * np.exp(beta * xc - (beta * xc).max())
            p = w / w.sum(axis=1, keepdims=True)
            m1 = p @ xc
            m2 = p @ xc ** 2
            return float((nk * (m2 - m1 ** 2)).sum())

        b = self.max_abs_beta
        if info(0.0) <= 0:
            raise DataError("volatility does not vary over the exposed days: beta is not estimable")
        res = optimize.minimize_scalar(lambda v: -ll(v), bounds=(-b, b), method="bounded",
                                       options={"xatol": 1e-9})
        self.beta_ = float(res.x)
        self.loglik_ = ll(self.beta_)
        self.lr_stat_ = max(0.0, 2 * (self.loglik_ - ll(0.0)))
        self.p_value_ = float(sps.chi2.sf(self.lr_stat_, 1))
        fi = info(self.beta_)
        self.se_ = float(1 / np.sqrt(fi)) if fi > 0 else float("inf")
        crit = float(sps.chi2.ppf(self.level, 1)) / 2

        def gap(v: float) -> float:
            return self.loglik_ - ll(v) - crit

        lo = optimize.brentq(gap, -b, self.beta_) if gap(-b) > 0 else -b
        hi = optimize.brentq(gap, self.beta_, b) if gap(b) > 0 else b
        self.interval_ = (float(lo), float(hi))
        w_day = e.sum(axis=0)
        sel = w_day > 0
        if abs(self.beta_) < 1e-8:
            log_ref = float(np.average(x[sel], weights=w_day[sel]))
        else:
            w = w_day[sel] / w_day[sel].sum()
            log_ref = float(special.logsumexp(self.beta_ * x[sel], b=w) / self.beta_)
        self.sigma_ref_ = float(np.exp(log_ref))
        return self

    def _check(self) -> None:
        if not hasattr(self, "beta_"):
            raise NotFittedError("VolatilityCoupling is not fitted; call fit() first")

    def rate_multiplier(self, sigma: Any) -> FloatArray:
        """``exp(beta (log sigma - log sigma_ref))`` for annualised volatility ``sigma``."""
        self._check()
        return np.asarray(np.exp(self.beta_ * (np.log(np.asarray(sigma, dtype=float)) - np.log(self.sigma_ref_))))

    def summary(self) -> pd.DataFrame:
        """beta with its Wald s.e., profile-likelihood interval and the LR test of beta = 0."""
        self._check()
        return pd.DataFrame([{"beta": self.beta_, "se": self.se_, "low": self.interval_[0],
                              "high": self.interval_[1], "lr_stat": self.lr_stat_, "p_value": self.p_value_,
                              "sigma_ref": self.sigma_ref_, "events": self.n_events_,
                              "chain_days": self.n_chain_days_}])

    def to_frame(self) -> pd.DataFrame:
        """The :meth:`summary` table (``sigma_ref`` annualised volatility)."""
        return self.summary()

    def _shown(self) -> Shown:
        self._check()
        return Shown(f"VolatilityCoupling: outage rate x (sigma / {self.sigma_ref_:.3g})^beta, {self.n_events_} "
                     f"events on {self.n_chain_days_:,.0f} chain-days", self.summary().round(4),
                     (f"beta with its Wald s.e. and {self.level:.0%} profile-likelihood interval; "
                      "LR test of beta = 0.",))
