"""The compiled kernel's side of ``simulate``: what it covers, its inputs as flat arrays, its outputs as blocks.

The kernel (:mod:`seqrisk.engine.kernel`) covers books of perps (and the
venue's rest-of-market model) under any outage cells (chain processes and
common shocks, every event type), stress outages, conditional sampling,
forced inclusion, grace periods, margin buffers and linear costs, with one
volatility regime and no jumps or self-excitation. Anything else (options,
loans, regime switching, jumps, Hawkes) runs on the vectorised twin
(``sampling`` + ``losses``). :func:`kernel_gap` names the first reason a run
cannot use the kernel.

The boundary for the event sampler is the per-run cell table built here from
``Prepared.cells`` (rate per second, type, members, duration law): features
added to the sampler must be added to the kernel's step 1 too, or listed in
:func:`kernel_gap`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqrisk._typing import FloatArray, IntArray
from seqrisk.engine.measures import TailBuffer, WeightedTotals
from seqrisk.engine.prepare import COMPONENTS, Prepared
from seqrisk.engine.scenario import BLOCK_PATHS, Scenario
from seqrisk.portfolio.arrays import KIND_PERP

__all__ = ["KernelInputs", "kernel_gap", "kernel_inputs", "run_kernel_chunk"]

_FAMILIES = {"lognormal": 0, "exponential": 1, "weibull": 2, "loglogistic": 3, "fixed": 4}
_PARAMS = {"lognormal": ("median_s", "sigma"), "exponential": ("mean_s",), "weibull": ("scale_s", "shape"),
           "loglogistic": ("scale_s", "shape"), "fixed": ("duration_s",)}
_TYPES = {"downtime": 0, "degraded": 1, "censorship": 2, "reorg": 3, "da_delay": 4}


def kernel_gap(prep: Prepared, sc: Scenario) -> str | None:
    """Why this run cannot use the compiled kernel (None: it can)."""
    if sc.engine == "numpy":
        return "the scenario asks for the vectorised engine"
    if os.environ.get("SEQRISK_ENGINE") == "numpy":  # an escape hatch for comparisons; the scenario field wins
        return "SEQRISK_ENGINE=numpy"
    if sc.seed >= 2 ** 2048:  # the kernel's seeding scratch holds 64 words of seed
        return "the seed has more than 2,048 bits"
    if np.any(prep.pos.kind != KIND_PERP):
        return "the book holds options or loans"
    if prep.regime_initial.size > 1:
        return "volatility regimes switch"
    if np.any(prep.jump_rate_per_s > 0):
        return "prices jump"
    if prep.excitation is not None:
        return "outages beget follow-on outages (Hawkes excitation)"
    if sc.parameter_uncertainty:
        return "parameter uncertainty draws each path's parameters"
    if any(getattr(c, "kernel_unsupported", False) for c in prep.cells):
        return "the outage sampler uses a feature the kernel does not have"
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency
        return "numba is not installed"
    return None


@dataclass(frozen=True)
class KernelInputs:
    """Everything static the kernel takes, as arrays (see :func:`seqrisk.engine.kernel.run_blocks`)."""

    args: tuple[Any, ...]
    n_chains: int
    n_assets: int
    n_positions: int
    n_quantities: int
    pos_ent: IntArray  # (positions,) each position's entry in the sorted sides (the kernel's per-position index)
    n_entries: int
    n_sides: int


def _sides(prep: Prepared, sc: Scenario) -> dict[str, Any]:
    """Per (chain, asset) group with book perps: both sides sorted by trigger ratio, flat.

    A position's place in its sorted side is its *entry*; the kernel reads and accumulates per entry (the
    positions a cascade round closes are a contiguous run of entries) and ``pos_ent`` maps positions back.
    """
    pos = prep.pos
    k = sc.margin_buffer
    perp = pos.kind == KIND_PERP
    r_long = np.where(pos.side > 0, (1 - pos.inv_leverage - k) / (1 - pos.maintenance), -np.inf)
    r_short = np.where(pos.side < 0, (1 + pos.inv_leverage + k) / (1 + pos.maintenance), np.inf)
    m_long = np.where(pos.mkt_side > 0, (1 - pos.mkt_inv_leverage) / (1 - pos.mkt_maintenance), -np.inf)
    m_short = np.where(pos.mkt_side < 0, (1 + pos.mkt_inv_leverage) / (1 + pos.mkt_maintenance), np.inf)
    grp_off, grp_asset, side_off = [0], [], [0]
    key, idx, cum_book, cum_mkt = [], [], [], []
    e0f, pen = pos.inv_leverage + k, pos.penalty
    ent_units: list[np.ndarray] = []
    ent_e0f: list[np.ndarray] = []
    ent_pen: list[np.ndarray] = []
    for c in range(len(prep.chains)):
        for a in range(len(prep.assets)):
            book = np.flatnonzero(perp & (pos.chain == c) & (pos.asset == a))
            if not book.size:
                continue
            mk = np.flatnonzero((pos.mkt_chain == c) & (pos.mkt_asset == a))
            grp_asset.append(a)
            for long in (True, False):
                sel_b = book[pos.side[book] > 0] if long else book[pos.side[book] < 0]
                sel_m = mk[pos.mkt_side[mk] > 0] if long else mk[pos.mkt_side[mk] < 0]
                ratio = np.concatenate([r_long[sel_b] if long else r_short[sel_b],
                                        m_long[sel_m] if long else m_short[sel_m]])
                kk = -ratio if long else ratio
                ii = np.concatenate([sel_b, np.full(sel_m.size, -1)])
                uu_b = np.concatenate([pos.units[sel_b], np.zeros(sel_m.size)])
                uu_m = np.concatenate([np.zeros(sel_b.size), pos.mkt_units[sel_m]])
                o = np.argsort(kk, kind="stable")
                key.append(kk[o])
                idx.append(ii[o])
                ent_units.append(uu_b[o])
                ent_e0f.append(np.concatenate([e0f[sel_b], np.zeros(sel_m.size)])[o])
                ent_pen.append(np.concatenate([pen[sel_b], np.zeros(sel_m.size)])[o])
                cum_book.append(np.concatenate([[0.0], np.cumsum(uu_b[o])]))
                cum_mkt.append(np.concatenate([[0.0], np.cumsum(uu_m[o])]))
                side_off.append(side_off[-1] + o.size)
        grp_off.append(len(grp_asset))

    def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    ent_idx = cat(idx, np.int64)
    pos_ent = np.full(pos.n, ent_idx.size, np.int64)  # a position's entry (ent_idx.size: none, a zero column)
    book_ent = np.flatnonzero(ent_idx >= 0)
    pos_ent[ent_idx[book_ent]] = book_ent
    return {"grp_off": np.array(grp_off, np.int64), "grp_asset": np.array(grp_asset, np.int64),
            "side_off": np.array(side_off, np.int64), "key": cat(key, float), "ent_idx": ent_idx,
            "cum_book": cat(cum_book, float), "cum_mkt": cat(cum_mkt, float), "ent_units": cat(ent_units, float),
            "ent_e0f": cat(ent_e0f, float), "ent_pen": cat(ent_pen, float), "pos_ent": pos_ent,
            "r_long": r_long, "r_short": r_short}


def kernel_inputs(prep: Prepared, sc: Scenario) -> KernelInputs:
    """Flatten ``prep`` and ``sc`` for the kernel."""
    from seqrisk.engine.kernel_rng import entropy_words

    pos = prep.pos
    n_c, n_a = len(prep.chains), len(prep.assets)
    mult = float(prep.hazard_mult[0])
    cells = prep.cells if sc.with_background else ()
    cell_rate = np.array([c.rate_per_s * mult for c in cells], float)
    cell_type = np.array([c.type for c in cells], np.int64)
    cell_law = np.array([_FAMILIES[c.law.family] for c in cells], np.int64)
    cell_par = np.zeros((len(cells), 2))
    for i, c in enumerate(cells):
        for j, name in enumerate(_PARAMS[c.law.family]):
            cell_par[i, j] = c.law.params[name]
    mem_off = np.concatenate([[0], np.cumsum([len(c.members) for c in cells])]).astype(np.int64)
    mem = np.array([m for c in cells for m in c.members], np.int64)
    so = sc.stress_outages
    stress = (np.array([prep.chains.index(s.chain) for s in so], np.int64),
              np.array([_TYPES[s.type] for s in so], np.int64), np.array([s.start_s for s in so], float),
              np.array([s.duration_s for s in so], float))
    sides = _sides(prep, sc)
    perp = pos.kind == KIND_PERP
    cens_off, cens_pos, cens_ent, cens_ratio = [0], [], [], []
    for ch in range(n_c):
        ids = np.flatnonzero(perp & (pos.chain == ch))
        cens_pos.append(ids)
        cens_ent.append(sides["pos_ent"][ids])
        cens_ratio.append(np.where(pos.side[ids] > 0, sides["r_long"][ids], sides["r_short"][ids]))
        cens_off.append(cens_off[-1] + ids.size)
    ipar = np.array([sc.paths, int(sc.conditional_sampling and not sc.stress_outages), int(sc.with_background),
                     sc.max_cascade_rounds, n_c, n_a], np.int64)
    fpar = np.array([sc.horizon_s, sc.grace_period_s, 1.0 - sc.grace_saved_share, sc.cost_of_capital,
                     sc.withdrawal_share, sc.turnover_per_day, sc.degraded_cost_bps, sc.censored_share,
                     prep.carry_cost_usd], float)
    var = prep.var_per_s[:, 0].astype(float)
    args = (entropy_words(sc.seed), ipar, fpar, cell_rate, cell_type, cell_law, cell_par, mem_off, mem, *stress,
            prep.spot.astype(float), var, np.ascontiguousarray(prep.chol, float), prep.fi_exposure_s.astype(float),
            prep.ca_alpha, prep.ca_beta, prep.ca_units, prep.eta.astype(float), prep.adv_usd.astype(float),
            sides["grp_off"], sides["grp_asset"], sides["side_off"], sides["key"], sides["ent_idx"],
            sides["cum_book"], sides["cum_mkt"], sides["ent_units"], sides["ent_e0f"], sides["ent_pen"],
            pos.units.astype(float), pos.side.astype(float), pos.penalty.astype(float),
            pos.maintenance.astype(float), pos.asset.astype(np.int64), np.array(cens_off, np.int64),
            np.concatenate(cens_pos).astype(np.int64) if cens_pos else np.zeros(0, np.int64),
            np.concatenate(cens_ent).astype(np.int64) if cens_ent else np.zeros(0, np.int64),
            np.concatenate(cens_ratio).astype(float) if cens_ratio else np.zeros(0))
    return KernelInputs(args=args, n_chains=n_c, n_assets=n_a, n_positions=pos.n,
                        n_quantities=7 + 2 * n_c + 2 * len(COMPONENTS), pos_ent=sides["pos_ent"],
                        n_entries=int(sides["ent_idx"].size), n_sides=int(sides["side_off"].size - 1))


@dataclass
class KernelChunk:
    """One chunk's outputs: per-block sums (rows in block order), the non-atom paths, diagnostics."""

    mom1: FloatArray        # (blocks, quantities): sums of the per-path terms (layout: ``layout``)
    mom2: FloatArray        # and of their squares
    lin: FloatArray         # (blocks, 3, chains, assets): lin_cap, lin_cap_b, lin_not
    n: IntArray             # (blocks,) paths
    sum_p: FloatArray
    sum_p2: FloatArray
    pos: FloatArray         # (blocks, 4, positions): holder loss, bad debt, liquidation, liquidation^2 (p-weighted)
    gid: IntArray
    p: FloatArray
    series: FloatArray      # (paths, 4): holder attributable, holder total, venue attributable, venue total
    chain_h: FloatArray
    chain_v: FloatArray
    liq: FloatArray
    idle: IntArray          # (blocks,) atom paths (p = 1)
    diag: dict[str, float]


