"""Monitor overhead: 26 chains x 2 endpoints polled every 2 s, CPU share and memory of the monitor process.

``.venv/bin/python benchmarks/run.py monitor_overhead`` (needs anvil: ``npm ci``). Two anvil nodes mining
every 2 s serve all 52 endpoints (each chain's config points at both, chain id 31337, block time 2 s, so no
chain looks late and none is polled faster than every 2 s); the monitor runs as
its own process (``seqrisk monitor --config``), exactly as deployed: status model, alerts machine, store
writes, Prometheus endpoint. Once every chain has done a round, the monitor's CPU seconds (user + system,
from the OS) and resident memory are read over a window of ``WINDOW_S`` wall seconds; CPU share is CPU
seconds over wall seconds (1.0 = one core busy). Each pair runs the full monitor and the same monitor with
the store off back to back, three pairs, medians reported; the ratio says what persistence costs.
Results: ``benchmarks/results/monitor_overhead.json`` and ``monitor-overhead.md``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from integration.anvil import Anvil, free_port  # noqa: E402 (the tests' anvil helper)

CHAINS = 26
INTERVAL_S = 2.0
BLOCK_S = 2.0
WINDOW_S = 40.0
PAIRS = 3


def _rounds(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("seqrisk_round_seconds_count"):
            return float(line.split()[-1])
    return 0.0


def _run(urls: list[str], store: bool, chain_ids: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "monitor.yaml"
        cfg.write_text(yaml.safe_dump({
            "interval_s": INTERVAL_S, "timeout_s": 1.5, "store": store,
            "chains": [{"id": c, "endpoints": urls, "chain_id": 31337, "feed": "none", "inbox": "none",
                        "status": {"block_time_s": BLOCK_S}}  # the nodes' cadence: no chain looks late
                       for c in chain_ids],
            "nowcast": {"paths": 1000}}))
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "seqrisk", "--home", str(Path(tmp) / "home"), "monitor",
                                 "--config", str(cfg), "--metrics-port", str(port), "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            ps = psutil.Process(proc.pid)
            deadline = time.monotonic() + 300
            while True:  # started, model fitted, every chain polled once
                if proc.poll() is not None:
                    raise RuntimeError(f"monitor exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
                try:
                    if _rounds(port) >= 2 * len(chain_ids):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("monitor did not start")
                time.sleep(0.5)
            r0, c0, t0 = _rounds(port), sum(ps.cpu_times()[:2]), time.monotonic()
            rss = []
            while time.monotonic() - t0 < WINDOW_S:
                rss.append(ps.memory_info().rss)
                time.sleep(0.5)
            c1, t1, r1 = sum(ps.cpu_times()[:2]), time.monotonic(), _rounds(port)
        finally:
            proc.terminate()
            proc.wait(60)
    wall = t1 - t0
    return {"cpu_s": c1 - c0, "wall_s": wall, "cpu_share": (c1 - c0) / wall, "rss_mb_max": max(rss) / 1e6,
            "rss_mb_median": statistics.median(rss) / 1e6, "rounds_per_chain_per_s": (r1 - r0) / wall / len(chain_ids)}


def main() -> dict[str, Any]:
    from seqrisk.catalog import load_catalog

    chain_ids = load_catalog().chain_ids()[:CHAINS]
    nodes = [Anvil(args=("--block-time", "2")) for _ in range(2)]
    try:
        for n in nodes:
            n.start()
        urls = [n.url for n in nodes]
        pairs = []
        for i in range(PAIRS):
            full = _run(urls, True, chain_ids)
            bare = _run(urls, False, chain_ids)
            pairs.append({"full": full, "no_store": bare, "cpu_ratio": full["cpu_s"] / bare["cpu_s"]})
            print(f"pair {i + 1}: full {full['cpu_share']:.3f} CPU, {full['rss_mb_max']:.0f} MB; "
                  f"store off {bare['cpu_share']:.3f} CPU, {bare['rss_mb_max']:.0f} MB", flush=True)
    finally:
        for n in nodes:
            n.stop()
    med = {k: statistics.median(p["full"][k] for p in pairs) for k in pairs[0]["full"]}
    med_bare = {k: statistics.median(p["no_store"][k] for p in pairs) for k in pairs[0]["no_store"]}
    ratio = statistics.median(p["cpu_ratio"] for p in pairs)
    res = {"chains": len(chain_ids), "endpoints_per_chain": 2, "interval_s": INTERVAL_S, "window_s": WINDOW_S,
           "pairs": pairs, "median_full": med, "median_no_store": med_bare,
           "median_cpu_ratio_full_over_no_store": ratio,
           "cpus": os.cpu_count(), "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    md = f"""# Monitor overhead

`benchmarks/bench_monitor_overhead.py` ({res['date_utc']}, {res['cpus']} vCPUs shared with other work):
{len(chain_ids)} chains x 2 endpoints (two anvil nodes) polled every {INTERVAL_S:g} s by one `seqrisk monitor`
process; CPU seconds (user + system) and resident memory of that process over {WINDOW_S:g} s windows after start-up,
{PAIRS} pairs (full monitor, then the same with the store off), medians.

| monitor | CPU share of one core | RSS max (MB) | rounds per chain per s |
| --- | --- | --- | --- |
| full (store, metrics, alerts) | {med['cpu_share']:.3f} | {med['rss_mb_max']:.0f} | \
{med['rounds_per_chain_per_s']:.2f} |
| store off | {med_bare['cpu_share']:.3f} | {med_bare['rss_mb_max']:.0f} | \
{med_bare['rounds_per_chain_per_s']:.2f} |

CPU of the full monitor over the store-off one, median of {PAIRS} pairs: {ratio:.2f}.
"""
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "monitor-overhead.md").write_text(md)
    print(md)
    return res


if __name__ == "__main__":
    out = main()
    (HERE / "results" / "monitor_overhead.json").write_text(json.dumps(out, indent=2) + "\n")
