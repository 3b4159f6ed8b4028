"""Crash safety: an ingest process killed with SIGKILL at random points (several seeded runs) and at named
points of its work (the process kills itself there), then restarted, ends with exactly the store of an
uninterrupted run: the same blocks, cursor and events."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.anvil import Anvil, running_node
from seqrisk.store import Home

pytestmark = pytest.mark.integration

#: The ingest process: small batches, small partitions and frequent compaction so that a kill can land
#: in a fetch, a partition write, a cursor update or a compaction. An optional fourth argument names a
#: point where the process SIGKILLs itself (a real kill, at a known place; see KILL_POINTS).
DRIVER = """
import os, signal, sys
from pathlib import Path
import seqrisk.store.blocks as blocks
from seqrisk.ingest import Ingestor
from seqrisk.rpc import RpcClient
from seqrisk.store import Home, StateStore
url, home, end = sys.argv[1], sys.argv[2], int(sys.argv[3])
point = sys.argv[4] if len(sys.argv) > 4 else ""
seen = {"write": 0, "compacting": False}

def die(*_a):
    os.kill(os.getpid(), signal.SIGKILL)

def after(owner, name, hit):
    orig = getattr(owner, name)
    def wrapped(*a, **k):
        r = orig(*a, **k)
        if hit(a, r):
            die()
        return r
    setattr(owner, name, wrapped)

def compact(orig):
    def wrapped(*a, **k):
        seen["compacting"] = True
        try:
            return orig(*a, **k)
        finally:
            seen["compacting"] = False
    return wrapped

def counted_write(a, r):
    if not seen["compacting"]:
        seen["write"] += 1
    return False

blocks.BlockStore.compact = compact(blocks.BlockStore.compact)
after(blocks.BlockStore, "write", counted_write)
if point == "event":  # the reorg event is recorded, the orphaned blocks are not yet dropped
    after(StateStore, "add_events", lambda a, r: any(e.type == "reorg" for e in a[1]))
elif point == "truncate":  # the orphaned blocks are dropped, the cursor still points past them
    after(blocks.BlockStore, "truncate_above", lambda a, r: True)
elif point == "ledger":  # a partition is in the ledger, its file still under its temporary name
    after(blocks, "ledger_add", lambda a, r: not a[2].marker and not seen["compacting"])
elif point == "write":  # the second partition of the run is written, the cursor not yet moved
    after(blocks.BlockStore, "write", lambda a, r: not seen["compacting"] and seen["write"] == 2)
elif point == "compact":  # a merged partition is written, the files it replaces are still there
    after(blocks.BlockStore, "write", lambda a, r: seen["compacting"])
elif point == "last":  # the partition holding the last block is written, the cursor not yet moved
    after(blocks.BlockStore, "write", lambda a, r: not seen["compacting"] and r.last == end)
elif point:
    raise SystemExit("unknown kill point " + point)
print("start", flush=True)
with RpcClient([url], batch_size=20, concurrency=2) as c:
    Ingestor(c, Home(Path(home)), "arbitrum", chunk_blocks=40, compact_above=6).run(0, end)
print("done")
"""
#: Kill points, in the order one store goes through them (each restart meets the next).
KILL_POINTS = ("event", "truncate", "ledger", "write", "compact", "last")
HEAD = 1000


@pytest.fixture(scope="module")
def node(anvil_binary: Path) -> Iterator[Anvil]:
    with running_node(HEAD, interval_s=2) as n:
        yield n


def ingest(node: Anvil, home: Path, head: int = HEAD, kill_at: str = "") -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", DRIVER, node.url, str(home), str(head), kill_at],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def killed_at(node: Anvil, home: Path, head: int, point: str) -> None:
    """One run that kills itself at ``point``: it must really get there (and die there)."""
    p = ingest(node, home, head, point)
    started(p)
    _out, err = p.communicate(timeout=120)
    assert p.returncode == -signal.SIGKILL, f"the run did not reach kill point {point!r}: {err.decode()[-2000:]}"


def snapshot(home: Path) -> tuple[object, ...]:
    h = Home(home)
    with h.state() as st:
        assert st.integrity_ok()
        cur = st.cursor("arbitrum")
        events = st.events()
    return h.blocks().read("arbitrum"), cur, events


def started(p: subprocess.Popen[bytes]) -> float:
    """Wait for the driver's ``start`` line (imports done); return the time it came."""
    line = p.stdout.readline()  # type: ignore[union-attr]
    assert line.strip() == b"start", p.stderr.read()  # type: ignore[union-attr]
    return time.monotonic()


