"""Cross-chain excitation: a pooled multichain Hawkes process with within- and cross-chain offspring.

Intensity of chain ``c`` (events per day) on its observed windows::

    lambda_c(t) = mu * r_c  +  beta * sum_{t_i < t} exp(-beta (t - t_i)) * (n_w [c_i = c] + n_x s_{c|c_i} [c_i != c])

``r_c`` is the chain's pooled own rate relative to the mean (so rate
differences between chains are not read as clustering); ``n_w`` is the number
of follow-on outages an event begets on its own chain, ``n_x`` on the other
chains, shared out by ``s_{c|d} = r_c / sum_{c' != d, live} r_c'`` over the
chains live at the parent's time; ``beta`` is the decay per day. Every event
is a parent, common-shock member events included; only the chains' own events
carry likelihood (the shocks are the other process). The branching ratio of
the whole process is ``n_w + n_x < 1``, parametrised as ``n = expit(a)``,
``n_x = n expit(b)``.

The likelihood-ratio test against Poisson (``n = 0``) refers to chi-square
with 3 degrees of freedom (``n``, and the split and decay that are not
identified under the null; the conservative convention of
:mod:`seqrisk.stats.hawkes`); ``p_value_cross_`` tests ``n_x = 0`` with
``n_w`` free (chi-square 1). Posterior draws (``draws``) come from the
asymptotic normal of the parameters (scrambled Sobol points, seeded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps
from scipy.stats import qmc

from seqrisk._typing import FloatArray
from seqrisk.exceptions import DataError, NotFittedError
from seqrisk.stats.optim import covariance_from_hessian, minimize_bounded, observed_information

__all__ = ["CrossHawkesFitter"]


class CrossHawkesFitter:
    """MLE of the multichain Hawkes process of the module doc.

    ``fit(times_days, chains, own, rel, windows_days)``: event times (days),
    their chains, whether each is an own event (False: a parent only), each
    chain's relative rate and observed windows (days). Learned: ``mu_``,
    ``branching_within_``, ``branching_cross_``, ``decay_per_day_``,
    ``intervals_``, ``loglik_``, ``loglik_poisson_``, ``lr_stat_``,
    ``p_value_``, ``p_value_cross_``, ``n_events_``, ``draws_`` ((64, 3):
    within, cross, decay).
    """

    def __init__(self, *, level: float = 0.95, n_draws: int = 64) -> None:
        self.level = level
        self.n_draws = n_draws

    def fit(self, times_days: Sequence[float] | FloatArray, chains: Sequence[str], own: Sequence[bool],
            rel: Mapping[str, float], windows_days: Mapping[str, Sequence[tuple[float, float]]]) -> CrossHawkesFitter:
        t = np.asarray(times_days, dtype=float)
        order = np.argsort(t, kind="stable")
        t = t[order]
        ch = [chains[i] for i in order]
        is_own = np.asarray(own, dtype=bool)[order]
        names = sorted(windows_days)
        if int(is_own.sum()) < 3:
            raise DataError(f"{int(is_own.sum())} own event(s): a Hawkes fit needs at least 3")
        r = np.array([rel.get(c, 0.0) for c in names])
        live_days = np.array([sum(b - a for a, b in windows_days[c]) for c in names])
        base_integral = float(r @ live_days)
        end = np.array([max((b for _, b in windows_days[c]), default=0.0) for c in names])
        pos = {c: i for i, c in enumerate(names)}
        ci = np.array([pos[c] for c in ch])
        live = np.array([[any(a <= ti < b for a, b in windows_days[c]) for c in names] for ti in t])  # (n, C)
        w_live = live * r[None, :]
        denom = w_live.sum(axis=1) - w_live[np.arange(t.size), ci]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(denom[:, None] > 0, w_live / denom[:, None], 0.0)   # s_{c|c_i}, (n, C)
        share[np.arange(t.size), ci] = 0.0
        own_idx = np.flatnonzero(is_own)
        same = ci[own_idx][:, None] == ci[None, :]                     # (own, n)
        s_to = share[:, ci[own_idx]].T                                 # (own, n): s_{c_k | c_i}
        dt = t[own_idx][:, None] - t[None, :]
        before = dt > 0
        tail = np.maximum(end[None, :] - t[:, None], 0.0)             # (n, C)
        tail_own = tail[np.arange(t.size), ci]
        base_at = r[ci[own_idx]]
        if np.any(base_at <= 0):
            raise DataError("an own event on a chain with no baseline rate")

        def nll(theta: FloatArray) -> float:
            mu, n_tot, split, beta = np.exp(theta[0]), special.expit(theta[1]), special.expit(theta[2]), \
                np.exp(theta[3])
            n_w, n_x = n_tot * (1 - split), n_tot * split
            k = np.where(before, np.exp(-beta * np.where(before, dt, 0.0)), 0.0)
            lam = mu * base_at + beta * (k * np.where(same, n_w, n_x * s_to)).sum(axis=1)
            comp = mu * base_integral + n_w * (-np.expm1(-beta * tail_own)).sum() + n_x * (
                share * -np.expm1(-beta * tail)).sum()
            return float(-(np.log(lam).sum() - comp))

        n_own = own_idx.size
        mu0 = n_own / base_integral
        span = max(float(t[-1] - t[0]) / max(t.size, 1), 1e-3)
        starts = [np.array([np.log(mu0 * 0.7), special.logit(0.3), special.logit(s), np.log(d / span)])
                  for s in (0.3, 0.7) for d in (0.5, 5.0)]
        bounds = [(np.log(mu0) - 10, np.log(mu0) + 3), (-12.0, 6.0), (-10.0, 10.0),
                  (np.log(1e-3 / span), np.log(1e4 / span))]
        res = min((minimize_bounded(nll, x0, bounds) for x0 in starts), key=lambda x: x.fun)
        # the null (no excitation) and the within-only model
        self.loglik_poisson_ = float(n_own * np.log(mu0) + np.log(base_at).sum() - n_own)
        within = [minimize_bounded(lambda th: nll(np.array([th[0], th[1], -30.0, th[2]])),
                                   np.array([np.log(mu0 * 0.8), special.logit(0.2), np.log(d / span)]),
                                   [bounds[0], bounds[1], bounds[3]]) for d in (0.5, 5.0)]
        ll_within = -min(w.fun for w in within)
        self.theta_ = res.x
        self.mu_ = float(np.exp(res.x[0]))
        n_tot, split = float(special.expit(res.x[1])), float(special.expit(res.x[2]))
        self.branching_within_ = n_tot * (1 - split)
        self.branching_cross_ = n_tot * split
        self.decay_per_day_ = float(np.exp(res.x[3]))
        self.loglik_ = float(-res.fun)
        self.lr_stat_ = max(0.0, 2.0 * (self.loglik_ - self.loglik_poisson_))
        self.p_value_ = float(sps.chi2.sf(self.lr_stat_, 3))
        lr_cross = max(0.0, 2.0 * (self.loglik_ - max(ll_within, self.loglik_poisson_)))
        self.p_value_cross_ = float(sps.chi2.sf(lr_cross, 1))
        self.n_events_ = int(n_own)
        cov = covariance_from_hessian(observed_information(nll, res.x))
        sob = qmc.Sobol(d=4, scramble=True, rng=np.random.default_rng(3)).random(self.n_draws)
        z = special.ndtri(np.clip(sob, 1e-12, 1 - 1e-12))
        lo, hi = np.array(bounds).T  # draws stay in the fitted box (a barely identified decay would overflow)
        th = np.clip(res.x + z @ np.linalg.cholesky(cov + 1e-12 * np.eye(4)).T, lo, hi)
        nt, sp = special.expit(th[:, 1]), special.expit(th[:, 2])
        self.draws_ = np.column_stack([nt * (1 - sp), nt * sp, np.exp(th[:, 3])])
        a = (1 - self.level) / 2
        self.intervals_ = {
            name: (float(np.quantile(self.draws_[:, j], a)), float(np.quantile(self.draws_[:, j], 1 - a)))
            for j, name in enumerate(("branching_within", "branching_cross", "decay_per_day"))}
        return self

    def _check(self) -> None:
        if not hasattr(self, "mu_"):
            raise NotFittedError("CrossHawkesFitter is not fitted; call fit() first")

    def summary(self) -> pd.DataFrame:
        """Parameters with intervals (percentiles of the draws) and the likelihood-ratio tests."""
        self._check()
        rows = [("branching_within", self.branching_within_, *self.intervals_["branching_within"]),
                ("branching_cross", self.branching_cross_, *self.intervals_["branching_cross"]),
                ("decay_per_day", self.decay_per_day_, *self.intervals_["decay_per_day"]),
                ("p_value", self.p_value_, np.nan, np.nan), ("p_value_cross", self.p_value_cross_, np.nan, np.nan)]
        return pd.DataFrame(rows, columns=["param", "estimate", "low", "high"]).set_index("param")
