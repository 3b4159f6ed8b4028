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
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as sps
from scipy.special import ndtri

from seqrisk._typing import FloatArray, IntArray
from seqrisk.outage import AnyDurationLaw, DurationLaw, OutageModel, PredictiveDuration, hawkes_immigrant_rates

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
    """One source of events: a chain's own process, or a common shock over ``members`` (chain indices).

    An event of the cell hits ``x`` of its members, ``P(x <= j + 1) = hit_cdf[j]``
    (empty: every member, Marshall-Olkin), a uniformly random subset of that
    size; each hit chain's event type is drawn from ``type_codes`` with
    cumulative probabilities ``type_cdf`` (empty: ``type``) and its duration
    from ``laws`` (or ``law``), all hit chains of one event sharing the
    duration's random numbers (their durations are comonotone).
    ``rate_per_s`` counts the events that hit at least one member.
    ``rate_draws`` (optional): the rate's posterior, in draw ``j`` ``X ~
    Gamma(shape[j], rate_years[j])`` per year, the cell's rate per second
    being ``X * draw_factor`` (``1 / year``, times the thinning of a shock).
    """

    members: tuple[int, ...]
    type: int
    rate_per_s: float
    law: AnyDurationLaw
    label: str
    hit_cdf: tuple[float, ...] = ()
    type_codes: tuple[int, ...] = ()
    type_cdf: tuple[float, ...] = ()
    laws: tuple[AnyDurationLaw, ...] = ()
    rate_draws: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    draw_factor: float = 0.0

    @property
    def kernel_unsupported(self) -> bool:
        """True when the cell uses a sampler feature the compiled kernel does not have (it then runs on NumPy)."""
        return bool(self.hit_cdf or self.type_codes) or any(
            isinstance(x, PredictiveDuration) for x in (self.law, *self.laws))


@dataclass(frozen=True)
class Excitation:
    """The model's excitation in the sampler's terms: every event (own or a shock's hit, on any chain) begets
    ``Poisson(within)`` follow-ons of its chain and type and ``Poisson(cross)`` on other chains, at delays
    ``Exp(decay_per_s)``; a cross-chain follow-on of an event on chain ``d`` goes to chain ``c`` with
    probability ``share_cdf[d]`` (cumulative over chains; ``c``'s share of the own rates of the chains other
    than ``d``), with a type from ``c``'s own type mix (``type_cdf[c]``, cumulative over event codes) and a
    duration from ``laws[c][type]``. Chain indices are the sampler's: the simulated chains ``0..n_out - 1``
    first, then the model's other chains (their events are parents only and are dropped from the output).
    """

    within: float
    cross: float
    decay_per_s: float
    n_out: int
    share_cdf: FloatArray
    type_cdf: FloatArray
    laws: tuple[tuple[AnyDurationLaw | None, ...], ...]


