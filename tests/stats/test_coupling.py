"""Volatility coupling: recovery and coverage of beta on simulated panels; the LR test's size; prices."""

from __future__ import annotations

import numpy as np
import pytest

from seqrisk.exceptions import DataError, NotFittedError
from seqrisk.stats import VolatilityCoupling, daily_realized_vol, load_prices


def _panel(rng: np.random.Generator, beta: float, days: int = 1500, chains: int = 10):
    x = np.log(0.6) + rng.normal(0, 0.45, days)
    e = np.ones((chains, days))
    e[:, : days // 3] *= rng.random((chains, 1)) < 0.5   # some chains launch later
    lam = rng.uniform(0.002, 0.02, (chains, 1))
    y = rng.poisson(e * lam * np.exp(beta * (x - np.log(0.6))))
    return x, e, y


def test_beta_recovery_and_profile_interval_coverage() -> None:
    rng = np.random.default_rng(0)
    runs, beta = 200, 0.8
    hits, est = 0, []
    for _ in range(runs):
        f = VolatilityCoupling().fit(*_panel(rng, beta))
        hits += f.interval_[0] <= beta <= f.interval_[1]
        est.append(f.beta_)
    assert 0.90 <= hits / runs <= 0.99
    assert np.mean(est) == pytest.approx(beta, abs=0.05)


def test_lr_test_of_zero_has_nominal_size() -> None:
    rng = np.random.default_rng(1)
    p = np.array([VolatilityCoupling().fit(*_panel(rng, 0.0)).p_value_ for _ in range(200)])
    assert 0.01 <= np.mean(p < 0.05) <= 0.10


def test_matches_poisson_glm_with_chain_fixed_effects() -> None:
    """Profile likelihood = full Poisson GLM (chain intercepts + offset): compare with a direct fit."""
    from scipy import optimize

    rng = np.random.default_rng(2)
    x, e, y = _panel(rng, 0.5, days=400, chains=4)

    def nll(theta: np.ndarray) -> float:
        eta = theta[:4, None] + theta[4] * x[None, :]
        mu = e * np.exp(eta)
        return float((mu - y * np.where(e > 0, eta + np.log(np.where(e > 0, e, 1)), 0)).sum())

    res = optimize.minimize(nll, np.r_[np.full(4, -4.0), 0.0], method="BFGS", options={"gtol": 1e-9})
    f = VolatilityCoupling().fit(x, e, y)
    assert f.beta_ == pytest.approx(res.x[4], abs=1e-4)


def test_sigma_ref_centres_the_multiplier() -> None:
    rng = np.random.default_rng(3)
    x, e, y = _panel(rng, 1.0)
    f = VolatilityCoupling().fit(x, e, y)
    w = e.sum(axis=0)
    assert np.average(f.rate_multiplier(np.exp(x)), weights=w) == pytest.approx(1.0, rel=1e-9)


def test_bad_input() -> None:
    with pytest.raises(DataError, match="not estimable"):
        VolatilityCoupling().fit(np.zeros(3), np.ones((1, 3)), np.array([[1, 0, 0]]))
    with pytest.raises(DataError, match="not estimable"):
        VolatilityCoupling().fit(np.zeros(3), np.ones((1, 3)), np.array([[1, 1, 0]]))
    with pytest.raises(DataError, match="no exposure"):
        VolatilityCoupling().fit(np.arange(3.0), np.array([[1, 0, 1.0]]), np.array([[1, 1, 0]]))
    with pytest.raises(NotFittedError):
        VolatilityCoupling().summary()


def test_bundled_prices_and_realized_vol() -> None:
    px = load_prices("eth", "hourly")
    assert str(px.index.tz) == "UTC" and px.index.is_monotonic_increasing and (px["close"] > 0).all()
    assert load_prices("btc", "daily").index[0].year == 2017
    vol = daily_realized_vol("eth")
    # the documented annual realized vols (PRICES-SOURCE.md: hourly-based 2022 86%, 2023 46%)
    close = px["close"]
    r = np.log(close).diff().dropna()
    r22 = r[r.index.year == 2022]
    assert np.sqrt((r22 ** 2).mean() * 24 * 365) == pytest.approx(0.86, abs=0.01)
    # a day's vol is sqrt(mean squared hourly return * 24 * 365)
    d = vol.index[100]
    rd = r[(r.index.floor("D") == d)]
    rd = rd[(rd.index.to_series().diff().dt.total_seconds().fillna(3600) == 3600)]
    assert vol.iloc[100] == pytest.approx(np.sqrt((rd ** 2).mean() * 24 * 365), rel=1e-6)
