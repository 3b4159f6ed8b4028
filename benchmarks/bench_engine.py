"""Benchmark of the loss engine against the time-stepping references of ../shared/bench.

The reference model (SPEC.md there) is expressed in seqrisk's own inputs: the
1,000-perp book from ``book.csv`` (read where it lies, never copied), one chain
with lognormal outages at 0.05 per day (5 per day under ``--stress``), GBM at
80 % volatility, square-root impact with eta 0.1 and depth 1e9 USD, a one-day
horizon. Then:

1. **speed in pairs**: ``reference_numpy.py`` and seqrisk run back to back,
   each in its own process, at least three pairs per mode (base rate, plain
   sampling; stress rate); each pair gives the ratio of paths per CPU second
   (and per wall second); the figure is the median pair with the range;
2. **agreement**: seqrisk's figures against reference values computed once
   with 400,000 paths (cached in ``benchmarks/results/reference_400k.json``,
   keyed by the yardstick's files), as z-scores;
3. **memory and time at scale**: a 10,000-position book at 10 million paths
   in four modes (base rate with plain sampling, base rate with conditional
   sampling, the stress rate, and the engine's stress mode: a 2-hour outage
   on every path), each in its own process: peak RSS, CPU and wall seconds;
4. **the machine's limit**: the rate at which the machine draws the kernel's
   random numbers (uniforms and normals, and the idle path: one uniform and a
   comparison, in a compiled loop), against what each run draws: the share
   of a run's CPU time that drawing its random numbers alone would take. The
   load average at the start and the end says how busy the machine was.

Run: ``make bench`` (or ``python benchmarks/bench_engine.py``); ``SEQRISK_BENCH_QUICK=1`` shrinks every run.
Writes ``benchmarks/results/engine.json``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH = Path(os.environ.get("SEQRISK_BENCH_DIR", ROOT.parent / "shared" / "bench"))
if not (BENCH / "book.csv").exists() and Path("/work/shared/bench/book.csv").exists():
    BENCH = Path("/work/shared/bench")
RESULTS = HERE / "results"
QUICK = os.environ.get("SEQRISK_BENCH_QUICK") == "1"
SEED = 12345
PAIRS = 5


def _sizes() -> dict[str, int]:
    if QUICK:
        return dict(ref_base=4_000, ref_stress=1_000, base=10_000_000, stress=200_000, cond=1_000_000,
                    ref_values=20_000, huge=1_000_000, twin_base=100_000, twin_stress=4_000)
    return dict(ref_base=20_000, ref_stress=5_000, base=100_000_000, stress=2_000_000, cond=10_000_000,
                ref_values=400_000, huge=10_000_000, twin_base=1_000_000, twin_stress=40_000)


# ----------------------------------------------------------------------------- model in seqrisk inputs
def spec_positions(n: int | None = None) -> list[dict[str, Any]]:
    """Perps of book.csv (n = None), or an n-position book drawn by the same recipe (SPEC.md section 3)."""
    if n is None:
        with open(BENCH / "book.csv") as f:
            rows = list(csv.DictReader(f))
        return [{"id": f"p{r['id']}", "type": "perp", "chain": "arbitrum", "asset": "ETH",
                 "size": float(r["side"]) * float(r["units"]), "leverage": float(r["leverage"]),
                 "maintenance_margin": 0.05, "liquidation_penalty": 0.05} for r in rows]
    import numpy as np

    rng = np.random.default_rng(20240601)
    side = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    notional = np.clip(rng.lognormal(math.log(1e5), math.log(10.0) / 2.0, n), 1e4, 1e6)
    lev = rng.uniform(2.0, 12.5, n)
    return [{"id": f"p{i}", "type": "perp", "chain": "arbitrum", "asset": "ETH",
             "size": float(side[i] * notional[i] / 2000.0), "leverage": float(lev[i]),
             "maintenance_margin": 0.05, "liquidation_penalty": 0.05} for i in range(n)]


# A delta-hedged short call on the yardstick's asset: a book holding it runs on the vectorised engine.
OPTION = {"id": "hedged-call", "type": "option", "chain": "arbitrum", "asset": "ETH", "kind": "call",
          "quantity": -500.0, "strike_usd": 2000.0, "expiry": "1d", "implied_vol": 0.8}


def spec_inputs(rate_per_day: float, n_positions: int | None = None, option: bool = False) -> tuple[Any, Any]:
    """The yardstick's book (or an ``n_positions`` book by its recipe; with ``option``, plus :data:`OPTION`)
    and outage model in seqrisk's inputs."""
    from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
    from seqrisk.portfolio import book_from_dict

    book = book_from_dict({"name": "spec", "assets": {"ETH": {"spot_usd": 2000.0, "vol": 0.8, "depth_usd": 1e9,
                                                              "impact_eta": 0.1}},
                           "positions": spec_positions(n_positions) + ([OPTION] if option else [])},
                          chains=["arbitrum"])
    law = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0})
    model = OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {"downtime": rate_per_day * 365.0},
                                                           {"downtime": law})})
    return book, model


