"""Benchmark of the execution backends: scaling, overhead per task, worker start-up, and a projection.

Two kinds of work, each cut into chunks of a fixed number of blocks (4,096 paths each), so every chunk is a task:

* **kernel**: the desk's perps (examples/desk.yaml without options, one volatility regime, no jumps) copied to
  10,000 positions, under a 2-hour Arbitrum downtime (a stress scenario) plus the bundled outage model without
  self-excitation, 7 days: the compiled kernel runs it. 64 blocks as one-block tasks (the overhead per task),
  and 512 blocks as 64-block tasks (the scaling);
* **twin**: the desk itself (options, regimes, jumps, self-exciting outages: the vectorised NumPy engine), 7 days,
  one-block tasks.

Measured, in pairs back to back in the same run (medians of the pairs; wall time, because scaling is about wall
time, and the CPU seconds of this process and its worker processes):

1. scaling from 1 to 2 workers: the local process pool against a local Dask cluster of the same size, on the
   same chunks (cluster start-up not counted: it is paid once per command or service, and measured on its own;
   a process pool is started by every run, so its start-up is in its times);
2. overhead per task: Dask with one worker against the same chunks run in this process; and the round trip of a
   task that computes nothing;
3. the chunk size (blocks per task) at which that overhead is under 5% of the chunk's work, per engine;
4. worker start-up with the compiled kernel: a fresh worker's first kernel chunk with Numba's on-disk cache, and
   the kernel compiled from an empty cache (one process);
5. a PROJECTION (not a measurement) of a 100,000-position book x 100 stress scenarios x 100,000 paths on N
   workers, from the kernel's per-block cost measured at 1,000, 10,000 and 40,000 positions (fitted linear in
   positions) and the measured per-task overhead.

Every run's numbers are checked equal to the in-process run's (``==``).
Run: ``python benchmarks/bench_distributed.py`` (or ``make bench``); ``SEQRISK_BENCH_QUICK=1`` shrinks it.
Writes ``benchmarks/results/distributed.json``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
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
PAIRS = 3
KERNEL_BLOCKS = 16 if QUICK else 64
KERNEL_BIG_BLOCKS = 32 if QUICK else 512
KERNEL_CHUNK = 8 if QUICK else 64
TWIN_BLOCKS = 4 if QUICK else 32
HORIZON_S = 7 * 86400.0
STRESS = [{"chain": "arbitrum", "duration_s": 7200.0}]


def _desk() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "examples" / "desk.yaml").read_text()))


def _book(doc: dict[str, Any], copies: int = 1) -> Any:
    from seqrisk.catalog import load_catalog
    from seqrisk.portfolio import book_from_dict

    doc = copy.deepcopy(doc)
    doc["positions"] = [dict(p, id=f"{p['id']}-{k}") for k in range(copies) for p in doc["positions"]]
    return book_from_dict(doc, chains=load_catalog().chain_ids())


def perps_doc() -> dict[str, Any]:
    """The desk's perps and markets with one volatility regime and no jumps (a book the kernel runs)."""
    doc = _desk()
    for a in doc["assets"].values():
        a["vol"] = a["vol"]["calm"]
        a.pop("jumps", None)
    doc["positions"] = [p for p in doc["positions"] if p["type"] == "perp"]
    return doc


def _model(hawkes: bool) -> Any:
    from seqrisk.outage import OutageModel

    m = OutageModel.load(ROOT / "examples" / "outage-model.json")
    return m if hawkes else dataclasses.replace(m, hawkes=None)


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
        for name in ("measures", "positions", "chains", "components"):
            pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    except AssertionError:
        return False
    return bool(a.diagnostics == b.diagnostics)


def _nothing(shared: Any, blocks: list[int]) -> int:
    return len(blocks)


def _first_kernel_chunk_s() -> float:
    """In a worker process: wall seconds of its first kernel chunk (a one-block run of a one-perp book)."""
    from seqrisk.engine import BLOCK_PATHS, Scenario, simulate
    from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
    from seqrisk.portfolio import book_from_dict

    book = book_from_dict({"name": "warm", "assets": {"ETH": {"spot_usd": 2000.0, "vol": 0.8, "depth_usd": 1e9}},
                           "positions": [{"id": "p", "type": "perp", "chain": "arbitrum", "asset": "ETH",
                                          "side": "long", "notional_usd": 1e6, "leverage": 10}]},
                          chains=["arbitrum"])
    law = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0})
    model = OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {"downtime": 18.0}, {"downtime": law})})
    t0 = time.perf_counter()
    res = simulate(book, model, Scenario(paths=BLOCK_PATHS, seed=1, horizon_s=HORIZON_S, engine="kernel"))
    assert res.diagnostics["engine"] == 1.0
    return time.perf_counter() - t0


