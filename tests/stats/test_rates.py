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
        covers.append(np.mean((p.intervals_[:, 0] <= lam) & (lam <= p.intervals_[:, 1])))
        means.append(p.prior_mean_per_year_)
        q = GammaPoissonPooling(hyper="plugin").fit(k, t)
        plug.append(np.mean((q.intervals_[:, 0] <= lam) & (lam <= q.intervals_[:, 1])))
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
            cdf = p.weights_ @ sps.gamma.cdf(p.intervals_[c, j], shape, scale=1 / rate)
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
