"""Rates: Garwood intervals against closed forms and simulation; empirical-Bayes pooling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from seqrisk.exceptions import DataError, NotFittedError
from seqrisk.stats import GammaPoissonPooling, garwood_interval


def test_garwood_zero_count_closed_form() -> None:
    lo, hi = garwood_interval(0, 2.0)
    assert lo == 0.0
    assert hi == pytest.approx(-math.log(0.025) / 2.0, rel=1e-12)


def test_garwood_matches_poisson_tail_definition() -> None:
    # the exact interval's ends are where P(X >= k) = 2.5% and P(X <= k) = 2.5%
    k, t = 7, 3.0
    lo, hi = garwood_interval(k, t)
    assert sps.poisson.sf(k - 1, lo * t) == pytest.approx(0.025, rel=1e-9)
    assert sps.poisson.cdf(k, hi * t) == pytest.approx(0.025, rel=1e-9)


def test_garwood_vectorised_and_zero_exposure() -> None:
    lo, hi = garwood_interval(np.array([0, 3]), np.array([0.0, 1.0]))
    assert lo[0] == 0 and np.isinf(hi[0])
    assert lo[1] == pytest.approx(sps.chi2.ppf(0.025, 6) / 2)


def test_garwood_coverage_is_at_least_nominal() -> None:
    rng = np.random.default_rng(11)
    rate, t = 0.8, 2.5
    k = rng.poisson(rate * t, 2000)
    lo, hi = garwood_interval(k, t)
    cover = np.mean((lo <= rate) & (rate <= hi))
    assert 0.95 <= cover <= 0.995  # exact intervals are conservative


def _simulate(rng: np.random.Generator, n_chains: int, shape: float, mean: float, t: np.ndarray):
    lam = rng.gamma(shape, mean / shape, n_chains)
    return lam, rng.poisson(lam * t)


@pytest.mark.slow
def test_pooling_recovers_prior_and_covers_rates() -> None:
    """Rates drawn from a known gamma prior: posterior intervals cover the true rates ~95%."""
    rng = np.random.default_rng(5)
    shape, mean = 2.0, 0.5
    covers, means, plug = [], [], []
    for _ in range(50):
        t = rng.uniform(1, 5, 30)
        lam, k = _simulate(rng, 30, shape, mean, t)
        p = GammaPoissonPooling().fit(k, t)
        covers.append(np.mean((p.posterior_intervals_[:, 0] <= lam) & (lam <= p.posterior_intervals_[:, 1])))
        means.append(p.prior_mean_per_year_)
        q = GammaPoissonPooling(hyper="plugin").fit(k, t)
        plug.append(np.mean((q.posterior_intervals_[:, 0] <= lam) & (lam <= q.posterior_intervals_[:, 1])))
    assert 0.92 <= np.mean(covers) <= 0.99
    assert np.mean(plug) < np.mean(covers)  # the plug-in ignores hyperparameter uncertainty
    assert np.mean(means) == pytest.approx(mean, rel=0.06)


def test_mixture_quantiles_solve_the_mixture_cdf() -> None:
    k = np.array([3, 0, 1, 0, 0, 7])
    t = np.array([4.0, 3.0, 2.0, 0.5, 0.0, 2.0])
    p = GammaPoissonPooling().fit(k, t)
    assert p.weights_.size > 1 and p.weights_.sum() == pytest.approx(1.0)
    for j, q in ((0, 0.025), (1, 0.975)):
        for c in range(k.size):
            shape = p.grid_shape_ + k[c]
            rate = p.grid_weight_years_ + t[c]
            cdf = p.weights_ @ sps.gamma.cdf(p.posterior_intervals_[c, j], shape, scale=1 / rate)
            assert cdf == pytest.approx(q, abs=1e-8)
        mean = p.weights_ @ ((p.grid_shape_[:, None] + k) / (p.grid_weight_years_[:, None] + t))
    assert np.allclose(p.rates_per_year_, mean)
    draws = p.sample(np.random.default_rng(0), 20000)
    assert np.allclose(draws.mean(axis=0), p.rates_per_year_, rtol=0.05)


def test_pooled_rates_shrink_toward_pooled_mean_and_keep_order() -> None:
    k = np.array([0, 1, 2, 4, 9])
    t = np.full(5, 3.0)
    raw = k / t
    for hyper in ("integrate", "plugin"):
        p = GammaPoissonPooling(hyper=hyper).fit(k, t, labels=list("abcde"))
        assert np.all(np.diff(p.rates_per_year_) > 0)  # same order as raw at equal exposure
        assert np.all(np.abs(p.rates_per_year_ - k.sum() / t.sum()) <= np.abs(raw - k.sum() / t.sum()) + 1e-9)
    m = p.prior_mean_per_year_
    assert np.all(np.abs(p.rates_per_year_ - m) <= np.abs(raw - m) + 1e-12)
    # plug-in posterior mean is the precision-weighted mix of raw rate and prior mean
    w = p.shrinkage_
    assert np.allclose(p.rates_per_year_, w * m + (1 - w) * raw)


def test_zero_incident_and_zero_exposure_chains_get_a_posterior() -> None:
    p = GammaPoissonPooling().fit([0, 0, 5, 2], [2.0, 0.0, 3.0, 1.0])
    assert np.all(np.isfinite(p.rates_per_year_)) and np.all(p.rates_per_year_ > 0)
    # no exposure: the posterior is the prior predictive (hyperparameters integrated out)
    assert p.rates_per_year_[1] == pytest.approx(p.weights_ @ p.grid_mean_per_year_)
    q = GammaPoissonPooling(hyper="plugin").fit([0, 0, 5, 2], [2.0, 0.0, 3.0, 1.0])
    assert q.rates_per_year_[1] == pytest.approx(q.prior_mean_per_year_)
    assert np.all(np.isfinite(p.intervals_))
    s = p.summary()
    assert list(s.index) == ["0", "1", "2", "3"] and not s["rate_per_year"].isna().any()


def test_no_overdispersion_caps_prior_weight_at_total_exposure() -> None:
    p = GammaPoissonPooling(hyper="plugin").fit([2, 2, 2, 2], [1.0, 1.0, 1.0, 1.0])
    assert p.at_weight_cap_ and p.prior_shape_ == pytest.approx(8.0, rel=1e-3)
    assert p.prior_weight_years_ == pytest.approx(4.0, rel=1e-3)
    assert p.rates_per_year_ == pytest.approx(np.full(4, 2.0), rel=1e-3)


def test_bad_input() -> None:
    with pytest.raises(DataError, match="no events"):
        GammaPoissonPooling().fit([0, 0], [1.0, 2.0])
    with pytest.raises(DataError, match="no exposure"):
        GammaPoissonPooling().fit([1, 0], [0.0, 0.0])
    with pytest.raises(NotFittedError):
        GammaPoissonPooling().summary()


def _catalog_design(rng: np.random.Generator, shape: float = 1.1, mean: float = 0.3, n: int = 26):
    """The catalog's design: 26 chains observed 1-5 years, rates from a gamma prior of shape ~1.1."""
    t = rng.uniform(1, 5, n)
    lam, k = _simulate(rng, n, shape, mean, t)
    return lam, k, t


