"""The Monte Carlo loss engine: ``simulate(book, model, scenario) -> SimulationResult``.

Work is split into blocks of ``BLOCK_PATHS`` paths with their own random
streams; chunks of whole blocks are sampled and evaluated vectorized, and
every statistic is reduced per block and merged in block order, so a seed
fixes every number whatever the chunk size or number of workers. Memory is
bounded by the chunk: no (paths x positions) array is held for the run; the
tails needed for VaR and ES are merged exactly (see ``measures``). Chunks run
on an execution backend (``backend``): this process, a local process pool or
a Dask cluster; the merge stays here, in block order, so the backend never
changes a number.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from seqrisk._typing import FloatArray, IntArray
from seqrisk.engine.backend import Backend, current_progress, open_backend, parallelism_of
from seqrisk.engine.distribution import sample_stride, systematic_sample
from seqrisk.engine.fastpath import (
    KernelChunk,
    KernelInputs,
    add_tails,
    kernel_gap,
    kernel_inputs,
    run_kernel_chunk,
    totals_from_sums,
)
from seqrisk.engine.losses import ChunkLosses, evaluate_chunk
from seqrisk.engine.measures import TailBuffer, WeightedTotals
from seqrisk.engine.prepare import Prepared, prepare
from seqrisk.engine.results import SimulationResult
from seqrisk.engine.sampling import ChunkSample, sample_chunk
from seqrisk.engine.scenario import BLOCK_PATHS, Scenario
from seqrisk.exceptions import UsageError
from seqrisk.outage import OutageModel
from seqrisk.portfolio.models import Book

__all__ = ["memory_estimate_bytes", "simulate"]

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
    raw: KernelChunk | None = None  # the kernel's per-block sums
    sample: dict[str, tuple[FloatArray, FloatArray, IntArray]] = field(default_factory=dict)


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
    stride = sample_stride(sc.paths)
    sample = {}
    for name, x in series.items():
        tails[name].add(x, p, gid)
        sample[name] = systematic_sample(x, p, gid, atoms[name], stride)
    kept: dict[str, FloatArray | IntArray] = {}
    if sc.keep_paths:
        kept = {"path": gid, "p_event": p, **{k: v for k, v in series.items()},
                "chain_holder": lo.chain_holder, "chain_venue": lo.chain_venue, "liquidated": lo.liq_any}
    diag = {"events": float(cs.path.size), "arrivals": float(cs.n_arrivals.sum()),
            "max_rounds": float(lo.max_rounds), "cap_hits": float(lo.cap_hits), "cascades": float(lo.n_cascades),
            "restarts_past_horizon": float(np.sum((cs.type == 0) & (cs.t1 >= sc.horizon_s))),
            "outage_paths": float(np.unique(cs.path).size)}
    return _ChunkOut(blocks=blocks, tails=tails, kept=kept, diag=diag, sample=sample)


def _kernel_out(prep: Prepared, sc: Scenario, kc: KernelChunk, blocks: list[int]) -> _ChunkOut:
    atoms = {"holder_attributable": 0.0, "holder_total": prep.carry_cost_usd, "venue_attributable": 0.0,
             "venue_total": 0.0}
    tails = {s: TailBuffer(KEEP_MASS, sc.paths, atoms[s]) for s in SERIES}
    add_tails(tails, kc, SERIES)
    stride = sample_stride(sc.paths)
    sample = {name: systematic_sample(kc.series[:, k], kc.p, kc.gid, atoms[name], stride)
              for k, name in enumerate(SERIES)}
    kept: dict[str, FloatArray | IntArray] = {}
    if sc.keep_paths:
        first = blocks[0] * BLOCK_PATHS
        n = sum(min(BLOCK_PATHS, sc.paths - b * BLOCK_PATHS) for b in blocks)
        row = kc.gid - first
        gid = np.arange(first, first + n)
        p = np.ones(n)
        p[row] = kc.p
        kept = {"path": gid, "p_event": p}
        for k, name in enumerate(SERIES):
            x = np.full(n, atoms[name])
            x[row] = kc.series[:, k]
            kept[name] = x
        for name, arr in (("chain_holder", kc.chain_h), ("chain_venue", kc.chain_v)):
            full = np.zeros((n, arr.shape[1]))
            full[row] = arr
            kept[name] = full
        liq = np.zeros(n)
        liq[row] = kc.liq
        kept["liquidated"] = liq
    # only the per-block sums go back to the merge: the per-path arrays are in the tails, the sample and ``kept``
    # already (on a cluster they would be shipped for nothing; under stress they are most of a chunk's bytes)
    none = np.zeros(0)
    raw = dataclasses.replace(kc, gid=np.zeros(0, kc.gid.dtype), p=none, series=np.zeros((0, kc.series.shape[1])),
                              chain_h=np.zeros((0, kc.chain_h.shape[1])), chain_v=np.zeros((0, kc.chain_v.shape[1])),
                              liq=none)
    return _ChunkOut(blocks=[], tails=tails, kept=kept, diag=kc.diag, raw=raw, sample=sample)


def _run_chunk(shared: tuple[Prepared, Scenario, KernelInputs | None], blocks: list[int]) -> _ChunkOut:
    """One chunk of whole blocks, sampled, evaluated and reduced per block (a pure function of its inputs).

    ``shared`` is the run's prepared book, scenario and (when the compiled kernel covers the run) the kernel's
    flat inputs; a backend sends it once per worker. The kernel is compiled, or loaded from Numba's on-disk
    cache, on a worker's first chunk."""
    prep, sc, ki = shared
    if ki is not None:
        return _kernel_out(prep, sc, run_kernel_chunk(prep, sc, ki, blocks), blocks)
    cs = sample_chunk(prep, sc, blocks)
    return _reduce(prep, sc, cs, evaluate_chunk(prep, sc, cs))


