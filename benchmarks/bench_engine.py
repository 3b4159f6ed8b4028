"""Benchmark of the loss engine against the time-stepping references of ../shared/bench.

The reference model (SPEC.md there) is expressed in seqrisk's own inputs: the
1,000-perp book from ``book.csv`` (read where it lies, never copied), one chain
with lognormal outages at 0.05 per day (5 per day under ``--stress``), GBM at
80 % volatility, square-root impact with eta 0.1 and depth 1e9 USD, a one-day
horizon. Then:

1. agreement of holder and venue expected loss, ES99 and P(any liquidation)
   with ``reference_numpy.py`` within Monte Carlo error (z-scores; the venue on
   the stress variant, where bad debt is not a handful of paths);
2. paths per second of seqrisk (plain event sampling, and the rare-event
   conditional sampler, whose work-normalised efficiency 1 / (se^2 * time) is
   the fair comparison) and of both references, run in one go, with ratios and
   peak memory (each run in its own process);
3. a 10,000-position book at 1 million paths, and the memory of 10 million
   paths on it (issue 4, part 8).

Run: ``python benchmarks/bench_engine.py`` (or ``make bench``); ``SEQRISK_BENCH_QUICK=1`` shrinks every run.
Writes ``benchmarks/results/engine.json``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH = Path(os.environ.get("SEQRISK_BENCH_DIR", ROOT.parent / "shared" / "bench"))
RESULTS = HERE / "results"
QUICK = os.environ.get("SEQRISK_BENCH_QUICK") == "1"
SEED = 12345


def _sizes() -> dict[str, int]:
    if QUICK:
        return dict(ref_numpy=5_000, ref_python=50, ref_stress=2_000, plain=200_000, cond=100_000, stress=20_000,
                    big=100_000, huge=1_000_000)
    return dict(ref_numpy=20_000, ref_python=200, ref_stress=10_000, plain=2_000_000, cond=1_000_000,
                stress=200_000, big=1_000_000, huge=10_000_000)


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


def spec_inputs(rate_per_day: float, n_positions: int | None = None) -> tuple[Any, Any]:
    from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
    from seqrisk.portfolio import book_from_dict

    book = book_from_dict({"name": "spec", "assets": {"ETH": {"spot_usd": 2000.0, "vol": 0.8, "depth_usd": 1e9,
                                                              "impact_eta": 0.1}},
                           "positions": spec_positions(n_positions)}, chains=["arbitrum"])
    law = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0})
    model = OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {"downtime": rate_per_day * 365.0},
                                                           {"downtime": law})})
    return book, model


def _scenario(paths: int, conditional: bool, **kw: Any) -> Any:
    from seqrisk.engine import Scenario

    return Scenario(paths=paths, seed=SEED, horizon_s=86400.0, forced_inclusion=False, turnover_per_day=0.0,
                    cost_of_capital=0.0, conditional_sampling=conditional, keep_paths=False,
                    max_cascade_rounds=1000, **kw)


# ----------------------------------------------------------------------------- child processes
def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(kind: str, paths: int, rate: float, n_positions: int | None, conditional: bool) -> dict[str, Any]:
    """One seqrisk run in this process: figures, in-process time and peak RSS."""
    from seqrisk.engine import simulate

    book, model = spec_inputs(rate, n_positions)
    sc = _scenario(paths, conditional)
    rss0 = _peak_rss_mib()
    t0 = time.perf_counter()
    res = simulate(book, model, sc)
    dt = time.perf_counter() - t0

    def fig(persp: str) -> dict[str, float]:
        el, el_se = res.value("expected_loss", perspective=persp)
        es, es_se = res.value("es", perspective=persp, level=0.99)
        var, _ = res.value("var", perspective=persp, level=0.99)
        return {"expected_loss_usd": el, "expected_loss_se": el_se, "var_99_usd": var, "es_99_usd": es,
                "es_99_se": es_se}

    pl, pl_se = res.value("p_liquidation")
    return {"impl": "seqrisk", "kind": kind, "paths": paths, "positions": len(book.positions),
            "rate_per_day": rate, "conditional": conditional, "t_compute_s": dt, "paths_per_s": paths / dt,
            "holder": fig("holder"), "venue": fig("venue"), "p_any_liquidation": pl, "p_any_liquidation_se": pl_se,
            "diagnostics": res.diagnostics, "peak_rss_mib": _peak_rss_mib(), "rss_before_run_mib": rss0}


def _run_child(kind: str, paths: int, rate: float, n_positions: int | None, conditional: bool) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(paths), str(rate),
           str(n_positions or 0), "1" if conditional else "0"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT,
                         env=os.environ | {"PYTHONPATH": str(ROOT / "src")})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run_reference(script: str, paths: int, stress: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, script, "--paths", str(paths), "--seed", str(SEED), "--json"] + (["--stress"] if stress
                                                                                           else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=BENCH)
    return json.loads(out.stdout.strip().splitlines()[-1])


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


def _efficiency(run: dict[str, Any]) -> float:
    """Work-normalised efficiency of the holder expected loss: 1 / (se^2 * seconds)."""
    se = run["holder"]["expected_loss_se"]
    return 1.0 / (se * se * run["t_compute_s"]) if se > 0 else float("nan")


def main() -> dict[str, Any]:
    if not (BENCH / "book.csv").exists() or not (BENCH / "reference_numpy.py").exists():
        msg = f"the benchmark yardstick is not at {BENCH} (set SEQRISK_BENCH_DIR)"
        print(f"skipped: {msg}")
        return {"skipped": True, "reason": msg}
    sz = _sizes()
    print(f"engine benchmark (quick={QUICK}); yardstick {BENCH}", flush=True)
    ref_np = _run_reference("reference_numpy.py", sz["ref_numpy"])
    print(f"  reference_numpy   {ref_np['paths_per_s']:>12,.0f} paths/s", flush=True)
    ref_py = _run_reference("reference_python.py", sz["ref_python"])
    print(f"  reference_python  {ref_py['paths_per_s']:>12,.0f} paths/s", flush=True)
    plain = _run_child("plain", sz["plain"], 0.05, None, False)
    print(f"  seqrisk plain     {plain['paths_per_s']:>12,.0f} paths/s", flush=True)
    cond = _run_child("conditional", sz["cond"], 0.05, None, True)
    print(f"  seqrisk cond.     {cond['paths_per_s']:>12,.0f} paths/s", flush=True)
    ref_np2 = _run_reference("reference_numpy.py", sz["ref_numpy"])  # a second reference run against drift
    ref_st = _run_reference("reference_numpy.py", sz["ref_stress"], stress=True)
    print(f"  reference_numpy --stress {ref_st['paths_per_s']:>8,.0f} paths/s", flush=True)
    stress = _run_child("stress", sz["stress"], 5.0, None, True)
    print(f"  seqrisk --stress  {stress['paths_per_s']:>12,.0f} paths/s", flush=True)
    big = _run_child("10k positions", sz["big"], 0.05, 10_000, False)
    print(f"  seqrisk 10k pos.  {big['paths_per_s']:>12,.0f} paths/s", flush=True)
    huge = _run_child("10k positions, memory", sz["huge"], 0.05, 10_000, False)
    print(f"  seqrisk 10k pos. x {sz['huge']:,} paths: peak {huge['peak_rss_mib']:,.0f} MiB", flush=True)

    np_rate = (ref_np["paths_per_s"] + ref_np2["paths_per_s"]) / 2
    eff_ref = _efficiency(ref_np)
    out: dict[str, Any] = {
        "command": "python benchmarks/bench_engine.py" + (" (SEQRISK_BENCH_QUICK=1)" if QUICK else ""),
        "seed": SEED,
        "speed": {
            "reference_python_paths_per_s": ref_py["paths_per_s"],
            "reference_numpy_paths_per_s": np_rate,
            "reference_numpy_stress_paths_per_s": ref_st["paths_per_s"],
            "seqrisk_plain_paths_per_s": plain["paths_per_s"],
            "seqrisk_conditional_paths_per_s": cond["paths_per_s"],
            "seqrisk_stress_paths_per_s": stress["paths_per_s"],
            "ratio_plain_vs_numpy": plain["paths_per_s"] / np_rate,
            "ratio_plain_vs_python": plain["paths_per_s"] / ref_py["paths_per_s"],
            "ratio_stress_vs_numpy_stress": stress["paths_per_s"] / ref_st["paths_per_s"],
            "efficiency_ratio_plain_vs_numpy": _efficiency(plain) / eff_ref,
            "efficiency_ratio_conditional_vs_numpy": _efficiency(cond) / eff_ref,
            "peak_rss_mib": {"reference_numpy": ref_np["peak_rss_mib"], "reference_python": ref_py["peak_rss_mib"],
                             "seqrisk_plain": plain["peak_rss_mib"], "seqrisk_conditional": cond["peak_rss_mib"],
                             "seqrisk_stress": stress["peak_rss_mib"]},
        },
        "agreement_base": agreement(cond, ref_np, ("holder",)),
        "agreement_base_plain": agreement(plain, ref_np, ("holder",)),
        "agreement_stress": agreement(stress, ref_st, ("holder", "venue")),
        "big_book": {"positions": big["positions"], "paths": big["paths"], "seconds": big["t_compute_s"],
                     "paths_per_s": big["paths_per_s"], "peak_rss_mib": big["peak_rss_mib"]},
        "memory": {"positions": huge["positions"], "paths": huge["paths"], "seconds": huge["t_compute_s"],
                   "peak_rss_mib": huge["peak_rss_mib"], "bound_mib": 2048,
                   "within_bound": huge["peak_rss_mib"] < 2048},
        "runs": {"reference_numpy": ref_np, "reference_numpy_2": ref_np2, "reference_python": ref_py,
                 "reference_numpy_stress": ref_st, "seqrisk_plain": plain, "seqrisk_conditional": cond,
                 "seqrisk_stress": stress, "seqrisk_10k": big, "seqrisk_10k_memory": huge},
    }
    _print(out)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "engine.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    return out


def _print(out: dict[str, Any]) -> None:
    s = out["speed"]
    print("\nspeed (in-process paths/s, seed 12345, base rate 0.05/day unless noted)")
    print(f"  {'implementation':<42}{'paths/s':>14}{'peak MiB':>10}")
    rows = [("reference_python.py", s["reference_python_paths_per_s"], s["peak_rss_mib"]["reference_python"]),
            ("reference_numpy.py", s["reference_numpy_paths_per_s"], s["peak_rss_mib"]["reference_numpy"]),
            ("seqrisk, plain event sampling", s["seqrisk_plain_paths_per_s"], s["peak_rss_mib"]["seqrisk_plain"]),
            ("seqrisk, conditional (rare-event) sampling", s["seqrisk_conditional_paths_per_s"],
             s["peak_rss_mib"]["seqrisk_conditional"]),
            ("reference_numpy.py --stress", s["reference_numpy_stress_paths_per_s"], float("nan")),
            ("seqrisk --stress", s["seqrisk_stress_paths_per_s"], s["peak_rss_mib"]["seqrisk_stress"])]
    for name, v, m in rows:
        print(f"  {name:<42}{v:>14,.0f}{m:>10.0f}")
    print(f"  ratio seqrisk plain / numpy: {s['ratio_plain_vs_numpy']:,.0f}x; / python: "
          f"{s['ratio_plain_vs_python']:,.0f}x; stress / numpy stress: {s['ratio_stress_vs_numpy_stress']:,.0f}x")
    print(f"  work-normalised efficiency 1/(se^2 t) of holder EL vs numpy: plain "
          f"{s['efficiency_ratio_plain_vs_numpy']:,.0f}x, "
          f"conditional {s['efficiency_ratio_conditional_vs_numpy']:,.0f}x")
    for title, key in (("agreement, base rate (seqrisk conditional vs reference_numpy)", "agreement_base"),
                       ("agreement, base rate (seqrisk plain vs reference_numpy)", "agreement_base_plain"),
                       ("agreement, --stress (seqrisk vs reference_numpy --stress)", "agreement_stress")):
        print(f"\n{title}")
        for r in out[key]:
            z = "n/a" if r["z"] is None else f"{r['z']:+.2f}"
            print(f"  {r['figure']:<28}{r['seqrisk']:>16,.6g} ± {r['seqrisk_se']:<12,.3g}"
                  f"{r['reference']:>16,.6g} ± {r['reference_se']:<12,.3g} z {z}")
    b, m = out["big_book"], out["memory"]
    print(f"\n10,000 positions x {b['paths']:,} paths: {b['seconds']:.1f} s ({b['paths_per_s']:,.0f} paths/s), "
          f"peak {b['peak_rss_mib']:,.0f} MiB")
    print(f"10,000 positions x {m['paths']:,} paths: {m['seconds']:.1f} s, peak {m['peak_rss_mib']:,.0f} MiB "
          f"(bound 2 GiB: {'met' if m['within_bound'] else 'NOT met'})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        k, n, r, npos, c = sys.argv[2:7]
        print(json.dumps(child(k, int(n), float(r), int(npos) or None, c == "1"), default=float))
    else:
        main()
