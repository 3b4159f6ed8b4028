"""The engine against closed forms and numerical integration (MODEL.md sections 2-4)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats

from seqrisk.engine import Scenario, StressOutage, liquidation_probability, simulate
from seqrisk.engine.events import build_cells, sample_block_events
from seqrisk.market import bs_delta, bs_price
from seqrisk.units import DAY_S, YEAR_S

from .conftest import lognormal_model, make_book

SIG = 0.8
D = DAY_S  # a one-day frozen interval makes liquidations common enough to test
PLAIN = dict(forced_inclusion=False, turnover_per_day=0.0, cost_of_capital=0.0, keep_paths=False)


def _stress(book, paths: int = 100_000, **kw) -> Scenario:  # type: ignore[no-untyped-def]
    return Scenario(paths=paths, seed=11, horizon_s=D, stress_outages=[StressOutage(chain="arbitrum", duration_s=D)],
                    **(PLAIN | kw))


def _z(a: float, b: float, se: float) -> float:
    return abs(a - b) / se if se > 0 else (0.0 if a == b else math.inf)


# Margin while the chain is up: 1/leverage, or measured from collateral C and entry price E (q signed units):
# r = (C + q (S0 - E)) / (|q| S0). Each case gives the spec for q, and r computed from it.
def _measured(q: float, collateral: float, entry: float | None = None) -> tuple[dict[str, float], float]:
    spec = {"collateral_usd": collateral} | ({} if entry is None else {"entry_price_usd": entry})
    return spec, (collateral + q * (2000.0 - (entry or 2000.0))) / (abs(q) * 2000.0)


MARGINS: dict[str, Any] = {
    "leverage 8": lambda q: ({"leverage": 8.0}, 1 / 8),
    "collateral": lambda q: _measured(q, 30_000.0),
    "entry 1900": lambda q: _measured(q, 8_000.0 if q > 0 else 28_000.0, 1900.0),   # long in profit, short at a loss
    "entry 2150": lambda q: _measured(q, 36_000.0 if q > 0 else 5_000.0, 2150.0),   # long at a loss, short in profit
}


@pytest.mark.parametrize("margin", list(MARGINS))
@pytest.mark.parametrize("side", ["long", "short"])
def test_single_perp_under_fixed_outage(side: str, margin: str) -> None:
    """P(liquidation) = P(P1 beyond the trigger); bad debt = |q| x a Black-Scholes put (call for shorts); the
    perp kept at margin r while the chain is up (1/leverage, or measured from collateral and entry price)."""
    m, pen, p0, units = 0.05, 0.05, 2000.0, 100.0
    q = units if side == "long" else -units
    spec, r = MARGINS[margin](q)
    book = make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": q, **spec,
                       "maintenance_margin": m, "liquidation_penalty": pen}], vol=SIG)
    res = simulate(book, lognormal_model({}), _stress(book))
    s = SIG * math.sqrt(D / YEAR_S)
    if side == "long":
        trig = p0 * (1 - r) / (1 - m)
        p_liq = stats.norm.cdf((math.log(trig / p0) + 0.5 * s * s) / s)
        k = p0 * (1 - r)                    # bankruptcy price
        bad = units * float(bs_price(p0, k, s * s, 1.0, False))
    else:
        trig = p0 * (1 + r) / (1 + m)
        p_liq = 1 - stats.norm.cdf((math.log(trig / p0) + 0.5 * s * s) / s)
        k = p0 * (1 + r)
        bad = units * float(bs_price(p0, k, s * s, 1.0, True))
    dens = stats.lognorm(s=s, scale=p0 * math.exp(-0.5 * s * s)).pdf
    sgn = 1.0 if side == "long" else -1.0

    def holder(p1: float) -> float:
        e1 = units * p0 * r + sgn * units * (p1 - p0)
        return (max(e1, 0.0) - max(e1 - pen * units * p1, 0.0)) * dens(p1)

    lo, hi = (1e-6, trig) if side == "long" else (trig, p0 * 5)
    el = integrate.quad(holder, lo, hi, limit=200)[0]
    pl, pl_se = res.value("p_liquidation")
    assert _z(pl, p_liq, pl_se) < 4
    h, h_se = res.value("expected_loss")
    assert _z(h, el, h_se) < 4
    v, v_se = res.value("expected_loss", perspective="venue")
    assert _z(v, bad, v_se) < 4
    bd, _ = res.value("expected_bad_debt", perspective="venue")
    assert bd == pytest.approx(v)
    lp = liquidation_probability(book, [D])
    assert float(lp.p_liquidation.iloc[0]) == pytest.approx(p_liq, rel=1e-10)


def test_measured_margin_at_the_initial_margin_changes_no_number() -> None:
    """Collateral equal to the initial margin (entry at spot) is the leverage-only book: the same numbers."""
    pos = {"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": 100.0, "maintenance_margin": 0.05}
    a = make_book([{**pos, "leverage": 8.0}], vol=SIG)
    b = make_book([{**pos, "collateral_usd": 25_000.0, "entry_price_usd": 2000.0}], vol=SIG)
    ra, rb = (simulate(bk, lognormal_model({}), _stress(bk, paths=20_000)) for bk in (a, b))
    assert ra.to_dict()["measures"] == rb.to_dict()["measures"]
    richer = make_book([{**pos, "collateral_usd": 50_000.0}], vol=SIG)  # twice the collateral: fewer liquidations
    rr = simulate(richer, lognormal_model({}), _stress(richer, paths=20_000))
    assert rr.value("p_liquidation")[0] < ra.value("p_liquidation")[0]


def test_delta_hedged_option_hedging_error() -> None:
    """Attributable loss of a delta-hedged short call frozen for D: -q (V(S1, t1) - V(S0, t0) - Delta0 (S1 - S0))."""
    q, k, texp, iv, p0 = -100.0, 2100.0, 14 * DAY_S, 0.8, 2000.0
    dd = 6 * 3600.0
    book = make_book([{"id": "c", "type": "option", "chain": "arbitrum", "asset": "ETH", "kind": "call",
                       "quantity": q, "strike_usd": k, "expiry": texp, "implied_vol": iv}], vol=SIG)
    sc = Scenario(paths=60_000, seed=5, horizon_s=dd, stress_outages=[StressOutage(chain="arbitrum", duration_s=dd)],
                  **PLAIN)
    res = simulate(book, lognormal_model({}), sc)
    s = SIG * math.sqrt(dd / YEAR_S)
    v0 = float(bs_price(p0, k, texp / YEAR_S, iv, True))
    d0 = float(bs_delta(p0, k, texp / YEAR_S, iv, True))
    law = stats.lognorm(s=s, scale=p0 * math.exp(-0.5 * s * s))

    def loss(p1: float) -> float:
        return -q * (float(bs_price(p1, k, (texp - dd) / YEAR_S, iv, True)) - v0 - d0 * (p1 - p0))

    el = integrate.quad(lambda x: loss(x) * law.pdf(x), law.ppf(1e-12), law.ppf(1 - 1e-12), limit=200)[0]
    h, h_se = res.value("expected_loss")
    assert _z(h, el, h_se) < 4
    # the loss is convex in S1 (short gamma): its 95% quantile comes from the two tails of S1
    grid = np.linspace(law.ppf(1e-9), law.ppf(1 - 1e-9), 20001)
    vals = np.array([loss(x) for x in grid])
    cdf_w = law.pdf(grid) * np.gradient(grid)

    def cdf(x: float) -> float:
        return float(np.sum(cdf_w[vals <= x]))

    var, var_se = res.value("var", level=0.95)
    assert cdf(var - 4 * var_se - 1.0) < 0.95 < cdf(var + 4 * var_se + 1.0)
    comp = res.components.set_index("component")
    assert comp.loc["hedging", "holder_expected_loss_usd"] == pytest.approx(h)


def test_expiry_inside_downtime_stale_settlement() -> None:
    """A call expiring inside the outage settles at the stale price S(t0) under the 'stale' rule."""
    dd = 6 * 3600.0
    book = make_book([{"id": "c", "type": "option", "chain": "arbitrum", "asset": "ETH", "kind": "call",
                       "quantity": 10.0, "strike_usd": 2000.0, "expiry": 3600.0, "implied_vol": 0.8,
                       "delta_hedged": False}], vol=SIG)
    sc = Scenario(paths=40_000, seed=2, horizon_s=dd, stress_outages=[StressOutage(chain="arbitrum", duration_s=dd)],
                  settlement="stale", **PLAIN)
    res = simulate(book, lognormal_model({}), sc)
    # stale settlement pays max(S0 - K, 0) = 0 (S0 = K): the long holder loses E[(S(1h) - K)^+] = BS call
    s2 = SIG ** 2 * 3600.0 / YEAR_S
    ref = 10.0 * float(bs_price(2000.0, 2000.0, s2, 1.0, True))
    h, se = res.value("expected_loss")
    assert _z(h, ref, se) < 4
    v, _ = res.value("expected_loss", perspective="venue")
    assert v == 0.0


def test_poisson_event_counts() -> None:
    """Arrivals per path are Poisson(lambda T); conditioned paths carry p = 1 - exp(-lambda T)."""
    model = lognormal_model({"arbitrum": 0.1}, median_s=1.0, sigma=0.1)
    cells = build_cells(model, ["arbitrum"])
    rng = np.random.default_rng(4)
    n, t = 200_000, 10 * DAY_S
    seg = np.zeros((n, 1))
    mult = np.ones((n, 1))
    ev = sample_block_events(rng, n, t, cells, seg, mult, conditional=False)
    counts = np.bincount(ev.n_arrivals, minlength=8)[:8]
    expected = n * stats.poisson.pmf(np.arange(8), 1.0)
    chi2 = float(np.sum((counts[:6] - expected[:6]) ** 2 / expected[:6]))
    assert chi2 < stats.chi2.ppf(0.999, 5)
    assert np.all((ev.t0 >= 0) & (ev.t0 < t))
    assert stats.kstest(ev.t0 / t, "uniform").pvalue > 1e-3
    evc = sample_block_events(np.random.default_rng(5), n, t, cells, seg, mult, conditional=True)
    assert evc.n_arrivals.min() == 1
    assert evc.p_event == pytest.approx(np.full(n, 1 - math.exp(-1.0)))
    trunc = stats.poisson.pmf(np.arange(1, 6), 1.0) / (1 - math.exp(-1.0))
    got = np.bincount(evc.n_arrivals, minlength=6)[1:6] / n
    assert np.all(np.abs(got - trunc) < 5 * np.sqrt(trunc / n))


def test_common_shock_hits_all_members() -> None:
    from seqrisk.outage import CommonShock, DurationLaw, OutageModel

    law = DurationLaw("fixed", {"duration_s": 600.0})
    model = OutageModel(chains={}, shocks=(CommonShock("op", ("base", "optimism"), 36.5, law),))
    cells = build_cells(model, ["base", "optimism"])
    ev = sample_block_events(np.random.default_rng(0), 5000, DAY_S, cells, np.zeros((5000, 1)), np.ones((5000, 1)),
                             conditional=True)
    # every shock event appears once per member chain at the same time
    assert ev.path.size == 2 * ev.n_arrivals.sum()
    by = {c: ev.t0[ev.chain == c] for c in (0, 1)}
    np.testing.assert_array_equal(np.sort(by[0]), np.sort(by[1]))


def test_merton_jumps_in_liquidation_probability() -> None:
    """With Merton jumps, P(liquidation) sums the Poisson-weighted normal laws of the log return."""
    lam_y, mu_j, sd_j, sig = 400.0, -0.03, 0.02, 0.3
    dd = 2 * 86400.0
    book = make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": 10.0,
                       "leverage": 12.0}], vol=sig, eta=0.0, jumps={"rate_per_year": lam_y, "mean": mu_j,
                                                                   "sigma": sd_j})
    sc = Scenario(paths=60_000, seed=8, horizon_s=dd, stress_outages=[StressOutage(chain="arbitrum", duration_s=dd)],
                  **PLAIN)
    res = simulate(book, lognormal_model({}), sc)
    t = dd / YEAR_S
    lam = lam_y * t
    kappa = math.exp(mu_j + 0.5 * sd_j ** 2) - 1
    drift = -0.5 * sig ** 2 * t - lam_y * kappa * t
    b = math.log((1 - 1 / 12) / 0.95)
    p = sum(stats.poisson.pmf(k, lam) * stats.norm.cdf((b - drift - k * mu_j) / math.sqrt(sig ** 2 * t + k * sd_j ** 2))
            for k in range(60))
    pl, se = res.value("p_liquidation")
    assert _z(pl, p, se) < 4


def test_censorship_first_passage() -> None:
    """Under censorship liquidators act: P(liquidation) is the first-passage probability of the trigger."""
    from seqrisk.outage import ChainOutageLaw, OutageModel

    dd = 86400.0
    book = make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": 10.0,
                       "leverage": 10.0, "maintenance_margin": 0.05, "liquidation_penalty": 0.03}], vol=SIG)
    sc = Scenario(paths=40_000, seed=4, horizon_s=dd,
                  stress_outages=[StressOutage(chain="arbitrum", duration_s=dd, type="censorship")], **PLAIN)
    res = simulate(book, OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {}, {})}), sc)
    s = SIG * math.sqrt(dd / YEAR_S)
    mu = -0.5 * s * s
    b = math.log(0.9 / 0.95)
    p_fp = stats.norm.cdf((b - mu) / s) + math.exp(2 * mu * b / (s * s)) * stats.norm.cdf((b + mu) / s)
    pl, se = res.value("p_liquidation")
    assert _z(pl, p_fp, se) < 4
    # liquidated at the trigger: the holder loses min(m, penalty) of the notional there, the venue nothing
    el, el_se = res.value("expected_loss")
    assert _z(el, p_fp * 0.03 * 10.0 * 2000.0 * 0.9 / 0.95, el_se) < 4
    assert res.value("expected_loss", perspective="venue")[0] == 0.0


def test_volatility_coupling_scales_the_rate() -> None:
    """lambda(t) = lambda exp(beta (log sigma_t - log sigma_ref)): in a fixed stressed regime the count scales."""
    from seqrisk.engine import Regime

    book = make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": 1.0,
                       "leverage": 2.0}], vol={"calm": 0.6, "stressed": 1.2})
    model = lognormal_model({"arbitrum": 1.0}, median_s=60.0, sigma=0.1, beta=1.5, sigma_ref=0.6)
    regimes = [Regime(name="calm"), Regime(name="stressed")]
    for regime, mult in (("calm", 1.0), ("stressed", 2.0 ** 1.5)):
        sc = Scenario(paths=20_000, seed=1, horizon_s=86400.0, regimes=regimes, initial_regime=regime,
                      conditional_sampling=False, keep_paths=False)
        res = simulate(book, model, sc)
        mean = res.diagnostics["arrivals"] / res.n_paths
        assert mean == pytest.approx(mult, rel=5 * math.sqrt(mult / 20_000) / mult)


def test_margined_short_call_liquidation() -> None:
    """A short call margined at V0 + im S0 is liquidated at restart when its equity falls below mm S1."""
    from scipy import optimize

    k, texp, iv, im, mm, pen, u, p0 = 2000.0, 30 * DAY_S, 0.8, 0.1, 0.05, 0.02, 10.0, 2000.0
    book = make_book([{"id": "c", "type": "option", "chain": "arbitrum", "asset": "ETH", "kind": "call",
                       "quantity": -u, "strike_usd": k, "expiry": texp, "implied_vol": iv, "delta_hedged": False,
                       "initial_margin": im, "maintenance_margin": mm, "liquidation_penalty": pen}], vol=SIG)
    res = simulate(book, lognormal_model({}), _stress(book, paths=60_000))
    s = SIG * math.sqrt(D / YEAR_S)
    v0 = float(bs_price(p0, k, texp / YEAR_S, iv, True))
    tau1 = (texp - D) / YEAR_S

    def equity(p1: float) -> float:
        return u * (v0 + im * p0 - float(bs_price(p1, k, tau1, iv, True)))

    s_star = optimize.brentq(lambda x: equity(x) - mm * u * x, p0, 3 * p0)
    law = stats.lognorm(s=s, scale=p0 * math.exp(-0.5 * s * s))
    p_liq = float(law.sf(s_star))
    hold = integrate.quad(lambda x: (max(equity(x), 0) - max(equity(x) - pen * u * x, 0)) * law.pdf(x), s_star,
                          law.ppf(1 - 1e-12), limit=200)[0]
    bad = integrate.quad(lambda x: max(-equity(x), 0) * law.pdf(x), s_star, law.ppf(1 - 1e-12), limit=200)[0]
    pl, se = res.value("p_liquidation")
    assert _z(pl, p_liq, se) < 4
    h, h_se = res.value("expected_loss")
    assert _z(h, hold, h_se) < 4
    v, v_se = res.value("expected_loss", perspective="venue")
    assert _z(v, bad, v_se) < 4


def _p_liq_long(lev: float, m: float, sig: float, dur_s: float, buffer: float = 0.0) -> float:
    s = sig * math.sqrt(dur_s / YEAR_S)
    return float(stats.norm.cdf((math.log((1 - 1 / lev - buffer) / (1 - m)) + 0.5 * s * s) / s))


def test_forced_inclusion_caps_exposure_and_buffer_moves_the_trigger() -> None:
    from seqrisk.outage import ChainOutageLaw, OutageModel

    book = make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": 10.0,
                       "leverage": 10.0}], vol=SIG, eta=0.0)
    model = OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {}, {}, forced_inclusion_delay_s=3 * 3600.0)})
    base = dict(paths=40_000, seed=3, horizon_s=D, stress_outages=[StressOutage(chain="arbitrum", duration_s=D)],
                turnover_per_day=0.0, keep_paths=False)
    fi = simulate(book, model, Scenario(**base, forced_inclusion=True, l1_inclusion_s=3600.0, cost_of_capital=0.0))
    pl, se = fi.value("p_liquidation")
    assert _z(pl, _p_liq_long(10, 0.05, SIG, 4 * 3600.0), se) < 4
    off = simulate(book, model, Scenario(**base, forced_inclusion=False, margin_buffer=0.02, cost_of_capital=0.08))
    pl, se = off.value("p_liquidation")
    assert _z(pl, _p_liq_long(10, 0.05, SIG, D, buffer=0.02), se) < 4
    # the buffer's carrying cost is in the total basis only
    tot, _ = off.value("expected_loss", basis="total")
    att, _ = off.value("expected_loss")
    carry = 0.08 * 0.02 * 10.0 * 2000.0 * D / YEAR_S
    assert tot - att == pytest.approx(carry, rel=1e-9)


def test_fixed_stressed_regime_uses_its_volatility() -> None:
    from seqrisk.engine import Regime

    book = make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": 10.0,
                       "leverage": 10.0}], vol={"calm": 0.3, "stressed": 1.2}, eta=0.0)
    sc = Scenario(paths=40_000, seed=6, horizon_s=6 * 3600.0, regimes=[Regime(name="calm"), Regime(name="stressed")],
                  initial_regime="stressed", stress_outages=[StressOutage(chain="arbitrum", duration_s=6 * 3600.0)],
                  **PLAIN)
    res = simulate(book, lognormal_model({}), sc)
    pl, se = res.value("p_liquidation")
    assert _z(pl, _p_liq_long(10, 0.05, 1.2, 6 * 3600.0), se) < 4


@pytest.mark.parametrize("typ", ["downtime", "degraded", "reorg", "da_delay"])
def test_each_event_type_alone_costs_its_closed_form(typ: str) -> None:
    """One 2 h event of each type on a 10x perp (notional $20k, margin $2k); censorship has its own test above."""
    from seqrisk.outage import ChainOutageLaw, OutageModel

    book = make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": 10.0,
                       "leverage": 10.0}], vol=SIG)
    dur, coc, ws, turn, bps, notional, margin = 7200.0, 0.08, 0.1, 0.5, 10.0, 20_000.0, 2_000.0
    sc = Scenario(paths=4096, seed=3, horizon_s=D, keep_paths=False, cost_of_capital=coc, withdrawal_share=ws,
                  turnover_per_day=turn, degraded_cost_bps=bps,
                  stress_outages=[StressOutage(chain="arbitrum", duration_s=dur, type=typ)])
    res = simulate(book, OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {}, {})}), sc)
    comp = res.components.set_index("component")
    s = SIG * math.sqrt(dur / YEAR_S)
    expected = {  # (component, closed form in USD)
        "downtime": ("capital", coc * margin * dur / YEAR_S),
        "degraded": ("degraded", bps * 1e-4 * turn * notional * dur / DAY_S),
        # E|S(t0+D)/S(t0) - 1| = 2 (Phi(s/2) - Phi(-s/2)) for a driftless lognormal
        "reorg": ("reorg", 2 * (stats.norm.cdf(s / 2) - stats.norm.cdf(-s / 2)) * turn * notional * dur / DAY_S),
        "da_delay": ("capital", coc * ws * margin * dur / YEAR_S),
    }[typ]
    got, se = comp.loc[expected[0], "holder_expected_loss_usd"], comp.loc[expected[0], "holder_std_error"]
    assert got > 0
    assert _z(got, expected[1], max(se, 1e-9 * expected[1])) < 4
    others = comp.drop(index=expected[0])["holder_expected_loss_usd"]
    assert (others == 0.0).all()
    assert res.value("expected_loss", basis="attributable")[0] == pytest.approx(got)
