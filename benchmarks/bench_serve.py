"""Benchmark of `seqrisk serve` over loopback: read latency under concurrent load, and job throughput against the CLI.

1. **Read latency.** ``CLIENTS`` threads, each with its own HTTP connection, call the read endpoints in turn
   (chains, one chain, a chain's incidents, a chain's fitted model, the live status, the job list) ``ROUNDS``
   times; p50 and p99 of each endpoint's latency (wall time, what a client waits).
2. **Job throughput.** The same batch of ``JOBS`` simulations of the desk (``PATHS`` paths each, seeds 0..JOBS-1,
   30 days) run (a) as jobs of a server with 2 workers, submitted at once and waited for, and (b) as that many
   ``seqrisk simulate --json`` commands, 2 at a time (the same parallelism). Timed in pairs back to back,
   ``PAIRS`` pairs; wall seconds, and CPU seconds of everything that ran (the server and its workers; the
   commands). Each job's result is checked equal to its command's (``==`` on everything but provenance).

Run: ``python benchmarks/bench_serve.py`` (or ``make bench``); ``SEQRISK_BENCH_QUICK=1`` shrinks it.
Writes ``benchmarks/results/serve.json`` (via run.py) and ``benchmarks/results/serve.md`` (the table the README and
docs/serve.md quote).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BOOK = ROOT / "examples" / "desk.yaml"
QUICK = os.environ.get("SEQRISK_BENCH_QUICK") == "1"
CLIENTS = 4 if QUICK else 16
ROUNDS = 5 if QUICK else 25
JOBS = 4 if QUICK else 8
PATHS = 2_000 if QUICK else 20_000
PAIRS = 3
SEQRISK = [sys.executable, "-m", "seqrisk"]
READS = ["/api/v1/chains", "/api/v1/chains/arbitrum", "/api/v1/incidents?chain=base", "/api/v1/model/chains/base",
         "/api/v1/status", "/api/v1/jobs?limit=20"]


def _cpu(proc: psutil.Process) -> float:
    """CPU seconds of a process and its living children so far."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _start(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    log = home / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen([*SEQRISK, "--home", str(home), "serve", "--port", "0", "--workers", "2"],
                                stderr=err, stdout=subprocess.DEVNULL,
                                env={**os.environ, "SEQRISK_SERVE_MAX_ACTIVE_JOBS_PER_TOKEN": "1000",
                                     "SEQRISK_SERVE_LOG_LEVEL": "warning"})
    for _ in range(1200):
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text())
        if m:
            base = f"http://127.0.0.1:{m.group(1)}"
            with httpx.Client(base_url=base) as c:
                for _ in range(300):
                    try:
                        if c.get("/api/v1/health").status_code == 200:
                            return proc, base
                    except httpx.TransportError:
                        time.sleep(0.1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not start: {log.read_text()}")


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def read_latency(base: str) -> dict[str, Any]:
    lat: dict[str, list[float]] = {u: [] for u in READS}
    lock = threading.Lock()
    with httpx.Client(base_url=base, timeout=60) as warm:
        for u in READS:  # the first fit and the first catalog read are not what a team waits for
            assert warm.get(u).status_code == 200, u

    def client(_: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            for _ in range(ROUNDS):
                for u in READS:
                    t0 = time.perf_counter()
                    r = c.get(u)
                    dt = time.perf_counter() - t0
                    assert r.status_code == 200, (u, r.text)
                    with lock:
                        lat[u].append(dt)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as ex:
        list(ex.map(client, range(CLIENTS)))
    wall = time.perf_counter() - t0
    n = sum(len(v) for v in lat.values())
    every = [x for v in lat.values() for x in v]
    return {"clients": CLIENTS, "requests": n, "requests_per_s": n / wall,
            "all": {"p50_ms": 1000 * _pct(every, 0.5), "p99_ms": 1000 * _pct(every, 0.99)},
            "endpoints": {u: {"p50_ms": 1000 * _pct(v, 0.5), "p99_ms": 1000 * _pct(v, 0.99), "n": len(v)}
                          for u, v in lat.items()}}


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "provenance"}


def service_batch(base: str, server: psutil.Process, auth: dict[str, str], book: dict[str, Any],
                  tag: int) -> tuple[float, float, dict[int, Any]]:
    cpu0 = _cpu(server)
    t0 = time.perf_counter()
    with httpx.Client(base_url=base, timeout=120) as c:
        ids = {}
        for i in range(JOBS):
            r = c.post("/api/v1/jobs/simulate", json={"book": book, "paths": PATHS, "seed": i, "horizon": "30d"},
                       headers={**auth, "Idempotency-Key": f"bench-{tag}-{i}"})
            assert r.status_code == 202, r.text
            ids[i] = r.json()["job"]["id"]
        left = set(ids.values())
        while left:
            for jid in list(left):
                st = c.get(f"/api/v1/jobs/{jid}").json()["job"]["status"]
                if st in ("done", "failed", "cancelled"):
                    assert st == "done", jid
                    left.discard(jid)
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        cpu = _cpu(server) - cpu0
        results = {i: c.get(f"/api/v1/jobs/{jid}/result").json() for i, jid in ids.items()}
    return wall, cpu, results


def cli_batch(home: Path) -> tuple[float, float, dict[int, Any]]:
    before = os.times()
    t0 = time.perf_counter()

    def one(i: int) -> Any:
        out = subprocess.run([*SEQRISK, "--home", str(home), "simulate", str(BOOK), "--paths", str(PATHS), "--seed",
                              str(i), "--horizon", "30d", "--json"], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    with ThreadPoolExecutor(2) as ex:
        results = dict(enumerate(ex.map(one, range(JOBS))))
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, results


def main() -> dict[str, Any]:
    load0 = os.getloadavg()[0]
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seqrisk-bench-serve-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        tok = subprocess.run([*SEQRISK, "--home", str(home), "serve", "token", "create", "--scope", "write",
                              "--json"], capture_output=True, text=True, check=True)
        auth = {"Authorization": f"Bearer {json.loads(tok.stdout)['token']}"}
        proc, base = _start(home)
        server = psutil.Process(proc.pid)
        try:
            reads = read_latency(base)
            book = yaml.safe_load(BOOK.read_text())
            service_batch(base, server, auth, book, -1)  # warm-up: each worker fits the model once
            pairs = []
            for k in range(PAIRS):
                s_wall, s_cpu, s_res = service_batch(base, server, auth, book, k)
                c_wall, c_cpu, c_res = cli_batch(home)
                assert all(_strip(s_res[i]) == _strip(c_res[i]) for i in range(JOBS)), "service and CLI differ"
                pairs.append({"service_wall_s": s_wall, "service_cpu_s": s_cpu, "cli_wall_s": c_wall,
                              "cli_cpu_s": c_cpu, "ratio_wall": c_wall / s_wall, "ratio_cpu": c_cpu / s_cpu})
                print(f"pair {k + 1}: service {s_wall:.1f} s wall, {s_cpu:.1f} CPU s; CLI {c_wall:.1f} s wall, "
                      f"{c_cpu:.1f} CPU s", flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    res = {"quick": QUICK, "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
           "load_start": load0, "load_end": os.getloadavg()[0], "seconds": time.perf_counter() - t_start,
           "reads": reads, "jobs": {"jobs": JOBS, "paths": PATHS, "workers": 2, "pairs": pairs,
                                    "ratio_wall_median": statistics.median(p["ratio_wall"] for p in pairs),
                                    "ratio_cpu_median": statistics.median(p["ratio_cpu"] for p in pairs)}}
    md = table(res)
    print(md)
    (HERE / "results" / "serve.md").write_text(md + "\n")
    return res


def table(res: dict[str, Any]) -> str:
    r, j = res["reads"], res["jobs"]
    lines = [f"One run of the service benchmark: {res['date_utc']}, load average {res['load_start']:.1f} at the "
             f"start and {res['load_end']:.1f} at the end ({res['cpus']} CPUs), {res['seconds']:.0f} s"
             f"{' (quick)' if res['quick'] else ''}.", "",
             f"Read latency over loopback, {r['clients']} concurrent clients, {r['requests']:,} requests "
             f"({r['requests_per_s']:,.0f} per second):", "",
             "| endpoint | p50 | p99 |", "|---|---:|---:|"]
    for u, v in r["endpoints"].items():
        lines.append(f"| `GET {u}` | {v['p50_ms']:.1f} ms | {v['p99_ms']:.1f} ms |")
    lines.append(f"| all | **{r['all']['p50_ms']:.1f} ms** | **{r['all']['p99_ms']:.1f} ms** |")
    pairs = j["pairs"]
    rw = [p["ratio_wall"] for p in pairs]
    rc = [p["ratio_cpu"] for p in pairs]
    lines += ["", f"Job throughput: {j['jobs']} simulations of the desk ({j['paths']:,} paths, 30 days, seeds "
              f"0-{j['jobs'] - 1}) as jobs of a server with {j['workers']} workers against the same "
              f"`seqrisk simulate` commands {j['workers']} at a time; {len(pairs)} pairs, identical results:", "",
              "| measure | result |", "|---|---:|",
              f"| CLI / service, wall seconds, median of {len(pairs)} pairs [range] | "
              f"**{j['ratio_wall_median']:.2f}x** [{min(rw):.2f}-{max(rw):.2f}] |",
              f"| CLI / service, CPU seconds, median of {len(pairs)} pairs [range] | "
              f"**{j['ratio_cpu_median']:.2f}x** [{min(rc):.2f}-{max(rc):.2f}] |",
              "| service: wall s, CPU s (medians) | "
              f"{statistics.median(p['service_wall_s'] for p in pairs):.1f}, "
              f"{statistics.median(p['service_cpu_s'] for p in pairs):.1f} |",
              "| CLI: wall s, CPU s (medians) | "
              f"{statistics.median(p['cli_wall_s'] for p in pairs):.1f}, "
              f"{statistics.median(p['cli_cpu_s'] for p in pairs):.1f} |"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
