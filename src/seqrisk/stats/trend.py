"""Time structure of outage rates: chain age, calendar time and design covariates in the pooled rate model.

A chain's outage intensity is ``lambda_c * exp(gamma . x_c(t))`` with
``lambda_c ~ Gamma(a, a/m)`` across chains (the pooling of
:mod:`seqrisk.stats.rates`) and covariates

* ``first_year``: 1 while the chain is less than a year past its mainnet
  launch (new chains break more often);
* ``calendar``: years from the as-of date (negative in the past), so
  ``exp(gamma)`` is the rate's change per calendar year;
* ``validity_proof``: 1 for chains with validity (zk) proofs (a design
  covariate, constant per chain).

Given ``gamma`` the chain's count is negative binomial with the *effective
exposure* ``E_c(gamma) = integral of exp(gamma . x_c(t)) dt`` over its
observed windows (closed form: the calendar term integrates exactly), and
the event times add ``gamma . sum_i x_i``; ``lambda_c`` is the rate at the
as-of date of a chain past its first year without validity proofs. Every
subset of the candidates is fitted by maximum likelihood over ``(log m, log a,
gamma)``; the subset with the smallest AIC is kept, and each covariate's
likelihood-ratio test (the full model against it without that covariate,
chi-square with one degree of freedom) is reported. Covariates are fitted on
all modelled types together (own events, joint events excluded) and applied
to every type's pooling. The calendar trend is not extrapolated past the
as-of date: forecasts hold calendar time at the as-of date (a falling trend
would otherwise lower future risk on the strength of a few years of data).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from seqrisk._typing import FloatArray
from seqrisk.stats.optim import covariance_from_hessian, minimize_bounded, observed_information
from seqrisk.units import YEAR_S

__all__ = ["CANDIDATES", "TrendFit", "fit_trend"]

CANDIDATES = ("first_year", "calendar", "validity_proof")


@dataclass
class TrendFit:
    """The chosen covariate model and the comparison of all subsets (see module doc)."""

    covariates: tuple[str, ...]
    coef: FloatArray
    cov: FloatArray
    table: pd.DataFrame
    lr_tests: dict[str, tuple[float, float]]
    chains: list[str]
    windows: Mapping[str, Sequence[tuple[float, float]]]
    launch_s: Mapping[str, float | None]
    zk: Mapping[str, bool]
    as_of_s: float
    level: float = 0.95

    def coefficient(self, name: str) -> float:
        """The chosen model's coefficient of ``name`` (0 when not kept)."""
        return float(self.coef[self.covariates.index(name)]) if name in self.covariates else 0.0

    def interval(self, name: str) -> tuple[float, float]:
        """Wald interval of a kept coefficient (zeros when not kept)."""
        if name not in self.covariates:
            return 0.0, 0.0
        i = self.covariates.index(name)
        z = float(sps.norm.ppf(0.5 + self.level / 2))
        se = float(np.sqrt(max(self.cov[i, i], 0.0)))
        return float(self.coef[i] - z * se), float(self.coef[i] + z * se)

    def exposure_years(self, gamma: FloatArray | None = None) -> FloatArray:
        """Effective exposure (years) of every chain at ``gamma`` (the chosen coefficients by default)."""
        return _effective_exposures(self.chains, self.windows, self.launch_s, self.zk, self.as_of_s,
                                    self._full(gamma))

    def factor_at(self, t_s: float, gamma: FloatArray | None = None) -> FloatArray:
        """``exp(gamma . x_c(t))`` of every chain at time ``t_s`` (epoch s): its rate relative to ``lambda_c``."""
        g = self._full(gamma)
        x = np.array([_x(c, t_s, self.launch_s, self.zk, self.as_of_s) for c in self.chains])
        return np.asarray(np.exp(x @ g))

    def chain_factor(self, chain: str, t_s: FloatArray, *, hold_calendar: bool = False) -> FloatArray:
        """``exp(gamma . x_c(t))`` of one chain at the times ``t_s`` (epoch s), vectorised; with
        ``hold_calendar`` calendar time stays at the as-of date."""
        g = self._full(None)
        t = np.asarray(t_s, dtype=float)
        lc = self.launch_s.get(chain)
        first = (t - lc < YEAR_S).astype(float) if lc is not None else np.zeros(t.shape)
        cal = np.zeros(t.shape) if hold_calendar else (t - self.as_of_s) / YEAR_S
        return np.asarray(np.exp(g[0] * first + g[1] * cal + g[2] * (1.0 if self.zk.get(chain) else 0.0)))

    def horizon_factor(self, horizon_years: float, gamma: FloatArray | None = None) -> FloatArray:
        """Mean of ``exp(gamma . x_c(t))`` over ``[as_of, as_of + h]`` with calendar time held at the as-of date
        (chain age advances)."""
        g = self._full(gamma)
        g_hold = g.copy()
        g_hold[CANDIDATES.index("calendar")] = 0.0
        win = {c: [(self.as_of_s, self.as_of_s + horizon_years * YEAR_S)] for c in self.chains}
        return _effective_exposures(self.chains, win, self.launch_s, self.zk, self.as_of_s, g_hold) / horizon_years

    def _full(self, gamma: FloatArray | None) -> FloatArray:
        g = np.zeros(len(CANDIDATES))
        src = self.coef if gamma is None else np.asarray(gamma, dtype=float)
        for name, v in zip(self.covariates, src, strict=True):
            g[CANDIDATES.index(name)] = v
        return g


