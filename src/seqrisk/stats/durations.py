"""Outage durations: censored maximum likelihood for log-location-scale families.

All three families are accelerated-failure-time models ``log D = mu + sigma W``:

============  ===========================  ===============================
family        W (standard)                 :class:`~seqrisk.outage.DurationLaw`
============  ===========================  ===============================
lognormal     normal                       median_s = e^mu, sigma
weibull       minimum-Gumbel, S = e^-e^w   scale_s = e^mu, shape = 1/sigma
loglogistic   logistic                     scale_s = e^mu, shape = 1/sigma
============  ===========================  ===============================

Durations are given as bounds ``(low_s, high_s)`` in seconds: exact
(``low == high``), interval-censored, right-censored (``high = inf``),
left-censored (``low = 0``). A zero-length duration is read as "shorter than
``zero_floor_s``" (left-censored at one minute by default). An unknown
duration ``(0, inf)`` has likelihood 1: it is counted in ``n_missing_`` and
carries no duration information (it still counts toward the rate).

Pooling across chains: a chain effect on the location, ``mu_c = mu + u_c`` with
``u_c ~ N(0, tau^2)`` integrated out by Gauss-Hermite quadrature (marginal
likelihood); chains' effects are their posterior means (empirical Bayes).
Standard errors come from the observed information (numerical Hessian) of
``(mu, log sigma)`` with ``tau`` held at its estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from seqrisk._typing import FloatArray
from seqrisk.display import Displayed, Shown
from seqrisk.exceptions import DataError, NotFittedError
from seqrisk.outage import DurationLaw
from seqrisk.outage import family_logcdf as _logcdf
from seqrisk.outage import family_logpdf as _logpdf
from seqrisk.outage import family_logsf as _logsf
from seqrisk.outage import family_ppf as std_ppf
from seqrisk.stats.optim import covariance_from_hessian, minimize_bounded, observed_information
from seqrisk.units import format_duration

__all__ = ["FAMILIES", "DurationFitter", "compare_families", "compare_models"]

FAMILIES: tuple[str, ...] = ("lognormal", "weibull", "loglogistic")
DurFamily = Literal["lognormal", "weibull", "loglogistic"]
_GH_X, _GH_W = np.polynomial.hermite.hermgauss(24)
_LOG_GH_W = np.log(_GH_W / np.sqrt(np.pi))


def mean_duration_s(family: str, mu: Any, sigma: Any) -> Any:
    """Mean duration (s); ``inf`` for a log-logistic with ``sigma >= 1`` (shape <= 1)."""
    mu, sigma = np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float)
    if family == "lognormal":
        return np.exp(mu + 0.5 * sigma ** 2)
    if family == "weibull":
        return np.exp(mu + special.gammaln(1 + sigma))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.pi * sigma
        return np.where(sigma < 1, np.exp(mu) * x / np.sin(np.minimum(x, np.pi - 1e-12)), np.inf)


class DurationFitter(Displayed):
    """Censored MLE of a duration family, optionally pooled across chains.

    ``DurationFitter(family="weibull").fit(low_s, high_s, chains=...)``. With
    ``chain_effect=True`` and ``chains`` given, the location carries a random
    chain effect (see module doc). Learned: ``mu_``, ``sigma_``, ``tau_``,
    ``cov_`` (covariance of ``(mu, log sigma)``), ``loglik_``, ``aic_``,
    ``n_params_``, ``chain_effects_`` (dict chain -> u_c), counts ``n_exact_``,
    ``n_interval_``, ``n_right_``, ``n_left_``, ``n_missing_``.
    Raises :class:`DataError` when the data cannot identify the law: fewer than
    two informative durations, no finite upper bound (all right-censored), no
    positive lower bound, or all durations equal.
    """

    def __init__(self, *, family: DurFamily = "lognormal", chain_effect: bool = False,
                 zero_floor_s: float = 60.0, level: float = 0.95) -> None:
        self.family = family
        self.chain_effect = chain_effect
        self.zero_floor_s = zero_floor_s
        self.level = level

    # -- data -----------------------------------------------------------------------------------
    def _prepare(self, low_s: Any, high_s: Any, chains: Sequence[str] | None) -> None:
        if self.family not in FAMILIES:
            raise DataError(f"unknown duration family (known: {', '.join(FAMILIES)})", value=self.family)
        lo = np.asarray(low_s, dtype=float).copy()
        hi = np.asarray(high_s, dtype=float).copy()
        if lo.shape != hi.shape or lo.ndim != 1:
            raise DataError("low_s and high_s must be 1-d arrays of the same length")
        if np.any(np.isnan(lo)) or np.any(np.isnan(hi)) or np.any(lo < 0) or np.any(hi < lo):
            raise DataError("duration bounds must satisfy 0 <= low <= high (no NaN)")
        ch = np.asarray(list(chains) if chains is not None else [""] * lo.size, dtype=object)
        if ch.size != lo.size:
            raise DataError("chains must have one entry per duration")
        zero = hi <= 0
        lo[zero], hi[zero] = 0.0, self.zero_floor_s
        missing = (lo <= 0) & ~np.isfinite(hi)
        self.n_missing_ = int(missing.sum())
        lo, hi, ch = lo[~missing], hi[~missing], ch[~missing]
        self.low_s_, self.high_s_ = lo, hi  # the informative bounds, for plots
        exact = (lo == hi)
        right = ~exact & ~np.isfinite(hi)
        left = ~exact & (lo <= 0) & np.isfinite(hi)
        interval = ~exact & ~right & ~left
        self.n_exact_, self.n_right_ = int(exact.sum()), int(right.sum())
        self.n_left_, self.n_interval_ = int(left.sum()), int(interval.sum())
        self.n_zero_ = int(zero.sum())
        self.n_obs_ = lo.size
        n_info = lo.size
        if n_info < 2:
            raise DataError(f"{n_info} informative duration(s): need at least 2 to fit a {self.family} law")
        if not np.any(np.isfinite(hi)):
            raise DataError("every duration is right-censored: no upper bound, the MLE does not exist")
        if not np.any(lo > 0):
            raise DataError("no duration has a positive lower bound: the MLE does not exist")
        if exact.all() and np.ptp(np.log(lo)) < 1e-9:
            raise DataError("all durations are equal: the scale is not identifiable", value=float(lo[0]))
        with np.errstate(divide="ignore"):
            self._llo = np.where(lo > 0, np.log(np.maximum(lo, 1e-300)), -np.inf)
            self._lhi = np.where(np.isfinite(hi), np.log(np.where(np.isfinite(hi), hi, 1.0)), np.inf)
        self._exact, self._right, self._left, self._interval = exact, right, left, interval
        self.chains_ = sorted({str(c) for c in ch})
        idx = {c: i for i, c in enumerate(self.chains_)}
        self._g = np.array([idx[str(c)] for c in ch], dtype=int)
        self._onehot = np.zeros((len(self.chains_), lo.size))
        self._onehot[self._g, np.arange(lo.size)] = 1.0
        with np.errstate(divide="ignore"):
            pts = np.where(np.isfinite(self._lhi), np.where(np.isfinite(self._llo), 0.5 * (self._llo + self._lhi),
                                                              self._lhi), self._llo)
        self._pts = pts
        self._n_chain = self._onehot.sum(axis=1)
        self._mean_chain = (self._onehot @ pts) / self._n_chain

    def _loglik_obs(self, loc: FloatArray, sigma: float) -> FloatArray:
        """Log-likelihood of each observation at location(s) ``loc`` (broadcast on trailing axis)."""
        f = self.family
        llo = self._llo.reshape((-1,) + (1,) * (loc.ndim - 1))
        lhi = self._lhi.reshape(llo.shape)
        zl = (llo - loc) / sigma
        zh = (lhi - loc) / sigma
        out = np.empty(np.broadcast(zl, zh).shape)
        e = self._exact
        out[e] = _logpdf(f, zl[e]) - np.log(sigma) - llo[e] if e.any() else 0.0
        r = self._right
        if r.any():
            out[r] = _logsf(f, zl[r])
        lf = self._left
        if lf.any():
            out[lf] = _logcdf(f, zh[lf])
        i = self._interval
        if i.any():
            a, b = zl[i], zh[i]
            via_sf = _logsf(f, a) + np.log(-np.expm1(np.minimum(_logsf(f, b) - _logsf(f, a), -1e-300)))
            via_cdf = _logcdf(f, b) + np.log(-np.expm1(np.minimum(_logcdf(f, a) - _logcdf(f, b), -1e-300)))
            out[i] = np.where(a > 0, via_sf, via_cdf)
        return out

    def _effect_terms(self, mu: float, sigma: float, tau: float) -> tuple[FloatArray, FloatArray]:
        """Adaptive Gauss-Hermite nodes ``u`` (chains, K) and log integrand terms (chains, K).

        The nodes of each chain are centred and scaled on a normal approximation
        of its effect's posterior (from the observations' log midpoints), so a
        narrow posterior (many durations on one chain) is integrated accurately.
        """
        prec = self._n_chain / sigma ** 2 + 1.0 / tau ** 2
        centre = (self._n_chain / sigma ** 2) * (self._mean_chain - mu) / prec
        scale = 1.5 / np.sqrt(prec)
        u = centre[:, None] + np.sqrt(2.0) * scale[:, None] * _GH_X[None, :]      # (C, K)
        ll = self._loglik_obs(mu + u[self._g], sigma)                              # (n, K)
        log_prior = -0.5 * (u / tau) ** 2 - np.log(tau)
        log_prop = -0.5 * ((u - centre[:, None]) / scale[:, None]) ** 2 - np.log(scale)[:, None]
        return u, self._onehot @ ll + log_prior - log_prop + _LOG_GH_W[None, :]

    def _nll(self, theta: FloatArray) -> float:
        mu, sigma = theta[0], float(np.exp(theta[1]))
        if not self.chain_effect:
            return float(-self._loglik_obs(np.full(self.n_obs_, mu), sigma).sum())
        _, terms = self._effect_terms(mu, sigma, float(np.exp(theta[2])))
        return float(-special.logsumexp(terms, axis=1).sum())

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, low_s: Any, high_s: Any, *, chains: Sequence[str] | None = None) -> DurationFitter:
        """Fit by maximum likelihood; returns self."""
        self._prepare(low_s, high_s, chains)
        pts = self._pts
        mu0 = float(np.mean(pts))
        s0 = max(float(np.std(pts)), 0.3)
        x0 = [mu0, np.log(s0)]
        bounds = [(mu0 - 30, mu0 + 30), (np.log(1e-3), np.log(50.0))]
        if self.chain_effect:
            x0.append(np.log(0.3 * s0))
            bounds.append((np.log(1e-4), np.log(20.0)))
        res = minimize_bounded(self._nll, x0, bounds)
        if not res.success:  # a second start from a wider scale
            res2 = minimize_bounded(self._nll, np.array(x0) + 0.5, bounds)
            res = res2 if res2.fun < res.fun else res
        if not np.isfinite(res.fun):
            raise DataError("duration likelihood is not finite at the optimum", value=self.family)
        if res.x[1] <= np.log(1e-3) + 1e-6:
            raise DataError("durations leave the scale unidentified (sigma -> 0)", value=self.family)
        self.theta_ = res.x
        self._cov: FloatArray | None = None
        self.mu_ = float(res.x[0])
        self.sigma_ = float(np.exp(res.x[1]))
        self.tau_ = float(np.exp(res.x[2])) if self.chain_effect else 0.0
        self.loglik_ = float(-res.fun)
        self.n_params_ = len(x0)
        self.aic_ = 2 * self.n_params_ - 2 * self.loglik_

        self.chain_effects_ = self._chain_effects()
        return self

    @property
    def cov_(self) -> FloatArray:
        """Asymptotic covariance of ``(mu, log sigma)`` (``tau`` held at its estimate): the inverse observed
        information, computed on first use (SciPy's adaptive finite differences)."""
        self._check()
        if self._cov is None:
            rest = self.theta_[2:]

            def sub(t2: FloatArray) -> float:
                return self._nll(np.concatenate([t2, rest]))

            self._cov = covariance_from_hessian(observed_information(sub, self.theta_[:2]))
        return self._cov

    def effect_posterior(self, mu: float, sigma: float, tau: float) -> tuple[FloatArray, FloatArray]:
        """Posterior mean and variance of each fitted chain's effect ``u_c`` (order of ``chains_``) at the
        parameters ``(mu, sigma, tau)``, by the adaptive Gauss-Hermite nodes of the marginal likelihood."""
        self._check()
        if tau <= 0:
            z = np.zeros(len(self.chains_))
            return z, z.copy()
        u, post = self._effect_terms(mu, sigma, tau)
        post = np.exp(post - special.logsumexp(post, axis=1, keepdims=True))
        mean = np.sum(post * u, axis=1)
        return mean, np.maximum(np.sum(post * (u - mean[:, None]) ** 2, axis=1), 0.0)

    def nll(self, mu: float, log_sigma: float, log_tau: float | None = None) -> float:
        """Negative marginal log-likelihood at ``(mu, log sigma[, log tau])`` (the fitted model's form)."""
        self._check()
        theta = [mu, log_sigma] + ([] if log_tau is None else [log_tau])
        return self._nll(np.asarray(theta, dtype=float))

    def _chain_effects(self) -> dict[str, float]:
        if not self.chain_effect or self.tau_ <= 0:
            return {c: 0.0 for c in self.chains_}
        u, post = self._effect_terms(self.mu_, self.sigma_, self.tau_)
        post = np.exp(post - special.logsumexp(post, axis=1, keepdims=True))
        return {c: float(post[i] @ u[i]) for i, c in enumerate(self.chains_)}

    # -- results --------------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "mu_"):
            raise NotFittedError("DurationFitter is not fitted; call fit() first")

    def location(self, chain: str | None = None) -> float:
        """Location ``mu`` (log seconds) of ``chain`` (the pooled location for None or an unseen chain)."""
        self._check()
        return self.mu_ + (self.chain_effects_.get(chain, 0.0) if chain is not None else 0.0)

    def law(self, chain: str | None = None) -> DurationLaw:
        """The fitted law as a :class:`DurationLaw` (seconds)."""
        mu = self.location(chain)
        if self.family == "lognormal":
            return DurationLaw("lognormal", {"median_s": float(np.exp(mu)), "sigma": self.sigma_})
        fam: Literal["weibull", "loglogistic"] = "weibull" if self.family == "weibull" else "loglogistic"
        return DurationLaw(fam, {"scale_s": float(np.exp(mu)), "shape": 1.0 / self.sigma_})

    def sf(self, t_s: Any, chain: str | None = None) -> FloatArray:
        """Survival P(D > t) at ``t_s`` seconds: of ``chain``, or marginal over the chain effect for None."""
        self._check()
        lt = np.log(np.maximum(np.asarray(t_s, dtype=float), 1e-300))
        if chain is not None or self.tau_ <= 0:
            return np.asarray(np.exp(_logsf(self.family, (lt - self.location(chain)) / self.sigma_)))
        loc = self.mu_ + np.sqrt(2.0) * self.tau_ * _GH_X
        z = (lt[..., None] - loc) / self.sigma_
        return np.asarray(np.exp(_logsf(self.family, z)) @ np.exp(_LOG_GH_W))

    def quantile(self, p: float, chain: str | None = None) -> tuple[float, float, float]:
        """Duration quantile ``p`` (s) with its delta-method interval on the log scale."""
        mu = self.location(chain)
        w = float(std_ppf(self.family, p))
        g = np.array([1.0, self.sigma_ * w])
        se = float(np.sqrt(max(g @ self.cov_ @ g, 0.0)))
        zq = float(sps.norm.ppf(0.5 + self.level / 2))
        c = mu + self.sigma_ * w
        return float(np.exp(c)), float(np.exp(c - zq * se)), float(np.exp(c + zq * se))

    def sample_params(self, rng: np.random.Generator, size: int, chain: str | None = None) -> tuple[FloatArray,
                                                                                                    FloatArray]:
        """Draws of ``(mu, sigma)`` from the asymptotic normal of ``(mu, log sigma)`` (parametric bootstrap)."""
        self._check()
        d = rng.multivariate_normal(np.array([self.location(chain), np.log(self.sigma_)]), self.cov_, size=size)
        return d[:, 0], np.exp(d[:, 1])

    def summary(self) -> pd.DataFrame:
        """Parameters with standard errors and intervals (``tau`` without)."""
        self._check()
        zq = float(sps.norm.ppf(0.5 + self.level / 2))
        se_mu, se_ls = np.sqrt(np.diag(self.cov_))
        rows = [("mu_log_s", self.mu_, se_mu, self.mu_ - zq * se_mu, self.mu_ + zq * se_mu),
                ("sigma", self.sigma_, self.sigma_ * se_ls, self.sigma_ * np.exp(-zq * se_ls),
                 self.sigma_ * np.exp(zq * se_ls))]
        if self.chain_effect:
            rows.append(("tau", self.tau_, np.nan, np.nan, np.nan))
        return pd.DataFrame(rows, columns=["param", "estimate", "se", "low", "high"]).set_index("param")

    def to_frame(self) -> pd.DataFrame:
        """The :meth:`summary` table with a ``unit`` column and the median duration (s) with its interval."""
        df = self.summary()
        med = self.quantile(0.5)
        df.loc["median_s"] = [med[0], np.nan, med[1], med[2]]
        df.insert(0, "unit", ["log seconds", "log-scale spread", *(["log seconds"] if self.chain_effect else []),
                              "seconds"])
        return df

    def _shown(self) -> Shown:
        self._check()
        effect = f" with a chain effect over {len(self.chains_)} chains" if self.chain_effect else ""
        med, lo, hi = self.quantile(0.5)
        return Shown(
            f"DurationFitter: {self.family}{effect}, {self.n_obs_} informative durations ({self.n_exact_} exact, "
            f"{self.n_interval_} interval-, {self.n_right_} right-, {self.n_left_} left-censored; "
            f"{self.n_missing_} unknown)", self.to_frame(),
            (f"median duration {format_duration(med)} ({self.level:.0%} interval {format_duration(lo)} to "
             f"{format_duration(hi)}); log-likelihood {self.loglik_:.2f}, AIC {self.aic_:.2f}. "
             ".plot() draws the fit against Turnbull and Kaplan-Meier.",))

    def plot(self) -> Any:
        """The fitted survival curve (marginal over the chain effect) against Turnbull's NPMLE and Kaplan-Meier
        of the fitted durations (hours, log axis); a plotly figure."""
        from seqrisk.stats.plots import survival_figure

        self._check()
        return survival_figure(self.low_s_, self.high_s_, {self.family: self}, self.family,
                               f"{self.family} fit vs Turnbull and Kaplan-Meier ({self.n_obs_} durations)")


def compare_families(low_s: Any, high_s: Any, *, chains: Sequence[str] | None = None, chain_effect: bool = False,
                     families: Sequence[str] = FAMILIES) -> tuple[dict[str, DurationFitter], pd.DataFrame]:
    """Fit each family and compare by AIC; returns the fits and a table sorted by AIC.

    Families that cannot be fitted are left out of the fits and listed with
    ``aic = inf`` and the reason. The table has ``loglik, n_params, aic,
    delta_aic, akaike_weight, error``.
    """
    fits: dict[str, DurationFitter] = {}
    rows = []
    for fam in families:
        try:
            f = DurationFitter(family=fam, chain_effect=chain_effect).fit(low_s, high_s,  # type: ignore[arg-type]
                                                                          chains=chains)
            fits[fam] = f
            rows.append((fam, f.loglik_, f.n_params_, f.aic_, ""))
        except DataError as exc:
            rows.append((fam, -np.inf, 0, np.inf, exc.message))
    df = pd.DataFrame(rows, columns=["family", "loglik", "n_params", "aic", "error"]).set_index("family")
    best = df["aic"].min()
    df["delta_aic"] = df["aic"] - best
    w = np.exp(-0.5 * df["delta_aic"].where(np.isfinite(df["delta_aic"]), np.inf))
    df["akaike_weight"] = w / w.sum() if np.isfinite(best) else 0.0
    return fits, df.sort_values("aic")[["loglik", "n_params", "aic", "delta_aic", "akaike_weight", "error"]]


def model_label(family: str, chain_effect: bool) -> str:
    """Name of a duration model in tables: the family, with ``+ chain effect`` when it has one."""
    return f"{family} + chain effect" if chain_effect else family


def compare_models(low_s: Any, high_s: Any, *, chains: Sequence[str] | None = None,
                   effects: Sequence[bool] = (False, True), families: Sequence[str] = FAMILIES
                   ) -> tuple[dict[str, DurationFitter], pd.DataFrame]:
    """Every family with and without a chain effect, compared by AIC (one table, Akaike weights over all).

    Returns the fits keyed by :func:`model_label` and a table sorted by AIC with
    columns ``family, chain_effect, loglik, n_params, aic, delta_aic,
    akaike_weight, error``. The chain effect costs one parameter (``tau``), so
    it is kept only when it improves the log-likelihood by more than one.
    """
    fits: dict[str, DurationFitter] = {}
    parts = []
    for eff in effects:
        f, tab = compare_families(low_s, high_s, chains=chains, chain_effect=eff, families=families)
        fits.update({model_label(fam, eff): v for fam, v in f.items()})
        tab = tab.assign(family=tab.index, chain_effect=eff)
        tab.index = [model_label(fam, eff) for fam in tab.index]
        parts.append(tab)
    df = pd.concat(parts)
    df.index.name = "model"
    best = df["aic"].min()
    df["delta_aic"] = df["aic"] - best
    w = np.exp(-0.5 * df["delta_aic"].where(np.isfinite(df["delta_aic"]), np.inf))
    df["akaike_weight"] = w / w.sum() if np.isfinite(best) else 0.0
    cols = ["family", "chain_effect", "loglik", "n_params", "aic", "delta_aic", "akaike_weight", "error"]
    return fits, df.sort_values(["aic", "n_params"])[cols]
