"""Insurance pricing against closed forms, and the insurer's tail with common shocks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from seqrisk.decide.insurance import (
    IndemnityCover,
    ParametricCover,
    Pricing,
    buyer_tail,
    insurer_tail,
    parametric_payouts,
    price_indemnity,
    price_parametric,
    price_payouts,
    sample_outages,
    trigger_rate_per_year,
    without_common_shocks,
)
from seqrisk.outage import ChainOutageLaw, CommonShock, DurationLaw, OutageModel
from seqrisk.units import HOUR_S, YEAR_S

LOGN = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0})


def _model(shock_rate: float = 0.5) -> OutageModel:
    chains = {
        "a": ChainOutageLaw("a", {"downtime": 2.0, "degraded": 5.0},
                            {"downtime": LOGN, "degraded": DurationLaw("exponential", {"mean_s": 600.0})}),
        "b": ChainOutageLaw("b", {"downtime": 1.0}, {"downtime": DurationLaw("weibull", {"scale_s": 5400.0,
                                                                                       "shape": 0.7})}),
        "c": ChainOutageLaw("c", {"downtime": 0.8}, {"downtime": LOGN}),
    }
    shock = CommonShock("stack", ("a", "b"), shock_rate, DurationLaw("lognormal", {"median_s": 7200.0,
                                                                                  "sigma": 0.8}))
    return OutageModel(chains=chains, shocks=(shock,))


def _thinned_model() -> OutageModel:
    """A fitted-style shock: it hits two of its five members at random and each other with probability 0.25, and
    a hit is a downtime (6 h median) with probability 0.6, else a degraded spell."""
    members = ("a", "b", "c", "d", "e")
    chains = {m: ChainOutageLaw(m, {"downtime": 0.4}, {"downtime": LOGN}) for m in members}
    down = DurationLaw("lognormal", {"median_s": 6 * 3600.0, "sigma": 0.8})
    shock = CommonShock("eth", members, 1.5, down, type_mix={"downtime": 0.6, "degraded": 0.4},
                        durations={"downtime": down, "degraded": DurationLaw("exponential", {"mean_s": 900.0})},
                        extra_hit_probability=0.25)
    return OutageModel(chains=chains, shocks=(shock,))


def test_a_thinned_shock_adds_its_rate_times_the_hit_chance_and_the_types_share() -> None:
    """The closed form counts a thinned shock's hits of this chain of the covered type only, and the engine's
    own outage sampler (which thins the shock independently) pays as often; the shocks made independent keep
    every chain's trigger rate."""
    m, h = _thinned_model(), 2 * HOUR_S
    p_hit = (2 + 3 * 0.25) / 5
    expect = 0.4 * LOGN.sf(h) + 1.5 * p_hit * 0.6 * sps.lognorm(s=0.8, scale=6 * 3600.0).sf(h)
    assert trigger_rate_per_year(m, "c", h) == pytest.approx(expect, rel=1e-12)
    assert trigger_rate_per_year(m, "c", h, types=("degraded",)) == pytest.approx(
        1.5 * p_hit * 0.4 * math.exp(-h / 900.0), rel=1e-12)
    cover = ParametricCover("c", 100_000.0, h)
    free = Pricing(loading=0.0, cost_of_capital_per_year=0.0)
    mc = price_payouts(parametric_payouts(sample_outages(m, n_paths=40_000, seed=4), cover), free, YEAR_S)
    assert abs(mc.premium_usd - price_parametric(m, cover, free).premium_usd) < 4 * mc.premium_se
    ind = without_common_shocks(m)
    for c in "abcde":
        for types in (("downtime",), ("degraded",), ("downtime", "degraded")):
            assert trigger_rate_per_year(ind, c, h, types) == pytest.approx(trigger_rate_per_year(m, c, h, types),
                                                                            rel=1e-12)


def test_trigger_rate_adds_own_and_group_thinned_rates() -> None:
    m = _model()
    expect = 2.0 * sps.lognorm(s=1.0, scale=3600.0).sf(7200.0) + 0.5 * sps.lognorm(s=0.8, scale=7200.0).sf(7200.0)
    assert trigger_rate_per_year(m, "a", 7200.0) == pytest.approx(expect, rel=1e-12)
    # c is in no group
    assert trigger_rate_per_year(m, "c", 7200.0) == pytest.approx(0.8 * sps.lognorm(s=1, scale=3600).sf(7200.0))