def _x(chain: str, t: float, launch: Mapping[str, float | None], zk: Mapping[str, bool], as_of: float) -> FloatArray:
    lc = launch.get(chain)
    first = 1.0 if lc is not None and t - lc < YEAR_S else 0.0
    return np.array([first, (t - as_of) / YEAR_S, 1.0 if zk.get(chain) else 0.0])


def _calendar_integral(a: FloatArray, b: FloatArray, g: float) -> FloatArray:
    """Integral of ``exp(g * s)`` ds (s in years) over ``[a, b]``; exact, stable as ``g -> 0``."""
    ga, gb = g * a, g * b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(abs(g) > 1e-9, np.exp(ga) * np.expm1(gb - ga) / g, b - a)
    return np.asarray(out)


def _pieces(chains: Sequence[str], windows: Mapping[str, Sequence[tuple[float, float]]],
            launch: Mapping[str, float | None], zk: Mapping[str, bool], as_of: float) -> tuple[FloatArray, ...]:
    """Observed time cut where covariates change: chain index, start and end (years from the as-of date),
    first-year flag and design flag of each piece."""
    rows = []
    for i, c in enumerate(chains):
        lc = launch.get(c)
        cut = lc + YEAR_S if lc is not None else -np.inf
        for a, b in windows.get(c, ()):
            for lo, hi, first in ((a, min(b, cut), 1.0), (max(a, cut), b, 0.0)):
                if hi > lo:
                    rows.append((i, (lo - as_of) / YEAR_S, (hi - as_of) / YEAR_S, first, 1.0 if zk.get(c) else 0.0))
    arr = np.array(rows, dtype=float).reshape(-1, 5)
    return tuple(arr[:, j] for j in range(5))


def _effective_exposures(chains: Sequence[str], windows: Mapping[str, Sequence[tuple[float, float]]],
                         launch: Mapping[str, float | None], zk: Mapping[str, bool], as_of: float,
                         g: FloatArray, pieces: tuple[FloatArray, ...] | None = None) -> FloatArray:
    idx, a, b, first, z = pieces if pieces is not None else _pieces(chains, windows, launch, zk, as_of)
    w = _calendar_integral(a, b, float(g[1])) * np.exp(g[0] * first + g[2] * z)
    return np.bincount(idx.astype(np.int64), weights=w, minlength=len(chains)).astype(float)