def _scenario(paths: int, conditional: bool, stress_outage: bool = False, **kw: Any) -> Any:
    from seqrisk.engine import Scenario, StressOutage

    if stress_outage:  # the engine's stress mode: a 2-hour outage starting now on every path, no random outage
        kw["stress_outages"] = [StressOutage(chain="arbitrum", duration_s=7200.0)]
    return Scenario(paths=paths, seed=SEED, horizon_s=86400.0, forced_inclusion=False, turnover_per_day=0.0,
                    cost_of_capital=0.0, conditional_sampling=conditional, keep_paths=False,
                    max_cascade_rounds=1000, **kw)


# ----------------------------------------------------------------------------- child processes
def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(kind: str, paths: int, rate: float, n_positions: int | None, conditional: bool,
          stress_outage: bool = False, engine: str = "auto", option: bool = False) -> dict[str, Any]:
    """One seqrisk run in this process: figures, CPU and wall seconds, peak RSS. A first small run loads the
    compiled kernel (from its on-disk cache); its time is reported apart."""
    from seqrisk.engine import simulate

    book, model = spec_inputs(rate, n_positions, option)
    sc = _scenario(paths, conditional, stress_outage, engine=engine)
    w0 = time.perf_counter()
    simulate(book, model, sc.replace(paths=4096))
    t_load = time.perf_counter() - w0
    rss0 = _peak_rss_mib()
    c0, w0 = time.process_time(), time.perf_counter()
    res = simulate(book, model, sc)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0

    def fig(persp: str) -> dict[str, float]:
        el, el_se = res.value("expected_loss", perspective=persp)
        es, es_se = res.value("es", perspective=persp, level=0.99)
        var, _ = res.value("var", perspective=persp, level=0.99)
        return {"expected_loss_usd": el, "expected_loss_se": el_se, "var_99_usd": var, "es_99_usd": es,
                "es_99_se": es_se}

    pl, pl_se = res.value("p_liquidation")
    return {"impl": "seqrisk", "kind": kind, "paths": paths, "positions": len(book.positions),
            "rate_per_day": rate, "conditional": conditional, "stress_outage": stress_outage,
            "engine": "kernel" if res.diagnostics["engine"] else "numpy", "cpu_s": cpu, "wall_s": wall,
            "first_call_s": t_load, "paths_per_cpu_s": paths / cpu, "paths_per_wall_s": paths / wall,
            "holder": fig("holder"), "venue": fig("venue"),
            "p_any_liquidation": pl, "p_any_liquidation_se": pl_se, "diagnostics": res.diagnostics,
            "peak_rss_mib": _peak_rss_mib(), "rss_before_run_mib": rss0}


