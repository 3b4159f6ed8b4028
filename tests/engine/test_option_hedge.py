"""A delta-hedged option that expires inside a downtime: the hedge stays frozen until the restart.

Loss = -q (payoff(S_T) - V0 - Delta0 (S1 - S0)), with S_T the price at expiry
and S1 the price at restart. Its law is computed here by quadrature over S_T
with the conditional law of S1 / S_T (lognormal) in closed form.
"""

from __future__ import annotations

import math

import pytest
from scipy import integrate, optimize, stats

from seqrisk.engine import Scenario, StressOutage, simulate
from seqrisk.market import bs_delta, bs_price
from seqrisk.units import YEAR_S

from .conftest import lognormal_model, make_book

SIG, P0, K, IV, Q = 0.8, 2000.0, 2000.0, 0.8, 10.0
T_EXP, D = 3600.0, 7200.0  # an ATM call expiring 1 h into a 2 h outage


def _law() -> tuple[float, float, stats.rv_continuous, float]:
    v0 = float(bs_price(P0, K, T_EXP / YEAR_S, IV, True))
    d0 = float(bs_delta(P0, K, T_EXP / YEAR_S, IV, True))
    s_t = SIG * math.sqrt(T_EXP / YEAR_S)
    return v0, d0, stats.lognorm(s=s_t, scale=P0 * math.exp(-0.5 * s_t * s_t)), SIG * SIG * (D - T_EXP) / YEAR_S


def _tail(v: float) -> tuple[float, float]:
    """(P(L > v), E[(L - v)^+]) for L = -Q (payoff(S_T) - V0) + Q Delta0 (S_T e^Y - S0), Y ~ N(-w/2, w)."""
    v0, d0, law, w = _law()
    b = Q * d0

    def parts(s: float) -> tuple[float, float]:
        a = -Q * (max(s - K, 0.0) - v0) - b * P0
        fwd, strike = b * s, v - a
        if strike <= 0:
            return 1.0, fwd - strike
        sd = math.sqrt(w)
        d2 = (math.log(fwd / strike) - 0.5 * w) / sd
        return stats.norm.cdf(d2), float(bs_price(fwd, strike, w, 1.0, True))

    lo, hi = law.ppf(1e-12), law.ppf(1 - 1e-12)
    pts = [K]
    p = integrate.quad(lambda s: parts(s)[0] * law.pdf(s), lo, hi, points=pts, limit=400)[0]
    e = integrate.quad(lambda s: parts(s)[1] * law.pdf(s), lo, hi, points=pts, limit=400)[0]
    return p, e


def _es(level: float) -> tuple[float, float]:
    var = optimize.brentq(lambda v: _tail(v)[0] - (1 - level), -1e5, 1e5, xtol=1e-6)
    return var, var + _tail(var)[1] / (1 - level)


def test_hedge_held_to_restart_matches_the_closed_form() -> None:
    book = make_book([{"id": "c", "type": "option", "chain": "arbitrum", "asset": "ETH", "kind": "call",
                       "quantity": Q, "strike_usd": K, "expiry": T_EXP, "implied_vol": IV}], vol=SIG)
    sc = Scenario(paths=100_000, seed=4, horizon_s=D, forced_inclusion=False, turnover_per_day=0.0,
                  cost_of_capital=0.0, keep_paths=False,
                  stress_outages=[StressOutage(chain="arbitrum", duration_s=D)])
    res = simulate(book, lognormal_model({}), sc)
    var, es = _es(0.99)
    el, el_se = res.value("expected_loss")
    assert abs(el - 0.0) < 4 * el_se  # E[payoff(S_T)] = V0 and the hedge is a martingale: zero mean
    v, v_se = res.value("var", level=0.99)
    assert abs(v - var) < 4 * v_se + 1.0
    e, e_se = res.value("es", level=0.99)
    assert abs(e - es) < 4 * e_se
    # closing the hedge at the expiry price instead (the old rule) gives a far thinner tail
    assert es > 2.5 * _es_closed_at_expiry(0.99)


def _es_closed_at_expiry(level: float) -> float:
    """ES of -Q (payoff(S_T) - V0 - Delta0 (S_T - S0)) (hedge closed at expiry), by quadrature."""
    v0, d0, law, _ = _law()

    def loss(s: float) -> float:
        return -Q * (max(s - K, 0.0) - v0 - d0 * (s - P0))

    lo, hi = law.ppf(1e-12), law.ppf(1 - 1e-12)

    def tail(v: float) -> float:
        return integrate.quad(lambda s: max(loss(s) - v, 0.0) * law.pdf(s), lo, hi, points=[K], limit=400)[0]

    def sf(v: float) -> float:
        return integrate.quad(lambda s: float(loss(s) > v) * law.pdf(s), lo, hi, points=[K], limit=400)[0]

    var = optimize.brentq(lambda v: sf(v) - (1 - level), -1e5, 1e5, xtol=1e-6)
    return var + tail(var) / (1 - level)


@pytest.mark.parametrize("level", [0.99])
def test_closed_form_is_consistent(level: float) -> None:
    var, es = _es(level)
    assert _tail(var)[0] == pytest.approx(1 - level, abs=1e-6)
    assert es > var > 0


@pytest.mark.parametrize("sig", [0.45, 0.65, 0.85])
def test_a_frozen_short_option_gains_on_average_when_its_implied_vol_is_above_the_prices(sig: float) -> None:
    """A short put whose hedge freezes for D: averaging V(S1, T - D) over the lognormal S1 is Black-Scholes with
    the total variance sig^2 D + iv^2 (T - D), so E[loss] = -q (BS(var = sig^2 D + iv^2 (T - D)) - V0) in closed
    form: negative for the short holder when the implied volatility is above the prices' (the note
    `seqrisk simulate` and `seqrisk nowcast` print for such a book), zero at equal volatilities, positive below."""
    iv, q, k, t_exp, d = 0.65, -10.0, 1900.0, 7 * 86400.0, 6 * 3600.0
    book = make_book([{"id": "p", "type": "option", "chain": "arbitrum", "asset": "ETH", "kind": "put",
                       "quantity": q, "strike_usd": k, "expiry": t_exp, "implied_vol": iv}], vol=sig)
    sc = Scenario(paths=100_000, seed=7, horizon_s=d, forced_inclusion=False, turnover_per_day=0.0,
                  cost_of_capital=0.0, keep_paths=False, stress_outages=[StressOutage(chain="arbitrum", duration_s=d)])
    el, el_se = simulate(book, lognormal_model({}), sc).value("expected_loss")
    v0 = float(bs_price(P0, k, t_exp / YEAR_S, iv, False))
    total = math.sqrt((sig * sig * d + iv * iv * (t_exp - d)) / t_exp)  # the same variance over T
    exact = -q * (float(bs_price(P0, k, t_exp / YEAR_S, total, False)) - v0)
    assert abs(el - exact) < 4 * el_se + 1e-9, (el, el_se, exact)
    if sig != iv:
        assert abs(exact) > 4 * el_se and math.copysign(1.0, el) == math.copysign(1.0, sig - iv)
