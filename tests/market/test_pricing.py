"""Black-Scholes / Black-76 prices and Greeks against QuantLib; impact and bridge crossing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqrisk.market import (
    black76_price,
    bridge_cross_probability,
    bs_delta,
    bs_gamma,
    bs_price,
    bs_theta,
    bs_vega,
    sqrt_impact_factor,
)

ql = pytest.importorskip("QuantLib")

CASES = [(3000.0, 3300.0, 14 / 365, 0.6, True), (3000.0, 2800.0, 2 / 365, 0.65, False),
         (95000.0, 100000.0, 0.5, 0.5, True), (100.0, 100.0, 1.0, 0.2, False), (50.0, 80.0, 0.1, 1.2, True)]


def _ql(s: float, k: float, t: float, vol: float, call: bool, r: float, q: float) -> dict[str, float]:
    today = ql.Date(1, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    # QuantLib dates are whole days: price at the year fraction of the rounded expiry date
    exp = today + round(t * 365)
    t_ql = dc.yearFraction(today, exp)
    spot = ql.QuoteHandle(ql.SimpleQuote(s))
    rts = ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc))
    qts = ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc))
    vts = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc))
    proc = ql.BlackScholesMertonProcess(spot, qts, rts, vts)
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, k),
                           ql.EuropeanExercise(exp))
    opt.setPricingEngine(ql.AnalyticEuropeanEngine(proc))
    return {"t": t_ql, "npv": opt.NPV(), "delta": opt.delta(), "gamma": opt.gamma(), "vega": opt.vega(),
            "theta": opt.theta()}


@pytest.mark.parametrize(("s", "k", "t", "vol", "call"), CASES)
@pytest.mark.parametrize(("r", "q"), [(0.0, 0.0), (0.04, 0.01)])
def test_black_scholes_matches_quantlib(s: float, k: float, t: float, vol: float, call: bool, r: float,
                                        q: float) -> None:
    ref = _ql(s, k, t, vol, call, r, q)
    tt = ref["t"]
    assert float(bs_price(s, k, tt, vol, call, r, q)) == pytest.approx(ref["npv"], rel=1e-9, abs=1e-9 * s)
    assert float(bs_delta(s, k, tt, vol, call, r, q)) == pytest.approx(ref["delta"], rel=1e-8, abs=1e-10)
    assert float(bs_gamma(s, k, tt, vol, r, q)) == pytest.approx(ref["gamma"], rel=1e-8, abs=1e-14)
    assert float(bs_vega(s, k, tt, vol, r, q)) == pytest.approx(ref["vega"], rel=1e-8, abs=1e-10)
    assert float(bs_theta(s, k, tt, vol, call, r, q)) == pytest.approx(ref["theta"], rel=1e-7, abs=1e-8 * s)


def test_black76_matches_quantlib_formula() -> None:
    f, k, t, vol, r = 3100.0, 3000.0, 0.25, 0.7, 0.03
    df = math.exp(-r * t)
    for call in (True, False):
        ref = ql.blackFormula(ql.Option.Call if call else ql.Option.Put, k, f, vol * math.sqrt(t), df)
        assert float(black76_price(f, k, t, vol, call, r)) == pytest.approx(ref, rel=1e-10)


def test_expired_option_is_payoff() -> None:
    assert float(bs_price(110.0, 100.0, 0.0, 0.5, True)) == 10.0
    assert float(bs_price(90.0, 100.0, -1.0, 0.5, False)) == 10.0
    assert float(bs_delta(110.0, 100.0, 0.0, 0.5, True)) == 1.0


def test_put_call_parity_vectorized() -> None:
    s = np.linspace(50, 150, 11)
    c = bs_price(s, 100.0, 0.3, 0.4, True, 0.02, 0.01)
    p = bs_price(s, 100.0, 0.3, 0.4, False, 0.02, 0.01)
    np.testing.assert_allclose(c - p, s * math.exp(-0.01 * 0.3) - 100 * math.exp(-0.02 * 0.3), rtol=1e-12, atol=1e-9)


def test_impact_factor() -> None:
    assert sqrt_impact_factor(1e7, 0.1, 1e9) == pytest.approx(0.99)
    assert sqrt_impact_factor(-1e7, 0.1, 1e9) == pytest.approx(1.01)
    assert sqrt_impact_factor(0.0, 0.1, 1e9) == 1.0
    assert sqrt_impact_factor(1e13, 0.1, 1e9) == pytest.approx(1e-6)


def test_bridge_crossing_probability_against_simulation() -> None:
    """P(min of a Brownian bridge <= b) = exp(-2 a b / var), checked by a fine discretisation."""
    rng = np.random.default_rng(3)
    x0, x1, barrier, var = 0.0, 0.01, -0.02, 0.02 ** 2
    n_steps, n = 2000, 4000
    dt = var / n_steps
    w = np.cumsum(rng.standard_normal((n, n_steps)) * math.sqrt(dt), axis=1)
    t = np.arange(1, n_steps + 1) / n_steps
    bridge = x0 + w - t * (w[:, -1:] - (x1 - x0))
    hit = (bridge.min(axis=1) <= barrier).mean()
    p = float(bridge_cross_probability(np.array(x0), np.array(x1), np.array(barrier), np.array(var)))
    assert p == pytest.approx(math.exp(-2 * 0.02 * 0.03 / var))
    # the discrete walk misses some crossings: the exact value lies above, within a few standard errors
    se = math.sqrt(p * (1 - p) / n)
    assert hit <= p + 3 * se
    assert hit >= p - 0.05
    # upper barrier mirrors, endpoints beyond the barrier give 1
    assert float(bridge_cross_probability(np.array(0.0), np.array(0.0), np.array(0.01), np.array(1e-4),
                                          lower=False)) == pytest.approx(math.exp(-2 * 1e-4 / 1e-4))
    assert float(bridge_cross_probability(np.array(0.0), np.array(-0.03), np.array(-0.02), np.array(1e-4))) == 1.0
