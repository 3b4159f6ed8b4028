"""Restart cascades: the benchmark SPEC's golden vectors and small books worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqrisk.engine.cascade import cascade_sorted, run_cascade, sorted_side


def spec_book() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The benchmark book, regenerated from its documented recipe (SPEC.md section 3)."""
    rng = np.random.default_rng(20240601)
    side = np.where(rng.random(1000) < 0.5, 1.0, -1.0)
    notional = np.clip(rng.lognormal(math.log(1e5), math.log(10.0) / 2.0, 1000), 1e4, 1e6)
    lev = rng.uniform(2.0, 12.5, 1000)
    return side, notional / 2000.0, lev


GOLDEN = [  # P1, rounds, liquidated, P*, holder loss, venue bad debt (SPEC.md section 11)
    (1900, 19, 339, 1744.3497174581796, 4_115_028.6527, 0.0),
    (1850, 13, 339, 1743.9382118997507, 2_484_828.0169, 0.0),
    (2100, 20, 350, 2298.2844444612106, 4_197_989.7945, 0.0),
    (2150, 13, 350, 2297.2995002771595, 2_707_189.7803, 0.0),
    (1700, 3, 392, 1644.637369138987, 542_407.6194, 2_468_407.6572),
]
NONE = np.zeros(0)


def _perps_only(p1: float) -> tuple:
    side, q, lev = spec_book()
    p0 = 2000.0
    return run_cascade(p1, p0, perp_e0=q * p0 / lev, perp_side=side, perp_units=q, perp_mm=np.full(1000, 0.05),
                       perp_pen=np.full(1000, 0.05), loan_c=NONE, loan_d=NONE, loan_lt=NONE, loan_bonus=NONE,
                       loan_cf=NONE, mkt_e0=NONE, mkt_side=NONE, mkt_units=NONE, mkt_mm=NONE, eta=0.1,
                       adv_usd=1e9)


@pytest.mark.parametrize(("p1", "rounds", "n_liq", "p_star", "holder", "venue"), GOLDEN)
def test_spec_golden_vectors(p1: float, rounds: int, n_liq: int, p_star: float, holder: float, venue: float) -> None:
    res = _perps_only(p1)
    assert res.rounds == rounds
    assert int(res.perp_liquidated.sum()) == n_liq
    assert res.final_price_usd == pytest.approx(p_star, rel=1e-12)
    assert res.perp_holder_usd.sum() == pytest.approx(holder, rel=1e-9)
    assert res.perp_venue_usd.sum() == pytest.approx(venue, rel=1e-9, abs=1e-6)
    assert not res.cap_hit


@pytest.mark.parametrize(("p1", "rounds", "n_liq", "p_star", "holder", "venue"), GOLDEN)
def test_sorted_cascade_matches(p1: float, rounds: int, n_liq: int, p_star: float, holder: float,
                                venue: float) -> None:
    side, q, lev = spec_book()
    m = 0.05
    lg, sh = side > 0, side < 0
    idx = np.arange(1000)
    longs = sorted_side((1 - 1 / lev[lg]) / (1 - m), q[lg], idx[lg], True)
    shorts = sorted_side((1 + 1 / lev[sh]) / (1 + m), q[sh], idx[sh], False)
    n_l, n_s, cl, cs, final, r, cap = cascade_sorted(p1, 2000.0, longs, shorts, eta=0.1, adv_usd=1e9)
    assert (n_l + n_s, r, cap) == (n_liq, rounds, False)
    assert final == pytest.approx(p_star, rel=1e-12)
    ids = np.concatenate([longs.index[:n_l], shorts.index[:n_s]])
    close = np.concatenate([cl, cs])
    e0 = q[ids] * 2000.0 / lev[ids]
    ec = e0 + side[ids] * q[ids] * (close - 2000.0)
    e1 = e0 + side[ids] * q[ids] * (p1 - 2000.0)
    h = np.maximum(e1, 0) - np.maximum(ec - 0.05 * q[ids] * close, 0)
    assert h.sum() == pytest.approx(holder, rel=1e-9)
    assert np.maximum(-ec, 0).sum() == pytest.approx(venue, rel=1e-9, abs=1e-6)


def test_spec_first_rounds() -> None:
    """Round-by-round prices of the P1 = 1900 row (SPEC.md section 11)."""
    side, q, lev = spec_book()
    p = 1900.0
    live = np.ones(1000, bool)
    e0 = q * 2000.0 / lev
    expected = [(1900.0, 123, 22_912_594.20), (1871.239877, 53, 9_484_205.48), (1853.016455, 34, 4_546_680.96)]
    for p_k, n_k, x_k in expected:
        assert p == pytest.approx(p_k, rel=1e-9)
        liq = live & (e0 + side * q * (p - 2000.0) < 0.05 * q * p)
        x = float(np.sum(side[liq] * q[liq])) * p
        assert int(liq.sum()) == n_k
        assert x == pytest.approx(x_k, abs=0.01)
        live &= ~liq
        p *= 1 - math.copysign(0.1 * math.sqrt(abs(x) / 1e9), x)


