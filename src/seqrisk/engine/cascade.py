"""Restart cascades on one asset (docs/engine.md, "Positions and costs").

Round k tests every live participant at the current price ``P_k``, closes the
failing ones at ``P_k`` and moves the price by the square-root impact of their
signed notional ``X_k`` (sold longs and seized loan collateral count
positive): ``P_{k+1} = P_k * (1 - sign(X_k) * eta * sqrt(|X_k| / ADV))``, until
a round closes nobody or ``max_rounds`` is reached (then the last impact is
applied and ``cap_hit`` is set).

Participants:

- perps with equity ``e0 + s u (x - P0)`` (``e0`` the collateral at the outage
  start), liquidated when equity < ``m u x``; holder loss
  ``max(0, E(P_1)) - max(0, E(P_k) - pen u P_k)``, venue bad debt
  ``max(0, -E(P_k))``;
- Aave-style loans (collateral ``C`` units, debt ``D`` USD), liquidated while
  ``C x LT < D``: each round repays ``r = min(cf D, C x / (1 + bonus))`` and
  seizes ``r (1 + bonus) / x`` units; once the collateral is gone the rest of
  the debt is bad debt; holder loss is the bonus paid, at most ``max(0, E(P_1))``;
- rest-of-market perps, which move the price but whose losses are not the book's.

``scale`` multiplies every participant's notional and losses (the share of
holders that did not top up within a grace period). With a grace period the
first round is tested at the end of it but closes only the positions already
under water at the restart price ``stake_price`` (the holders at stake); later
rounds are ordinary cascade rounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqrisk._typing import BoolArray, FloatArray
from seqrisk.market.impact import sqrt_impact_factor

__all__ = [
    "BatchCascade",
    "CascadeResult",
    "SortedSide",
    "cascade_sorted",
    "cascade_sorted_batch",
    "run_cascade",
    "sorted_side",
]


@dataclass
class CascadeResult:
    """Per-participant outcome (book perps then book loans) and the final price."""

    perp_liquidated: BoolArray
    perp_close_usd: FloatArray
    perp_holder_usd: FloatArray
    perp_venue_usd: FloatArray
    loan_liquidated: BoolArray
    loan_holder_usd: FloatArray
    loan_venue_usd: FloatArray
    loan_notional_usd: FloatArray
    final_price_usd: float
    rounds: int
    cap_hit: bool


def run_cascade(p1: float, p0: float, *, perp_e0: FloatArray, perp_side: FloatArray, perp_units: FloatArray,
                perp_mm: FloatArray, perp_pen: FloatArray, loan_c: FloatArray, loan_d: FloatArray,
                loan_lt: FloatArray, loan_bonus: FloatArray, loan_cf: FloatArray, mkt_e0: FloatArray,
                mkt_side: FloatArray, mkt_units: FloatArray, mkt_mm: FloatArray, eta: float, adv_usd: float,
                max_rounds: int = 1000, scale: float = 1.0, stake_price: float | None = None) -> CascadeResult:
    """Run one restart cascade starting at price ``p1`` (USD); perps were margined at ``p0``.

    ``stake_price``: the restart price before a grace period; the first round closes only positions that
    fail the test at both prices."""
    n_p, n_l = perp_e0.size, loan_c.size
    live_p = np.ones(n_p, bool)
    live_l = np.ones(n_l, bool)
    live_m = np.ones(mkt_e0.size, bool)
    close = np.full(n_p, np.nan)
    c = loan_c.astype(float).copy()
    d = loan_d.astype(float).copy()
    bonus_paid = np.zeros(n_l)
    loan_notional = np.zeros(n_l)
    loan_bad = np.zeros(n_l)
    loan_liq = np.zeros(n_l, bool)
    price = p1
    rounds = 0
    cap_hit = False
    for k in range(max_rounds):
        lp = live_p & (perp_e0 + perp_side * perp_units * (price - p0) < perp_mm * perp_units * price)
        lm = live_m & (mkt_e0 + mkt_side * mkt_units * (price - p0) < mkt_mm * mkt_units * price)
        ll = live_l & (c * price * loan_lt < d)
        if k == 0 and stake_price is not None:
            sp = stake_price
            lp &= perp_e0 + perp_side * perp_units * (sp - p0) < perp_mm * perp_units * sp
            lm &= mkt_e0 + mkt_side * mkt_units * (sp - p0) < mkt_mm * mkt_units * sp
            ll &= c * sp * loan_lt < d
        if not (lp.any() or lm.any() or ll.any()):
            break
        rounds += 1
        x = float(np.sum(perp_side[lp] * perp_units[lp])) * price + float(np.sum(mkt_side[lm] * mkt_units[lm])) * price
        close[lp] = price
        live_p &= ~lp
        live_m &= ~lm
        if ll.any():
            idx = np.flatnonzero(ll)
            r = np.minimum(loan_cf[idx] * d[idx], c[idx] * price / (1.0 + loan_bonus[idx]))
            seized = r * (1.0 + loan_bonus[idx]) / price
            x += float(np.sum(seized)) * price
            bonus_paid[idx] += loan_bonus[idx] * r
            loan_notional[idx] += seized * price
            c[idx] -= seized
            d[idx] -= r
            loan_liq[idx] = True
            gone = c[idx] * price <= 1e-9 * np.maximum(d[idx], 1.0)
            loan_bad[idx[gone]] += np.maximum(d[idx[gone]], 0.0)
            d[idx[gone]] = 0.0
            c[idx[gone]] = 0.0
            live_l[idx[gone]] = False
        price = price * float(sqrt_impact_factor(scale * x, eta, adv_usd))
        if k == max_rounds - 1:
            cap_hit = True
    e1 = perp_e0 + perp_side * perp_units * (p1 - p0)
    liq = ~np.isnan(close)
    ec = np.where(liq, perp_e0 + perp_side * perp_units * (np.nan_to_num(close) - p0), 0.0)
    holder = np.where(liq, np.maximum(e1, 0.0) - np.maximum(ec - perp_pen * perp_units * np.nan_to_num(close), 0.0),
                      0.0)
    venue = np.where(liq, np.maximum(-ec, 0.0), 0.0)
    le1 = loan_c * p1 - loan_d
    loan_holder = np.minimum(bonus_paid, np.maximum(le1, 0.0))
    return CascadeResult(
        perp_liquidated=liq, perp_close_usd=close, perp_holder_usd=scale * holder, perp_venue_usd=scale * venue,
        loan_liquidated=loan_liq, loan_holder_usd=scale * loan_holder, loan_venue_usd=scale * loan_bad,
        loan_notional_usd=scale * loan_notional, final_price_usd=price, rounds=rounds, cap_hit=cap_hit)


@dataclass(frozen=True)
class SortedSide:
    """One side of a (chain, asset) group's perps sorted by liquidation trigger.

    All perps start the outage at the same margin rule (initial margin plus
    buffer at ``P0``), so each is liquidated exactly when the price ratio
    ``P / P0`` crosses its fixed trigger: below ``ratio`` for longs (sorted
    descending), above it for shorts (sorted ascending). ``cum_units[k]`` is the
    total units of the first k; ``index`` the book position (-1: rest of market).
    """

    key: list[float]        # -ratio for longs, ratio for shorts (ascending)
    cum_units: list[float]
    index: np.ndarray
    units: FloatArray


def sorted_side(ratio: FloatArray, units: FloatArray, index: np.ndarray, long: bool) -> SortedSide:
    """Build a :class:`SortedSide` from triggers ``ratio`` (relative to ``P0``)."""
    key = -ratio if long else ratio
    o = np.argsort(key, kind="stable")
    return SortedSide(key=key[o].tolist(), cum_units=np.concatenate([[0.0], np.cumsum(units[o])]).tolist(),
                      index=index[o], units=units[o])


def cascade_sorted(p1: float, p0: float, longs: SortedSide, shorts: SortedSide, *, eta: float, adv_usd: float,
                   max_rounds: int = 1000, scale: float = 1.0) -> tuple[int, int, FloatArray, FloatArray, float, int,
                                                                            bool]:
    """The cascade of :func:`run_cascade` for perps only, in O(rounds * log n).

    Returns (liquidated longs n_l, shorts n_s, close prices of those longs and
    shorts in sorted order, final price, rounds, cap hit).
    """
    import bisect

    price = p1
    n_l = n_s = 0
    close_l: list[tuple[int, float]] = []
    close_s: list[tuple[int, float]] = []
    rounds = 0
    cap = False
    for k in range(max_rounds):
        r = price / p0
        new_l = bisect.bisect_left(longs.key, -r)
        new_s = bisect.bisect_left(shorts.key, r)
        if new_l <= n_l and new_s <= n_s:
            break
        rounds += 1
        x = 0.0
        if new_l > n_l:
            x += (longs.cum_units[new_l] - longs.cum_units[n_l]) * price
            close_l.append((new_l - n_l, price))
            n_l = new_l
        if new_s > n_s:
            x -= (shorts.cum_units[new_s] - shorts.cum_units[n_s]) * price
            close_s.append((new_s - n_s, price))
            n_s = new_s
        x *= scale
        f = 1.0 - (1.0 if x > 0 else -1.0 if x < 0 else 0.0) * eta * math.sqrt(abs(x) / adv_usd)
        price *= max(f, 1e-6)
        if k == max_rounds - 1:
            cap = True
    cl = np.repeat([p for _, p in close_l], [c for c, _ in close_l]) if close_l else np.zeros(0)
    cs = np.repeat([p for _, p in close_s], [c for c, _ in close_s]) if close_s else np.zeros(0)
    return n_l, n_s, cl, cs, price, rounds, cap


@dataclass
class BatchCascade:
    """Outcome of :func:`cascade_sorted_batch`: liquidation segments and final prices per event.

    Segment j closes the sorted positions ``start[j] <= i < stop[j]`` of one
    side for event ``event[j]`` at ``price[j]`` (USD).
    """

    long_event: np.ndarray
    long_start: np.ndarray
    long_stop: np.ndarray
    long_price: FloatArray
    short_event: np.ndarray
    short_start: np.ndarray
    short_stop: np.ndarray
    short_price: FloatArray
    final_price: FloatArray
    rounds: np.ndarray
    cap_hit: np.ndarray


def cascade_sorted_batch(p1: FloatArray, p0: FloatArray, longs: SortedSide, shorts: SortedSide, *, eta: float,
                         adv_usd: float, max_rounds: int = 1000, scale: float = 1.0,
                         stake_price: FloatArray | None = None) -> BatchCascade:
    """:func:`cascade_sorted` for many events of one (chain, asset) group at once, round by round.

    ``stake_price`` (per event): restart prices before a grace period; the first round closes only the
    positions that fail at both prices (see :func:`run_cascade`)."""
    e_n = p1.size
    key_l, key_s = np.asarray(longs.key), np.asarray(shorts.key)
    cum_l, cum_s = np.asarray(longs.cum_units), np.asarray(shorts.cum_units)
    price = p1.astype(float).copy()
    n_l = np.zeros(e_n, np.int64)
    n_s = np.zeros(e_n, np.int64)
    rounds = np.zeros(e_n, np.int64)
    cap = np.zeros(e_n, bool)
    act = np.arange(e_n)
    segs_l: list[tuple[np.ndarray, ...]] = []
    segs_s: list[tuple[np.ndarray, ...]] = []
    for k in range(max_rounds):
        if not act.size:
            break
        r = price[act] / p0[act]
        new_l = np.searchsorted(key_l, -r, side="left")
        new_s = np.searchsorted(key_s, r, side="left")
        if k == 0 and stake_price is not None:
            rs = stake_price[act] / p0[act]
            new_l = np.minimum(new_l, np.searchsorted(key_l, -rs, side="left"))
            new_s = np.minimum(new_s, np.searchsorted(key_s, rs, side="left"))
        gl = new_l > n_l[act]
        gs = new_s > n_s[act]
        go = gl | gs
        act, new_l, new_s, gl, gs = act[go], new_l[go], new_s[go], gl[go], gs[go]
        if not act.size:
            break
        pr = price[act]
        x = (cum_l[new_l] - cum_l[n_l[act]]) * pr - (cum_s[new_s] - cum_s[n_s[act]]) * pr
        if gl.any():
            segs_l.append((act[gl], n_l[act][gl], new_l[gl], pr[gl]))
        if gs.any():
            segs_s.append((act[gs], n_s[act][gs], new_s[gs], pr[gs]))
        n_l[act] = np.maximum(n_l[act], new_l)
        n_s[act] = np.maximum(n_s[act], new_s)
        rounds[act] += 1
        x = x * scale
        price[act] = pr * np.maximum(1.0 - np.sign(x) * eta * np.sqrt(np.abs(x) / adv_usd), 1e-6)
        if k == max_rounds - 1:
            cap[act] = True

    def cat(segs: list[tuple[np.ndarray, ...]], i: int, dtype: type) -> np.ndarray:
        return np.concatenate([s[i] for s in segs]).astype(dtype) if segs else np.zeros(0, dtype)

    return BatchCascade(long_event=cat(segs_l, 0, np.int64), long_start=cat(segs_l, 1, np.int64),
                        long_stop=cat(segs_l, 2, np.int64), long_price=cat(segs_l, 3, float),
                        short_event=cat(segs_s, 0, np.int64), short_start=cat(segs_s, 1, np.int64),
                        short_stop=cat(segs_s, 2, np.int64), short_price=cat(segs_s, 3, float),
                        final_price=price, rounds=rounds, cap_hit=cap)
