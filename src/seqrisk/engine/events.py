"""Sample outage events per path (docs/engine.md, "Events"), conditionally on at least one.

Events are *cells*: a chain's own process for one event type, or a
common-shock group that hits all its members at once (Marshall-Olkin). With
Markov volatility regimes and the coupling ``beta`` every cell's intensity is
``rate * exp(beta * (log sigma_r - log sigma_ref))`` in regime r, so given a
path's regime path the total count is Poisson with mean ``R_tot * M`` where
``M`` is the path's coupling-weighted exposure in seconds. With
``conditional`` the count is drawn from the zero-truncated Poisson and the
path carries the weight ``p = P(N >= 1 | regimes)``: the rest of its mass sits
on the no-outage outcome, which is known exactly. Self-excitation (Hawkes,
exponential kernel) adds offspring by the cluster representation; conditioning
on one immigrant is exact for it too.

Event types: 0 downtime, 1 degraded, 2 censorship, 3 reorg, 4 da_delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from scipy.special import ndtri

from seqrisk._typing import FloatArray, IntArray
from seqrisk.outage import DurationLaw, OutageModel

__all__ = [
    "EVENT_CODES",
    "Cell",
    "EventSet",
    "build_cells",
    "merge_downtimes",
    "poisson_inverse",
    "sample_block_events",
]

EVENT_CODES = {"downtime": 0, "degraded": 1, "censorship": 2, "reorg": 3, "da_delay": 4}
DAY_S = 86400.0


@dataclass(frozen=True)
class Cell:
    """One source of events: ``members`` (chain indices) hit at once, with type, rate per second and law."""

    members: tuple[int, ...]
    type: int
    rate_per_s: float
    law: DurationLaw
    label: str


def build_cells(model: OutageModel, chains: Sequence[str], *, shocks: bool = True) -> list[Cell]:
    """The model's cells restricted to ``chains`` (rates converted to per second)."""
    idx = {c: i for i, c in enumerate(chains)}
    year = 365.0 * DAY_S
    cells: list[Cell] = []
    for c in chains:
        law = model.chains.get(c)
        if law is None:
            continue
        for t, rate in sorted(law.rates_per_year.items()):
            if t in EVENT_CODES and rate > 0:
                cells.append(Cell((idx[c],), EVENT_CODES[t], rate / year, law.durations[t], f"{c}:{t}"))
    if shocks:
        for s in model.shocks:
            mem = tuple(idx[m] for m in s.members if m in idx)
            if mem and s.rate_per_year > 0 and s.type in EVENT_CODES:
                cells.append(Cell(mem, EVENT_CODES[s.type], s.rate_per_year / year, s.duration, f"shock:{s.group}"))
    return cells


def _ppf(law: DurationLaw, u: FloatArray) -> FloatArray:
    """Closed-form quantiles (seconds); same values as ``law.ppf`` but fast."""
    p = law.params
    u = np.clip(u, 1e-300, 1.0 - 1e-16)
    if law.family == "lognormal":
        return p["median_s"] * np.exp(p["sigma"] * ndtri(u))
    if law.family == "exponential":
        return -p["mean_s"] * np.log1p(-u)
    if law.family == "weibull":
        return p["scale_s"] * (-np.log1p(-u)) ** (1.0 / p["shape"])
    if law.family == "loglogistic":
        return p["scale_s"] * (u / (1.0 - u)) ** (1.0 / p["shape"])
    return np.full(u.shape, p["duration_s"])


def poisson_inverse(u: FloatArray, lam: FloatArray) -> IntArray:
    """Poisson quantiles ``min {k : F(k; lam) >= u}`` by a vectorized search from 0 (fast for the small means
    of outage counts; scipy takes over for large means or far tails)."""
    count = np.zeros(u.size, np.int64)
    pmf = np.exp(-lam)
    idx = np.flatnonzero((u > pmf) & (lam > 0))
    cdf = pmf[idx].copy()
    term = pmf[idx].copy()
    lm = lam[idx]
    uu = u[idx]
    k = 0
    while idx.size and k < 200:
        k += 1
        term = term * lm / k
        cdf = cdf + term
        more = uu > cdf
        count[idx] = k
        idx, cdf, term, lm, uu = idx[more], cdf[more], term[more], lm[more], uu[more]
    if idx.size:
        count[idx] = sps.poisson.ppf(uu, lm).astype(np.int64)
    return count


@dataclass
class EventSet:
    """Raw events of one block: local path index, chain index, type, start and duration (seconds)."""

    path: IntArray
    chain: IntArray
    type: IntArray
    t0: FloatArray
    dur: FloatArray
    p_event: FloatArray  # per path: weight of the event part (1 when not conditioned)
    n_arrivals: IntArray  # per path


