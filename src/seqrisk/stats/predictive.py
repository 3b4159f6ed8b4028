"""Predictive duration laws: the fitted duration model integrated over what the data leave unknown.

A chain's next outage duration is uncertain for three reasons: the spread of
durations within a chain (``sigma``), the chain's own location (its chain
effect ``u_c``, known only through its few durations, or not at all), and the
parameters ``(mu, sigma, tau)`` themselves. The plug-in law at ``u_c = 0``
keeps the first only; the predictive law keeps all three.

:func:`duration_posterior` draws ``M`` parameter sets (default 64) from the
posterior of the fitted model:

* without a chain effect: ``(mu, log sigma)`` from their asymptotic normal;
* with one: ``tau`` from its posterior on a grid (profile likelihood of
  ``(mu, log sigma)`` times a half-normal(0, 1) prior on ``tau``: chains'
  typical durations differ by a factor e^tau, and a factor above e^2.5 ~ 12
  per standard deviation has 1% prior mass; with a handful of durations the
  likelihood alone leaves tau unbounded), then ``(mu, log sigma)`` from the
  normal centred on their profile maximum at that ``tau``;

with scrambled Sobol points (seeded, so the same data give the same draws).
In draw ``j`` chain ``c``'s effect has posterior mean ``m_cj`` and variance
``v_cj`` (adaptive Gauss-Hermite moments; ``0`` and ``tau_j^2`` for a chain
without durations). The predictive law is the equal-weight mixture over ``j``
of ``log D = mu_j + m_cj + sqrt(v_cj) Z + sigma_j W``: a
:class:`~seqrisk.outage.PredictiveDuration`, which the engine samples exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special
from scipy.stats import qmc

from seqrisk._typing import FloatArray
from seqrisk.outage import PredictiveDuration
from seqrisk.stats.durations import DurationFitter
from seqrisk.stats.optim import minimize_bounded

__all__ = ["POSTERIOR_DRAWS", "DurationPosterior", "duration_posterior"]

#: Number of posterior draws the model file carries (a power of two: balanced Sobol points).
POSTERIOR_DRAWS = 64
_TAU_GRID = np.linspace(np.log(0.02), np.log(4.0), 16)


def _half_normal_log_tau(log_tau: FloatArray, scale: float = 1.0) -> FloatArray:
    """Log density of log tau when tau ~ half-normal(0, scale) (Jacobian included)."""
    tau = np.exp(log_tau)
    return np.asarray(log_tau - 0.5 * (tau / scale) ** 2)


@dataclass
class DurationPosterior:
    """Posterior draws of a fitted duration model and each chain's effect given them (see module doc)."""

    fit: DurationFitter
    mu: FloatArray
    sigma: FloatArray
    tau: FloatArray
    #: per fitted chain: posterior mean and variance of its effect in each draw, (M,) arrays
    effect_mean: dict[str, FloatArray]
    effect_var: dict[str, FloatArray]
    #: posterior of log tau on its grid (empty without a chain effect), for reports
    tau_grid: FloatArray = field(default_factory=lambda: np.zeros(0))
    tau_weights: FloatArray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_draws(self) -> int:
        return int(self.mu.size)

    def _chain(self, chain: str | None) -> tuple[FloatArray, FloatArray]:
        if chain is not None and chain in self.effect_mean:
            return self.effect_mean[chain], self.effect_var[chain]
        return np.zeros_like(self.tau), self.tau ** 2

    def law(self, chain: str | None = None) -> PredictiveDuration:
        """The predictive law of ``chain``'s next duration (a new chain's for None or a chain without durations)."""
        m, v = self._chain(chain)
        return PredictiveDuration.from_draws(self.fit.family, self.mu + m, np.sqrt(v), self.sigma)

    def chain_params(self, chain: str | None, n: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """``n`` draws of the chain's own ``(location, sigma)``: a posterior draw, then its effect given it."""
        m, v = self._chain(chain)
        j = rng.integers(0, self.n_draws, n)
        return self.mu[j] + m[j] + np.sqrt(v[j]) * rng.standard_normal(n), self.sigma[j]

    def tau_summary(self, level: float = 0.95) -> tuple[float, float, float]:
        """Posterior median of ``tau`` and its equal-tailed interval (zeros without a chain effect)."""
        if self.tau_weights.size == 0:
            return 0.0, 0.0, 0.0
        cdf = np.cumsum(self.tau_weights)
        a = (1 - level) / 2
        return tuple(float(np.exp(np.interp(q, cdf, self.tau_grid))) for q in (0.5, a, 1 - a))  # type: ignore


def _profile(fit: DurationFitter, grid: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Profile negative log-likelihood over ``log tau`` on ``grid``, and the maximising ``(mu, log sigma)``."""
    nll = np.empty(grid.size)
    arg = np.empty((grid.size, 2))
    start = np.asarray(fit.theta_[:2], dtype=float)
    bounds = [(start[0] - 30.0, start[0] + 30.0), (np.log(1e-3), np.log(50.0))]
    order = np.argsort(np.abs(grid - fit.theta_[2]))  # outward from the MLE, warm-started from the nearest
    done: dict[int, FloatArray] = {}
    for i in order:
        near = min(done, key=lambda d: abs(d - i)) if done else None
        x0 = done[near] if near is not None else start
        lt = float(grid[i])
        res = minimize_bounded(lambda th, lt=lt: fit.nll(th[0], th[1], lt), x0, bounds)
        nll[i], arg[i] = res.fun, res.x
        done[int(i)] = res.x
    return nll, arg


def duration_posterior(fit: DurationFitter, n_draws: int = POSTERIOR_DRAWS, seed: int = 0) -> DurationPosterior:
    """Posterior draws of ``fit`` (see module doc); deterministic for given data and ``seed``."""
    sob = qmc.Sobol(d=3, scramble=True, rng=np.random.default_rng(seed)).random(n_draws)
    sob = np.clip(sob, 1e-12, 1 - 1e-12)
    z = special.ndtri(sob[:, 1:])
    chol = np.linalg.cholesky(fit.cov_ + 1e-12 * np.eye(2))
    if not fit.chain_effect or fit.tau_ <= 0:
        th = np.asarray(fit.theta_[:2]) + z @ chol.T
        zeros = np.zeros(n_draws)
        return DurationPosterior(fit, th[:, 0], np.exp(th[:, 1]), zeros, {}, {})
    grid = _TAU_GRID
    nll, arg = _profile(fit, grid)
    logw = -nll + _half_normal_log_tau(grid)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]))])
    cdf /= cdf[-1]
    log_tau = np.interp(sob[:, 0], cdf, grid)
    centre = np.column_stack([np.interp(log_tau, grid, arg[:, 0]), np.interp(log_tau, grid, arg[:, 1])])
    th = centre + z @ chol.T
    mu, sigma, tau = th[:, 0], np.exp(th[:, 1]), np.exp(log_tau)
    means = np.empty((n_draws, len(fit.chains_)))
    varis = np.empty_like(means)
    for j in range(n_draws):
        means[j], varis[j] = fit.effect_posterior(float(mu[j]), float(sigma[j]), float(tau[j]))
    return DurationPosterior(fit, mu, sigma, tau, {c: means[:, i] for i, c in enumerate(fit.chains_)},
                             {c: varis[:, i] for i, c in enumerate(fit.chains_)}, grid, w)
