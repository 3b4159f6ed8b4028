"""Predictive duration laws: exact forms, sampling, and calibration against the hierarchical model they integrate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from seqrisk.outage import PredictiveDuration, duration_law_from_dict
from seqrisk.stats.durations import DurationFitter, compare_models
from seqrisk.stats.predictive import DurationPosterior, duration_posterior


@pytest.mark.parametrize("base", ["lognormal", "weibull", "loglogistic"])
def test_predictive_law_cdf_ppf_sample_and_mean_agree(base: str) -> None:
    rng = np.random.default_rng(4)
    law = PredictiveDuration.from_draws(base, 8 + 0.3 * rng.standard_normal(16), np.abs(rng.normal(0, 0.7, 16)),
                                        0.4 + 0.4 * rng.random(16))
    q = np.array([0.001, 0.1, 0.5, 0.9, 0.99, 0.999])
    assert np.allclose(law.cdf(law.ppf(q)), q, atol=1e-12)
    x = law.sample(np.random.default_rng(1), 200_000)
    assert sps.kstest(x, law.cdf).pvalue > 0.001
    assert x.mean() == pytest.approx(law.mean(), rel=0.03)
    back = duration_law_from_dict(json.loads(json.dumps(law.to_dict())))
    assert isinstance(back, PredictiveDuration) and np.array_equal(back.loc, law.loc)
    assert law.scaled(2.0).ppf(0.9) == pytest.approx(2.0 * law.ppf(0.9), rel=1e-9)


def test_lognormal_predictive_of_a_chain_without_durations_is_the_closed_form() -> None:
    # one draw at known parameters: a new chain's law is lognormal(mu, sqrt(sigma^2 + tau^2))
    mu, sigma, tau = np.log(7200.0), 1.26, 1.08
    f = DurationFitter(family="lognormal")
    post = DurationPosterior(f, np.array([mu]), np.array([sigma]), np.array([tau]), {}, {})
    law = post.law("never-seen")
    exact = sps.lognorm(s=np.hypot(sigma, tau), scale=np.exp(mu))
    assert law.ppf(0.99) == pytest.approx(exact.ppf(0.99), rel=1e-6)   # 7 significant digits stored
    assert law.mean() == pytest.approx(exact.mean(), rel=1e-6)
    # direct simulation of the hierarchical model: a chain effect, then a duration
    rng = np.random.default_rng(0)
    d = np.exp(mu + tau * rng.standard_normal(400_000) + sigma * rng.standard_normal(400_000))
    assert np.quantile(d, 0.99) == pytest.approx(law.ppf(0.99), rel=0.03)
    # the plug-in law at a zero chain effect is far too short in the tail: its p99 is exceeded ~4% of the time
    assert np.mean(d > np.exp(mu + sigma * 2.3263)) > 0.03


def _hierarchical(rng: np.random.Generator, n_chains: int, mu: float, sigma: float, tau: float
                  ) -> tuple[np.ndarray, list[str]]:
    u = rng.normal(0, tau, n_chains)
    x, ch = [], []
    for i in range(n_chains):
        n = int(rng.integers(1, 4))
        x += list(np.exp(mu + u[i] + sigma * rng.standard_normal(n)))
        ch += [f"c{i}"] * n
    return np.array(x), ch


@pytest.mark.slow
def test_predictive_law_of_a_new_chain_is_calibrated() -> None:
    """Durations of new chains drawn from the hierarchical model: their predictive PIT is uniform and the
    predictive p99 is exceeded ~1% of the time (the plug-in law at u = 0: several times more often)."""
    rng = np.random.default_rng(11)
    mu, sigma, tau = np.log(9000.0), 1.2, 1.0
    pit, plug = [], []
    for r in range(40):
        x, ch = _hierarchical(rng, 12, mu, sigma, tau)
        f = DurationFitter(family="lognormal", chain_effect=True).fit(x, x, chains=ch)
        law = duration_posterior(f, seed=r).law(None)
        new = np.exp(mu + tau * rng.standard_normal(30) + sigma * rng.standard_normal(30))
        pit += list(law.cdf(new))
        plug += list(f.law(None).cdf(new))
    pit_a, plug_a = np.array(pit), np.array(plug)
    assert np.mean(pit_a > 0.99) <= 0.025
    assert np.mean(plug_a > 0.99) > 2 * max(np.mean(pit_a > 0.99), 0.005)
    assert sps.kstest(pit_a, "uniform").pvalue > 0.001


def test_posterior_of_a_chain_with_durations_narrows_toward_its_data() -> None:
    rng = np.random.default_rng(3)
    x, ch = _hierarchical(rng, 10, np.log(3600.0), 0.8, 1.0)
    x = np.concatenate([x, np.exp(np.log(3600.0) + 2.0 + 0.8 * rng.standard_normal(8))])
    ch = ch + ["long"] * 8
    f = DurationFitter(family="lognormal", chain_effect=True).fit(x, x, chains=ch)
    post = duration_posterior(f)
    long_law, new_law = post.law("long"), post.law(None)
    assert long_law.ppf(0.5) > 3 * new_law.ppf(0.5)              # its own durations move it
    assert np.all(post.effect_var["long"] < post.tau ** 2)        # and its location is better known
    # deterministic: same data, same draws
    again = duration_posterior(f)
    assert np.array_equal(again.mu, post.mu) and np.array_equal(again.tau, post.tau)


def test_model_choice_covers_families_with_and_without_chain_effect() -> None:
    rng = np.random.default_rng(5)
    x = np.exp(8 + 1.1 * rng.standard_normal(40))               # no chain effect in truth
    ch = [f"c{i % 8}" for i in range(40)]
    fits, table = compare_models(x, x, chains=ch)
    assert len(table) == 6 and set(table["chain_effect"]) == {False, True}
    assert table["akaike_weight"].sum() == pytest.approx(1.0)
    assert table["delta_aic"].iloc[0] == 0 and table.iloc[0]["chain_effect"] is np.False_
    assert set(fits) == set(table.index)