def test_two_longs_by_hand() -> None:
    """A (L=10) falls at P1 = 94 < 100 * 0.9/0.95; its sale pushes the price under B's trigger 84.21."""
    u = np.array([1000.0, 500.0])
    lev = np.array([10.0, 5.0])
    x1 = 1000 * 94.0                      # round 1 sells A: 94,000 USD
    adv = x1 / (1 - 84.0 / 94.0) ** 2     # impact 1 - sqrt(x1/adv) = 84/94 with eta = 1
    res = run_cascade(94.0, 100.0, perp_e0=u * 100 / lev, perp_side=np.ones(2), perp_units=u,
                      perp_mm=np.full(2, 0.05), perp_pen=np.full(2, 0.05), loan_c=NONE, loan_d=NONE,
                      loan_lt=NONE, loan_bonus=NONE, loan_cf=NONE, mkt_e0=NONE, mkt_side=NONE, mkt_units=NONE,
                      mkt_mm=NONE, eta=1.0, adv_usd=adv)
    assert res.rounds == 2
    assert res.perp_close_usd.tolist() == pytest.approx([94.0, 84.0])
    # A: equity at 94 is 10,000 - 6,000 = 4,000 < penalty 4,700: loses all 4,000
    # B: equity at 94 is 10,000 - 3,000 = 7,000; closed at 84 with 2,000 left < penalty 2,100: loses 7,000
    assert res.perp_holder_usd.tolist() == pytest.approx([4000.0, 7000.0])
    assert res.perp_venue_usd.tolist() == pytest.approx([0.0, 0.0])
    x2 = 500 * 84.0
    assert res.final_price_usd == pytest.approx(84.0 * (1 - math.sqrt(x2 / adv)))


def test_rest_of_market_moves_the_price() -> None:
    """A book short that survives P1 is liquidated once other traders' longs are sold into the market."""
    res = run_cascade(95.0, 100.0, perp_e0=np.array([10.0 * 100 / 10]), perp_side=np.array([-1.0]),
                      perp_units=np.array([10.0]), perp_mm=np.array([0.05]), perp_pen=np.array([0.05]),
                      loan_c=NONE, loan_d=NONE, loan_lt=NONE, loan_bonus=NONE, loan_cf=NONE,
                      mkt_e0=np.array([1e6 * 100 / 20]), mkt_side=np.array([-1.0]), mkt_units=np.array([1e6]),
                      mkt_mm=np.array([0.01]), eta=0.1, adv_usd=1e9)
    # short market at 20x: trigger 100 * 1.05/1.01 = 103.96 (not hit at 95); nothing moves
    assert res.rounds == 0
    res = run_cascade(104.5, 100.0, perp_e0=np.array([10.0 * 100 / 10]), perp_side=np.array([-1.0]),
                      perp_units=np.array([10.0]), perp_mm=np.array([0.05]), perp_pen=np.array([0.05]),
                      loan_c=NONE, loan_d=NONE, loan_lt=NONE, loan_bonus=NONE, loan_cf=NONE,
                      mkt_e0=np.array([1e6 * 100 / 20]), mkt_side=np.array([-1.0]), mkt_units=np.array([1e6]),
                      mkt_mm=np.array([0.01]), eta=0.1, adv_usd=1e9)
    # round 1: the market shorts (1e8 USD notional) are bought back: price x (1 + 0.1 sqrt(0.1045)) = 107.88
    # round 2: the book short (trigger 100 * 1.1/1.05 = 104.76) is now liquidated at 107.88
    assert res.rounds == 2
    assert res.perp_close_usd[0] == pytest.approx(104.5 * (1 + 0.1 * math.sqrt(1e6 * 104.5 / 1e9)))


def test_loan_partial_liquidation_by_hand() -> None:
    one = np.ones(1)
    res = run_cascade(90.0, 100.0, perp_e0=NONE, perp_side=NONE, perp_units=NONE, perp_mm=NONE, perp_pen=NONE,
                      loan_c=10 * one, loan_d=750 * one, loan_lt=0.8 * one, loan_bonus=0.05 * one,
                      loan_cf=0.5 * one, mkt_e0=NONE, mkt_side=NONE, mkt_units=NONE, mkt_mm=NONE, eta=0.0,
                      adv_usd=1e9)
    # HF = 10*90*0.8/750 = 0.96: repay 375, seize 375*1.05/90 = 4.375 ETH; then HF = 5.625*72/375 = 1.08
    assert res.rounds == 1
    assert res.loan_holder_usd[0] == pytest.approx(18.75)
    assert res.loan_venue_usd[0] == 0.0
    assert res.loan_notional_usd[0] == pytest.approx(393.75)


def test_loan_to_bad_debt_by_hand() -> None:
    one = np.ones(1)
    res = run_cascade(70.0, 100.0, perp_e0=NONE, perp_side=NONE, perp_units=NONE, perp_mm=NONE, perp_pen=NONE,
                      loan_c=10 * one, loan_d=750 * one, loan_lt=0.8 * one, loan_bonus=0.05 * one,
                      loan_cf=0.5 * one, mkt_e0=NONE, mkt_side=NONE, mkt_units=NONE, mkt_mm=NONE, eta=0.0,
                      adv_usd=1e9)
    # repays 375, 187.5, 93.75, then the last 0.15625 ETH (10.4167 USD of debt): collateral gone,
    # 750 - 666.67 = 83.33 USD of bad debt; the borrower was under water (equity -50): holder loss 0
    assert res.rounds == 4
    assert res.loan_venue_usd[0] == pytest.approx(750 - 700 / 1.05)
    assert res.loan_holder_usd[0] == 0.0
    assert res.loan_notional_usd[0] == pytest.approx(700.0)


def test_round_cap_is_reported() -> None:
    side, q, lev = spec_book()
    res = run_cascade(1900.0, 2000.0, perp_e0=q * 2000 / lev, perp_side=side, perp_units=q,
                      perp_mm=np.full(1000, 0.05), perp_pen=np.full(1000, 0.05), loan_c=NONE, loan_d=NONE,
                      loan_lt=NONE, loan_bonus=NONE, loan_cf=NONE, mkt_e0=NONE, mkt_side=NONE, mkt_units=NONE,
                      mkt_mm=NONE, eta=0.1, adv_usd=1e9, max_rounds=5)
    assert res.rounds == 5
    assert res.cap_hit