def chunk_blocks(prep: Prepared, sc: Scenario, kernel: bool, parallelism: int = 1) -> int:
    """Blocks per chunk: the scenario's ``chunk_paths`` or, by default, a size that bounds memory.

    The kernel holds per chunk four position sums per block and a few numbers per path with an outcome;
    the vectorised engine holds arrays over (events, positions), so its chunks shrink with the book and with
    the expected events per path. On a backend that runs ``parallelism > 1`` chunks at once, the default
    size is also cut so that every worker gets about two chunks (a 100,000-path run is otherwise one chunk
    for the kernel). No number depends on the chunk size: statistics are merged per block."""
    if sc.chunk_paths is not None:
        return max(1, sc.chunk_paths // BLOCK_PATHS)
    by_memory = _chunk_blocks_by_memory(prep, sc, kernel)
    if parallelism > 1:
        return max(1, min(by_memory, math.ceil(math.ceil(sc.paths / BLOCK_PATHS) / (2 * parallelism))))
    return by_memory


def _chunk_blocks_by_memory(prep: Prepared, sc: Scenario, kernel: bool) -> int:
    n_pos = max(prep.pos.n, 1)
    if kernel:
        return int(np.clip(2 ** 25 // (32 * n_pos + 1), 4, 64))
    rate = sum(c.rate_per_s for c in prep.cells) * float(np.max(prep.hazard_mult)) * sc.horizon_s
    events = len(sc.stress_outages) + (rate if sc.with_background else 0.0)
    if sc.conditional_sampling and not sc.stress_outages:
        events = max(events, 1.0)
    per_block = BLOCK_PATHS * max(events, 0.05) * n_pos * 8 * 6
    return int(np.clip(2 ** 28 // per_block, 1, 16))


def memory_estimate_bytes(paths: int, *, n_chains: int = 1, keep_paths: bool = False, workers: int = 1) -> int:
    """Peak bytes of a run of ``paths`` paths, estimated from the arrays the engine holds (an upper figure).

    Per path: the four tail buffers' value, weight and path id (8 bytes each) for twice the kept tail mass
    (outcomes are appended before a trim, and merging copies them), and with ``keep_paths`` the kept per-path
    arrays (path id, weight, four loss series, liquidated, and a holder and a venue loss per chain), concatenated
    once at the end. Per block: its list entry in the chunk index. Per worker: one chunk's working set, which
    :func:`chunk_blocks` bounds to 2**28 bytes. ``memory_estimate_bytes(10**6)`` is about 0.3 GB.
    """
    n_blocks = -(-paths // BLOCK_PATHS)
    tails = len(SERIES) * 3 * 8 * 2 * KEEP_MASS * paths
    kept = 2 * (7 + 2 * n_chains) * 8 * paths if keep_paths else 0
    return int(tails + kept + 64 * n_blocks + max(workers, 1) * 2 ** 28)


def simulate(book: Book, model: OutageModel, scenario: Scenario | None = None, *,
             progress: Callable[[int, int], None] | None = None,
             backend: Backend | str | None = None) -> SimulationResult:
    """Simulate what sequencer outages cost ``book`` under ``model`` (USD, over ``scenario.horizon_s``).

    ``progress(done_paths, total_paths)`` is called as chunks finish.
    ``backend`` runs the chunks: a :class:`~seqrisk.engine.backend.Backend`
    object, ``"local"`` or ``"dask"`` (a name is opened for this call and
    closed after), default the enclosing
    :func:`~seqrisk.engine.backend.use_backend` block's backend, else this
    process or a process pool of ``scenario.workers``. Every number is the
    same on every backend.
    """
    sc = scenario or Scenario()
    prep = prepare(book, model, sc)
    gap = kernel_gap(prep, sc)
    if gap is not None and sc.engine == "kernel":
        raise UsageError(f"the compiled kernel does not cover this run: {gap}", field="engine", value="kernel")
    ki = kernel_inputs(prep, sc) if gap is None else None
    n_blocks = math.ceil(sc.paths / BLOCK_PATHS)
    acc = _Accumulator(prep, sc)
    acc.kernel = ki is not None
    report = progress or current_progress()
    done = 0
    chunks: list[list[int]] = []

    def finished(i: int) -> None:
        nonlocal done
        done += sum(min(BLOCK_PATHS, sc.paths - b * BLOCK_PATHS) for b in chunks[i])
        if report is not None:
            report(done, sc.paths)

    with open_backend(backend, workers=sc.workers) as be:
        per_chunk = chunk_blocks(prep, sc, ki is not None, parallelism_of(be))
        chunks[:] = [list(range(b, min(b + per_chunk, n_blocks))) for b in range(0, n_blocks, per_chunk)]
        for o in be.map(_run_chunk, (prep, sc, ki), chunks, on_done=finished,
                        name=lambda i, c: f"seqrisk-simulate-blocks-{c[0]}-{c[-1]}"):
            acc.add(o)  # merged in block order as chunks arrive: memory stays bounded by a few chunks
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
        self.kernel = False
        self.sample: dict[str, list[tuple[FloatArray, FloatArray, IntArray]]] = {}
        self.raw: list[np.ndarray] | None = None
        self.raw_n = [0, 0.0, 0.0]

    def _add_raw(self, kc: KernelChunk) -> None:
        """Kernel blocks, merged one by one in block order (the same sums whatever the chunking)."""
        if self.raw is None:
            self.raw = [np.zeros(kc.mom1.shape[1]), np.zeros(kc.mom1.shape[1]), np.zeros(kc.lin.shape[1:]),
                        np.zeros(kc.lin.shape[1:])]
        def in_order(total: np.ndarray, rows: np.ndarray) -> np.ndarray:
            # ((total + rows[0]) + rows[1]) + ...: a sequential accumulate, so any chunking gives the same bits
            return np.add.accumulate(np.concatenate([total[None], rows]), axis=0)[-1]

        self.raw = [in_order(self.raw[0], kc.mom1), in_order(self.raw[1], kc.mom2), in_order(self.raw[2], kc.lin),
                    in_order(self.raw[3], kc.lin ** 2)]
        self.raw_n[0] += int(kc.n.sum())
        self.raw_n[1] = float(in_order(np.asarray(self.raw_n[1]), kc.sum_p))
        self.raw_n[2] = float(in_order(np.asarray(self.raw_n[2]), kc.sum_p2))
        for j in range(4):
            self.pos[j] = in_order(self.pos[j], kc.pos[:, j])

    def add(self, o: _ChunkOut) -> None:
        if o.raw is not None:
            self._add_raw(o.raw)
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
        for k, smp in o.sample.items():
            self.sample.setdefault(k, []).append(smp)

    def result(self) -> SimulationResult:
        for buf in self.tails.values():
            buf.finish()
        paths = {k: np.concatenate(v) for k, v in self.kept.items()} if self.kept else None
        self.diag["engine"] = 1.0 if self.kernel else 0.0
        if self.raw is not None:
            n, sp, sp2 = self.raw_n
            self.totals = totals_from_sums(len(self.prep.chains), int(n), sp, sp2, *self.raw)
        return SimulationResult(prep=self.prep, scenario=self.sc, totals=self.totals, tails=self.tails,
                                pos_loss=self.pos[0], pos_bad=self.pos[1], pos_liq=self.pos[2], pos_liq2=self.pos[3],
                                diagnostics=self.diag, paths=paths,
                                samples={k: (np.concatenate([s[0] for s in v]), np.concatenate([s[1] for s in v]),
                                             sample_stride(self.sc.paths)) for k, v in self.sample.items()})