def layout(n_chains: int) -> list[tuple[str, int, int]]:
    """(name, first column, width) of the kernel's per-block quantities."""
    k = len(COMPONENTS)
    return [("holder_attributable", 0, 1), ("holder_total", 1, 1), ("venue_attributable", 2, 1),
            ("venue_total", 3, 1), ("p_liquidation", 4, 1), ("liquidated_notional", 5, 1), ("bad_debt", 6, 1),
            ("chain_holder", 7, n_chains), ("chain_venue", 7 + n_chains, n_chains),
            ("comp_holder", 7 + 2 * n_chains, k), ("comp_venue", 7 + 2 * n_chains + k, k)]


def totals_from_sums(n_chains: int, n: int, sum_p: float, sum_p2: float, m1: FloatArray, m2: FloatArray,
                     lin: FloatArray, lin2: FloatArray) -> WeightedTotals:
    """A :class:`WeightedTotals` from the kernel's running sums."""
    wt = WeightedTotals(n=n, sum_p=sum_p, sum_p2=sum_p2)
    for name, at, width in layout(n_chains):
        wt.s1[name] = m1[at:at + width].copy() if width > 1 else np.asarray(m1[at], float)
        wt.s2[name] = m2[at:at + width].copy() if width > 1 else np.asarray(m2[at], float)
    for row, name in enumerate(("lin_cap", "lin_cap_b", "lin_not")):
        wt.s1[name] = lin[row].copy()
        wt.s2[name] = lin2[row].copy()
    return wt