@pytest.mark.parametrize("chain", ["a", "b"])
def test_parametric_monte_carlo_equals_closed_form(chain: str) -> None:
    m = _model()
    cover = ParametricCover(chain, 100_000.0, 2 * HOUR_S)
    free = Pricing(loading=0.0, cost_of_capital_per_year=0.0)
    cf = price_parametric(m, cover, free)
    lam = trigger_rate_per_year(m, chain, 2 * HOUR_S)
    assert cf.premium_usd == pytest.approx(100_000.0 * (1 - math.exp(-lam)), rel=1e-12)
    smp = sample_outages(m, n_paths=40_000, seed=3)
    mc = price_payouts(parametric_payouts(smp, cover), free, YEAR_S)
    assert abs(mc.premium_usd - cf.premium_usd) < 4 * mc.premium_se
    assert mc.premium_se < 0.02 * cf.premium_usd


def test_per_event_cover_and_capital_charge_match_closed_form() -> None:
    m = _model()
    cover = ParametricCover("b", 50_000.0, HOUR_S, per_event=True)
    pr = Pricing(loading=0.0, cost_of_capital_per_year=0.1, es_level=0.99)
    cf = price_parametric(m, cover, pr)
    mu = trigger_rate_per_year(m, "b", HOUR_S)
    assert cf.expected_payout_usd == pytest.approx(50_000.0 * mu)
    mc = price_payouts(parametric_payouts(sample_outages(m, n_paths=40_000, seed=5), cover), pr, YEAR_S)
    assert abs(mc.expected_payout_usd - cf.expected_payout_usd) < 4 * mc.expected_payout_se
    assert abs(mc.es_payout_usd - cf.es_payout_usd) < 4 * mc.es_payout_se + 50_000.0 * 0.02
    # single payout with P(pay) > 1%: ES99 is the whole payout
    once = price_parametric(m, ParametricCover("b", 50_000.0, HOUR_S), pr)
    assert once.es_payout_usd == pytest.approx(50_000.0)
    assert once.capital_cost_usd == pytest.approx(5_000.0)


def test_sampler_does_not_depend_on_path_count() -> None:
    m = _model()
    big = sample_outages(m, n_paths=5000, seed=11)
    small = sample_outages(m, n_paths=4100, seed=11)
    cover = ParametricCover("a", 1.0, 0.0)
    assert np.array_equal(parametric_payouts(big, cover)[:4100], parametric_payouts(small, cover))


def test_indemnity_price_matches_exponential_closed_form() -> None:
    mu, d, lim, c = 1000.0, 500.0, 2000.0, 0.2
    losses = np.random.default_rng(2).exponential(mu, 200_000)
    q = price_indemnity(losses, IndemnityCover(d, lim, c), Pricing(loading=0.0, cost_of_capital_per_year=0.0))
    expect = (1 - c) * math.exp(-d / mu) * mu * (1 - math.exp(-lim / ((1 - c) * mu)))
    assert abs(q.expected_payout_usd - expect) < 4 * q.expected_payout_se
    assert IndemnityCover(d, lim, c).payout(np.array([0.0, 600.0, 1e9])).tolist() == [0.0, 80.0, 2000.0]


def test_full_cover_flattens_the_buyer_tail() -> None:
    losses = np.where(np.random.default_rng(4).random(20_000) < 0.03, 1e6, 0.0)
    cover = IndemnityCover()
    q = price_indemnity(losses, cover, Pricing(loading=0.1, cost_of_capital_per_year=0.0))
    bt = buyer_tail(losses, cover.payout(losses), q.premium_usd)
    assert bt.es_after == pytest.approx(q.premium_usd)
    assert bt.es_before == pytest.approx(1e6)
    assert bt.el_after - bt.el_before == pytest.approx(0.1 * bt.el_before, rel=1e-9)
    assert bt.es_reduction_per_usd > 0


def test_common_shocks_fatten_the_insurer_tail_not_the_marginals() -> None:
    m = _model(shock_rate=0.3)
    covers = [ParametricCover(c, 1e5, 6 * HOUR_S) for c in ("a", "b", "c")]
    it = insurer_tail(m, covers, Pricing(loading=0.0, cost_of_capital_per_year=0.1, es_level=0.99),
                      n_paths=20_000, seed=1)
    for q, cov in zip(it.quotes, covers, strict=True):
        cf = price_parametric(m, cov, Pricing(loading=0.0, cost_of_capital_per_year=0.0))
        assert abs(q.expected_payout_usd - cf.expected_payout_usd) < 4 * q.expected_payout_se
    # the same marginals, independent: a lower P(a and b both pay), so a lower book tail
    assert it.total.expected_payout_usd == pytest.approx(it.total_independent.expected_payout_usd, rel=0.03)
    assert it.total.es_payout_usd > it.total_independent.es_payout_usd
    assert it.total.es_payout_usd <= it.sum_of_es_usd + 1e-9


