"""The Monte Carlo loss engine: ``simulate(book, model, scenario) -> SimulationResult``.

Work is split into blocks of ``BLOCK_PATHS`` paths with their own random
streams; chunks of whole blocks are sampled and evaluated vectorized, and
every statistic is reduced per block and merged in block order, so a seed
fixes every number whatever the chunk size or number of workers. Memory is
bounded by the chunk: no (paths x positions) array is held for the run; the
tails needed for VaR and ES are merged exactly (see ``measures``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from seqrisk._typing import FloatArray, IntArray
from seqrisk.engine.losses import ChunkLosses, evaluate_chunk
from seqrisk.engine.measures import TailBuffer, WeightedTotals
from seqrisk.engine.prepare import Prepared, prepare
from seqrisk.engine.results import SimulationResult
from seqrisk.engine.sampling import ChunkSample, sample_chunk
from seqrisk.engine.scenario import BLOCK_PATHS, Scenario
from seqrisk.outage import OutageModel
from seqrisk.portfolio.models import Book

__all__ = ["simulate"]

SERIES = ("holder_attributable", "holder_total", "venue_attributable", "venue_total")
KEEP_MASS = 0.1


@dataclass
class _BlockStats:
    totals: WeightedTotals
    pos_loss: FloatArray      # per position: sum_j p_j * attributable holder loss
    pos_bad: FloatArray
    pos_liq: FloatArray
    pos_liq2: FloatArray


@dataclass
class _ChunkOut:
    blocks: list[_BlockStats]
    tails: dict[str, TailBuffer]
    kept: dict[str, FloatArray | IntArray] = field(default_factory=dict)
    diag: dict[str, float] = field(default_factory=dict)


def _reduce(prep: Prepared, sc: Scenario, cs: ChunkSample, lo: ChunkLosses) -> _ChunkOut:
    n_pos = prep.pos.n
    p = cs.p_event
    q = 1.0 - p
    carry = prep.carry_cost_usd
    holder_total = lo.holder_total + carry
    atoms = {"holder_attributable": 0.0, "holder_total": carry, "venue_attributable": 0.0, "venue_total": 0.0}
    series = {"holder_attributable": lo.holder_attr, "holder_total": holder_total,
              "venue_attributable": lo.venue_attr, "venue_total": lo.venue_total}
    # per (path, position) aggregation of the sparse records
    h: FloatArray
    v: FloatArray
    liq: FloatArray
    if lo.rec_path:
        rp = np.concatenate(lo.rec_path)
        rq = np.concatenate(lo.rec_pos)
        key = rp * n_pos + rq
        uk, inv = np.unique(key, return_inverse=True)
        h = np.bincount(inv, weights=np.concatenate(lo.rec_holder), minlength=uk.size).astype(float)
        v = np.bincount(inv, weights=np.concatenate(lo.rec_venue), minlength=uk.size).astype(float)
        liq = np.zeros(uk.size)
        np.maximum.at(liq, inv, np.concatenate(lo.rec_liq))
        up, uq = uk // n_pos, uk % n_pos
    else:
        up = uq = np.zeros(0, np.int64)
        h, v, liq = np.zeros(0), np.zeros(0), np.zeros(0)
    bounds = np.append(cs.block_first, cs.n)
    blocks = []
    tails = {s: TailBuffer(KEEP_MASS, sc.paths, atoms[s]) for s in SERIES}
    gid = np.concatenate([np.arange(bounds[i], bounds[i + 1]) - bounds[i] + int(b) * BLOCK_PATHS
                          for i, b in enumerate(cs.block_ids)])
    assert lo.lin_cap is not None and lo.lin_cap_b is not None and lo.lin_not is not None
    active = np.zeros(cs.n, bool)
    active[cs.path] = True
    active |= p < 1.0
    for i in range(len(cs.block_ids)):
        s, e = int(bounds[i]), int(bounds[i + 1])
        # rows without events and p = 1 hold the no-outage outcome: counted in closed form
        act = s + np.flatnonzero(active[s:e])
        n_idle = (e - s) - act.size
        pb, qb = p[act], q[act]
        wt = WeightedTotals(n=e - s, sum_p=float(pb.sum()) + n_idle, sum_p2=float((pb * pb).sum()) + n_idle)
        for name, x in series.items():
            wt.add(name, pb * x[act] + qb * atoms[name])
            if n_idle and atoms[name] != 0.0:
                wt.add(name, np.full(n_idle, atoms[name]))
        wt.add("p_liquidation", pb * lo.liq_any[act])
        wt.add("liquidated_notional", pb * lo.liq_notional[act])
        wt.add("bad_debt", pb * lo.bad_debt[act])
        wt.add("chain_holder", pb[:, None] * lo.chain_holder[act])
        wt.add("chain_venue", pb[:, None] * lo.chain_venue[act])
        wt.add("comp_holder", pb[:, None] * lo.comp_holder[act])
        wt.add("comp_venue", pb[:, None] * lo.comp_venue[act])
        wt.add("lin_cap", lo.lin_cap[i:i + 1])  # already weighted sums per block (no standard error needed)
        wt.add("lin_cap_b", lo.lin_cap_b[i:i + 1])
        wt.add("lin_not", lo.lin_not[i:i + 1])
        sel = (up >= s) & (up < e)
        w = p[up[sel]]
        blocks.append(_BlockStats(
            totals=wt,
            pos_loss=np.bincount(uq[sel], weights=w * h[sel], minlength=n_pos).astype(float),
            pos_bad=np.bincount(uq[sel], weights=w * v[sel], minlength=n_pos).astype(float),
            pos_liq=np.bincount(uq[sel], weights=w * liq[sel], minlength=n_pos).astype(float),
            pos_liq2=np.bincount(uq[sel], weights=(w * liq[sel]) ** 2, minlength=n_pos).astype(float)))
    for name, x in series.items():
        tails[name].add(x, p, gid)
    kept: dict[str, FloatArray | IntArray] = {}
    if sc.keep_paths:
        kept = {"path": gid, "p_event": p, **{k: v for k, v in series.items()},
                "chain_holder": lo.chain_holder, "chain_venue": lo.chain_venue, "liquidated": lo.liq_any}
    diag = {"events": float(cs.path.size), "arrivals": float(cs.n_arrivals.sum()),
            "max_rounds": float(lo.max_rounds), "cap_hits": float(lo.cap_hits), "cascades": float(lo.n_cascades),
            "restarts_past_horizon": float(np.sum((cs.type == 0) & (cs.t1 >= sc.horizon_s))),
            "outage_paths": float(np.unique(cs.path).size)}
    return _ChunkOut(blocks=blocks, tails=tails, kept=kept, diag=diag)


def _run_chunk(args: tuple[Prepared, Scenario, list[int]]) -> _ChunkOut:
    prep, sc, blocks = args
    cs = sample_chunk(prep, sc, blocks)
    return _reduce(prep, sc, cs, evaluate_chunk(prep, sc, cs))


def simulate(book: Book, model: OutageModel, scenario: Scenario | None = None, *,
             progress: Callable[[int, int], None] | None = None) -> SimulationResult:
    """Simulate what sequencer outages cost ``book`` under ``model`` (USD, over ``scenario.horizon_s``).

    ``progress(done_paths, total_paths)`` is called after each chunk.
    """
    sc = scenario or Scenario()
    prep = prepare(book, model, sc)
    n_blocks = math.ceil(sc.paths / BLOCK_PATHS)
    per_chunk = max(1, sc.chunk_paths // BLOCK_PATHS)
    chunks = [list(range(b, min(b + per_chunk, n_blocks))) for b in range(0, n_blocks, per_chunk)]
    tasks = [(prep, sc, c) for c in chunks]
    acc = _Accumulator(prep, sc)
    done = 0

    def consume(o: _ChunkOut, blocks: list[int]) -> None:
        nonlocal done
        acc.add(o)  # merged in block order as chunks arrive: memory stays bounded by a chunk
        done += sum(min(BLOCK_PATHS, sc.paths - b * BLOCK_PATHS) for b in blocks)
        if progress is not None:
            progress(done, sc.paths)

    if sc.workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(max_workers=sc.workers) as ex:
            for o, c in zip(ex.map(_run_chunk, tasks), chunks, strict=True):
                consume(o, c)
    else:
        for t in tasks:
            consume(_run_chunk(t), t[2])
    return acc.result()


class _Accumulator:
    """Merges chunk outputs in block order."""

    def __init__(self, prep: Prepared, sc: Scenario) -> None:
        self.prep, self.sc = prep, sc
        self.totals = WeightedTotals()
        n_pos = prep.pos.n
        self.pos = [np.zeros(n_pos) for _ in range(4)]
        self.tails = {s: TailBuffer(KEEP_MASS, sc.paths, prep.carry_cost_usd if s == "holder_total" else 0.0)
                      for s in SERIES}
        self.diag: dict[str, float] = {}
        self.kept: dict[str, list[np.ndarray]] = {}

    def add(self, o: _ChunkOut) -> None:
        for b in o.blocks:
            self.totals.merge(b.totals)
            for acc, x in zip(self.pos, (b.pos_loss, b.pos_bad, b.pos_liq, b.pos_liq2), strict=True):
                acc += x
        for s in SERIES:
            self.tails[s].merge(o.tails[s])
        for k, v in o.diag.items():
            self.diag[k] = max(self.diag.get(k, 0.0), v) if k == "max_rounds" else self.diag.get(k, 0.0) + v
        for k, arr in o.kept.items():
            self.kept.setdefault(k, []).append(np.asarray(arr))

    def result(self) -> SimulationResult:
        paths = {k: np.concatenate(v) for k, v in self.kept.items()} if self.kept else None
        return SimulationResult(prep=self.prep, scenario=self.sc, totals=self.totals, tails=self.tails,
                                pos_loss=self.pos[0], pos_bad=self.pos[1], pos_liq=self.pos[2], pos_liq2=self.pos[3],
                                diagnostics=self.diag, paths=paths)