def test_sigkill_at_random_points_then_restart_equals_uninterrupted(node: Anvil, tmp_path: Path) -> None:
    ref_home = tmp_path / "ref"
    p = ingest(node, ref_home)
    t0 = started(p)
    _out, err = p.communicate(timeout=120)
    ingest_s = time.monotonic() - t0
    assert p.returncode == 0, err.decode()
    ref_blocks, ref_cursor, ref_events = snapshot(ref_home)
    assert ref_blocks.num_rows == HEAD + 1 and ref_cursor is not None and ref_events == []

    kills = 0
    for seed in range(8):  # at least 3 seeded runs, more while the kills keep missing (a fast restart)
        if seed >= 3 and kills >= 3:
            break
        rng = random.Random(seed)
        home = tmp_path / f"run{seed}"
        for k in range(3):
            p = ingest(node, home)
            started(p)
            if k < 2:  # two kills at random points of the work, then a run to the end
                time.sleep(rng.uniform(0.0, 0.8 if k == 0 else 0.4) * ingest_s)
                if p.poll() is None:
                    os.kill(p.pid, signal.SIGKILL)
                    kills += 1
            _out, err = p.communicate(timeout=120)
            assert p.returncode in (0, -signal.SIGKILL), err.decode()
        assert p.returncode == 0
        blocks, cursor, events = snapshot(home)
        assert blocks.equals(ref_blocks), f"seed {seed}"
        assert cursor == ref_cursor and events == ref_events
        assert not list((home / "blocks" / "arbitrum").glob(".*.tmp"))
    assert kills >= 3  # the kills really happened mid-run (a restart may finish before its kill)

    home = tmp_path / "points"  # and at known points: a write's ledger entry, a compaction, the last write
    for point in ("ledger", "compact", "last"):
        killed_at(node, home, HEAD, point)
    p = ingest(node, home)
    started(p)
    _out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err.decode()
    assert snapshot(home) == (ref_blocks, ref_cursor, ref_events)


def test_sigkill_during_reorg_handling(anvil_factory: Callable[..., Anvil], tmp_path: Path) -> None:
    """Kill while ingestion replaces orphaned blocks: the restarted store and its reorg event equal an
    uninterrupted continuation from the same pre-reorg store."""
    node = anvil_factory()
    node.rpc("anvil_mine", hex(400), hex(2))
    base = tmp_path / "base"
    p = ingest(node, base, 400)
    started(p)
    assert p.wait(120) == 0
    p.communicate()
    sender = node.accounts()[0]
    node.rpc("anvil_reorg", 30, [[{"from": sender, "to": "0x00000000000000000000000000000000000000aa",
                                   "value": "0x5"}, 2]])
    node.rpc("anvil_mine", hex(300), hex(2))
    head = node.head()
    ref = tmp_path / "ref"
    shutil.copytree(base, ref)
    p = ingest(node, ref, head)
    started(p)
    assert p.wait(120) == 0
    p.communicate()
    ref_blocks, ref_cursor, ref_events = snapshot(ref)
    assert [e.evidence["depth"] for e in ref_events] == [30]
    # Every restart resumes the repair and is killed at the next point of KILL_POINTS; the last one finishes.
    home = tmp_path / "killed"
    shutil.copytree(base, home)
    for point in KILL_POINTS:
        killed_at(node, home, head, point)
    p = ingest(node, home, head)
    started(p)
    _out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err.decode()
    blocks, cursor, events = snapshot(home)
    assert blocks.equals(ref_blocks)
    assert cursor == ref_cursor  # the cursor too: a kill after the last write must not leave it behind
    assert [(e.type, e.start_utc, e.end_utc, e.evidence) for e in events] == [
        (e.type, e.start_utc, e.end_utc, e.evidence) for e in ref_events]