def ceiling(n: int) -> dict[str, float]:
    """The machine's rate of drawing the kernel's random numbers, in compiled loops: uniforms, normals, and idle
    paths (one uniform and a comparison: what a path without an outage costs at the least)."""
    import numpy as np
    from numba import njit

    from seqrisk.engine.kernel_rng import entropy_words, normal, seed_state, uniform

    @njit(cache=False)
    def idle(words: np.ndarray, n: int, thr: float) -> int:
        st = np.zeros(5, np.uint64)
        k = 0
        for b in range(n // 4096):
            seed_state(words, b, 2, st)
            for _ in range(4096):
                if uniform(st) > thr:
                    k += 1
        return k

    @njit(cache=False)
    def uniforms(words: np.ndarray, n: int) -> float:
        st = np.zeros(5, np.uint64)
        seed_state(words, 0, 2, st)
        x = 0.0
        for _ in range(n):
            x += uniform(st)
        return x

    @njit(cache=False)
    def normals(words: np.ndarray, n: int) -> float:
        st = np.zeros(5, np.uint64)
        sp = np.zeros(1)
        seed_state(words, 0, 4, st)
        x = 0.0
        for _ in range(n):
            x += normal(st, sp)
        return x

    w = entropy_words(SEED)
    out = {}
    for name, fn, args in (("idle_paths", idle, (math.exp(-0.05),)), ("uniforms", uniforms, ()),
                           ("normals", normals, ())):
        fn(w, 4096, *args)
        best = 0.0
        for _ in range(3):  # the best of three: a ceiling
            c0 = time.process_time()
            fn(w, n, *args)
            best = max(best, n / (time.process_time() - c0))
        out[f"{name}_per_cpu_s"] = best
    return out


def draws_per_path(run: dict[str, Any]) -> tuple[float, float]:
    """Uniforms and normals the kernel drew per path in ``run`` (one asset, downtime cells, lognormal durations):
    the count (1 uniform), per arrival its cell and start (2 uniforms) and duration (1 normal), per downtime
    the prices at its start and end (2 normals) and two bridge normals (drawn whether used or not)."""
    d, n = run["diagnostics"], run["paths"]
    return (n + 2 * d["arrivals"]) / n, (d["arrivals"] + 4 * d["events"]) / n


def limit_share(run: dict[str, Any], ceil: dict[str, float]) -> dict[str, float]:
    """The share of ``run``'s CPU time that drawing its random numbers alone takes at the ceiling rates."""
    u, z = draws_per_path(run)
    t = u / ceil["uniforms_per_cpu_s"] + z / ceil["normals_per_cpu_s"]
    return {"uniforms_per_path": u, "normals_per_path": z, "draw_time_per_path_ns": t * 1e9,
            "run_time_per_path_ns": 1e9 / run["paths_per_cpu_s"], "share_of_limit": t * run["paths_per_cpu_s"]}


def _run_child(kind: str, paths: int, rate: float, n_positions: int | None, conditional: bool,
               stress_outage: bool = False, engine: str = "auto", option: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(paths), str(rate),
           str(n_positions or 0), "1" if conditional else "0", "1" if stress_outage else "0", engine,
           "1" if option else "0"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT,
                         env=os.environ | {"PYTHONPATH": str(ROOT / "src")})
    return json.loads(out.stdout.strip().splitlines()[-1])


_REF_WRAPPER = """
import json, resource, runpy, sys, time
sys.path.insert(0, sys.argv[1])
script, args = sys.argv[2], sys.argv[3:]
sys.argv = [script, *args]
c0, w0 = time.process_time(), time.perf_counter()
runpy.run_path(script, run_name="__main__")
sys.stdout.flush()
print(json.dumps({"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0}))
"""


def _run_reference(paths: int, stress: bool = False) -> dict[str, Any]:
    """``reference_numpy.py`` in its own process; CPU and wall seconds of its in-process run."""
    args = ["--paths", str(paths), "--seed", str(SEED), "--json"] + (["--stress"] if stress else [])
    out = subprocess.run([sys.executable, "-c", _REF_WRAPPER, str(BENCH), str(BENCH / "reference_numpy.py"), *args],
                         capture_output=True, text=True, check=True, cwd=BENCH)
    lines = out.stdout.strip().splitlines()
    rec = json.loads(lines[-2])
    rec.update(json.loads(lines[-1]))
    rec["paths_per_cpu_s"] = paths / rec["cpu_s"]
    rec["paths_per_wall_s"] = paths / rec["wall_s"]
    return rec


def _reference_values(paths: int) -> dict[str, Any]:
    """The yardstick's figures at ``paths`` paths (base and stress), computed once and cached by file hash."""
    h = hashlib.sha256()
    for f in ("reference_numpy.py", "refcommon.py", "book.csv"):
        h.update((BENCH / f).read_bytes())
    key = f"{h.hexdigest()[:16]}-{paths}-{SEED}"
    cache = RESULTS / f"reference_{paths // 1000}k.json"
    if cache.exists():
        got = json.loads(cache.read_text())
        if got.get("key") == key:
            return dict(got)
    print(f"  computing the reference values with {paths:,} paths (once; cached in {cache.name}) ...", flush=True)
    out = {"key": key, "paths": paths, "seed": SEED, "base": _run_reference(paths), "stress":
           _run_reference(paths, stress=True)}
    RESULTS.mkdir(exist_ok=True)
    cache.write_text(json.dumps(out, indent=2) + "\n")
    return out


# ----------------------------------------------------------------------------- comparison
def _z(a: float, sa: float, b: float, sb: float) -> float | None:
    s = math.sqrt(sa * sa + sb * sb)
    return (a - b) / s if s > 0 else (0.0 if a == b else None)


def agreement(ours: dict[str, Any], ref: dict[str, Any], persp: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for p in persp:
        for m, se in (("expected_loss_usd", "expected_loss_se"), ("es_99_usd", "es_99_se")):
            rows.append({"figure": f"{p} {m}", "seqrisk": ours[p][m], "seqrisk_se": ours[p][se],
                         "reference": ref[p][m], "reference_se": ref[p][se],
                         "z": _z(ours[p][m], ours[p][se], ref[p][m], ref[p][se])})
    rows.append({"figure": "p_any_liquidation", "seqrisk": ours["p_any_liquidation"],
                 "seqrisk_se": ours["p_any_liquidation_se"], "reference": ref["p_any_liquidation"],
                 "reference_se": ref["p_any_liquidation_se"],
                 "z": _z(ours["p_any_liquidation"], ours["p_any_liquidation_se"], ref["p_any_liquidation"],
                         ref["p_any_liquidation_se"])})
    return rows


def _efficiency(run: dict[str, Any], key: str = "cpu_s") -> float:
    """Work-normalised efficiency of the holder expected loss: 1 / (se^2 * seconds)."""
    se = run["holder"]["expected_loss_se"]
    return 1.0 / (se * se * run[key]) if se > 0 else float("nan")


def _pairs(mode: str, sz: dict[str, int]) -> dict[str, Any]:
    stress = mode == "stress"
    rows = []
    for i in range(PAIRS):
        ref = _run_reference(sz["ref_stress" if stress else "ref_base"], stress=stress)
        ours = _run_child(mode, sz[mode], 5.0 if stress else 0.05, None, False)
        rows.append({"pair": i, "reference_paths_per_cpu_s": ref["paths_per_cpu_s"],
                     "reference_paths_per_wall_s": ref["paths_per_wall_s"],
                     "seqrisk_paths_per_cpu_s": ours["paths_per_cpu_s"],
                     "seqrisk_paths_per_wall_s": ours["paths_per_wall_s"],
                     "ratio_cpu": ours["paths_per_cpu_s"] / ref["paths_per_cpu_s"],
                     "ratio_wall": ours["paths_per_wall_s"] / ref["paths_per_wall_s"], "seqrisk_run": ours})
        print(f"  {mode} pair {i + 1}: reference {ref['paths_per_cpu_s']:,.0f} paths/CPU s, seqrisk "
              f"{ours['paths_per_cpu_s']:,.0f}: {rows[-1]['ratio_cpu']:,.0f}x (wall {rows[-1]['ratio_wall']:,.0f}x)",
              flush=True)
    cpu = [r["ratio_cpu"] for r in rows]
    wall = [r["ratio_wall"] for r in rows]
    return {"pairs": rows, "ratio_cpu_median": statistics.median(cpu), "ratio_cpu_range": [min(cpu), max(cpu)],
            "ratio_wall_median": statistics.median(wall), "ratio_wall_range": [min(wall), max(wall)],
            "seqrisk_engine": rows[0]["seqrisk_run"]["engine"]}


def main() -> dict[str, Any]:
    if not (BENCH / "book.csv").exists() or not (BENCH / "reference_numpy.py").exists():
        msg = f"the benchmark yardstick is not at {BENCH} (set SEQRISK_BENCH_DIR)"
        print(f"skipped: {msg}")
        return {"skipped": True, "reason": msg}
    sz = _sizes()
    load0 = os.getloadavg()
    t0 = time.time()  # clock-ok: elapsed time of the benchmark
    print(f"engine benchmark (quick={QUICK}); yardstick {BENCH}; load average {load0[0]:.2f}", flush=True)
    refv = _reference_values(sz["ref_values"])
    speed = {m: _pairs(m, sz) for m in ("base", "stress")}
    base_run = speed["base"]["pairs"][int(sorted(range(PAIRS), key=lambda i: speed["base"]["pairs"][i][
        "ratio_cpu"])[PAIRS // 2])]["seqrisk_run"]
    stress_run = speed["stress"]["pairs"][int(sorted(range(PAIRS), key=lambda i: speed["stress"]["pairs"][i][
        "ratio_cpu"])[PAIRS // 2])]["seqrisk_run"]
    cond = _run_child("conditional", sz["cond"], 0.05, None, True)
    print(f"  seqrisk conditional {cond['paths_per_cpu_s']:,.0f} paths/CPU s", flush=True)
    fallback = {}
    for mode, rate, paths in (("base", 0.05, sz["twin_base"]), ("stress", 5.0, sz["twin_stress"])):
        for name, eng, opt in (("vectorised engine", "numpy", False), ("with a hedged option (auto)", "auto", True)):
            r = _run_child(f"twin {mode} {name}", paths, rate, None, False, False, eng, opt)
            fallback[f"{mode}, {name}"] = {"paths": paths, "engine": r["engine"],
                                           "paths_per_cpu_s": r["paths_per_cpu_s"],
                                           "kernel_speedup": (base_run if mode == "base" else stress_run)[
                                               "paths_per_cpu_s"] / r["paths_per_cpu_s"]}
            print(f"  {mode}, {name}: {r['paths_per_cpu_s']:,.0f} paths/CPU s on the {r['engine']} engine", flush=True)
    memory = {}
    for mode, rate, conditional, so in (("base", 0.05, False, False), ("conditional", 0.05, True, False),
                                        ("stress rate", 5.0, False, False), ("stress outage", 0.05, False, True)):
        memory[mode] = _run_child(f"10k positions, {mode}", sz["huge"], rate, 10_000, conditional, so)
        print(f"  10,000 positions x {sz['huge']:,} paths, {mode}: {memory[mode]['cpu_s']:.1f} CPU s, "
              f"{memory[mode]['wall_s']:.1f} s wall, peak {memory[mode]['peak_rss_mib']:,.0f} MiB", flush=True)
    ceil = json.loads(subprocess.run([sys.executable, str(Path(__file__).resolve()), "--ceiling",
                                      str(sz["base"] // 2)], capture_output=True, text=True, check=True, cwd=ROOT,
                                     env=os.environ | {"PYTHONPATH": str(ROOT / "src")}).stdout.splitlines()[-1])
    load1 = os.getloadavg()
    out: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv) + (" with SEQRISK_BENCH_QUICK=1" if QUICK else ""),
        "seed": SEED, "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),  # clock-ok: when it ran
        "load_average_start": list(load0), "load_average_end": list(load1), "cpus": os.cpu_count(),
        "elapsed_s": time.time() - t0,  # clock-ok
        "speed": speed,
        "ceiling": ceil | {"base_fraction_of_idle_ceiling": base_run["paths_per_cpu_s"] / ceil["idle_paths_per_cpu_s"]},
        "limit": {"base": limit_share(base_run, ceil), "stress": limit_share(stress_run, ceil),
                  "conditional": limit_share(cond, ceil)},
        "reference_values": {"paths": refv["paths"], "key": refv["key"]},
        "agreement_base": agreement(base_run, refv["base"], ("holder",)),
        "agreement_conditional": agreement(cond, refv["base"], ("holder",)),
        "agreement_stress": agreement(stress_run, refv["stress"], ("holder", "venue")),
        "conditional": {"paths_per_cpu_s": cond["paths_per_cpu_s"],
                        "efficiency_vs_plain": _efficiency(cond) / _efficiency(base_run)},
        "fallback": fallback,
        "memory": {m: {"positions": r["positions"], "paths": r["paths"], "wall_s": r["wall_s"], "cpu_s": r["cpu_s"],
                       "peak_rss_mib": r["peak_rss_mib"], "rss_before_run_mib": r["rss_before_run_mib"],
                       "within_1_gib": r["peak_rss_mib"] < 1024,
                       "under_a_minute_cpu": r["cpu_s"] < 60, "under_a_minute_wall": r["wall_s"] < 60,
                       "us_per_path_cpu": r["cpu_s"] / r["paths"] * 1e6, "engine": r["engine"]}
                   for m, r in memory.items()},
        "runs": {"conditional": cond, "memory": memory},
    }
    _print(out)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "engine.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    (RESULTS / "engine.md").write_text(markdown(out))
    return out


def markdown(out: dict[str, Any]) -> str:
    """The run's tables in Markdown, as the README and docs/engine.md quote them."""
    sp, lim, c = out["speed"], out["limit"], out["ceiling"]
    rows = ["| measure | result |", "|---|---:|"]
    for m in ("base", "stress"):
        s = sp[m]
        p = s["pairs"]
        ref = statistics.median(r["reference_paths_per_cpu_s"] for r in p)
        ours = statistics.median(r["seqrisk_paths_per_cpu_s"] for r in p)
        rows.append(f"| {m} rate: seqrisk / `reference_numpy.py`, paths per CPU second, median of {len(p)} pairs "
                    f"[range] | **{s['ratio_cpu_median']:,.0f}x** [{s['ratio_cpu_range'][0]:,.0f}-"
                    f"{s['ratio_cpu_range'][1]:,.0f}] |")
        rows.append(f"| {m} rate: the same in wall seconds | {s['ratio_wall_median']:,.0f}x "
                    f"[{s['ratio_wall_range'][0]:,.0f}-{s['ratio_wall_range'][1]:,.0f}] |")
        rows.append(f"| {m} rate: paths per CPU second, reference / seqrisk (medians) | {ref:,.0f} / {ours:,.0f} |")
    rows.append(f"| conditional sampling: paths per CPU second; work-normalised efficiency against plain sampling | "
                f"{out['conditional']['paths_per_cpu_s']:,.0f}; {out['conditional']['efficiency_vs_plain']:.1f}x |")
    for m, r in lim.items():
        rows.append(f"| {m}: time drawing the random numbers alone, share of the run's time (the random-number "
                    f"limit) | {r['draw_time_per_path_ns']:,.1f} of {r['run_time_per_path_ns']:,.1f} ns per path: "
                    f"{r['share_of_limit']:.0%} |")
    rows.append(f"| the machine's ceilings, per CPU second (compiled loops) | {c['uniforms_per_cpu_s'] / 1e6:,.0f}M "
                f"uniforms, {c['normals_per_cpu_s'] / 1e6:,.0f}M normals, {c['idle_paths_per_cpu_s'] / 1e6:,.0f}M "
                f"idle paths |")
    for m, r in out["fallback"].items():
        rows.append(f"| {m} ({r['engine']}): paths per CPU second; the kernel's speed-up | "
                    f"{r['paths_per_cpu_s']:,.0f}; {r['kernel_speedup']:,.0f}x |")
    for m, r in out["memory"].items():
        rows.append(f"| 10,000 positions x {r['paths']:,} paths, {m}: CPU s, wall s, peak RSS (before the run) | "
                    f"{r['cpu_s']:,.1f} s, {r['wall_s']:,.1f} s, **{r['peak_rss_mib']:,.0f} MiB** "
                    f"({r['rss_before_run_mib']:,.0f}) |")
    agree = ["| figure | base, plain | base, conditional | stress |", "|---|---:|---:|---:|"]
    keyed = {k: {r["figure"]: r["z"] for r in out[k]} for k in ("agreement_base", "agreement_conditional",
                                                                  "agreement_stress")}
    for fig in keyed["agreement_stress"]:
        zs = [keyed[k].get(fig) for k in ("agreement_base", "agreement_conditional", "agreement_stress")]
        agree.append(f"| {fig} | " + " | ".join("" if z is None else f"{z:+.2f}" for z in zs) + " |")
    head = (f"One run of the engine benchmark: {out['date_utc']}, seed {out['seed']}, load average "
            f"{out['load_average_start'][0]:.1f} at the start and {out['load_average_end'][0]:.1f} at the end "
            f"({out['cpus']} CPUs), {out['elapsed_s']:.0f} s.")
    return "\n".join([head, "", *rows, "", f"Agreement z-scores against {out['reference_values']['paths']:,}-path "
                      "reference values:", "", *agree, ""])


def _print(out: dict[str, Any]) -> None:
    print(f"\nspeed, paired with reference_numpy.py in the same run ({PAIRS} pairs; paths per CPU second)")
    for m in ("base", "stress"):
        s = out["speed"][m]
        print(f"  {m:<7} median {s['ratio_cpu_median']:,.0f}x [{s['ratio_cpu_range'][0]:,.0f}-"
              f"{s['ratio_cpu_range'][1]:,.0f}]; wall {s['ratio_wall_median']:,.0f}x "
              f"[{s['ratio_wall_range'][0]:,.0f}-{s['ratio_wall_range'][1]:,.0f}] ({s['seqrisk_engine']})")
    c = out["ceiling"]
    print(f"\nthe machine's limit: {c['uniforms_per_cpu_s']:,.0f} uniforms, {c['normals_per_cpu_s']:,.0f} normals, "
          f"{c['idle_paths_per_cpu_s']:,.0f} idle paths per CPU second (compiled loops, best of 3)")
    for m, r in out["limit"].items():
        print(f"  {m:<12} {r['uniforms_per_path']:6.2f} uniforms + {r['normals_per_path']:6.2f} normals per path: "
              f"{r['draw_time_per_path_ns']:8.1f} ns of {r['run_time_per_path_ns']:8.1f} ns per path, "
              f"{r['share_of_limit']:.0%} of the random-number limit")
    print(f"  base reaches {c['base_fraction_of_idle_ceiling']:.0%} of the idle-path ceiling")
    print(f"  conditional sampling: {out['conditional']['paths_per_cpu_s']:,.0f} paths/CPU s, work-normalised "
          f"efficiency {out['conditional']['efficiency_vs_plain']:.1f}x plain sampling")
    for title, key in (("agreement, base rate, plain sampling", "agreement_base"),
                       ("agreement, base rate, conditional sampling", "agreement_conditional"),
                       ("agreement, stress rate", "agreement_stress")):
        print(f"\n{title} (reference: {out['reference_values']['paths']:,} paths)")
        for r in out[key]:
            z = "n/a" if r["z"] is None else f"{r['z']:+.2f}"
            print(f"  {r['figure']:<28}{r['seqrisk']:>16,.6g} ± {r['seqrisk_se']:<12,.3g}"
                  f"{r['reference']:>16,.6g} ± {r['reference_se']:<12,.3g} z {z}")
    print("\nwhat falls back to the vectorised engine, and its cost (the same yardstick model)")
    for m, r in out["fallback"].items():
        print(f"  {m:<38} {r['paths_per_cpu_s']:>12,.0f} paths/CPU s ({r['engine']}); the kernel is "
              f"{r['kernel_speedup']:,.1f}x faster on the yardstick")
    print("\nmemory and time, 10,000 positions, each in its own process")
    for m, r in out["memory"].items():
        print(f"  {m:<14} {r['paths']:>12,} paths  {r['cpu_s']:6.1f} CPU s  {r['wall_s']:6.1f} s wall  "
              f"peak {r['peak_rss_mib']:5,.0f} MiB, {r['rss_before_run_mib']:3,.0f} before the run "
              f"({'under' if r['within_1_gib'] else 'OVER'} 1 GiB, "
              f"{'under' if r['under_a_minute_wall'] else 'OVER'} a minute)")
    print(f"load average {out['load_average_start'][0]:.2f} at the start, {out['load_average_end'][0]:.2f} at the end "
          f"({out['cpus']} CPUs)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        k, n, r, npos, c, so, eng, opt = sys.argv[2:10]
        print(json.dumps(child(k, int(n), float(r), int(npos) or None, c == "1", so == "1", eng, opt == "1"),
                         default=float))
    elif len(sys.argv) > 1 and sys.argv[1] == "--ceiling":
        print(json.dumps(ceiling(int(sys.argv[2]))))
    else:
        main()
