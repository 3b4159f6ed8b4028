"""Property tests: the sorted/batched cascade kernels against the direct loop, and the SPEC invariants."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrisk.engine.cascade import cascade_sorted, cascade_sorted_batch, run_cascade, sorted_side

NONE = np.zeros(0)


@st.composite
def books(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    side = np.where(rng.random(n) < draw(st.floats(0.0, 1.0)), 1.0, -1.0)
    units = rng.lognormal(3.0, 1.0, n)
    lev = rng.uniform(1.5, 50.0, n)
    mm = rng.uniform(0.005, 0.9, n) / lev
    pen = rng.uniform(0.0, 0.1, n)
    moves = draw(st.lists(st.floats(-0.3, 0.3), min_size=1, max_size=5))
    adv = draw(st.sampled_from([1e4, 1e5, 1e6, 1e8]))
    return side, units, lev, mm, pen, np.array(moves), adv


@settings(max_examples=60, deadline=None)
@given(books())
def test_sorted_kernels_match_the_direct_loop(b) -> None:  # type: ignore[no-untyped-def]
    side, units, lev, mm, pen, moves, adv = b
    p0 = 100.0
    e0 = units * p0 / lev
    idx = np.arange(side.size)
    lg, sh = side > 0, side < 0
    longs = sorted_side((1 - 1 / lev[lg]) / (1 - mm[lg]), units[lg], idx[lg], True)
    shorts = sorted_side((1 + 1 / lev[sh]) / (1 + mm[sh]), units[sh], idx[sh], False)
    p1 = p0 * (1 + moves)
    batch = cascade_sorted_batch(p1, np.full(p1.size, p0), longs, shorts, eta=0.3, adv_usd=adv)
    for j, q in enumerate(p1):
        ref = run_cascade(float(q), p0, perp_e0=e0, perp_side=side, perp_units=units, perp_mm=mm, perp_pen=pen,
                          loan_c=NONE, loan_d=NONE, loan_lt=NONE, loan_bonus=NONE, loan_cf=NONE, mkt_e0=NONE,
                          mkt_side=NONE, mkt_units=NONE, mkt_mm=NONE, eta=0.3, adv_usd=adv)
        n_l, n_s, cl, cs, final, rounds, cap = cascade_sorted(float(q), p0, longs, shorts, eta=0.3, adv_usd=adv)
        assert rounds == ref.rounds == batch.rounds[j]
        assert cap == ref.cap_hit == bool(batch.cap_hit[j])
        assert np.isclose(final, ref.final_price_usd, rtol=1e-12)
        assert np.isclose(batch.final_price[j], ref.final_price_usd, rtol=1e-12)
        liq = set(np.concatenate([longs.index[:n_l], shorts.index[:n_s]]).tolist())
        assert liq == set(np.flatnonzero(ref.perp_liquidated).tolist())
        close = dict(zip(np.concatenate([longs.index[:n_l], shorts.index[:n_s]]).tolist(),
                         np.concatenate([cl, cs]).tolist(), strict=True))
        for i in liq:
            assert np.isclose(close[i], ref.perp_close_usd[i], rtol=1e-12)
        # SPEC section 6 invariants: a later round closes at a price no better for the position than P1
        e1 = e0 + side * units * (q - p0)
        assert np.all(ref.perp_holder_usd >= -1e-9)
        assert np.all(ref.perp_holder_usd <= np.maximum(e1, 0) + 1e-9)
        assert np.all(ref.perp_venue_usd >= 0)
        ec = e0 + side * units * (np.nan_to_num(ref.perp_close_usd) - p0)
        assert np.all(ec[ref.perp_liquidated] <= e1[ref.perp_liquidated] + 1e-9 * (1 + np.abs(e1[ref.perp_liquidated])))


@settings(max_examples=40, deadline=None)
@given(st.floats(0.3, 1.5), st.floats(0.5, 0.95), st.floats(0.0, 0.15), st.floats(0.1, 1.0))
def test_loan_liquidation_conserves_value(move: float, lt: float, bonus: float, cf: float) -> None:
    """Repaid debt plus bonus equals the seized collateral; bad debt only once the collateral is gone."""
    c, d, p0 = 10.0, 700.0 * lt, 100.0
    p1 = p0 * move
    res = run_cascade(p1, p0, perp_e0=NONE, perp_side=NONE, perp_units=NONE, perp_mm=NONE, perp_pen=NONE,
                      loan_c=np.array([c]), loan_d=np.array([d]), loan_lt=np.array([lt]),
                      loan_bonus=np.array([bonus]), loan_cf=np.array([cf]), mkt_e0=NONE, mkt_side=NONE,
                      mkt_units=NONE, mkt_mm=NONE, eta=0.0, adv_usd=1e9)
    liquidatable = c * p1 * lt < d
    assert bool(res.loan_liquidated[0]) == liquidatable
    assert res.loan_notional_usd[0] <= c * p1 + 1e-9
    assert res.loan_holder_usd[0] <= max(c * p1 - d, 0.0) + 1e-9
    if res.loan_venue_usd[0] > 0:
        assert np.isclose(res.loan_notional_usd[0], c * p1)
        assert np.isclose(res.loan_venue_usd[0], d - c * p1 / (1 + bonus))