def run_kernel_chunk(prep: Prepared, sc: Scenario, ki: KernelInputs, blocks: list[int]) -> KernelChunk:
    """Run the kernel on consecutive ``blocks``."""
    from seqrisk.engine import kernel

    run_blocks: Any = kernel.run_blocks
    nb = len(blocks)
    n = sum(min(BLOCK_PATHS, sc.paths - b * BLOCK_PATHS) for b in blocks)
    c_n, a_n, q_n = ki.n_chains, ki.n_assets, ki.n_quantities
    cap = 64
    while True:  # a path with more raw events than the scratch arrays hold: rerun the chunk with larger ones
        out_gid = np.empty(n, np.int64)
        out_p = np.empty(n)
        out_series = np.empty((n, 4))
        out_ch = np.empty((n, c_n))
        out_cv = np.empty((n, c_n))
        out_liq = np.empty(n)
        mom1 = np.zeros((nb, q_n))
        mom2 = np.zeros((nb, q_n))
        blk_n = np.zeros(nb, np.int64)
        sum_p = np.zeros(nb)
        sum_p2 = np.zeros(nb)
        idle = np.zeros(nb, np.int64)
        pos_acc = np.zeros((nb, 4, ki.n_entries + 1))  # the last column stays zero (positions without an entry)
        lin = np.zeros((nb, 3, c_n, a_n))
        diag = np.zeros(7)
        words, *rest = ki.args
        m = run_blocks(words, np.array(blocks, np.int64), *rest, out_gid, out_p, out_series, out_ch, out_cv,
                       out_liq, mom1, mom2, blk_n, sum_p, sum_p2, idle, pos_acc, lin, diag,
                       kernel.work_arrays(cap, a_n, ki.n_entries, c_n, ki.n_sides))
        if m >= 0:
            break
        cap = 2 * -m
    return KernelChunk(mom1=mom1, mom2=mom2, lin=lin, n=blk_n, sum_p=sum_p, sum_p2=sum_p2,
                       pos=pos_acc[:, :, ki.pos_ent], gid=out_gid[:m], p=out_p[:m], series=out_series[:m],
                       chain_h=out_ch[:m], chain_v=out_cv[:m], liq=out_liq[:m], idle=idle,
                       diag={"events": float(diag[0]), "arrivals": float(diag[1]), "max_rounds": float(diag[2]),
                             "cap_hits": float(diag[3]), "cascades": float(diag[4]),
                             "restarts_past_horizon": float(diag[5]), "outage_paths": float(diag[6])})


def add_tails(tails: dict[str, TailBuffer], kc: KernelChunk, series: tuple[str, ...]) -> None:
    """Feed a kernel chunk's non-atom paths and atom counts to the tail buffers."""
    n_idle = int(kc.idle.sum())
    for k, name in enumerate(series):
        buf = tails[name]
        buf.add(kc.series[:, k].copy(), kc.p, kc.gid)
        buf.n_atom += n_idle
        buf.sum_p_atom += float(n_idle)
        buf.sum_p2_atom += float(n_idle)