_COMPILE = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
from bench_distributed import _first_kernel_chunk_s
first = _first_kernel_chunk_s()
t0 = time.perf_counter()
second = _first_kernel_chunk_s()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"first_s": first, "second_s": second, "cpu_s": ru.ru_utime + ru.ru_stime}}))
"""


def compile_from_empty_cache() -> dict[str, float]:
    """The kernel compiled in a fresh process with an empty Numba cache (what a worker without one pays)."""
    import json

    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, "-c", _COMPILE.format(here=str(HERE))], capture_output=True, text=True,
                             env={**os.environ, "NUMBA_CACHE_DIR": cache}, timeout=900, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _pairs(label: str, run: dict[str, Callable[[], Any]], ref: Any, tasks: int) -> dict[str, Any]:
    """Time serial/dask1 and pool2/dask2 back to back, ``PAIRS`` times; figures of one kind of work."""
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in run}
    identical = True
    for name in ("dask1", "dask2", "pool2"):
        identical &= _same(ref, run[name]())  # warm: worker imports, the kernel's first chunk, first transfer
    for _ in range(PAIRS):
        for pair in (("serial", "dask1"), ("pool2", "dask2")):
            for name in pair:
                res, wall, cpu = _timed(run[name])
                identical &= _same(ref, res)
                times[name].append((wall, cpu))
        _say(f"{label}: " + ", ".join(f"{k} {v[-1][0]:.2f} s" for k, v in times.items()))

    def med(name: str, k: int = 0) -> float:
        return statistics.median(t[k] for t in times[name])

    per_task_s = med("serial") / tasks
    overhead_s = statistics.median((d[0] - s[0]) / tasks for s, d in zip(times["serial"], times["dask1"],
                                                                          strict=True))
    overhead_cpu_s = statistics.median((d[1] - s[1]) / tasks for s, d in zip(times["serial"], times["dask1"],
                                                                              strict=True))
    return {"tasks": tasks, "identical_numbers": identical,
            "wall_s": {k: med(k) for k in times}, "cpu_s": {k: med(k, 1) for k in times},
            "speedup_pool_1_to_2": statistics.median(s[0] / p[0] for s, p in zip(times["serial"], times["pool2"],
                                                                                  strict=True)),
            "speedup_dask_1_to_2": statistics.median(a[0] / b[0] for a, b in zip(times["dask1"], times["dask2"],
                                                                                  strict=True)),
            "dask2_over_pool2_wall": statistics.median(d[0] / p[0] for p, d in zip(times["pool2"], times["dask2"],
                                                                                    strict=True)),
            "per_task_s": per_task_s, "overhead_per_task_s": overhead_s, "overhead_per_task_cpu_s": overhead_cpu_s}


def _blocks_for_5pct(per_block_s: float, overhead_s: float) -> int:
    """Blocks per chunk k with overhead / (k * per_block + overhead) < 5%, i.e. k > 19 * overhead / per_block."""
    return max(1, math.floor(19 * max(overhead_s, 0.0) / per_block_s) + 1)


def main() -> dict[str, Any]:
    from seqrisk.distributed import DaskBackend
    from seqrisk.engine import BLOCK_PATHS, Scenario, simulate
    from seqrisk.engine.backend import LocalBackend

    logging.getLogger("distributed").setLevel(logging.ERROR)
    load0 = os.getloadavg()
    kbook, kmodel = _book(perps_doc(), 1250), _model(hawkes=False)
    tbook, tmodel = _book(_desk()), _model(hawkes=True)
    ksc = Scenario(paths=KERNEL_BLOCKS * BLOCK_PATHS, chunk_paths=BLOCK_PATHS, seed=1, horizon_s=HORIZON_S,
                   stress_outages=STRESS)
    tsc = Scenario(paths=TWIN_BLOCKS * BLOCK_PATHS, chunk_paths=BLOCK_PATHS, seed=1, horizon_s=HORIZON_S)
    works = {"kernel_1_block": (kbook, kmodel, ksc, KERNEL_BLOCKS),
             f"kernel_{KERNEL_CHUNK}_blocks": (kbook, kmodel, ksc.replace(paths=KERNEL_BIG_BLOCKS * BLOCK_PATHS,
                                                                          chunk_paths=KERNEL_CHUNK * BLOCK_PATHS),
                                              KERNEL_BIG_BLOCKS // KERNEL_CHUNK),
             "twin_1_block": (tbook, tmodel, tsc, TWIN_BLOCKS)}
    refs = {k: simulate(b, m, s) for k, (b, m, s, _) in works.items()}  # warm-up and the reference numbers
    assert refs["kernel_1_block"].diagnostics["engine"] == 1.0 and refs["twin_1_block"].diagnostics["engine"] == 0.0
    _say("reference runs done; starting a 1-worker and a 2-worker local Dask cluster")

    t0 = time.perf_counter()
    d1 = DaskBackend(workers=1).open()
    start1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    d2 = DaskBackend(workers=2).open()
    start2 = time.perf_counter() - t0
    results: dict[str, Any] = {}
    try:
        first_chunk = sorted(d2.client.run(_first_kernel_chunk_s).values())  # fresh workers, Numba's cache
        _say(f"first kernel chunk on fresh workers: {first_chunk}")
        for label, (book, model, sc, tasks) in works.items():
            run: dict[str, Callable[[], Any]] = {
                name: (lambda be=be, b=book, m=model, s=sc: simulate(b, m, s, backend=be))
                for name, be in (("serial", LocalBackend(1)), ("pool2", LocalBackend(2)), ("dask1", d1),
                                 ("dask2", d2))}
            results[label] = _pairs(label, run, refs[label], tasks) | {"blocks": math.ceil(sc.paths / BLOCK_PATHS)}
        noop: list[float] = []
        items = [[b] for b in range(32)]
        for _ in range(PAIRS):
            _, wall, _ = _timed(lambda: list(d1.map(_nothing, (kbook, ksc), items)))
            noop.append(wall / len(items))
    finally:
        d1.close()
        d2.close()
    _say("compiling the kernel from an empty cache in a fresh process")
    compiled = compile_from_empty_cache() if os.environ.get("SEQRISK_BENCH_NO_COMPILE") != "1" else {
        "first_s": float("nan"), "second_s": float("nan"), "cpu_s": float("nan")}

    noop_s = statistics.median(noop)
    overhead_s = max(results["kernel_1_block"]["overhead_per_task_s"], noop_s)
    five = {"kernel": _blocks_for_5pct(results["kernel_1_block"]["per_task_s"], overhead_s),
            "twin": _blocks_for_5pct(results["twin_1_block"]["per_task_s"],
                                     max(results["twin_1_block"]["overhead_per_task_s"], noop_s))}

    # the kernel's per-block cost against the book's size (positions), for the projection (CPU seconds)
    per_block: dict[int, float] = {}
    one, three = ksc.replace(paths=BLOCK_PATHS), ksc.replace(paths=3 * BLOCK_PATHS)
    for copies in (125, 1250, 5000):
        book = _book(perps_doc(), copies)
        simulate(book, kmodel, one)
        per_block[len(book.positions)] = statistics.median(  # two blocks more, so preparing the run cancels out
            (_timed(lambda b=book: simulate(b, kmodel, three))[2] - _timed(lambda b=book: simulate(b, kmodel, one))[2])
            / 2 for _ in range(PAIRS))
    xs, ys = list(per_block), list(per_block.values())
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = max(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) /
                sum((x - mx) ** 2 for x in xs), 0.0)
    fixed = max(my - slope * mx, 0.0)
    positions, scenarios, paths = 100_000, 100, 100_000
    block_s = fixed + slope * positions
    blocks_total = scenarios * math.ceil(paths / BLOCK_PATHS)
    chunk = max(1, min(five["kernel"], math.ceil(paths / BLOCK_PATHS)))
    tasks_total = scenarios * math.ceil(math.ceil(paths / BLOCK_PATHS) / chunk)
    projection = {n: math.ceil(tasks_total / n) * (chunk * block_s + overhead_s)
                  for n in (1, 8, 32, 128)}
    load1 = os.getloadavg()
    out = {
        "work": {"kernel": f"desk perps x1250 = {len(kbook.positions):,} positions, 2 h Arbitrum downtime, 7 days",
                 "twin": f"examples/desk.yaml ({len(tbook.positions)} positions), 7 days, {TWIN_BLOCKS} blocks",
                 "pairs": PAIRS},
        "identical_numbers": all(r["identical_numbers"] for r in results.values()),
        "runs": results,
        "cluster_start_s": {"1_worker": start1, "2_workers": start2},
        "noop_task_s": noop_s,
        "blocks_per_chunk_for_5pct_overhead": five,
        "kernel_start": {"first_chunk_fresh_worker_cached_s": first_chunk,
                         "empty_cache_first_chunk_s": compiled["first_s"],
                         "empty_cache_process_cpu_s": compiled["cpu_s"], "after_compile_chunk_s": compiled["second_s"]},
        "kernel_per_block_cpu_s_by_positions": per_block,
        "projection": {"what": f"PROJECTION, not measured: {positions:,} perps x {scenarios} stress scenarios x "
                               f"{paths:,} paths on the compiled kernel, tasks of {chunk} blocks, per-block cost "
                               "fitted linear in positions (1,000-40,000 measured), measured overhead per task, "
                               "no transfer cost beyond it, workers already started",
                       "per_block_s": block_s, "blocks": blocks_total, "tasks": tasks_total,
                       "wall_s_by_workers": projection},
        "load_average": {"before": load0, "after": load1, "cpus": os.cpu_count()},
    }
    _print(out)
    return out


def _print(r: dict[str, Any]) -> None:
    la = r["load_average"]
    print(f"kernel work: {r['work']['kernel']}; twin work: {r['work']['twin']}; median of {r['work']['pairs']} "
          f"pairs; load average {la['before'][0]:.1f} -> {la['after'][0]:.1f} on {la['cpus']} CPUs")
    print(f"{'work':<18}{'blocks/tasks':>13}{'serial':>9}{'pool2':>9}{'dask1':>9}{'dask2':>9}   wall s (CPU s)"
          f"{'pool 1->2':>11}{'dask 1->2':>11}{'dask ovh/task':>15}")
    for name, x in r["runs"].items():
        w, c = x["wall_s"], x["cpu_s"]
        print(f"{name:<18}{x['blocks']:>8}/{x['tasks']:<4}"
              + "".join(f"{w[k]:>9.2f}" for k in ("serial", "pool2", "dask1", "dask2"))
              + f"   ({c['serial']:.1f} {c['pool2']:.1f} {c['dask1']:.1f} {c['dask2']:.1f})"
              + f"{x['speedup_pool_1_to_2']:>10.2f}x{x['speedup_dask_1_to_2']:>10.2f}x"
              + f"{x['overhead_per_task_s'] * 1e3:>12.1f} ms")
    print(f"numbers identical on every backend: {r['identical_numbers']}")
    k = r["kernel_start"]
    print(f"empty Dask task round trip {r['noop_task_s'] * 1e3:.1f} ms; overhead < 5% from "
          f"{r['blocks_per_chunk_for_5pct_overhead']['kernel']} blocks per task (kernel), "
          f"{r['blocks_per_chunk_for_5pct_overhead']['twin']} (twin); cluster start "
          f"{r['cluster_start_s']['1_worker']:.1f} s (1 worker), {r['cluster_start_s']['2_workers']:.1f} s (2)")
    print(f"kernel on a fresh worker: first chunk {max(k['first_chunk_fresh_worker_cached_s']):.2f} s from Numba's "
          f"cache; {k['empty_cache_first_chunk_s']:.1f} s compiling from an empty cache "
          f"({k['empty_cache_process_cpu_s']:.1f} CPU s in that process)")
    print("kernel CPU per block by positions: " + ", ".join(
        f"{n:,}: {s * 1e3:.1f} ms" for n, s in r["kernel_per_block_cpu_s_by_positions"].items()))
    p = r["projection"]
    print(p["what"])
    print(f"  per block {p['per_block_s'] * 1e3:.0f} ms, {p['blocks']:,} blocks in {p['tasks']:,} tasks: " + ", ".join(
        f"{n} workers {s / 60:.1f} min" for n, s in p["wall_s_by_workers"].items()))


if __name__ == "__main__":
    import json

    res = main()
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "distributed.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    sys.exit(0 if res["identical_numbers"] else 1)
