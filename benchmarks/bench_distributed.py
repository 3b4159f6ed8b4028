"""Benchmark of the execution backends: scaling, overhead per task, and a projection for a large book.

The work is the bundled derivatives desk (examples/desk.yaml) with the bundled
outage model (examples/outage-model.json) over 7 days, cut into one-block
chunks (4,096 paths each), so every chunk is a task. Measured, in pairs in the
same run (the median of the pairs' ratios; wall time, because scaling is about
wall time, and the CPU seconds of this process and its worker processes):

1. scaling from 1 to 2 workers: the local process pool against a local Dask
   cluster of the same size, on the same chunks (cluster start-up not counted:
   it is paid once per command or service, and measured on its own);
2. overhead per task: Dask with one worker against the same chunks run in
   this process, per chunk; and the round trip of a task that computes
   nothing, with the same shared inputs;
3. the chunk size at which that overhead is under 5% of the chunk's work;
4. a PROJECTION (not a measurement) of a 100,000-position book x 100
   scenarios on N workers, from the per-block cost measured on books of 110
   and 1,100 positions (linear in positions) and the measured overhead.

Every run's numbers are checked equal to the in-process run's (``==``).
Run: ``python benchmarks/bench_distributed.py`` (or ``make bench``); ``SEQRISK_BENCH_QUICK=1`` shrinks it.
Writes ``benchmarks/results/distributed.json``.
"""

from __future__ import annotations

import copy
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QUICK = os.environ.get("SEQRISK_BENCH_QUICK") == "1"
BLOCKS = 8 if QUICK else 16
PAIRS = 3


def _inputs(copies: int = 1) -> tuple[Any, Any]:
    """The desk book, its positions repeated ``copies`` times, and the bundled outage model."""
    from seqrisk.catalog import load_catalog
    from seqrisk.outage import OutageModel
    from seqrisk.portfolio import book_from_dict

    doc = yaml.safe_load((ROOT / "examples" / "desk.yaml").read_text())
    base = doc["positions"]
    doc["positions"] = [dict(copy.deepcopy(p), id=f"{p['id']}-{k}") for k in range(copies) for p in base]
    book = book_from_dict(doc, chains=load_catalog().chain_ids())
    return book, OutageModel.load(ROOT / "examples" / "outage-model.json")


