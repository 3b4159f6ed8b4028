"""Ingestion benchmark: headers/s from a local anvil into the store, adaptive-scan cost, storage per header.

Run alone with ``.venv/bin/python benchmarks/bench_ingest.py`` (or through
``make bench``); writes ``benchmarks/results/ingest.json`` and prints a table.

1. Headers per second end to end (JSON-RPC over loopback, validation, Parquet
   write, cursor) from a local anvil (the pinned npm package), for a few batch
   sizes and concurrencies, best of a few repeats; beside it the same client
   fetching only, and plain httpx batches parsed with ``json.loads`` (the
   ceiling). anvil's block production slows down with chain height
   (``anvil_mine`` cost grows with the number of blocks), so the chain is a few
   thousand empty blocks and each configuration ingests it into fresh homes.
2. Adaptive-scan requests as a fraction of a full scan, on simulated 30-day
   chain-months held in memory (anvil cannot mine a month of blocks quickly):
   a 2 s chain with strictly increasing timestamps and an Arbitrum-like 0.25 s
   chain, each with a few gaps; the gaps found are checked against numpy.
3. Storage per million headers: one million synthetic linked headers with
   realistic transaction counts and gas, and the anvil store scaled.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from integration.anvil import Anvil  # noqa: E402
from seqrisk.ingest import Ingestor, adaptive_scan  # noqa: E402
from seqrisk.rpc import RpcClient  # noqa: E402
from seqrisk.store import BlockStore, Home  # noqa: E402

CHAIN_BLOCKS = 4000
REPEATS = 3


def _raw_rate(url: str, n: int, batch: int) -> float:
    with httpx.Client(timeout=60) as c:
        t0 = time.perf_counter()
        for a in range(0, n, batch):
            body = [{"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(a + i), False]}
                    for i in range(min(batch, n - a))]
            json.loads(c.post(url, content=json.dumps(body), headers={"content-type": "application/json"}).content)
        return n / (time.perf_counter() - t0)


def bench_headers() -> dict[str, Any]:
    out: dict[str, Any] = {"chain_blocks": CHAIN_BLOCKS + 1, "repeats": REPEATS, "configs": []}
    with Anvil() as node:
        t0 = time.perf_counter()
        for _ in range(CHAIN_BLOCKS // 1000):
            node.rpc("anvil_mine", hex(1000), hex(2))
        out["mine_s"] = round(time.perf_counter() - t0, 1)
        n = node.head() + 1
        out["raw_httpx_headers_per_s"] = round(max(_raw_rate(node.url, n, 500) for _ in range(2)))
        for batch, conc in ((250, 2), (250, 4), (500, 4), (1000, 4)):
            e2e, fetch = [], []
            size = 0
            for _ in range(REPEATS):
                with tempfile.TemporaryDirectory() as d, RpcClient([node.url], batch_size=batch,
                                                                    concurrency=conc) as c:
                    home = Home(Path(d))
                    r = Ingestor(c, home, "bench").run(0, n - 1)
                    assert r.written == n
                    e2e.append(n / r.seconds)
                    size = home.blocks().size_bytes("bench")
                    t1 = time.perf_counter()
                    c.headers(range(n))
                    fetch.append(n / (time.perf_counter() - t1))
            out["configs"].append({"batch_size": batch, "concurrency": conc,
                                   "end_to_end_headers_per_s": round(max(e2e)),
                                   "end_to_end_median": round(statistics.median(e2e)),
                                   "fetch_only_headers_per_s": round(max(fetch))})
            out["anvil_store_mb_per_million"] = round(size / n, 2)
    best = max(out["configs"], key=lambda c: c["end_to_end_headers_per_s"])
    out["best"] = best
    return out


def _month(block_s: float, seed: int, gaps_s: list[float], jitter: bool) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    n = int(30 * 86400 / block_s)
    if jitter:  # integer timestamps of a chain with sub-second blocks: steps of 0 or 1 s
        t = np.floor(np.cumsum(rng.exponential(block_s, n)))
        dt = np.diff(t)
    else:
        dt = np.full(n - 1, block_s)
    where = sorted(rng.choice(n - 1, len(gaps_s), replace=False).tolist())
    dt[where] += gaps_s
    return (1_700_000_000 + np.concatenate(([0.0], np.cumsum(dt)))).astype(np.int64), where


def bench_scan() -> list[dict[str, Any]]:
    rows = []
    cases = (("2 s chain, strictly increasing timestamps", 2.0, 1.0, False),
             ("2 s chain, no timestamp assumption", 2.0, 0.0, False),
             ("0.25 s chain (Arbitrum-like), integer timestamps", 0.25, 0.0, True))
    for name, block_s, dmin, jitter in cases:
        ts, _ = _month(block_s, 1, [150.0, 600.0, 3600.0, 125.0, 7200.0], jitter)
        want = np.nonzero(np.diff(ts) >= 120)[0].tolist()

        def fetch(ns: Any, ts: np.ndarray = ts) -> list[int]:
            return ts[np.asarray(ns)].tolist()
        t0 = time.perf_counter()
        r = adaptive_scan(fetch, 0, len(ts) - 1, threshold_s=120.0, block_time_s=block_s, min_interval_s=dmin)
        rows.append({"case": name, "blocks": len(ts), "gaps": len(want),
                     "found_same": [g.block for g in r.gaps] == want,
                     "step": r.step, "calls": r.calls, "rounds": r.rounds, "fraction_of_full_scan": r.fraction,
                     "seconds": round(time.perf_counter() - t0, 2)})
    return rows


def bench_storage() -> dict[str, Any]:
    n = 1_000_000
    rng = np.random.default_rng(5)
    raw = rng.bytes(32 * (n + 1))
    hashes = [raw[32 * i:32 * i + 32] for i in range(n + 1)]
    tx = rng.poisson(15, n).astype(np.int32)
    t = pa.table({"number": np.arange(n, dtype=np.int64),
                  "timestamp": 1_700_000_000 + 2 * np.arange(n, dtype=np.int64),
                  "hash": pa.array(hashes[1:], pa.binary(32)), "parent_hash": pa.array(hashes[:-1], pa.binary(32)),
                  "tx_count": tx, "gas_used": (tx * rng.integers(21_000, 400_000, n)).astype(np.int64)})
    with tempfile.TemporaryDirectory() as d:
        bs = BlockStore(d)
        t0 = time.perf_counter()
        bs.write("c", t)
        w = time.perf_counter() - t0
        size = bs.size_bytes("c")
        t0 = time.perf_counter()
        back = bs.read("c")
        r = time.perf_counter() - t0
        assert back.num_rows == n
    return {"headers": n, "mb_per_million": round(size / 1e6, 2), "write_s": round(w, 2), "read_s": round(r, 2),
            "naive_floor_mb": 64 + 8 + 8 + 4 + 8}


def main() -> dict[str, Any]:
    res = {"headers": bench_headers(), "scan": bench_scan(), "storage": bench_storage()}
    h = res["headers"]
    print(f"Headers into the store from local anvil ({h['chain_blocks']} blocks, best of {REPEATS}):")
    print(f"  {'batch':>6} {'conc':>5} {'end-to-end /s':>14} {'median /s':>10} {'fetch-only /s':>14}")
    for c in h["configs"]:
        print(f"  {c['batch_size']:>6} {c['concurrency']:>5} {c['end_to_end_headers_per_s']:>14,} "
              f"{c['end_to_end_median']:>10,} {c['fetch_only_headers_per_s']:>14,}")
    print(f"  plain httpx + json.loads, batch 500: {h['raw_httpx_headers_per_s']:,} headers/s")
    print("Adaptive scan on a simulated 30-day chain-month, threshold 120 s:")
    for s in res["scan"]:
        print(f"  {s['case']:<50} {s['blocks']:>10,} blocks  {s['calls']:>7,} calls  "
              f"{100 * s['fraction_of_full_scan']:.2f}% of a full scan  gaps {s['gaps']} same={s['found_same']}")
    st = res["storage"]
    print(f"Storage: {st['mb_per_million']} MB per million headers (synthetic, realistic gas); "
          f"anvil store {h['anvil_store_mb_per_million']} MB per million")
    out = HERE / "results" / "ingest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
