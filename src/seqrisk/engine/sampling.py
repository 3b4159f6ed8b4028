"""Sample one chunk of paths: regimes, outage events, and log prices at event times.

Random streams (``seqrisk.rng.block_generator(seed, block, stream=...)``), one
set per block of ``BLOCK_PATHS`` paths, so chunking and workers never change a
number:

1. regime paths; 2. outage events (+ Hawkes offspring); 7. the paths' parameter draws (parameter
uncertainty only); 4. market normals at
the *skeleton* times (event starts and raw ends, fixed by the outage sample);
5. normals for the *secondary* times that mitigations move (forced-inclusion
exit, end of the grace period, option expiries), drawn per event in a fixed
count and placed by Brownian bridges between skeleton points; 6. jumps.

Mitigation parameters change only secondary times, so the skeleton and every
stream stay the same between a baseline and a mitigated run (common random
numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from seqrisk._typing import FloatArray, IntArray
from seqrisk.engine.events import EVENT_CODES, merge_downtimes, sample_block_events
from seqrisk.engine.prepare import Prepared
from seqrisk.engine.scenario import BLOCK_PATHS, Scenario
from seqrisk.market.paths import regime_variance, sample_regime_paths, segment_cumsum
from seqrisk.rng import block_generator

__all__ = ["ChunkSample", "sample_chunk"]

_DOWN = EVENT_CODES["downtime"]


@dataclass
class ChunkSample:
    """Events of a chunk (sorted by path, type, chain, start) with log prices at their times.

    Log prices ``x`` are ``log(S / spot)`` before impact, shape (events, assets).
    """

    n: int
    block_first: IntArray       # chunk-local first path of each block
    block_ids: IntArray
    p_event: FloatArray         # (n,)
    n_arrivals: IntArray        # (n,)
    path: IntArray
    chain: IntArray
    type: IntArray
    t0: FloatArray
    t1: FloatArray              # raw end (restart)
    t_eff: FloatArray           # end of the holder's exposure (forced inclusion)
    t_eval: FloatArray          # liquidation test time (t_eff + grace)
    x0: FloatArray
    x_eff: FloatArray
    x_eval: FloatArray
    v0: FloatArray              # integrated variance at t0 (events, assets)
    v_eff: FloatArray
    v_eval: FloatArray          # integrated variance at the liquidation test time
    x_exp: FloatArray           # (events, n_expiries, assets), NaN where not needed


def _pad(arrs: list[FloatArray], fill: float) -> FloatArray:
    width = max(a.shape[1] for a in arrs)
    return np.concatenate([np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill) for a in arrs])


def sample_chunk(prep: Prepared, sc: Scenario, blocks: list[int]) -> ChunkSample:
    """Sample the paths of ``blocks`` (consecutive block ids)."""
    a_n = len(prep.assets)
    seg_s, seg_r, pe, na = [], [], [], []
    ev: dict[str, list[np.ndarray]] = {k: [] for k in ("path", "chain", "type", "t0", "dur")}
    first = []
    off = 0
    for b in blocks:
        n_b = min(BLOCK_PATHS, sc.paths - b * BLOCK_PATHS)
        first.append(off)
        if prep.regime_initial.size > 1:
            s_, r_ = sample_regime_paths(block_generator(sc.seed, b, stream=1), n_b, sc.horizon_s,
                                         prep.regime_rates_per_s, prep.regime_initial)
        else:
            s_, r_ = np.zeros((n_b, 1)), np.zeros((n_b, 1), np.int64)
        seg_s.append(s_)
        seg_r.append(r_.astype(float))
        if sc.with_background and prep.cells:
            es = sample_block_events(block_generator(sc.seed, b, stream=2), n_b, sc.horizon_s, prep.cells, s_,
                                     prep.hazard_mult[r_], conditional=sc.conditional_sampling and
                                     not sc.stress_outages, excitation=prep.excitation,
                                     params=block_generator(sc.seed, b, stream=7) if sc.parameter_uncertainty
                                     else None, excitation_draws=prep.excitation_draws)
            for k in ev:
                ev[k].append(getattr(es, k) + (off if k == "path" else 0))
            pe.append(es.p_event)
            na.append(es.n_arrivals)
        else:
            pe.append(np.ones(n_b))
            na.append(np.zeros(n_b, np.int64))
        for so in sc.stress_outages:
            ev["path"].append(np.arange(n_b) + off)
            ev["chain"].append(np.full(n_b, prep.chains.index(so.chain)))
            ev["type"].append(np.full(n_b, EVENT_CODES[so.type]))
            ev["t0"].append(np.full(n_b, so.start_s))
            ev["dur"].append(np.full(n_b, so.duration_s))
        off += n_b
    n = off
    seg_start = _pad(seg_s, np.inf)
    seg_reg = _pad(seg_r, 0.0).astype(np.int64)
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in ev.items()}
    path, chain, typ = (cat[k].astype(np.int64) for k in ("path", "chain", "type"))
    t0, t1 = cat["t0"], cat["t0"] + cat["dur"]
    down = typ == _DOWN
    mp, mc, m0, m1 = merge_downtimes(path[down], chain[down], t0[down], t1[down])
    path = np.concatenate([mp, path[~down]])
    chain = np.concatenate([mc, chain[~down]])
    typ = np.concatenate([np.full(mp.size, _DOWN, np.int64), typ[~down]])
    t0 = np.concatenate([m0, t0[~down]])
    t1 = np.concatenate([m1, t1[~down]])
    order = np.lexsort((t1, t0, chain, typ, path))
    path, chain, typ, t0, t1 = path[order], chain[order], typ[order], t0[order], t1[order]
    e_n = path.size
    # skeleton: every event's start and raw end
    pt_t = np.concatenate([t0, t1])
    pt_p = np.concatenate([path, path])
    pt_e = np.concatenate([np.arange(e_n), np.arange(e_n)])
    pt_k = np.concatenate([np.zeros(e_n, np.int64), np.ones(e_n, np.int64)])
    o = np.lexsort((pt_k, pt_e, pt_t, pt_p))
    pt_t, pt_p, pt_e, pt_k = pt_t[o], pt_p[o], pt_e[o], pt_k[o]
    n_pt = pt_t.size
    p_first = np.searchsorted(pt_p, np.arange(n + 1))
    rank = np.arange(n_pt) - p_first[pt_p]
    block_first = np.array(first, np.int64)
    pt_block = np.searchsorted(block_first, pt_p, side="right") - 1
    z = np.empty((n_pt, a_n))
    jumps = np.zeros((n_pt, a_n))
    jump_u = np.ones((n_pt, a_n))
    has_jumps = bool(np.any(prep.jump_rate_per_s > 0))
    v_pt = regime_variance(pt_t, seg_start, seg_reg, prep.var_per_s, rows=pt_p)
    prev_t = np.where(rank > 0, np.concatenate([[0.0], pt_t[:-1]]), 0.0)
    prev_v = np.where((rank > 0)[:, None], np.concatenate([np.zeros((1, a_n)), v_pt[:-1]]), 0.0)
    dt = pt_t - prev_t
    dv = np.maximum(v_pt - prev_v, 0.0)
    for bi, b in enumerate(blocks):
        sel = np.flatnonzero(pt_block == bi)
        z[sel] = block_generator(sc.seed, b, stream=4).standard_normal((sel.size, a_n))
        if has_jumps:
            g = block_generator(sc.seed, b, stream=6)
            cnt = g.poisson(prep.jump_rate_per_s[None, :] * dt[sel, None])
            jumps[sel] = cnt * prep.jump_mean + np.sqrt(cnt) * prep.jump_sigma * g.standard_normal((sel.size, a_n))
            jump_u[sel] = g.random((sel.size, a_n))
    zc = z @ prep.chol.T
    d_pt = segment_cumsum(np.sqrt(dv) * zc, rank)
    j_pt = segment_cumsum(jumps + prep.jump_comp_per_s * dt[:, None], rank)
    x_pt = -0.5 * v_pt + d_pt + j_pt
    # where each event's start and end sit in the skeleton
    inv = np.empty(n_pt, np.int64)
    inv[o] = np.arange(n_pt)
    i0, i1 = inv[:e_n], inv[e_n:]
    # secondary times of downtimes
    fi = prep.fi_exposure_s[chain] if e_n else np.zeros(0)
    t_eff = np.where(typ == _DOWN, t0 + np.minimum(t1 - t0, fi), t1)
    t_eff = np.where(typ == _DOWN, t_eff, np.where((typ == 1) | (typ == 4), t0, t1))
    t_eval = np.where(typ == _DOWN, t_eff + sc.grace_period_s, t_eff)
    n_roles = 2 + prep.expiries_s.size
    zs = np.zeros((e_n, n_roles, a_n))
    js = np.zeros((e_n, n_roles, a_n))
    us = np.full((e_n, n_roles, a_n), 0.5)
    ev_block = np.searchsorted(block_first, path, side="right") - 1
    for bi, b in enumerate(blocks):
        sel = np.flatnonzero((ev_block == bi) & (typ == _DOWN))
        if sel.size:
            g = block_generator(sc.seed, b, stream=5)
            zs[sel] = g.standard_normal((sel.size, n_roles, a_n)) @ prep.chol.T
            js[sel] = g.standard_normal((sel.size, n_roles, a_n))
            us[sel] = g.random((sel.size, n_roles, a_n))

    def at(s: FloatArray, role: int, left: tuple[FloatArray, ...] | None = None,
           right: tuple[FloatArray, ...] | None = None) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """(x, v, d, j) at secondary times ``s`` (events), bridged from skeleton neighbours."""
        lo = p_first[path]
        hi = p_first[path + 1]
        a, bnd = lo.copy(), hi.copy()
        for _ in range(int(np.ceil(np.log2(max(int((hi - lo).max(initial=1)), 1) + 1))) + 1):
            mid = (a + bnd) // 2
            ok = (mid < hi) & (pt_t[np.minimum(mid, n_pt - 1)] <= s)
            a = np.where(ok, mid + 1, a)
            bnd = np.where(ok, bnd, mid)
        ia = a - 1  # last skeleton point <= s (exists: the event's own start)
        has_b = a < hi
        ib = np.minimum(a, n_pt - 1)
        ta, va, da = pt_t[ia], v_pt[ia], d_pt[ia]
        tb, vb, db = pt_t[ib], v_pt[ib], d_pt[ib]
        has_skel_b = has_b.copy()
        if left is not None:
            use = left[0] > ta
            ta = np.where(use, left[0], ta)
            va = np.where(use[:, None], left[1], va)
            da = np.where(use[:, None], left[2], da)
        if right is not None:
            use = (right[0] >= s) & (~has_b | (right[0] < tb))
            has_b = has_b | use
            tb = np.where(use, right[0], tb)
            vb = np.where(use[:, None], right[1], vb)
            db = np.where(use[:, None], right[2], db)
        vs = regime_variance(s, seg_start, seg_reg, prep.var_per_s, rows=path)
        with np.errstate(invalid="ignore", divide="ignore"):
            span = np.where(has_b[:, None], vb - va, 1.0)
            frac = np.where(span > 0, (vs - va) / span, 0.0)
            bridge_var = np.where(has_b[:, None], np.clip((vs - va) * (vb - vs) / np.where(span > 0, span, 1.0),
                                                          0.0, None), np.clip(vs - va, 0.0, None))
        d_s = np.where(has_b[:, None], da + frac * (db - da), da) + np.sqrt(bridge_var) * zs[:, role]
        # jumps: the interval's jump sits at one uniform time inside it (exact for <= 1 jump)
        jb = jumps[ib]
        tau = pt_t[ia][:, None] + jump_u[ib] * (pt_t[ib] - pt_t[ia])[:, None]  # jump time in the skeleton interval
        in_int = has_skel_b[:, None] & (tau < s[:, None]) & (ib > ia)[:, None]
        j_s = j_pt[ia] + np.where(in_int, jb, 0.0) + prep.jump_comp_per_s * (s - pt_t[ia])[:, None]
        if has_jumps:
            past = ~has_skel_b
            lam = prep.jump_rate_per_s[None, :] * np.clip(s - pt_t[ia], 0, None)[:, None]
            need = past[:, None] & (lam > 0)
            cnt = np.zeros_like(lam)
            cnt[need] = sps.poisson.ppf(us[:, role][need], lam[need])  # the inverse is slow: only where used
            j_s = j_s + cnt * prep.jump_mean + np.sqrt(cnt) * prep.jump_sigma * js[:, role]
        return -0.5 * vs + d_s + j_s, vs, d_s, j_s

    x0, v0 = x_pt[i0], v_pt[i0]
    x1 = x_pt[i1]
    need_eff = (typ == _DOWN) & (t_eff < t1)
    x_eff, v_eff = x1.copy(), v_pt[i1].copy()
    d_eff = d_pt[i1].copy()
    if need_eff.any():
        xe, ve, de, _ = at(t_eff, 0)
        x_eff = np.where(need_eff[:, None], xe, x_eff)
        v_eff = np.where(need_eff[:, None], ve, v_eff)
        d_eff = np.where(need_eff[:, None], de, d_eff)
    x_eval = np.where((typ == _DOWN)[:, None] | (typ == 2)[:, None] | (typ == 3)[:, None], x_eff, x0)
    v_eval = v_eff.copy()
    if sc.grace_period_s > 0 and e_n:
        xg, vg, _, _ = at(t_eval, 1, left=(t_eff, v_eff, d_eff))
        x_eval = np.where((typ == _DOWN)[:, None], xg, x_eval)
        v_eval = np.where((typ == _DOWN)[:, None], vg, v_eval)
    x_exp = np.full((e_n, prep.expiries_s.size, a_n), np.nan)
    for ki, texp in enumerate(prep.expiries_s):
        need = (typ == _DOWN) & (t0 < texp) & (texp <= t_eff)
        if need.any():
            s_exp = np.where(need, texp, t0)
            xk, _, _, _ = at(s_exp, 2 + ki, right=(t_eff, v_eff, d_eff))
            x_exp[need, ki] = xk[need]
    return ChunkSample(n=n, block_first=block_first, block_ids=np.array(blocks, np.int64),
                       p_event=np.concatenate(pe), n_arrivals=np.concatenate(na), path=path, chain=chain, type=typ,
                       t0=t0, t1=t1, t_eff=t_eff, t_eval=t_eval, x0=x0, x_eff=x_eff, x_eval=x_eval, v0=v0,
                       v_eff=v_eff, v_eval=v_eval, x_exp=x_exp)
