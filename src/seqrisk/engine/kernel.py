"""The compiled per-path loss kernel (Numba; imported on the first simulate that uses it).

One call evaluates the paths of a chunk of blocks, path after path:

1. the outage count (one draw; a path without an event is counted as the
   no-outage atom and nothing else is touched), arrivals (cell, start,
   duration), common shocks expanded to their members, stress outages added,
   downtimes of one chain merged;
2. log prices at every event start and raw end (the skeleton, exact normal
   increments on the variance clock), then the forced-inclusion exit and the
   end of the grace period by Brownian bridges with their own normals (so
   mitigations move no other random number);
3. events in the order of their evaluation times: downtime restarts run the
   cascade of every (chain, asset) group of perps on the *prefix state*
   (triggers are fixed price ratios, so the closed positions of a side are a
   prefix of it sorted by trigger: two integers per group and an impact list
   per asset carry a path's whole book state; a round costs a binary search);
   censorship, reorg, degraded and data-availability delays as in ``losses``.

Sums per path, per block and per position are accumulated here; no (path,
position) record is made. The vectorised twin (``sampling`` + ``losses``)
computes the same model with NumPy; see ``fastpath`` for what the kernel
covers and ``docs/engine.md`` for how the two are checked against each other.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from seqrisk.engine.kernel_cascade import cascade, count_below
from seqrisk.engine.kernel_rng import SEED_SCRATCH, normal, seed_state_into, uniform

__all__ = ["run_blocks"]

# event types (as ``events.EVENT_CODES``) and cost components (as ``prepare.COMPONENTS``)
_DOWN, _DEGR, _CENS, _REORG, _DA = 0, 1, 2, 3, 4
_LIQ, _CAP, _REO, _DEG = 0, 5, 3, 4
_DAY, _YEAR = 86400.0, 365.0 * 86400.0
# integer parameters
I_N_PATHS, I_COND, I_BACKGROUND, I_MAX_ROUNDS, I_N_CHAINS, I_N_ASSETS = 0, 1, 2, 3, 4, 5
# float parameters
F_HORIZON, F_GRACE, F_SCALE, F_COC, F_WS, F_TURNOVER, F_DEG_BPS, F_CENS_SHARE, F_CARRY = 0, 1, 2, 3, 4, 5, 6, 7, 8
# law families of cells
LAW_LOGNORMAL, LAW_EXPONENTIAL, LAW_WEIBULL, LAW_LOGLOGISTIC, LAW_FIXED = 0, 1, 2, 3, 4


@njit(cache=True, inline="always")
def _poisson_inverse(u: float, lam: float) -> int:
    k = 0
    term = math.exp(-lam)
    cdf = term
    log_lam = math.log(lam) if lam > 0 else 0.0
    while u > cdf and k < 10_000:
        k += 1
        if lam > 600.0:  # exp(-lam) is at or below the smallest double: each term from its log (no recurrence)
            term = math.exp(k * log_lam - lam - math.lgamma(k + 1.0))
        else:
            term *= lam / k
        cdf += term
        if term < 1e-300 and cdf < u and k > lam:  # far right tail beyond double precision: stop there
            break
    return k


@njit(cache=True, inline="always")
def _duration(family: int, par: np.ndarray, st: np.ndarray, spare: np.ndarray) -> float:
    if family == LAW_LOGNORMAL:
        return par[0] * math.exp(par[1] * normal(st, spare))
    u = min(max(uniform(st), 1e-300), 1.0 - 1e-16)
    if family == LAW_EXPONENTIAL:
        return -par[0] * math.log1p(-u)
    if family == LAW_WEIBULL:
        return par[0] * (-math.log1p(-u)) ** (1.0 / par[1])
    if family == LAW_LOGLOGISTIC:
        return par[0] * (u / (1.0 - u)) ** (1.0 / par[1])
    return par[0]


@njit(cache=True, inline="always")
def _order_events(typ, chain, t0, t1, n, o):
    """``o[:n]``: indices sorted by (type, chain, t0, t1), stable (insertion sort: a path has few events)."""
    for i in range(n):
        o[i] = i
    for i in range(1, n):
        k = o[i]
        j = i - 1
        while j >= 0:
            m = o[j]
            if (typ[m], chain[m], t0[m], t1[m]) <= (typ[k], chain[k], t0[k], t1[k]):
                break
            o[j + 1] = m
            j -= 1
        o[j + 1] = k


@njit(cache=True, inline="always")
def _order_by(t, n, o):
    """``o[:n]``: indices sorted by ``t``, stable."""
    for i in range(n):
        o[i] = i
    for i in range(1, n):
        k = o[i]
        j = i - 1
        while j >= 0 and t[o[j]] > t[k]:
            o[j + 1] = o[j]
            j -= 1
        o[j + 1] = k


@njit(cache=True, inline="always")
def _mult(t: float, a: int, imp_t: np.ndarray, imp_a: np.ndarray, imp_f: np.ndarray, n_imp: int) -> float:
    m = 1.0
    for i in range(n_imp):
        if imp_a[i] == a and imp_t[i] < t:
            m *= imp_f[i]
    return m


@njit(cache=True, inline="always")
def _bridge(s: float, ta: float, da: np.ndarray, tb: float, db: np.ndarray, has_b: bool, var: np.ndarray,
            z: np.ndarray, out: np.ndarray) -> None:
    """Brownian values (variance clock ``var * t`` per asset) at ``s`` between (ta, da) and (tb, db)."""
    for a in range(var.size):
        if has_b and tb > ta:
            frac = (s - ta) / (tb - ta)
            bv = max(var[a] * (s - ta) * (tb - s) / (tb - ta), 0.0)
            out[a] = da[a] + frac * (db[a] - da[a]) + math.sqrt(bv) * z[a]
        else:
            out[a] = da[a] + math.sqrt(max(var[a] * (s - ta), 0.0)) * z[a]


@njit(cache=True, inline="always")
def _corr_normals(st: np.ndarray, spare: np.ndarray, chol: np.ndarray, z: np.ndarray, zc: np.ndarray) -> None:
    n = z.size
    for i in range(n):
        z[i] = normal(st, spare)
    for i in range(n):
        acc = 0.0
        for j in range(i + 1):
            acc += chol[i, j] * z[j]
        zc[i] = acc


def work_arrays(cap: int, n_as: int, n_ent: int, n_ch: int, n_sides: int) -> tuple[np.ndarray, ...]:
    """The kernel's work arrays (per-path scratch for up to ``cap`` raw events, per-entry path sums, RNG states),
    allocated here so the compiled loop itself allocates nothing and keeps no reference counts."""
    f, i = np.float64, np.int64
    return (np.zeros(cap, i), np.zeros(cap, i), np.zeros(cap, f), np.zeros(cap, f), np.zeros(cap, i),
            np.zeros(cap, i), np.zeros(cap, i), np.zeros(cap, f), np.zeros(cap, f), np.zeros(2 * cap, f),
            np.zeros(2 * cap, i), np.zeros(2 * cap, f), np.zeros((2 * cap, n_as), f), np.zeros((cap, n_as), f),
            np.zeros((cap, n_as), f), np.zeros((cap, n_as), f), np.zeros((cap, n_as), f), np.zeros((cap, n_as), f),
            np.zeros(cap, f), np.zeros(cap, f), np.zeros(cap, i), np.zeros(cap * n_as, f),
            np.zeros(cap * n_as, i), np.zeros(cap * n_as, f),
            np.zeros((3, 5), np.uint64), np.zeros(3, f), np.zeros((7, n_as), f), np.zeros(n_sides, i),
            np.zeros((3, n_ent), f), np.zeros(n_ent, i), np.zeros(n_ent, np.bool_), np.zeros((2, n_ch), f),
            np.zeros((2, 6), f), np.zeros(8, f), np.zeros(_SEED_WORDS + SEED_SCRATCH, np.uint32))


#: seed words the kernel's seeding scratch has room for (a seed below 2**(32 * _SEED_WORDS))
_SEED_WORDS = 64


# Numba's flag to compile without its reference-counting runtime: the loop allocates nothing (its work arrays come
# from ``work_arrays``), and without it every array handed to an inlined helper costs two atomic operations, which
# measured about half of a path's time.
_NO_REFCOUNT: dict[str, Any] = {"_nrt": False}


@njit(cache=True, **_NO_REFCOUNT)
def run_blocks(run_words, blocks, ipar, fpar, cell_rate, cell_type, cell_law, cell_par, cell_mem_off, cell_mem,
               stress_chain, stress_type, stress_t0, stress_dur, spot, var, chol, fi_exposure, ca_alpha, ca_beta,
               ca_units, eta, adv, grp_off, grp_asset, side_off, key, ent_idx, cum_book, cum_mkt, ent_units,
               ent_e0f, ent_pen, pos_units, pos_side, pos_pen, pos_mm, pos_asset, cens_off, cens_pos, cens_ent,
               cens_ratio,
               # outputs
               out_gid, out_p, out_series, out_chain_h, out_chain_v, out_liq, mom1, mom2, blk_n, blk_sum_p,
               blk_sum_p2, blk_idle, pos_acc, lin_acc, diag, work):
    """Evaluate the paths of ``blocks``; returns the number of non-atom paths written to the ``out_*`` rows, or
    minus the number of raw events a path needs when that exceeds the scratch arrays of ``work`` (from
    :func:`work_arrays`; the caller then reruns the chunk with larger ones, on zeroed outputs).

    ``diag``: events, arrivals, max rounds, cap hits, cascades, restarts past the horizon, outage paths.
    ``mom1/mom2`` (blocks, quantities): sums of the per-path terms and their squares, in the layout of
    ``fastpath.QUANTITIES``; ``pos_acc`` (blocks, 4, entries): p-weighted holder loss, bad debt,
    liquidation and squared liquidation, indexed by entry (a position's place in its sorted side: the positions
    a round liquidates are contiguous there); ``lin_acc`` (blocks, 3, chains, assets): lin_cap, lin_cap_b, lin_not.
    """
    n_total = ipar[I_N_PATHS]
    conditional = ipar[I_COND] == 1
    background = ipar[I_BACKGROUND] == 1
    max_rounds = ipar[I_MAX_ROUNDS]
    n_ch = ipar[I_N_CHAINS]
    n_as = ipar[I_N_ASSETS]
    horizon = fpar[F_HORIZON]
    grace = fpar[F_GRACE]
    scale = fpar[F_SCALE]
    carry = fpar[F_CARRY]
    n_cells = cell_rate.size
    n_stress = stress_chain.size
    rate_tot = 0.0
    for c in range(n_cells):
        rate_tot += cell_rate[c]
    lam = rate_tot * horizon
    p_cond = -math.expm1(-lam)
    e_lam = math.exp(-lam)
    block_size = 4096
    r_chain, r_type, r_t0, r_t1, o_raw, e_chain, e_type, e_t0, e_t1, tt, po, pt_t, pt_d, ev_x0, ev_x1, ev_d1, \
        ev_xeff, ev_xev, ev_teff, ev_tev, eo, imp_t, imp_a, imp_f, states, spares, asset_w, closed, ent_w, \
        touched, is_touched, chain_w, comp_w, res, seed_w = work
    cap = r_chain.size
    st_evt, st_skel, st_sec = states[0], states[1], states[2]
    sp_evt, sp_skel, sp_sec = spares[0:1], spares[1:2], spares[2:3]
    z, zc, d_eff, p0, pr, p1, dtmp = asset_w[0], asset_w[1], asset_w[2], asset_w[3], asset_w[4], asset_w[5], \
        asset_w[6]
    ph, pv, pl = ent_w[0], ent_w[1], ent_w[2]
    chain_h, chain_v = chain_w[0], chain_w[1]
    comp_h, comp_v = comp_w[0], comp_w[1]
    max_mem = 1
    for ci in range(n_cells):
        max_mem = max(max_mem, cell_mem_off[ci + 1] - cell_mem_off[ci])
    n_out = 0
    for bi in range(blocks.size):
        b = blocks[bi]
        n_b = min(block_size, n_total - b * block_size)
        seed_state_into(run_words, b, 2, st_evt, seed_w)
        seed_state_into(run_words, b, 4, st_skel, seed_w)
        seed_state_into(run_words, b, 5, st_sec, seed_w)
        blk_n[bi] = n_b
        pacc = pos_acc[bi]
        for j in range(n_b):
            # -- 1. events -------------------------------------------------------------
            p = 1.0
            count = 0
            if background and n_cells > 0:
                u = uniform(st_evt)
                if conditional:
                    p = p_cond
                    count = _poisson_inverse(e_lam + u * p_cond, lam) if lam > 0 else 0
                    if lam > 0 and count < 1:
                        count = 1
                elif u > e_lam:  # a path without an outage costs this one draw
                    count = _poisson_inverse(u, lam)
            if count == 0 and n_stress == 0 and p == 1.0:
                blk_idle[bi] += 1
                blk_sum_p[bi] += 1.0
                blk_sum_p2[bi] += 1.0
                if carry != 0.0:
                    mom1[bi, 1] += carry
                    mom2[bi, 1] += carry * carry
                continue
            diag[1] += count
            need = count * max_mem + n_stress
            if need > cap:
                return -need
            n_raw = 0
            for _arr in range(count):
                uc = uniform(st_evt) * rate_tot
                ci = 0
                acc = cell_rate[0]
                while uc > acc and ci < n_cells - 1:
                    ci += 1
                    acc += cell_rate[ci]
                t0 = uniform(st_evt) * horizon
                dur = _duration(cell_law[ci], cell_par[ci], st_evt, sp_evt)
                for mi in range(cell_mem_off[ci], cell_mem_off[ci + 1]):
                    r_chain[n_raw] = cell_mem[mi]
                    r_type[n_raw] = cell_type[ci]
                    r_t0[n_raw] = t0
                    r_t1[n_raw] = t0 + dur
                    n_raw += 1
            for s in range(n_stress):
                r_chain[n_raw] = stress_chain[s]
                r_type[n_raw] = stress_type[s]
                r_t0[n_raw] = stress_t0[s]
                r_t1[n_raw] = stress_t0[s] + stress_dur[s]
                n_raw += 1
            # sort by (type, chain, t0, t1) and merge downtimes of one chain
            _order_events(r_type, r_chain, r_t0, r_t1, n_raw, o_raw)
            n_ev = 0
            for q in range(n_raw):
                i = o_raw[q]
                if (r_type[i] == _DOWN and n_ev > 0 and e_type[n_ev - 1] == _DOWN and e_chain[n_ev - 1] == r_chain[i]
                        and r_t0[i] <= e_t1[n_ev - 1]):
                    e_t1[n_ev - 1] = max(e_t1[n_ev - 1], r_t1[i])
                    continue
                e_chain[n_ev] = r_chain[i]
                e_type[n_ev] = r_type[i]
                e_t0[n_ev] = r_t0[i]
                e_t1[n_ev] = r_t1[i]
                n_ev += 1
            diag[0] += n_ev
            if n_ev > 0:
                diag[6] += 1
            # -- 2. prices at event times ------------------------------------------------
            n_pt = 2 * n_ev
            for e in range(n_ev):
                tt[2 * e] = e_t0[e]
                tt[2 * e + 1] = e_t1[e]
            _order_by(tt, n_pt, po)  # ties: start before end, then event order
            prev_t = 0.0
            for a in range(n_as):
                dtmp[a] = 0.0
            for q in range(n_pt):
                k = po[q]
                t = tt[k]
                _corr_normals(st_skel, sp_skel, chol, z, zc)
                for a in range(n_as):
                    dtmp[a] += math.sqrt(max(var[a] * (t - prev_t), 0.0)) * zc[a]
                    pt_d[q, a] = dtmp[a]
                pt_t[q] = t
                prev_t = t
                e = k >> 1
                if k & 1:
                    for a in range(n_as):
                        ev_x1[e, a] = -0.5 * var[a] * t + dtmp[a]
                        ev_d1[e, a] = dtmp[a]
                else:
                    for a in range(n_as):
                        ev_x0[e, a] = -0.5 * var[a] * t + dtmp[a]
            for e in range(n_ev):
                typ = e_type[e]
                if typ == _DOWN:
                    te = e_t0[e] + min(e_t1[e] - e_t0[e], fi_exposure[e_chain[e]])
                elif typ in (_DEGR, _DA):
                    te = e_t0[e]
                else:
                    te = e_t1[e]
                ev_teff[e] = te
                ev_tev[e] = te + grace if typ == _DOWN else te
                for a in range(n_as):
                    ev_xeff[e, a] = ev_x1[e, a]
                if typ != _DOWN:
                    for a in range(n_as):
                        ev_xev[e, a] = ev_x0[e, a] if typ in (_DEGR, _DA) else ev_x1[e, a]
                    continue
                # secondary normals: two roles per downtime, always drawn (common random numbers)
                _corr_normals(st_sec, sp_sec, chol, z, zc)
                for a in range(n_as):
                    d_eff[a] = ev_d1[e, a]
                if te < e_t1[e]:
                    ia = count_below(pt_t, 0, n_pt, te + 0.0) - 1
                    while ia + 1 < n_pt and pt_t[ia + 1] <= te:
                        ia += 1
                    has_b = ia + 1 < n_pt
                    _bridge(te, pt_t[ia], pt_d[ia], pt_t[ia + 1] if has_b else 0.0, pt_d[ia + 1] if has_b
                            else pt_d[ia], has_b, var, zc, d_eff)
                    for a in range(n_as):
                        ev_xeff[e, a] = -0.5 * var[a] * te + d_eff[a]
                _corr_normals(st_sec, sp_sec, chol, z, zc)
                tv = ev_tev[e]
                if grace > 0:
                    ia = 0
                    while ia + 1 < n_pt and pt_t[ia + 1] <= tv:
                        ia += 1
                    ta, da = pt_t[ia], pt_d[ia]
                    if te > ta:
                        ta, da = te, d_eff
                    has_b = ia + 1 < n_pt
                    _bridge(tv, ta, da, pt_t[ia + 1] if has_b else 0.0, pt_d[ia + 1] if has_b else da, has_b,
                            var, zc, dtmp)
                    for a in range(n_as):
                        ev_xev[e, a] = -0.5 * var[a] * tv + dtmp[a]
                else:
                    for a in range(n_as):
                        ev_xev[e, a] = ev_xeff[e, a]
            # -- 3. losses in the order of evaluation times ---------------------------------
            h_attr = 0.0
            h_tot = 0.0
            v_tot = 0.0
            liq_any = 0.0
            liq_not = 0.0
            bad = 0.0
            for c in range(n_ch):
                chain_h[c] = 0.0
                chain_v[c] = 0.0
            for c in range(6):
                comp_h[c] = 0.0
                comp_v[c] = 0.0
            for s in range(closed.size):
                closed[s] = 0
            n_touch = 0
            n_imp = 0
            # without censorship every liquidation is a position's only one on the path: written straight
            # to the block's sums; censorship's share is a maximum over events, kept per path and flushed
            direct = True
            if fpar[F_CENS_SHARE] > 0:
                for e in range(n_ev):
                    if e_type[e] == _CENS:
                        direct = False
            _order_by(ev_tev, n_ev, eo)
            for q in range(n_ev):
                e = eo[q]
                typ = e_type[e]
                c = e_chain[e]
                for a in range(n_as):
                    p0[a] = spot[a] * math.exp(ev_x0[e, a]) * _mult(e_t0[e], a, imp_t, imp_a, imp_f, n_imp)
                    pr[a] = spot[a] * math.exp(ev_xeff[e, a]) * _mult(ev_teff[e], a, imp_t, imp_a, imp_f, n_imp)
                    p1[a] = spot[a] * math.exp(ev_xev[e, a]) * _mult(ev_tev[e], a, imp_t, imp_a, imp_f, n_imp)
                if typ in (_DOWN, _DA):
                    dt = (ev_teff[e] - e_t0[e]) if typ == _DOWN else (e_t1[e] - e_t0[e])
                    kc = fpar[F_COC] * dt / _YEAR * (1.0 if typ == _DOWN else fpar[F_WS])
                    if kc != 0.0:
                        tot = 0.0
                        for a in range(n_as):
                            tot += kc * (ca_alpha[c, a] * p0[a] + ca_beta[c, a])
                            lin_acc[bi, 0, c, a] += p * kc * p0[a]
                            lin_acc[bi, 1, c, a] += p * kc
                        h_attr += tot
                        h_tot += tot
                        chain_h[c] += tot
                        comp_h[_CAP] += tot
                    if typ == _DOWN and e_t1[e] >= horizon:
                        diag[5] += 1
                if typ in (_DEGR, _REORG):
                    d = e_t1[e] - e_t0[e]
                    tot = 0.0
                    for a in range(n_as):
                        if typ == _DEGR:
                            k_a = fpar[F_DEG_BPS] * 1e-4 * fpar[F_TURNOVER] * d / _DAY
                        else:
                            k_a = fpar[F_TURNOVER] * d / _DAY * abs(pr[a] / p0[a] - 1.0)
                        tot += k_a * ca_units[c, a] * p0[a]
                        lin_acc[bi, 2, c, a] += p * k_a * p0[a]
                    h_attr += tot
                    h_tot += tot
                    chain_h[c] += tot
                    comp_h[_DEG if typ == _DEGR else _REO] += tot
                if typ == _CENS and fpar[F_CENS_SHARE] > 0:
                    share = fpar[F_CENS_SHARE]
                    for ci in range(cens_off[c], cens_off[c + 1]):
                        i = cens_pos[ci]
                        m = cens_ent[ci]
                        a = pos_asset[i]
                        s0 = p0[a]
                        s1 = pr[a]
                        vv = var[a] * (ev_teff[e] - e_t0[e])
                        bar = s0 * cens_ratio[ci]
                        sg = 1.0 if pos_side[i] > 0 else -1.0
                        x_a = sg * (math.log(s0) - math.log(bar))
                        x_b = sg * (math.log(s1) - math.log(bar))
                        if x_a <= 0 or x_b <= 0:
                            pc = 1.0
                        elif vv > 0:
                            pc = math.exp(-2.0 * x_a * x_b / vv)
                        else:
                            pc = 0.0
                        if pc <= 1e-12:
                            continue
                        hl = share * pc * min(pos_mm[i], pos_pen[i]) * pos_units[i] * bar
                        h_attr += hl
                        h_tot += hl
                        chain_h[c] += hl
                        comp_h[_LIQ] += hl
                        liq_any = max(liq_any, pc)
                        liq_not += share * pc * pos_units[i] * bar
                        if not is_touched[m]:
                            is_touched[m] = True
                            touched[n_touch] = m
                            n_touch += 1
                        ph[m] += hl
                        pl[m] = max(pl[m], pc)
                if typ != _DOWN:
                    continue
                # restart cascades of the chain's (chain, asset) groups of perps
                for g in range(grp_off[c], grp_off[c + 1]):
                    a = grp_asset[g]
                    n_touch = cascade(g, p0[a], pr[a], p1[a], grace > 0, scale, eta[a], adv[a], max_rounds,
                                      side_off, key, ent_idx, cum_book, cum_mkt, ent_units, ent_e0f, ent_pen,
                                      closed, direct, p, pacc, ph, pv, pl, touched, is_touched, n_touch, res)
                    hl, vl = res[0], res[1]
                    h_attr += hl
                    h_tot += hl
                    v_tot += vl
                    bad += vl
                    chain_h[c] += hl
                    chain_v[c] += vl
                    comp_h[_LIQ] += hl
                    comp_v[_LIQ] += vl
                    liq_not += res[2]
                    if res[3] > 0:
                        liq_any = max(liq_any, scale)
                    diag[2] = max(diag[2], res[4])
                    diag[3] += res[5]
                    diag[4] += res[6]
                    if res[7] != p1[a]:
                        imp_t[n_imp] = ev_tev[e]
                        imp_a[n_imp] = a
                        imp_f[n_imp] = res[7] / p1[a]
                        n_imp += 1
            # -- 4. sums ---------------------------------------------------------------------
            out_gid[n_out] = b * block_size + j
            out_p[n_out] = p
            out_series[n_out, 0] = h_attr
            out_series[n_out, 1] = h_tot + carry
            out_series[n_out, 2] = v_tot
            out_series[n_out, 3] = v_tot
            out_liq[n_out] = liq_any
            for c in range(n_ch):
                out_chain_h[n_out, c] = chain_h[c]
                out_chain_v[n_out, c] = chain_v[c]
            n_out += 1
            q1 = 1.0 - p
            ys = (p * h_attr, p * (h_tot + carry) + q1 * carry, p * v_tot, p * v_tot, p * liq_any, p * liq_not,
                  p * bad)
            for k in range(7):
                mom1[bi, k] += ys[k]
                mom2[bi, k] += ys[k] * ys[k]
            for c in range(n_ch):
                y = p * chain_h[c]
                mom1[bi, 7 + c] += y
                mom2[bi, 7 + c] += y * y
                y = p * chain_v[c]
                mom1[bi, 7 + n_ch + c] += y
                mom2[bi, 7 + n_ch + c] += y * y
            for c in range(6):
                y = p * comp_h[c]
                mom1[bi, 7 + 2 * n_ch + c] += y
                mom2[bi, 7 + 2 * n_ch + c] += y * y
                y = p * comp_v[c]
                mom1[bi, 13 + 2 * n_ch + c] += y
                mom2[bi, 13 + 2 * n_ch + c] += y * y
            blk_sum_p[bi] += p
            blk_sum_p2[bi] += p * p
            for t_ in range(n_touch):
                i = touched[t_]
                pos_acc[bi, 0, i] += p * ph[i]
                pos_acc[bi, 1, i] += p * pv[i]
                pos_acc[bi, 2, i] += p * pl[i]
                pos_acc[bi, 3, i] += (p * pl[i]) ** 2
                ph[i] = 0.0
                pv[i] = 0.0
                pl[i] = 0.0
                is_touched[i] = False
    return n_out
