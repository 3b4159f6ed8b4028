"""Time structure, cross-chain excitation, simulation from the model, forecasts and predictive checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from seqrisk.outage import ChainOutageLaw, CommonShock, DurationLaw, Hawkes, OutageModel, hawkes_immigrant_rates
from seqrisk.stats.crosschain import CrossHawkesFitter
from seqrisk.stats.forecast import same_day_pairs
from seqrisk.stats.simulate import simulate_history
from seqrisk.stats.trend import fit_trend
from seqrisk.units import DAY_S, YEAR_S

LN = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0})
T0 = 1_600_000_000.0


def _model(rates: dict[str, float], hawkes: Hawkes | None = None, shocks: tuple[CommonShock, ...] = ()
           ) -> OutageModel:
    return OutageModel(chains={c: ChainOutageLaw(c, {"downtime": r}, {"downtime": LN}) for c, r in rates.items()},
                       shocks=shocks, hawkes=hawkes)


def test_first_year_and_calendar_effects_are_recovered() -> None:
    rng = np.random.default_rng(1)
    n, as_of = 40, T0 + 6 * YEAR_S
    launch = {f"c{i}": T0 + rng.uniform(0, 5) * YEAR_S for i in range(n)}
    windows = {c: [(launch[c], as_of)] for c in launch}
    lam = rng.gamma(3.0, 0.4 / 3.0, n)
    g_first, g_cal = np.log(2.5), np.log(0.8)
    ev_c, ev_t = [], []
    top = 2.5 * 0.8 ** -6.0                 # the intensity factor's bound over the six years
    for i, c in enumerate(launch):          # thinning of lambda_c * exp(g_first [age < 1] + g_cal (t - as_of))
        m = rng.poisson(lam[i] * top * (as_of - launch[c]) / YEAR_S)
        t = rng.uniform(launch[c], as_of, m)
        f = np.exp(g_first * (t - launch[c] < YEAR_S) + g_cal * (t - as_of) / YEAR_S)
        keep = rng.random(m) * top < f
        ev_c += [c] * int(keep.sum())
        ev_t += list(t[keep])
    k = np.array([ev_c.count(c) for c in launch], dtype=float)
    tr = fit_trend(list(launch), k, ev_c, ev_t, windows, launch, {c: False for c in launch}, as_of,
                   candidates=("first_year", "calendar"))
    assert tr.covariates == ("first_year", "calendar")
    for name, true in (("first_year", g_first), ("calendar", g_cal)):
        lo, hi = tr.interval(name)
        assert lo < true < hi, name
        assert tr.lr_tests[name][1] < 0.01
    assert tr.table["akaike_weight"].sum() == pytest.approx(1.0)
    # with no effects the effective exposure is the calendar exposure
    plain = np.array([(as_of - launch[c]) / YEAR_S for c in launch])
    assert tr.exposure_years(np.zeros(2)) == pytest.approx(plain, rel=1e-12)


def test_immigrant_rates_keep_the_mean_rates() -> None:
    # a long simulation with excitation reproduces the fitted mean rates the immigrant rates were derived from
    rates = {"a": 0.6, "b": 0.3, "c": 0.1}
    hk = Hawkes(0.2, 30.0, 0.25)
    model = _model(rates, hk)
    win = {c: [(T0, T0 + 400 * YEAR_S)] for c in rates}
    sim = simulate_history(model, win, 50, seed=3, posterior=False)
    per_year = sim.counts().sum(axis=0)[:, 0] / (50 * 400)
    assert per_year == pytest.approx(np.array(list(rates.values())), rel=0.05)
    imm = hawkes_immigrant_rates(np.array([[0.6], [0.3], [0.1]]), np.zeros((3, 1)), 0.2, 0.25)
    assert np.all(imm < np.array([[0.6], [0.3], [0.1]])) and np.all(imm > 0)


@pytest.mark.slow
def test_cross_chain_excitation_is_recovered_from_simulated_multichain_data() -> None:
    rates = {f"c{i}": r for i, r in enumerate([0.8, 0.6, 0.5, 0.4, 0.4, 0.3, 0.3, 0.2, 0.2, 0.2])}
    true_w, true_x, decay = 0.15, 0.35, 1 / 20
    model = _model(rates, Hawkes(true_w, decay, true_x))
    win = {c: [(T0, T0 + 25 * YEAR_S)] for c in rates}
    hits_x = hits_w = 0
    runs = 6
    for r in range(runs):
        sim = simulate_history(model, win, 1, seed=100 + r, posterior=False)
        names = sim.chains
        t_days = (sim.t - T0) / DAY_S
        rel = {c: v / np.mean(list(rates.values())) for c, v in rates.items()}
        f = CrossHawkesFitter().fit(t_days, [names[i] for i in sim.chain], [True] * sim.t.size, rel,
                                    {c: [(0.0, 25 * 365.0)] for c in names})
        hits_x += f.intervals_["branching_cross"][0] <= true_x <= f.intervals_["branching_cross"][1]
        hits_w += f.intervals_["branching_within"][0] <= true_w <= f.intervals_["branching_within"][1]
        assert f.p_value_ < 0.05
    assert hits_x >= runs - 1 and hits_w >= runs - 1


def test_forecast_without_excitation_is_the_negative_binomial_of_the_posterior() -> None:
    # one chain, rate posterior Gamma(3, 5 years) in every draw: counts over a year are NB(3, 5/6)
    law = ChainOutageLaw("a", {"downtime": 0.6}, {"downtime": LN}, rate_draws={"downtime": ((3.0,) * 8, (5.0,) * 8)})
    model = OutageModel(chains={"a": law})
    sim = simulate_history(model, {"a": [(T0, T0 + YEAR_S)]}, 40_000, seed=5)
    x = sim.counts()[:, 0, 0]
    nb = sps.nbinom(3.0, 5.0 / 6.0)
    assert np.mean(x == 0) == pytest.approx(nb.pmf(0), abs=0.008)
    assert x.mean() == pytest.approx(nb.mean(), rel=0.03) and x.var() == pytest.approx(nb.var(), rel=0.06)


def test_shock_hits_in_simulated_histories_follow_the_hit_law() -> None:
    chains = [f"c{i}" for i in range(6)]
    shock = CommonShock("g", tuple(chains), 3.0, LN, "downtime", type_mix={"downtime": 1.0},
                        extra_hit_probability=0.25)
    model = _model({c: 1e-9 for c in chains}, shocks=(shock,))
    sim = simulate_history(model, {c: [(T0, T0 + YEAR_S)] for c in chains}, 20_000, seed=2, posterior=False)
    per_chain = sim.counts().sum(axis=0)[:, 0] / 20_000
    assert per_chain == pytest.approx(np.full(6, 3.0 * (2 + 4 * 0.25) / 6), rel=0.03)
    # every shock event hits >= 2 chains at one time: same-day cross-chain pairs >= events
    pairs = same_day_pairs(sim.rep, sim.chain, sim.t, 20_000)
    k = 2 + np.arange(5)
    p_k = sps.binom.pmf(k - 2, 4, 0.25)
    assert pairs.mean() == pytest.approx(3.0 * float(p_k @ (k * (k - 1) / 2)), rel=0.05)