def sample_block_events(rng: np.random.Generator, n: int, horizon_s: float, cells: Sequence[Cell],
                        seg_start: FloatArray, seg_mult: FloatArray, *, conditional: bool,
                        hawkes: tuple[float, float] | None = None) -> EventSet:
    """Sample one block's events.

    ``seg_start`` (n, J) are the regime-segment starts of each path and
    ``seg_mult`` (n, J) the hazard multipliers ``exp(beta (log sigma_r - log
    sigma_ref))`` of those segments. ``hawkes`` is ``(branching, decay_per_s)``.
    """
    n_seg = seg_start.shape[1]
    ends = np.concatenate([seg_start[:, 1:], np.full((n, 1), np.inf)], axis=1)
    seg_len = np.where(np.isfinite(seg_start), np.clip(np.minimum(ends, horizon_s) - seg_start, 0.0, None), 0.0)
    w = seg_len * seg_mult
    cum_w = np.cumsum(w, axis=1)
    exposure = cum_w[:, -1]
    rates = np.array([c.rate_per_s for c in cells])
    r_tot = float(rates.sum())
    lam = r_tot * exposure
    u = rng.random(n)
    if conditional:
        p_event = -np.expm1(-lam)
        count = poisson_inverse(np.exp(-lam) + u * p_event, lam)
        count = np.maximum(count, (lam > 0).astype(np.int64))
    else:
        p_event = np.ones(n)
        count = poisson_inverse(u, lam)
    m = int(count.sum())
    path = np.repeat(np.arange(n), count)
    u_cell, u_seg, u_time, u_dur = rng.random(m), rng.random(m), rng.random(m), rng.random(m)
    cell = np.minimum((u_cell[:, None] * r_tot > np.cumsum(rates)[None, :-1]).sum(axis=1), len(cells) - 1) \
        if cells else np.zeros(0, np.int64)
    target = u_seg * exposure[path]
    seg = np.minimum((target[:, None] > cum_w[path]).sum(axis=1), n_seg - 1)
    t0 = seg_start[path, seg] + u_time * seg_len[path, seg]
    dur = np.empty(m)
    for ci, c in enumerate(cells):
        sel = cell == ci
        if sel.any():
            dur[sel] = _ppf(c.law, u_dur[sel])
    if hawkes is not None and hawkes[0] > 0 and m:
        branching, decay = hawkes
        parents_p, parents_c, parents_t = path, cell, t0
        extra_p, extra_c, extra_t, extra_d = [], [], [], []
        while parents_p.size:
            k = rng.poisson(branching, parents_p.size)
            cp = np.repeat(parents_p, k)
            cc = np.repeat(parents_c, k)
            ct = np.repeat(parents_t, k) + rng.standard_exponential(int(k.sum())) / decay
            ud = rng.random(ct.size)
            keep = ct < horizon_s
            cp, cc, ct, ud = cp[keep], cc[keep], ct[keep], ud[keep]
            cd = np.empty(ct.size)
            for ci, c in enumerate(cells):
                sel = cc == ci
                if sel.any():
                    cd[sel] = _ppf(c.law, ud[sel])
            extra_p.append(cp)
            extra_c.append(cc)
            extra_t.append(ct)
            extra_d.append(cd)
            parents_p, parents_c, parents_t = cp, cc, ct
        path = np.concatenate([path, *extra_p])
        cell = np.concatenate([cell, *extra_c])
        t0 = np.concatenate([t0, *extra_t])
        dur = np.concatenate([dur, *extra_d])
    n_arr = np.bincount(path, minlength=n).astype(np.int64)
    # expand common shocks to their member chains
    n_mem = np.array([len(c.members) for c in cells], np.int64) if cells else np.zeros(0, np.int64)
    reps = n_mem[cell] if cells else np.zeros(0, np.int64)
    members = np.concatenate([np.array(c.members, np.int64) for c in cells]) if cells else np.zeros(0, np.int64)
    first = np.concatenate([[0], np.cumsum(n_mem)[:-1]]) if cells else np.zeros(0, np.int64)
    rep_idx = np.repeat(np.arange(cell.size), reps)
    offs = np.arange(rep_idx.size) - np.repeat(np.cumsum(reps) - reps, reps)
    chain = members[first[cell[rep_idx]] + offs] if rep_idx.size else np.zeros(0, np.int64)
    types = np.array([c.type for c in cells], np.int64)[cell[rep_idx]] if rep_idx.size else np.zeros(0, np.int64)
    return EventSet(path=path[rep_idx], chain=chain, type=types, t0=t0[rep_idx], dur=dur[rep_idx],
                    p_event=p_event, n_arrivals=n_arr)


def merge_downtimes(path: IntArray, chain: IntArray, t0: FloatArray, t1: FloatArray
                    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Merge overlapping downtimes of one chain on one path (an event starting at or before the
    current merged end joins it). Returns merged (path, chain, t0, t1), sorted by path, chain, t0."""
    if path.size == 0:
        return path, chain, t0, t1
    order = np.lexsort((t1, t0, chain, path))
    p, c, s, e = path[order], chain[order], t0[order], t1[order]
    same = np.zeros(p.size, bool)
    same[1:] = (p[1:] == p[:-1]) & (c[1:] == c[:-1])
    grp = np.cumsum(~same)
    cm = e.copy()
    d = 1
    longest = int(np.bincount(grp).max())
    while d < longest:  # Hillis-Steele running max within groups (exact)
        prev = np.full(p.size, -np.inf)
        ok = np.zeros(p.size, bool)
        ok[d:] = grp[d:] == grp[:-d]
        prev[d:] = cm[:-d]
        cm = np.where(ok, np.maximum(cm, prev), cm)
        d *= 2
    prev_end = np.empty(p.size)
    prev_end[0] = -np.inf
    prev_end[1:] = cm[:-1]
    new = ~same | (s > prev_end)
    starts = np.flatnonzero(new)
    return p[starts], c[starts], s[starts], np.maximum.reduceat(e, starts)