def build_excitation(model: OutageModel, chains: Sequence[str], *, shocks: bool = True
                     ) -> tuple[list[str], list[Cell], Excitation | None]:
    """Sampler chains, cells and excitation of ``model`` for the simulated ``chains``.

    Without excitation: ``chains`` and :func:`build_cells`. With it, the model's
    other chains are added after ``chains`` when events cross chains (their
    outages beget follow-ons on the simulated ones), and the chains' own cells
    carry the immigrant rates that keep every chain's fitted mean rates
    (:func:`seqrisk.outage.hawkes_immigrant_rates`; the shocks' hits are
    immigrants too).
    """
    hk = model.hawkes
    if hk is None or hk.branching + hk.cross_branching <= 0:
        return list(chains), build_cells(model, chains, shocks=shocks), None
    all_chains = list(chains)
    if hk.cross_branching > 0:
        all_chains += [c for c in sorted(model.chains) if c not in all_chains]
    idx = {c: i for i, c in enumerate(all_chains)}
    n_c, n_t = len(all_chains), len(EVENT_CODES)
    own = np.zeros((n_c, n_t))
    for c in all_chains:
        law = model.chains.get(c)
        for t, r in (law.rates_per_year.items() if law is not None else ()):
            if t in EVENT_CODES:
                own[idx[c], EVENT_CODES[t]] = r
    hits = np.zeros((n_c, n_t))
    for s_ in (model.shocks if shocks else ()):
        p = s_.hit_probability()
        for m in s_.members:
            if m in idx:
                for t, w in s_.mix.items():
                    if t in EVENT_CODES:
                        hits[idx[m], EVENT_CODES[t]] += s_.rate_per_year * p * w
    imm = hawkes_immigrant_rates(own, hits, hk.branching, hk.cross_branching)
    year = 365.0 * DAY_S
    cells = build_cells(model, all_chains, shocks=shocks)
    cells = [replace(c, rate_per_s=float(imm[c.members[0], c.type]) / year) if not c.label.startswith("shock:")
             else c for c in cells]
    r = own.sum(axis=1)
    share = np.where(np.eye(n_c, dtype=bool), 0.0, r[None, :])
    tot = share.sum(axis=1, keepdims=True)
    share = np.where(tot > 0, share / np.where(tot > 0, tot, 1.0), 0.0)
    mix = np.where(r[:, None] > 0, own / np.where(r[:, None] > 0, r[:, None], 1.0), 0.0)
    names = {v: k for k, v in EVENT_CODES.items()}
    laws = tuple(tuple((model.chains[c].durations.get(names[t]) if c in model.chains else None)
                       for t in range(n_t)) for c in all_chains)
    ex = Excitation(hk.branching, hk.cross_branching, hk.decay_per_day / DAY_S, len(chains),
                    np.cumsum(share, axis=1), np.cumsum(mix, axis=1), laws)
    return all_chains, [c for c in cells if c.rate_per_s > 0], ex


