"""Duration fits: equal scipy's MLE (uncensored and CensoredData), recover known laws with coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from seqrisk.exceptions import DataError, NotFittedError
from seqrisk.stats import DurationFitter, compare_families

_SCIPY = {"lognormal": sps.lognorm, "weibull": sps.weibull_min, "loglogistic": sps.fisk}


def _scipy_params(fam: str, data) -> tuple[float, float]:
    """(location mu = log scale, sigma) of scipy's MLE with loc fixed at 0."""
    c, _, scale = _SCIPY[fam].fit(data, floc=0)
    return float(np.log(scale)), float(c if fam == "lognormal" else 1.0 / c)


@pytest.mark.parametrize("fam", ["lognormal", "weibull", "loglogistic"])
def test_uncensored_fit_equals_scipy_mle(fam: str) -> None:
    x = sps.weibull_min(c=0.9, scale=5400).rvs(150, random_state=np.random.default_rng(3))
    f = DurationFitter(family=fam).fit(x, x)  # type: ignore[arg-type]
    mu, sigma = _scipy_params(fam, x)
    assert f.mu_ == pytest.approx(mu, abs=2e-5)
    assert f.sigma_ == pytest.approx(sigma, rel=2e-5)
    assert f.n_exact_ == 150 and f.n_missing_ == 0


@pytest.mark.parametrize("fam", ["lognormal", "weibull", "loglogistic"])
def test_censored_fit_equals_scipy_censoreddata(fam: str) -> None:
    rng = np.random.default_rng(4)
    x = sps.lognorm(s=1.2, scale=3600).rvs(120, random_state=rng)
    lo, hi = x.copy(), x.copy()
    hi[:30] = np.inf                                  # right-censored at x
    lo[30:60], hi[30:60] = x[30:60] * 0.6, x[30:60] * 1.8  # interval-censored
    lo[60:70] = 0.0                                   # left-censored
    cd = sps.CensoredData(uncensored=x[70:], right=x[:30],
                          interval=np.column_stack([lo[30:60], hi[30:60]]), left=hi[60:70])
    f = DurationFitter(family=fam).fit(lo, hi)  # type: ignore[arg-type]
    mu, sigma = _scipy_params(fam, cd)
    assert f.mu_ == pytest.approx(mu, abs=1e-4)
    assert f.sigma_ == pytest.approx(sigma, rel=1e-4)
    assert (f.n_exact_, f.n_right_, f.n_interval_, f.n_left_) == (50, 30, 30, 10)


def test_law_and_quantiles_match_the_scipy_distribution() -> None:
    x = sps.weibull_min(c=1.3, scale=7200).rvs(80, random_state=np.random.default_rng(8))
    f = DurationFitter(family="weibull").fit(x, x)
    law = f.law()
    assert law.family == "weibull" and law.params["shape"] == pytest.approx(1 / f.sigma_)
    est, lo, hi = f.quantile(0.9)
    assert est == pytest.approx(law.ppf(0.9), rel=1e-9) and lo < est < hi
    assert f.sf(np.array([est]))[0] == pytest.approx(0.1, rel=1e-9)


def _simulate(rng: np.random.Generator, fam: str, n: int):
    """Known law; 25% right-censored at an independent time, 25% interval-censored (x0.5..x2 around)."""
    x = np.exp(np.log(3600.0) + 1.1 * rng.standard_normal(n)) if fam == "lognormal" else 3600.0 * rng.weibull(0.8, n)
    lo, hi = x.copy(), x.copy()
    c = rng.exponential(2 * 3600.0, n)
    right = (rng.random(n) < 0.5) & (c < x)
    lo[right], hi[right] = c[right], np.inf
    iv = ~right & (rng.random(n) < 0.3)
    u = rng.uniform(0.3, 1.0, n)
    lo[iv], hi[iv] = x[iv] * u[iv], x[iv] * u[iv] * 3
    return lo, hi


@pytest.mark.slow
@pytest.mark.parametrize(("fam", "mu", "sigma"), [("lognormal", np.log(3600.0), 1.1),
                                          ("weibull", np.log(3600.0), 1 / 0.8)])