@pytest.mark.slow
def test_hyperparameter_integration_is_accurate_to_a_thousandth() -> None:
    """Posterior mean and 95% bounds of a zero-count and the top chain against adaptive 2-d quadrature."""
    from scipy import integrate, special

    from seqrisk.stats.rates import _log_hyperprior, _nb_loglik

    rng = np.random.default_rng(3)
    _, k, t = _catalog_design(rng)
    k = k.astype(float)
    p = GammaPoissonPooling().fit(k, t)
    n_tot = k.sum()
    c0 = _nb_loglik(k, t, np.array([p.prior_mean_per_year_]), np.array([p.prior_shape_]))[0]

    def dens(la: float, lm: float) -> float:
        ll = _nb_loglik(k, t, np.exp(np.array([lm])), np.exp(np.array([la])))[0]
        return float(np.exp(ll - c0 + _log_hyperprior(np.array([la]))[0]))

    box = (np.log(n_tot / t.sum()) - 4, np.log(n_tot / t.sum()) + 4, np.log(0.5), np.log(n_tot))

    def integral(g) -> float:
        v, _ = integrate.dblquad(lambda la, lm: dens(la, lm) * g(la, lm), *box, epsabs=0, epsrel=1e-8)
        return v

    z = integral(lambda la, lm: 1.0)
    for c in (int(np.argmin(k)), int(np.argmax(k))):
        mean = integral(lambda la, lm, c=c: (np.exp(la) + k[c]) / (np.exp(la - lm) + t[c])) / z
        assert p.rates_per_year_[c] == pytest.approx(mean, rel=1e-3)
        for j, q in ((0, 0.025), (1, 0.975)):
            x = p.posterior_intervals_[c, j]
            cdf = integral(lambda la, lm, c=c, x=x: special.gammainc(np.exp(la) + k[c],
                                                                     (np.exp(la - lm) + t[c]) * x)) / z
            # the quantile's relative error is the CDF error over the density at it (x * f(x))
            shape, rate = p.grid_shape_ + k[c], p.grid_weight_years_ + t[c]
            xf = p.weights_ @ sps.gamma.pdf(x, shape, scale=1 / rate) * x
            assert abs(cdf - q) / xf < 1e-3


@pytest.mark.slow
def test_reported_intervals_cover_every_quintile_at_the_catalog_design() -> None:
    """Quintiles of the true rate: the riskiest fifth of chains is covered >= 90% (pure posterior intervals
    cover it ~80% of the time: shrinkage pulls it toward the mean), and pooling still narrows the intervals."""
    rng = np.random.default_rng(7)
    cov, post, width = [], [], []
    for _ in range(150):
        lam, k, t = _catalog_design(rng)
        if k.sum() == 0:
            continue
        p = GammaPoissonPooling().fit(k, t)
        q = np.argsort(np.argsort(lam)) * 5 // lam.size
        hit = (p.intervals_[:, 0] <= lam) & (lam <= p.intervals_[:, 1])
        hit_post = (p.posterior_intervals_[:, 0] <= lam) & (lam <= p.posterior_intervals_[:, 1])
        cov.append([hit[q == i].mean() for i in range(5)])
        post.append([hit_post[q == i].mean() for i in range(5)])
        width.append(np.median((p.intervals_[:, 1] - p.intervals_[:, 0]) / (p.raw_intervals_[:, 1]
                                                                            - p.raw_intervals_[:, 0])))
    by_quintile = np.mean(cov, axis=0)
    assert np.all(by_quintile >= 0.90), by_quintile
    assert np.mean(by_quintile) <= 0.995
    assert np.mean(post, axis=0)[4] < 0.88          # what the robust bound is for
    assert np.mean(width) < 0.9                     # narrower than each chain's own exact interval