def _offspring(rng: np.random.Generator, ex: Excitation, horizon_s: float, path: IntArray, chain: IntArray,
               typ: IntArray, t0: FloatArray, within: FloatArray, cross: FloatArray, decay: FloatArray
               ) -> tuple[IntArray, IntArray, IntArray, FloatArray, FloatArray]:
    """All generations of follow-on outages of the events ``(path, chain, typ, t0)`` starting before the
    horizon: their paths, chains, types, starts and durations. ``within``, ``cross`` and ``decay`` (per
    second) are per path."""
    out: list[list[np.ndarray]] = [[] for _ in range(5)]
    pp, pc, pty, pt = path, chain, typ, t0
    while pp.size:
        k_w, k_x = rng.poisson(within[pp]), rng.poisson(cross[pp])
        cp = np.concatenate([np.repeat(pp, k_w), np.repeat(pp, k_x)])
        par_c = np.repeat(pc, k_x)
        u = rng.random(par_c.size)
        x_c = np.minimum((u[:, None] > ex.share_cdf[par_c]).sum(axis=1), ex.share_cdf.shape[1] - 1)
        u = rng.random(x_c.size)
        x_t = np.minimum((u[:, None] > ex.type_cdf[x_c]).sum(axis=1), ex.type_cdf.shape[1] - 1)
        cc = np.concatenate([np.repeat(pc, k_w), x_c])
        cty = np.concatenate([np.repeat(pty, k_w), x_t])
        ct = np.concatenate([np.repeat(pt, k_w), np.repeat(pt, k_x)]) + rng.standard_exponential(cp.size) / decay[cp]
        keep = ct < horizon_s
        pp, pc, pty, pt = cp[keep], cc[keep], cty[keep], ct[keep]
        u_d, u_j, z_j = rng.random(pp.size), rng.random(pp.size), rng.standard_normal(pp.size)
        dur = np.full(pp.size, np.nan)
        for key in np.unique(pc * 16 + pty):
            sel = np.flatnonzero(pc * 16 + pty == key)
            law = ex.laws[int(key) // 16][int(key) % 16]
            if law is not None:
                dur[sel] = _durations(law, u_j[sel], z_j[sel], u_d[sel])
        ok = np.isfinite(dur)  # a chain without a law for the type has no such follow-on
        for lst, arr in zip(out, (pp[ok], pc[ok], pty[ok], pt[ok], dur[ok]), strict=True):
            lst.append(arr)
        pp, pc, pty, pt = pp[ok], pc[ok], pty[ok], pt[ok]
    empty = np.zeros(0, np.int64)
    return tuple(np.concatenate(x) if x else (empty if i < 3 else np.zeros(0))  # type: ignore[return-value]
                 for i, x in enumerate(out))


def _hit_cdf(n: int, m: int, q: float) -> tuple[float, tuple[float, ...]]:
    """For a shock hitting two of ``n`` members and each other with probability ``q``: the probability that
    at least one of ``m`` given members is hit, and the cumulative law of how many are, given that."""
    k = np.arange(2, n + 1)
    p_k = sps.binom.pmf(k - 2, n - 2, q)
    x = np.arange(0, m + 1)
    p_x = (p_k[None, :] * sps.hypergeom.pmf(x[:, None], n, m, k[None, :])).sum(axis=1)
    p_rel = float(1.0 - p_x[0])
    return p_rel, tuple(float(v) for v in np.minimum(np.cumsum(p_x[1:]) / p_rel, 1.0))


def build_cells(model: OutageModel, chains: Sequence[str], *, shocks: bool = True) -> list[Cell]:
    """The model's cells restricted to ``chains`` (rates converted to per second).

    A shock with a hit law (``extra_hit_probability``) is thinned exactly to
    the simulated chains: its rate becomes that of events hitting at least one
    of them, and its ``hit_cdf`` the law of how many of them it hits.
    """
    idx = {c: i for i, c in enumerate(chains)}
    year = 365.0 * DAY_S
    cells: list[Cell] = []
    for c in chains:
        law = model.chains.get(c)
        if law is None:
            continue
        for t, rate in sorted(law.rates_per_year.items()):
            if t in EVENT_CODES and rate > 0:
                cells.append(Cell((idx[c],), EVENT_CODES[t], rate / year, law.durations[t], f"{c}:{t}",
                                  rate_draws=law.rate_draws.get(t), draw_factor=1.0 / year))
    if shocks:
        for s in model.shocks:
            mem = tuple(idx[m] for m in s.members if m in idx)
            mix = {t: w for t, w in s.mix.items() if t in EVENT_CODES and w > 0}
            if not mem or s.rate_per_year <= 0 or not mix:
                continue
            rate = s.rate_per_year
            hit: tuple[float, ...] = ()
            n = len(s.members)
            if s.extra_hit_probability is not None and n > 2:
                p_rel, hit = _hit_cdf(n, len(mem), s.extra_hit_probability)
                rate *= p_rel
            types = sorted(mix, key=lambda t: EVENT_CODES[t])
            codes = tuple(EVENT_CODES[t] for t in types) if len(types) > 1 else ()
            w = np.array([mix[t] for t in types])
            cells.append(Cell(mem, EVENT_CODES[s.type] if s.type in mix else EVENT_CODES[types[0]], rate / year,
                              s.law(s.type if s.type in mix else types[0]), f"shock:{s.group}", hit_cdf=hit,
                              type_codes=codes, type_cdf=tuple(np.cumsum(w / w.sum())) if codes else (),
                              laws=tuple(s.law(t) for t in types) if codes else (),
                              rate_draws=s.rate_draws, draw_factor=rate / s.rate_per_year / year))
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


def _durations(law: AnyDurationLaw, u_draw: FloatArray, z: FloatArray, u: FloatArray) -> FloatArray:
    """Durations (s) of one law from three independent variates per event: a uniform choosing the posterior
    draw and a normal for the chain's location (predictive laws only), and a uniform inverted through the law."""
    if isinstance(law, PredictiveDuration):
        return law.from_uniforms(u_draw, z, u)
    return _ppf(law, u)


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


def path_parameters(params: np.random.Generator, n: int, cells: Sequence[Cell], excitation: Excitation | None,
                    excitation_draws: FloatArray | None
                    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Posterior draws of every parameter for each of ``n`` paths (parameter uncertainty).

    Returns ``(rates, u_draw, z_loc, within, cross, decay)``: per path and cell
    the rate per second (from the cell's ``rate_draws``; cells without keep
    their rate), the uniform choosing the duration law's posterior draw and the
    normal fixing the chain's location (so a path's outages of one cell share
    their duration parameters), and per path the excitation's branching ratios
    and decay per second (rows of ``excitation_draws``: within, cross, decay),
    the chains' own rates rescaled by ``(1 - n_path) / (1 - n)`` (``n`` the
    total branching) so each draw keeps about the fitted mean rates.
    """
    k = len(cells)
    rates = np.tile(np.array([c.rate_per_s for c in cells], float), (n, 1))
    for ci, c in enumerate(cells):
        if c.rate_draws is not None:
            shape, rate = (np.asarray(x, float) for x in c.rate_draws)
            j = params.integers(0, shape.size, n)
            rates[:, ci] = params.gamma(shape[j], 1.0 / rate[j]) * c.draw_factor
    u_draw, z_loc = params.random((n, k)), params.standard_normal((n, k))
    ex = excitation
    within = np.full(n, ex.within if ex else 0.0)
    cross = np.full(n, ex.cross if ex else 0.0)
    decay = np.full(n, ex.decay_per_s if ex else 1.0)
    if ex is not None and excitation_draws is not None and len(excitation_draws):
        j = params.integers(0, len(excitation_draws), n)
        within, cross, decay = (excitation_draws[j, i] for i in range(3))
        own = np.array([not c.label.startswith("shock:") for c in cells])
        rates[:, own] *= ((1.0 - within - cross) / (1.0 - ex.within - ex.cross))[:, None]
    return rates, u_draw, z_loc, within, cross, decay


def sample_block_events(rng: np.random.Generator, n: int, horizon_s: float, cells: Sequence[Cell],
                        seg_start: FloatArray, seg_mult: FloatArray, *, conditional: bool,
                        excitation: Excitation | None = None, params: np.random.Generator | None = None,
                        excitation_draws: FloatArray | None = None) -> EventSet:
    """Sample one block's events.

    ``seg_start`` (n, J) are the regime-segment starts of each path and
    ``seg_mult`` (n, J) the hazard multipliers ``exp(beta (log sigma_r - log
    sigma_ref))`` of those segments. ``excitation`` adds follow-on outages
    (:class:`Excitation`) of every event, generation by generation, and drops
    the events of chains that are not simulated. With ``params`` (a generator
    of its own stream) every path draws its own parameters from their
    posterior (:func:`path_parameters`), so the paths are independent draws of
    the posterior predictive and their Monte Carlo errors stay valid; without
    it every path uses the point estimates.
    """
    n_seg = seg_start.shape[1]
    ends = np.concatenate([seg_start[:, 1:], np.full((n, 1), np.inf)], axis=1)
    seg_len = np.where(np.isfinite(seg_start), np.clip(np.minimum(ends, horizon_s) - seg_start, 0.0, None), 0.0)
    w = seg_len * seg_mult
    cum_w = np.cumsum(w, axis=1)
    exposure = cum_w[:, -1]
    ex = excitation
    pu_draw = pz_loc = None
    if params is not None and cells:
        rates_p, pu_draw, pz_loc, within, cross, decay = path_parameters(params, n, cells, ex, excitation_draws)
    else:
        rates_p = np.tile(np.array([c.rate_per_s for c in cells], float), (n, 1))
        within = np.full(n, ex.within if ex else 0.0)
        cross = np.full(n, ex.cross if ex else 0.0)
        decay = np.full(n, ex.decay_per_s if ex else 1.0)
    r_tot = rates_p.sum(axis=1)
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
    u_draw, z_loc = rng.random(m), rng.standard_normal(m)
    cell = np.minimum(((u_cell * r_tot[path])[:, None] > np.cumsum(rates_p, axis=1)[path, :-1]).sum(axis=1),
                      len(cells) - 1) if cells else np.zeros(0, np.int64)
    target = u_seg * exposure[path]
    seg = np.minimum((target[:, None] > cum_w[path]).sum(axis=1), n_seg - 1)
    t0 = seg_start[path, seg] + u_time * seg_len[path, seg]
    if pu_draw is not None and pz_loc is not None and cells:
        u_draw, z_loc = pu_draw[path, cell], pz_loc[path, cell]
    n_arr = np.bincount(path, minlength=n).astype(np.int64)
    es = _expand(rng, cells, n, path, cell, t0, u_draw, z_loc, u_dur, p_event, n_arr)
    if ex is None or es.path.size == 0:
        return es
    op, oc, ot, o0, od = _offspring(rng, ex, horizon_s, es.path, es.chain, es.type, es.t0, within, cross, decay)
    path, chain = np.concatenate([es.path, op]), np.concatenate([es.chain, oc])
    typ, t0, dur = np.concatenate([es.type, ot]), np.concatenate([es.t0, o0]), np.concatenate([es.dur, od])
    keep = chain < ex.n_out
    return EventSet(path=path[keep], chain=chain[keep], type=typ[keep], t0=t0[keep], dur=dur[keep],
                    p_event=p_event, n_arrivals=n_arr + np.bincount(op, minlength=n).astype(np.int64))


def _expand(rng: np.random.Generator, cells: Sequence[Cell], n: int, path: IntArray, cell: IntArray,
            t0: FloatArray, u_draw: FloatArray, z_loc: FloatArray, u_dur: FloatArray, p_event: FloatArray,
            n_arr: IntArray) -> EventSet:
    """Each arrival's events on the chains it hits: how many (hit law), which (a uniform subset), their types
    (type mix) and durations (the law of each type, from the arrival's shared random numbers)."""
    if not cells or cell.size == 0:
        z = np.zeros(0, np.int64)
        return EventSet(path=z, chain=z.copy(), type=z.copy(), t0=np.zeros(0), dur=np.zeros(0), p_event=p_event,
                        n_arrivals=n_arr)
    n_mem = np.array([len(c.members) for c in cells], np.int64)
    reps = n_mem[cell]
    thinned = np.array([bool(c.hit_cdf) for c in cells])[cell]
    u_hit = rng.random(cell.size)
    for ci, c in enumerate(cells):
        sel = np.flatnonzero((cell == ci) & thinned)
        if sel.size:
            reps[sel] = 1 + np.minimum(np.searchsorted(np.asarray(c.hit_cdf), u_hit[sel], side="right"),
                                       len(c.members) - 1)
    # candidates: every member of each arrival's cell, in a random order for thinned cells; keep the first reps
    rep_all = np.repeat(np.arange(cell.size), n_mem[cell])
    offs = np.arange(rep_all.size) - np.repeat(np.cumsum(n_mem[cell]) - n_mem[cell], n_mem[cell])
    order_key = np.where(thinned[rep_all], rng.random(rep_all.size), offs.astype(float))
    o = np.lexsort((order_key, rep_all))
    rank = np.empty(o.size, np.int64)
    rank[o] = offs
    keep = rank < reps[rep_all]
    members = np.concatenate([np.array(c.members, np.int64) for c in cells])
    first = np.concatenate([[0], np.cumsum(n_mem)[:-1]])
    rep_idx, mem_pos = rep_all[keep], offs[keep]
    ev_cell = cell[rep_idx]
    chain = members[first[ev_cell] + mem_pos]
    types = np.array([c.type for c in cells], np.int64)[ev_cell]
    u_type = rng.random(rep_idx.size)
    dur = np.empty(rep_idx.size)
    for ci, c in enumerate(cells):
        sel = np.flatnonzero(ev_cell == ci)
        if not sel.size:
            continue
        if c.type_codes:
            k = np.minimum(np.searchsorted(np.asarray(c.type_cdf), u_type[sel], side="right"), len(c.type_codes) - 1)
            types[sel] = np.asarray(c.type_codes, np.int64)[k]
            for j, law in enumerate(c.laws):
                sj = sel[k == j]
                if sj.size:
                    a = rep_idx[sj]
                    dur[sj] = _durations(law, u_draw[a], z_loc[a], u_dur[a])
        else:
            a = rep_idx[sel]
            dur[sel] = _durations(c.law, u_draw[a], z_loc[a], u_dur[a])
    return EventSet(path=path[rep_idx], chain=chain, type=types, t0=t0[rep_idx], dur=dur, p_event=p_event,
                    n_arrivals=n_arr)


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