def test_parameter_recovery_and_interval_coverage(fam: str, mu: float, sigma: float) -> None:
    rng = np.random.default_rng(21)
    hit_mu = hit_q = 0
    mus = []
    runs = 200
    for _ in range(runs):
        lo, hi = _simulate(rng, fam, 80)
        f = DurationFitter(family=fam).fit(lo, hi)  # type: ignore[arg-type]
        s = f.summary()
        hit_mu += s.loc["mu_log_s", "low"] <= mu <= s.loc["mu_log_s", "high"]
        from seqrisk.stats.durations import std_ppf
        true_q = np.exp(mu + sigma * std_ppf(fam, 0.9))
        _, ql, qh = f.quantile(0.9)
        hit_q += ql <= true_q <= qh
        mus.append(f.mu_)
    assert np.mean(mus) == pytest.approx(mu, abs=0.05)
    assert 0.90 <= hit_mu / runs <= 0.99
    assert 0.90 <= hit_q / runs <= 0.99


def test_chain_effect_recovers_locations_and_shrinks() -> None:
    rng = np.random.default_rng(2)
    chains = [f"c{i}" for i in range(12)]
    u = rng.normal(0, 0.8, 12)
    ch, x = [], []
    for c, ui in zip(chains, u, strict=True):
        n = 15
        ch += [c] * n
        x += list(np.exp(8.0 + ui + 0.7 * rng.standard_normal(n)))
    x = np.array(x)
    f = DurationFitter(family="lognormal", chain_effect=True).fit(x, x, chains=ch)
    assert f.tau_ == pytest.approx(0.8, abs=0.35)
    assert f.sigma_ == pytest.approx(0.7, abs=0.1)
    eff = np.array([f.chain_effects_[c] for c in chains])
    raw = np.array([np.log(x[np.array(ch) == c]).mean() - f.mu_ for c in chains])
    assert np.corrcoef(eff, u)[0, 1] > 0.9
    assert np.all(np.abs(eff) <= np.abs(raw) + 1e-9)  # partial pooling shrinks toward the pooled location
    # a chain never seen gets the pooled location; marginal survival lies between chains'
    assert f.location("unseen") == pytest.approx(f.mu_)
    assert 0 < f.sf(np.array([3000.0]))[0] < 1


def test_unknown_and_zero_durations_are_documented_cases() -> None:
    lo = np.array([0.0, 0.0, 600.0, 1200.0, 3600.0, 0.0])
    hi = np.array([np.inf, 0.0, 600.0, 1800.0, np.inf, 7200.0])
    f = DurationFitter(family="lognormal").fit(lo, hi)
    assert f.n_missing_ == 1          # (0, inf): no duration information
    assert f.n_zero_ == 1             # zero length: left-censored at one minute
    assert f.n_left_ == 2 and f.n_exact_ == 1 and f.n_interval_ == 1 and f.n_right_ == 1
    assert np.isfinite(f.loglik_)


def test_bad_input_raises_clear_errors() -> None:
    with pytest.raises(DataError, match="at least 2"):
        DurationFitter().fit([600.0], [600.0])
    with pytest.raises(DataError, match="right-censored"):
        DurationFitter().fit([600.0, 900.0, 60.0], [np.inf, np.inf, np.inf])
    with pytest.raises(DataError, match="equal"):
        DurationFitter().fit([600.0, 600.0, 600.0], [600.0, 600.0, 600.0])
    with pytest.raises(DataError, match="0 informative"):
        DurationFitter().fit([0.0, 0.0], [np.inf, np.inf])
    with pytest.raises(DataError):
        DurationFitter().fit([5.0, 1.0], [1.0, 2.0])
    with pytest.raises(NotFittedError):
        DurationFitter().law()


def test_compare_families_picks_the_true_family_by_aic() -> None:
    x = sps.weibull_min(c=0.6, scale=3600).rvs(400, random_state=np.random.default_rng(9))
    fits, table = compare_families(x, x)
    assert table.index[0] == "weibull"
    assert table["akaike_weight"].sum() == pytest.approx(1.0)
    assert set(fits) == {"lognormal", "weibull", "loglogistic"}
    assert table.loc["weibull", "aic"] == pytest.approx(fits["weibull"].aic_)


def test_standard_errors_equal_the_closed_form_observed_information() -> None:
    # exact lognormal data: at the MLE the information of (mu, log sigma) is diag(n / sigma^2, 2 n)
    x = sps.lognorm(s=1.3, scale=1800).rvs(90, random_state=np.random.default_rng(8))
    f = DurationFitter(family="lognormal").fit(x, x)
    n = x.size
    np.testing.assert_allclose(np.diag(f.cov_), [f.sigma_ ** 2 / n, 1 / (2 * n)], rtol=1e-3)
    assert abs(f.cov_[0, 1]) < 1e-3 * np.sqrt(f.cov_[0, 0] * f.cov_[1, 1])
    assert f.summary().loc["mu_log_s", "se"] == pytest.approx(f.sigma_ / np.sqrt(n), rel=1e-3)
