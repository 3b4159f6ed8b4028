"""Simulate outage histories from a fitted model, with its parameter uncertainty (posterior predictive).

:func:`simulate_history` draws ``R`` replicate histories of every chain over
given observation windows: per replicate a posterior draw of every parameter
(own rates, shock rates, excitation), then the own events (immigrants at the
rates that keep the fitted mean rates, see
:func:`seqrisk.outage.hawkes_immigrant_rates`), the common shocks (two live
members and each other live member with the hit probability, types from the
mix) and the excitation's follow-on outages (within the chain, and across
chains by rate share), each kept only while its chain is observed. Rates may
vary in time by a known factor (the time structure), applied by thinning.
It feeds the posterior predictive checks, the forecasts and the tests; it
simulates start times and types, not durations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from seqrisk._typing import FloatArray, IntArray
from seqrisk.outage import OutageModel, hawkes_immigrant_rates
from seqrisk.units import DAY_S, YEAR_S

__all__ = ["SimulatedEvents", "simulate_history"]


@dataclass
class SimulatedEvents:
    """Events of ``n_reps`` replicate histories (arrays of equal length), sorted by replicate and time."""

    n_reps: int
    chains: list[str]
    types: list[str]
    rep: IntArray
    chain: IntArray
    type: IntArray
    t: FloatArray         # epoch seconds
    own: np.ndarray       # bool: the chain's own process (immigrant or follow-on), not a common shock

    def counts(self, *, own_only: bool = False) -> IntArray:
        """(reps, chains, types) event counts."""
        sel = self.own if own_only else np.ones(self.rep.size, bool)
        out = np.zeros((self.n_reps, len(self.chains), len(self.types)), np.int64)
        np.add.at(out, (self.rep[sel], self.chain[sel], self.type[sel]), 1)
        return out


def _live_mask(windows: Sequence[Sequence[tuple[float, float]]], chain: IntArray, t: FloatArray) -> np.ndarray:
    ok = np.zeros(t.size, bool)
    for c, wins in enumerate(windows):
        sel = chain == c
        if sel.any():
            tc = t[sel]
            ok[sel] = np.any([(tc >= a) & (tc < b) for a, b in wins], axis=0) if wins else False
    return ok


def _uniform_in(rng: np.random.Generator, wins: Sequence[tuple[float, float]], n: int) -> FloatArray:
    if not wins or n == 0:
        return np.zeros(n)
    a = np.array([w[0] for w in wins])
    lens = np.array([w[1] - w[0] for w in wins])
    k = np.searchsorted(np.cumsum(lens) / lens.sum(), rng.random(n), side="right")
    k = np.minimum(k, len(wins) - 1)
    return a[k] + rng.random(n) * lens[k]


def _gamma_draws(rng: np.random.Generator, draws: tuple[tuple[float, ...], tuple[float, ...]] | None, mean: float,
                 j: IntArray, posterior: bool) -> FloatArray:
    if not posterior or draws is None:
        return np.full(j.size, mean)
    shape, rate = np.asarray(draws[0]), np.asarray(draws[1])
    k = j % shape.size
    return rng.gamma(shape[k], 1.0 / rate[k])


def simulate_history(model: OutageModel, windows: Mapping[str, Sequence[tuple[float, float]]], n_reps: int, *,
                     seed: int = 0, posterior: bool = True, types: Sequence[str] | None = None,
                     rate_factor: Callable[[int, FloatArray], FloatArray] | None = None,
                     max_factor: float = 1.0) -> SimulatedEvents:
    """``n_reps`` replicate histories of the chains of ``windows`` (epoch-second windows) under ``model``.

    ``posterior`` draws each replicate's parameters from the model's posterior
    draws (else the posterior means). ``rate_factor(c, t)`` scales chain ``c``'s
    own rates at times ``t`` (at most ``max_factor``).
    """
    rng = np.random.default_rng(seed)
    chains = [c for c in windows if c in model.chains]
    types = list(types or sorted({t for c in chains for t in model.chains[c].rates_per_year}))
    wins = [list(windows[c]) for c in chains]
    expo = np.array([sum(b - a for a, b in w) for w in wins]) / YEAR_S
    c_n, t_n = len(chains), len(types)
    j = rng.integers(0, 1 << 30, n_reps)
    own = np.zeros((n_reps, c_n, t_n))
    for ci, c in enumerate(chains):
        law = model.chains[c]
        for ti, ty in enumerate(types):
            mean = law.rates_per_year.get(ty, 0.0)
            if mean > 0:
                own[:, ci, ti] = _gamma_draws(rng, law.rate_draws.get(ty), mean, j, posterior)
    # common shocks: per replicate rate of joint events over the time >= 2 members are observed
    idx = {c: i for i, c in enumerate(chains)}
    shock_rates = []
    hits = np.zeros((n_reps, c_n, t_n))
    for s in model.shocks:
        rho = _gamma_draws(rng, s.rate_draws, s.rate_per_year, j, posterior)
        shock_rates.append(rho)
        p_hit = s.hit_probability()
        for m in s.members:
            if m in idx:
                for ti, ty in enumerate(types):
                    hits[:, idx[m], ti] += rho * p_hit * s.mix.get(ty, 0.0)
    hk = model.hawkes
    if hk is not None:
        if posterior and hk.draws:
            d = np.asarray(hk.draws)[j % len(hk.draws)]
            n_w, n_x, beta = d[:, 0], d[:, 1], d[:, 2] / DAY_S
        else:
            n_w, n_x = np.full(n_reps, hk.branching), np.full(n_reps, hk.cross_branching)
            beta = np.full(n_reps, hk.decay_per_day / DAY_S)
        imm = np.stack([hawkes_immigrant_rates(own[r], hits[r], n_w[r], n_x[r]) for r in range(n_reps)])
    else:
        imm = own
    # own immigrants (thinned by the rate factor)
    reps, chs, tys, ts, owns = [], [], [], [], []
    lam = imm * expo[None, :, None] * max_factor
    cnt = rng.poisson(lam)
    for ci in range(c_n):
        for ti in range(t_n):
            n_ct = cnt[:, ci, ti]
            tot = int(n_ct.sum())
            if tot == 0:
                continue
            tt = _uniform_in(rng, wins[ci], tot)
            rr = np.repeat(np.arange(n_reps), n_ct)
            if rate_factor is not None:
                keep = rng.random(tot) * max_factor < rate_factor(ci, tt)
                tt, rr = tt[keep], rr[keep]
            reps.append(rr)
            chs.append(np.full(rr.size, ci))
            tys.append(np.full(rr.size, ti))
            ts.append(tt)
            owns.append(np.ones(rr.size, bool))
    # shocks: times uniform over the observed windows' span, kept when >= 2 members are live
    for s, rho in zip(model.shocks, shock_rates, strict=True):
        mem = [idx[m] for m in s.members if m in idx]
        if len(mem) < 2:
            continue
        lo = min((w[0][0] for w in (wins[m] for m in mem) if w), default=0.0)
        hi = max((w[-1][1] for w in (wins[m] for m in mem) if w), default=0.0)
        if hi <= lo:
            continue
        n_ev = rng.poisson(rho * (hi - lo) / YEAR_S)
        rr = np.repeat(np.arange(n_reps), n_ev)
        tt = lo + rng.random(rr.size) * (hi - lo)
        live = np.stack([_live_mask([wins[m]], np.zeros(tt.size, np.int64), tt) for m in mem], axis=1)  # (E, M)
        n_live = live.sum(axis=1)
        ok = n_live >= 2
        rr, tt, live, n_live = rr[ok], tt[ok], live[ok], n_live[ok]
        q = s.extra_hit_probability
        if q is None:
            hit = live
        else:   # two live members at random, each other live member with probability q
            key = np.where(live, rng.random(live.shape), np.inf)
            rank = np.argsort(np.argsort(key, axis=1), axis=1)
            hit = live & ((rank < 2) | (rng.random(live.shape) < q))
        mix_t = [types.index(t) for t in s.mix if t in types]
        mix_p = np.array([s.mix[types[t]] for t in mix_t])
        e_i, m_i = np.nonzero(hit)
        if not e_i.size or not mix_t:
            continue
        ty_hit = np.asarray(mix_t)[np.minimum(np.searchsorted(np.cumsum(mix_p / mix_p.sum()), rng.random(e_i.size),
                                                          side="right"), len(mix_t) - 1)]
        reps.append(rr[e_i])
        chs.append(np.asarray(mem)[m_i])
        tys.append(ty_hit)
        ts.append(tt[e_i])
        owns.append(np.zeros(e_i.size, bool))
    rep = np.concatenate(reps) if reps else np.zeros(0, np.int64)
    chain = np.concatenate(chs) if chs else np.zeros(0, np.int64)
    typ = np.concatenate(tys) if tys else np.zeros(0, np.int64)
    t = np.concatenate(ts) if ts else np.zeros(0)
    is_own = np.concatenate(owns) if owns else np.zeros(0, bool)
    if hk is not None and rep.size:
        r_c = own.sum(axis=2)                                       # (R, C) rate shares for cross offspring
        mix_ct = np.where(r_c[:, :, None] > 0, own / np.where(r_c[:, :, None] > 0, r_c[:, :, None], 1.0), 0.0)
        par = (rep, chain, typ, t)
        new: list[list[np.ndarray]] = [[], [], [], [], []]
        while par[0].size:
            pr, pc, pt, ptt = par
            k_w = rng.poisson(n_w[pr])
            k_x = rng.poisson(n_x[pr])
            cr = np.concatenate([np.repeat(pr, k_w), np.repeat(pr, k_x)])
            cc_w = np.repeat(pc, k_w)
            ty_w = np.repeat(pt, k_w)
            src = np.repeat(pc, k_x)
            rr_x = np.repeat(pr, k_x)
            w = r_c[rr_x].copy()
            w[np.arange(rr_x.size), src] = 0.0
            cum = np.cumsum(w, axis=1)
            w_tot = cum[:, -1:]
            u = rng.random(rr_x.size)[:, None] * np.where(w_tot > 0, w_tot, 1.0)
            cc_x = np.minimum((u > cum).sum(axis=1), c_n - 1)
            ucum = np.cumsum(mix_ct[rr_x, cc_x], axis=1)
            ty_x = np.minimum((rng.random(rr_x.size)[:, None] > ucum).sum(axis=1), t_n - 1)
            cc = np.concatenate([cc_w, cc_x])
            cty = np.concatenate([ty_w, ty_x])
            ct = np.concatenate([np.repeat(ptt, k_w), np.repeat(ptt, k_x)]) + rng.standard_exponential(cr.size) / \
                beta[cr]
            ok = _live_mask(wins, cc, ct)
            par = (cr[ok], cc[ok], cty[ok], ct[ok])
            for lst, arr in zip(new, (*par, np.ones(int(ok.sum()), bool)), strict=True):
                lst.append(arr)
        if new[0]:
            rep, chain, typ, t, is_own = (np.concatenate([a, *b]) for a, b in zip(
                (rep, chain, typ, t, is_own), new, strict=True))
    o = np.lexsort((t, rep))
    return SimulatedEvents(n_reps, chains, types, rep[o], chain[o].astype(np.int64), typ[o].astype(np.int64), t[o],
                           is_own[o])