def _loglik(theta: FloatArray, k: FloatArray, x_sum: FloatArray, cols: list[int], expo_fn: object) -> float:
    """Negative-binomial log-likelihood of the counts at effective exposures, plus the event-time term."""
    m, a = np.exp(theta[0]), np.exp(theta[1])
    g = np.zeros(len(CANDIDATES))
    g[cols] = theta[2:]
    e = expo_fn(g)  # type: ignore[operator]
    b = a / m
    ll = (special.gammaln(a + k) - special.gammaln(a) + a * np.log(b) - (a + k) * np.log(b + e)).sum()
    return float(ll + g @ x_sum)


def fit_trend(chains: Sequence[str], counts: FloatArray, event_chains: Sequence[str], event_times_s: Sequence[float],
              windows: Mapping[str, Sequence[tuple[float, float]]], launch_s: Mapping[str, float | None],
              zk: Mapping[str, bool], as_of_s: float, *, candidates: Sequence[str] = CANDIDATES,
              level: float = 0.95) -> TrendFit:
    """Fit every subset of ``candidates`` and keep the one with the smallest AIC (see module doc).

    ``counts`` per chain (order of ``chains``) are the events whose chains and
    start times (epoch s) are ``event_chains`` / ``event_times_s``.
    """
    chains = list(chains)
    k = np.asarray(counts, dtype=float)
    n_tot = max(float(k.sum()), 1.0)
    x_sum = np.zeros(len(CANDIDATES))
    for c, t in zip(event_chains, event_times_s, strict=True):
        x_sum += _x(c, float(t), launch_s, zk, as_of_s)

    pieces = _pieces(chains, windows, launch_s, zk, as_of_s)

    def expo(g: FloatArray) -> FloatArray:
        return _effective_exposures(chains, windows, launch_s, zk, as_of_s, g, pieces)

    t_tot = float(expo(np.zeros(len(CANDIDATES))).sum())
    m0 = n_tot / t_tot
    rows, fits = [], {}
    for r in range(len(candidates) + 1):
        for sub in itertools.combinations(candidates, r):
            cols = [CANDIDATES.index(s) for s in sub]

            def nll(th: FloatArray, cols: list[int] = cols) -> float:
                return -_loglik(th, k, x_sum, cols, expo)

            x0 = np.concatenate([[np.log(m0), np.log(min(1.0, n_tot))], np.zeros(len(sub))])
            bounds = [(np.log(m0) - 10, np.log(m0) + 10), (np.log(min(0.5, n_tot)), np.log(n_tot))]
            bounds += [(-5.0, 5.0)] * len(sub)
            res = minimize_bounded(nll, x0, bounds)
            fits[sub] = (res, nll)
            rows.append((" + ".join(sub) or "none", len(sub), -res.fun, 2 * (2 + len(sub)) + 2 * res.fun))
    table = pd.DataFrame(rows, columns=["covariates", "n_covariates", "loglik", "aic"]).set_index("covariates")
    table["delta_aic"] = table["aic"] - table["aic"].min()
    w = np.exp(-0.5 * table["delta_aic"])
    table["akaike_weight"] = w / w.sum()
    table = table.sort_values(["aic", "n_covariates"])
    best_name = str(table.index[0])
    best = () if best_name == "none" else tuple(best_name.split(" + "))
    res, nll = fits[best]
    cov = covariance_from_hessian(observed_information(nll, res.x))[2:, 2:] if best else np.zeros((0, 0))
    full = tuple(candidates)
    lr = {}
    for name in candidates:
        without = tuple(s for s in full if s != name)
        stat = max(0.0, 2.0 * (fits[without][0].fun - fits[full][0].fun))
        lr[name] = (stat, float(sps.chi2.sf(stat, 1)))
    return TrendFit(best, np.asarray(res.x[2:], dtype=float), cov, table, lr, chains, windows, launch_s, zk, as_of_s,
                    level)