def _cpu() -> float:
    """CPU seconds of this process and all its live children (the worker processes)."""
    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system
    for c in me.children(recursive=True):
        try:
            ct = c.cpu_times()
            total += ct.user + ct.system
        except psutil.Error:
            continue
    return total


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    c0, w0 = _cpu(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - w0, _cpu() - c0


def _say(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _same(a: Any, b: Any) -> bool:
    try:
        pd.testing.assert_frame_equal(a.measures, b.measures, check_exact=True)
        pd.testing.assert_frame_equal(a.positions, b.positions, check_exact=True)
    except AssertionError:
        return False
    return bool(a.diagnostics == b.diagnostics)


def _nothing(shared: Any, blocks: list[int]) -> int:
    return len(blocks)


def main() -> dict[str, Any]:
    from seqrisk.distributed import DaskBackend
    from seqrisk.engine import BLOCK_PATHS, Scenario, simulate
    from seqrisk.engine.backend import LocalBackend
    from seqrisk.engine.prepare import prepare

    load0 = os.getloadavg()
    book, model = _inputs()
    sc = Scenario(paths=BLOCKS * BLOCK_PATHS, chunk_paths=BLOCK_PATHS, seed=1, horizon_s=7 * 86400.0)
    ref = simulate(book, model, sc)  # warm-up and the reference numbers
    _say("reference run done; starting a 1-worker and a 2-worker local Dask cluster")
    run = {name: (lambda be=be: simulate(book, model, sc, backend=be))
           for name, be in (("serial", LocalBackend(1)), ("pool2", LocalBackend(2)))}

    t0 = time.perf_counter()
    d1 = DaskBackend(workers=1).open()
    start1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    d2 = DaskBackend(workers=2).open()
    start2 = time.perf_counter() - t0
    try:
        run["dask1"] = lambda: simulate(book, model, sc, backend=d1)
        run["dask2"] = lambda: simulate(book, model, sc, backend=d2)
        for name in ("dask1", "dask2", "pool2"):
            run[name]()  # warm: worker imports, first scatter
            _say(f"{name} warm")
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in run}
        identical = True
        for _ in range(PAIRS):  # each pair back to back, in a fixed order
            for pair in (("serial", "dask1"), ("pool2", "dask2")):
                for name in pair:
                    res, wall, cpu = _timed(run[name])
                    identical &= _same(ref, res)
                    times[name].append((wall, cpu))
                    _say(f"{name}: {wall:.2f} s wall")
        shared = (prepare(book, model, sc), sc)
        items = [[b] for b in range(BLOCKS)]
        noop: list[float] = []
        for _ in range(PAIRS):
            _, wall, _ = _timed(lambda: list(d1.map(_nothing, shared, items)))
            noop.append(wall / len(items))
    finally:
        d1.close()
        d2.close()

    def med(name: str, k: int = 0) -> float:
        return statistics.median(t[k] for t in times[name])

    def ratio(a: str, b: str) -> float:
        return statistics.median(x[0] / y[0] for x, y in zip(times[a], times[b], strict=True))

    per_block_s = med("serial") / BLOCKS
    overhead_s = statistics.median((d[0] - s[0]) / BLOCKS for s, d in zip(times["serial"], times["dask1"],
                                                                            strict=True))
    noop_s = statistics.median(noop)
    # chunk of k blocks: overhead / (k * per_block + overhead) < 5%  <=>  k > 19 * overhead / per_block
    blocks_5pct = max(1, math.ceil(19 * max(overhead_s, noop_s) / per_block_s))

    # per-block cost against the book's size (positions), for the projection
    big_copies = 10
    bbook, _ = _inputs(big_copies)
    bsc = sc.replace(paths=4 * BLOCK_PATHS)
    small = statistics.median(_timed(lambda: simulate(book, model, bsc))[1] for _ in range(PAIRS)) / 4
    large = statistics.median(_timed(lambda: simulate(bbook, model, bsc))[1] for _ in range(PAIRS)) / 4
    n_small, n_large = len(book.positions), len(bbook.positions)
    slope = max(large - small, 0.0) / (n_large - n_small)
    fixed = max(small - slope * n_small, 0.0)
    positions, scenarios, paths = 100_000, 100, 100_000
    block_s = fixed + slope * positions
    blocks_total = scenarios * math.ceil(paths / BLOCK_PATHS)
    projection = {}
    for n in (1, 8, 32, 128, 512):
        rounds = math.ceil(blocks_total / n)
        projection[n] = rounds * (block_s + max(overhead_s, noop_s))

    load1 = os.getloadavg()
    out = {
        "work": {"book": "examples/desk.yaml", "positions": n_small, "horizon_days": 7, "blocks": BLOCKS,
                 "paths": sc.paths, "chunk_blocks": 1, "pairs": PAIRS},
        "identical_numbers": identical,
        "wall_s": {k: med(k) for k in times}, "cpu_s": {k: med(k, 1) for k in times},
        "speedup_pool_1_to_2": med("serial") / med("pool2"), "speedup_dask_1_to_2": med("dask1") / med("dask2"),
        "dask2_over_pool2_wall": ratio("dask2", "pool2"), "dask1_over_serial_wall": ratio("dask1", "serial"),
        "cluster_start_s": {"1_worker": start1, "2_workers": start2},
        "per_block_s": per_block_s, "overhead_per_task_s": overhead_s, "noop_task_s": noop_s,
        "blocks_per_chunk_for_5pct_overhead": blocks_5pct,
        "per_block_s_by_positions": {n_small: small, n_large: large},
        "projection": {"what": f"PROJECTION, not measured: {positions:,} positions x {scenarios} scenarios x "
                               f"{paths:,} paths, one-block tasks, linear per-block cost in positions, "
                               "no transfer cost beyond the measured task overhead",
                       "per_block_s": block_s, "blocks": blocks_total,
                       "wall_s_by_workers": projection},
        "load_average": {"before": load0, "after": load1, "cpus": os.cpu_count()},
    }
    _print(out)
    return out


def _print(r: dict[str, Any]) -> None:
    w, c = r["wall_s"], r["cpu_s"]
    print(f"work: {r['work']['paths']:,} paths of {r['work']['book']} in {r['work']['blocks']} one-block tasks; "
          f"median of {r['work']['pairs']} pairs; load average {r['load_average']['before'][0]:.1f} -> "
          f"{r['load_average']['after'][0]:.1f} on {r['load_average']['cpus']} CPUs")
    print(f"{'backend':<16}{'wall s':>9}{'CPU s':>9}")
    for k in ("serial", "pool2", "dask1", "dask2"):
        print(f"{k:<16}{w[k]:>9.2f}{c[k]:>9.2f}")
    print(f"scaling 1 -> 2 workers: process pool {r['speedup_pool_1_to_2']:.2f}x, Dask {r['speedup_dask_1_to_2']:.2f}x;"
          f" Dask 2 / pool 2 wall {r['dask2_over_pool2_wall']:.2f}")
    print(f"numbers identical on every backend: {r['identical_numbers']}")
    print(f"per block {r['per_block_s'] * 1e3:.0f} ms; Dask overhead per task {r['overhead_per_task_s'] * 1e3:.0f} ms "
          f"(empty task {r['noop_task_s'] * 1e3:.0f} ms); overhead < 5% from "
          f"{r['blocks_per_chunk_for_5pct_overhead']} blocks per chunk; cluster start "
          f"{r['cluster_start_s']['2_workers']:.1f} s")
    p = r["projection"]
    print(p["what"])
    print(f"  per block {p['per_block_s']:.2f} s, {p['blocks']:,} blocks: " + ", ".join(
        f"{n} workers {s / 3600:.1f} h" for n, s in p["wall_s_by_workers"].items()))


if __name__ == "__main__":
    import json

    res = main()
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "distributed.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    sys.exit(0 if res["identical_numbers"] else 1)
