"""Readers during aggressive compaction: a writer process appends small partitions and compacts after every
write (the old files unlinked each time) while reader threads and a CLI subprocess read the same chain. Every
read must succeed and return exactly the blocks asked for, with the right contents."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from seqrisk.ingest import headers_to_table
from seqrisk.rpc import Header
from seqrisk.store import Home

pytestmark = pytest.mark.integration
CHAIN = "arbitrum"
START = 2_000      # blocks stored before the race starts
SECONDS = 8.0      # how long the writer keeps writing and compacting


def header(n: int) -> Header:
    return Header(n, 1_700_000_000 + 2 * n, hashlib.sha256(n.to_bytes(8, "big")).digest(),
                  hashlib.sha256(max(n - 1, 0).to_bytes(8, "big")).digest() if n else b"\0" * 32, n % 5, 21_000)


WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from test_store_concurrency import header
from seqrisk.ingest import headers_to_table
from seqrisk.store import Home
home, seconds = Home(Path(sys.argv[1])), float(sys.argv[2])
blocks = home.blocks()
n = blocks.head("arbitrum") + 1
writes = compactions = 0
print("start", flush=True)
t_end = time.monotonic() + seconds
while time.monotonic() < t_end:
    blocks.write("arbitrum", headers_to_table([header(k) for k in range(n, n + 25)]), chain_id=42161)
    n += 25
    writes += 1
    if blocks.compact("arbitrum", smaller_than=10**6) is not None:
        compactions += 1
print(writes, compactions, flush=True)
"""


def check(t: object, a: int, b: int) -> None:
    rows = t.to_pylist()  # type: ignore[attr-defined]
    assert [r["number"] for r in rows] == list(range(a, b + 1)), (a, b, len(rows))
    for r in rows:
        h = header(r["number"])
        assert (r["hash"], r["parent_hash"], r["timestamp"]) == (h.hash, h.parent_hash, h.timestamp)


def test_readers_never_fail_while_compaction_unlinks_partitions(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    blocks = home.blocks()
    for a in range(0, START, 50):  # 40 small partitions to start with
        blocks.write(CHAIN, headers_to_table([header(k) for k in range(a, a + 50)]), chain_id=42161)
    env = {**os.environ, "SEQRISK_HOME": str(home.root)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(home.root), str(SECONDS),
                               str(Path(__file__).parent)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert writer.stdout is not None and writer.stdout.readline().strip() == b"start"
    reads: list[int] = [0, 0, 0]
    failures: list[str] = []
    stop = threading.Event()

    def reader(i: int) -> None:
        rng = random.Random(i)
        store = home.blocks() if i else blocks  # a shared store and fresh ones
        while not stop.is_set():
            a = rng.randrange(START)
            b = min(START - 1, a + rng.randrange(1, 600))
            try:
                check((home.blocks() if i == 2 else store).read(CHAIN, a, b), a, b)
                head = store.head(CHAIN)
                assert head is not None and head >= START - 1
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}"[:300])
            reads[i] += 1
    threads = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    cli_runs, cli_failures = 0, []
    try:
        while writer.poll() is None:  # the CLI reads the whole chain while the writer works
            r = subprocess.run([sys.executable, "-m", "seqrisk", "detect", CHAIN, "--no-write", "--json"],
                               capture_output=True, env=env, timeout=120)
            cli_runs += 1
            if r.returncode != 0 or b"Traceback" in r.stderr:
                cli_failures.append(r.stderr.decode()[-500:])
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err.decode()
    writes, compactions = map(int, out.split())
    print(f"\ncompaction race: {sum(reads)} reads in 3 threads and {cli_runs} CLI detect runs during {writes} "
          f"writes and {compactions} compactions: {len(failures)} failed reads, {len(cli_failures)} failed CLI runs")
    assert compactions >= 5 and sum(reads) >= 100 and cli_runs >= 1
    assert failures == [] and cli_failures == []
    final = home.blocks()
    check(final.read(CHAIN), 0, final.head(CHAIN) or 0)
    assert len(final.partitions(CHAIN)) == 1 and not list((home.root / "quarantine").glob("**/*.parquet"))
