"""The restart cascade of the compiled kernel, on the prefix state (Numba).

All perps of a (chain, asset) group start an outage at the same margin rule,
so each is liquidated exactly when the price ratio ``P / P0`` crosses its
fixed trigger. Sorted by trigger, the positions a path has closed are a
prefix of each side: the state of a group is two integers, a round is a
binary search, and a cascade costs O(rounds log n + liquidated). The venue's
rest-of-market participants sit in the same sorted sides (``ent_idx`` -1);
they are back at every outage (the market replenishes), book positions stay
closed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["cascade", "count_below"]


@njit(cache=True, inline="always")
def count_below(key: np.ndarray, lo: int, hi: int, x: float) -> int:
    """Number of entries of the sorted ``key[lo:hi]`` strictly below ``x`` (bisect_left)."""
    a, b = lo, hi
    while a < b:
        m = (a + b) >> 1
        if key[m] < x:
            a = m + 1
        else:
            b = m
    return a - lo


@njit(cache=True, inline="always")
def cascade(g, base_p, p_restart, p_test, graced, scale, eta, adv, max_rounds, side_off, key, ent_idx, cum_book,
            cum_mkt, ent_units, ent_e0f, ent_pen, closed, direct, w, acc, ph, pv, pl, touched, is_touched, n_touch,
            res):
    """One restart cascade of group ``g`` (both sides) on the prefix state ``closed``; returns ``n_touch``.

    ``base_p``: price at the outage start (the margin reference), ``p_test``: the price of the liquidation
    test, ``p_restart``: the restart price (with ``graced``, the first round closes only positions failing at
    both). Everything per position is indexed by *entry* (the position's place in its sorted side), so the
    liquidations of a round are read and written as one contiguous run. A book position is liquidated at most
    once per path, so with ``direct`` its weighted terms go straight to ``acc`` (4, entries): ``w`` times holder
    loss, bad debt, liquidated share, and the share's square. Otherwise (a path on which censorship also
    touches positions, whose liquidated share is a maximum over events) they add to the path's ``ph/pv/pl``,
    flushed by the caller. ``res``: holder, venue, liquidated notional, liquidated book positions, rounds, cap
    hit, flagged, final price.
    """
    sl, ss = 2 * g, 2 * g + 1
    l0, l1 = side_off[sl], side_off[sl + 1]
    s0, s1 = side_off[ss], side_off[ss + 1]
    cl, cs = side_off[sl] + sl, side_off[ss] + ss  # cumulative arrays: n + 1 per side
    price = p_test
    stake_l = l1 - l0
    stake_s = s1 - s0
    if graced:
        stake_l = count_below(key, l0, l1, -p_restart / base_p)
        stake_s = count_below(key, s0, s1, p_restart / base_p)
    jl = 0
    js = 0
    nbl = closed[sl]
    nbs = closed[ss]
    rounds = 0
    cap = 0
    flagged = 0
    hsum = 0.0
    vsum = 0.0
    notional = 0.0
    n_liq = 0
    for kr in range(max_rounds):
        r = price / base_p
        nl = count_below(key, l0, l1, -r)
        ns = count_below(key, s0, s1, r)
        if kr == 0:
            nl = min(nl, stake_l)
            ns = min(ns, stake_s)
            flagged = 1 if (nl > 0 or ns > 0) else 0
        if nl <= jl and ns <= js:
            break
        x = 0.0
        live = False
        for side in range(2):
            if side == 0:
                lo, new, old, nb, sgn, co = l0, nl, jl, nbl, 1.0, cl
            else:
                lo, new, old, nb, sgn, co = s0, ns, js, nbs, -1.0, cs
            if new <= old:
                continue
            x += sgn * (cum_mkt[co + new] - cum_mkt[co + old]) * price
            live = live or cum_mkt[co + new] > cum_mkt[co + old]
            first = max(old, nb)
            if new > first:
                live = True
                x += sgn * (cum_book[co + new] - cum_book[co + first]) * price
                d1 = sgn * (p_test - base_p)
                dc = sgn * (price - base_p)
                ws = w * scale
                for m in range(lo + first, lo + new):
                    if ent_idx[m] < 0:
                        continue
                    u = ent_units[m]
                    e0 = u * base_p * ent_e0f[m]
                    e1 = e0 + u * d1
                    ec = e0 + u * dc
                    hl = scale * (max(e1, 0.0) - max(ec - ent_pen[m] * u * price, 0.0))
                    vl = scale * max(-ec, 0.0)
                    hsum += hl
                    vsum += vl
                    notional += scale * u * price
                    n_liq += 1
                    if direct:
                        acc[0, m] += w * hl
                        acc[1, m] += w * vl
                        acc[2, m] += ws
                        acc[3, m] += ws * ws
                        continue
                    if not is_touched[m]:
                        is_touched[m] = True
                        touched[n_touch] = m
                        n_touch += 1
                    ph[m] += hl
                    pv[m] += vl
                    pl[m] = max(pl[m], scale)
            if side == 0:
                jl = new
            else:
                js = new
        if not live:  # the triggers crossed belong to positions closed at an earlier outage
            continue
        rounds += 1
        x *= scale
        sgx = 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
        price *= max(1.0 - sgx * eta * math.sqrt(abs(x) / adv), 1e-6)
        if kr == max_rounds - 1:
            cap = 1
    closed[sl] = max(nbl, jl)
    closed[ss] = max(nbs, js)
    res[0] = hsum
    res[1] = vsum
    res[2] = notional
    res[3] = n_liq
    res[4] = rounds
    res[5] = cap
    res[6] = flagged
    res[7] = price
    return n_touch