def test_joint_trigger_probability_is_marshall_olkin() -> None:
    m = _model(shock_rate=0.3)
    h = 6 * HOUR_S
    smp = sample_outages(m, n_paths=60_000, seed=9)
    both = (smp.exceed_count("a", h) > 0) & (smp.exceed_count("b", h) > 0)
    la, lb = trigger_rate_per_year(m, "a", h), trigger_rate_per_year(m, "b", h)
    ls = 0.3 * sps.lognorm(s=0.8, scale=7200.0).sf(h)
    # P(A and B) = 1 - P(not A) - P(not B) + P(neither), with the shock counted once in P(neither)
    expect = 1 - math.exp(-la) - math.exp(-lb) + math.exp(-(la + lb - ls))
    se = math.sqrt(expect * (1 - expect) / both.size)
    assert abs(both.mean() - expect) < 4 * se
    assert expect > 2 * (1 - math.exp(-la)) * (1 - math.exp(-lb))


def test_engine_sampler_prices_like_the_closed_form_without_clustering() -> None:
    m = _model(shock_rate=0.5)
    covers = [ParametricCover(c, 1e5, 2 * HOUR_S, period_s=YEAR_S / 4) for c in ("a", "b")]
    free = Pricing(loading=0.0, cost_of_capital_per_year=0.0)
    for smp in ("engine", "poisson"):
        it = insurer_tail(m, covers, free, n_paths=8192, seed=2, sampler=smp)
        for q, cv in zip(it.quotes, covers, strict=True):
            cf = price_parametric(m, cv, free)
            assert abs(q.expected_payout_usd - cf.expected_payout_usd) < 4 * q.expected_payout_se, smp
        assert it.total.es_payout_usd >= it.total_independent.es_payout_usd - 3 * it.total.es_payout_se


def test_buyer_tail_el_carries_its_standard_errors() -> None:
    rng = np.random.default_rng(8)
    losses = np.where(rng.random(20_000) < 0.05, rng.exponential(2e5, 20_000), 0.0)
    cover = IndemnityCover(deductible_usd=1e5)
    pays = cover.payout(losses)
    bt = buyer_tail(losses, pays, 1234.0)
    n = losses.size
    assert bt.el_before_se == pytest.approx(losses.std(ddof=1) / math.sqrt(n), rel=1e-3)
    assert bt.el_after_se == pytest.approx((losses - pays).std(ddof=1) / math.sqrt(n), rel=1e-3)
    assert 0 < bt.el_after_se < bt.el_before_se  # the cover takes out the variable top of the losses


def test_on_the_fitted_catalog_model_the_closed_form_prices_like_the_sampler() -> None:
    """The fitted model's Ethereum-wide group hits most members with probability well below 1: the closed form,
    the Poisson sampler and the shocks-made-independent book must all count it the same way."""
    from seqrisk.catalog import load_catalog
    from seqrisk.stats.model import fit_outage_model

    m = fit_outage_model(load_catalog())  # as of the catalog's completeness date
    assert any(s.extra_hit_probability is not None and s.hit_probability() < 0.5 for s in m.shocks)
    covers = [ParametricCover(c, 1e5, 4 * HOUR_S) for c in ("metis", "base", "arbitrum")]
    free = Pricing(loading=0.0, cost_of_capital_per_year=0.0)
    it = insurer_tail(m, covers, free, n_paths=40_000, seed=6, sampler="poisson")
    for q, cv in zip(it.quotes, covers, strict=True):
        cf = price_parametric(m, cv, free)
        assert abs(q.expected_payout_usd - cf.expected_payout_usd) < 4 * q.expected_payout_se, cv.chain
    assert abs(it.total.expected_payout_usd - it.total_independent.expected_payout_usd) < 4 * math.hypot(
        it.total.expected_payout_se, it.total_independent.expected_payout_se)
    # and the sampler's downtimes per chain against the statistics' own history simulator, which thins the
    # shocks independently (self-excitation off on both sides: it is not the Poisson part)
    from dataclasses import replace

    from seqrisk.stats.simulate import simulate_history

    poisson = replace(m, hawkes=None)
    smp = sample_outages(poisson, n_paths=20_000, seed=6)
    hist = simulate_history(poisson, {c: [(0.0, YEAR_S)] for c in smp.chains}, 20_000, seed=6, posterior=False)
    counts = hist.counts()[:, :, hist.types.index("downtime")]
    for c in ("metis", "base", "arbitrum"):
        a, b = smp.exceed_count(c, 0.0).astype(float), counts[:, hist.chains.index(c)].astype(float)
        se = math.hypot(a.std(ddof=1), b.std(ddof=1)) / math.sqrt(a.size)
        assert abs(a.mean() - b.mean()) < 4 * se, c
        assert abs(a.mean() - trigger_rate_per_year(m, c, 0.0)) < 4 * a.std(ddof=1) / math.sqrt(a.size), c
