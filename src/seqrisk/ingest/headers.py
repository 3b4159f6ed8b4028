"""Header ingestion into the block store: resumable, idempotent, crash-safe, reorg-aware.

The block store is the truth about what is stored; the SQLite cursor records
progress for humans and ``--follow``. Each chunk of headers is fetched, checked
(parent links inside the chunk and to the stored block before it), written as
one atomic Parquet partition, and only then is the cursor moved. A process
killed anywhere leaves whole partitions only; a restart fetches whatever
numbers in the asked range the store does not hold, so it ends with exactly the
data of an uninterrupted run (duplicates from a write whose cursor update was
lost are identical rows, and reads keep one).

A parent-hash mismatch at a join means the node reorganised: the ingestor
fetches the node's recent headers, walks back to the common ancestor, records a
``reorg`` event (first, before touching the store, so a crash cannot lose it),
truncates the orphaned blocks and fetches their replacements.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from seqrisk.exceptions import DataError, RpcError, StoreError
from seqrisk.rpc import Header, RpcClient, RpcRemoteError
from seqrisk.store import BLOCK_SCHEMA, DetectedEvent, Home, StateStore

__all__ = ["REORG_DETECTOR", "IngestResult", "Ingestor", "headers_to_table", "missing_runs", "uncovered"]

REORG_DETECTOR = "ingest-reorg"
Progress = Callable[[int, int], None]


@dataclass
class IngestResult:
    """What one ingest run did: blocks written, reorgs seen (as events), requests used."""

    chain: str
    start: int
    end: int
    written: int = 0
    reorgs: list[DetectedEvent] = field(default_factory=list)
    seconds: float = 0.0
    calls: int = 0
    requests: int = 0


def headers_to_table(headers: list[Header]) -> pa.Table:
    """Headers as a table in the block store's schema."""
    return pa.table({
        "number": pa.array([h.number for h in headers], pa.int64()),
        "timestamp": pa.array([h.timestamp for h in headers], pa.int64()),
        "hash": pa.array([h.hash for h in headers], pa.binary(32)),
        "parent_hash": pa.array([h.parent_hash for h in headers], pa.binary(32)),
        "tx_count": pa.array([h.tx_count for h in headers], pa.int32()),
        "gas_used": pa.array([h.gas_used for h in headers], pa.int64()),
    }, schema=BLOCK_SCHEMA)


def missing_runs(stored: np.ndarray, start: int, end: int) -> list[tuple[int, int]]:
    """Maximal runs ``(a, b)`` of numbers in ``[start, end]`` absent from the sorted array ``stored``."""
    s = stored[(stored >= start) & (stored <= end)]
    edges = np.concatenate(([start - 1], s, [end + 1]))
    gaps = np.nonzero(np.diff(edges) > 1)[0]
    return [(int(edges[i] + 1), int(edges[i + 1] - 1)) for i in gaps]


def uncovered(ranges: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Maximal runs of ``[start, end]`` outside the sorted, disjoint inclusive ``ranges``."""
    out, cur = [], start
    for a, b in ranges:
        if b < cur:
            continue
        if a > end:
            break
        if a > cur:
            out.append((cur, a - 1))
        cur = max(cur, b + 1)
    if cur <= end:
        out.append((cur, end))
    return out


@contextlib.contextmanager
def _writer_lock(home: Home, chain: str) -> Iterator[None]:
    path = home.root / "blocks" / f".{chain}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError("another ingest of this chain is running", chain=chain, file=str(path)) from None
        yield
    finally:
        os.close(fd)


class Ingestor:
    """Fetches headers of one chain through ``client`` into ``home``'s block store.

    ``chunk_blocks`` headers make one partition (and one cursor step);
    ``reorg_window`` is how far back a reorg may reach before it is an error;
    more than ``compact_above`` partitions of fewer than ``compact_rows`` blocks
    are merged (tiered compaction, so its cost does not grow with the chain).
    """

    def __init__(self, client: RpcClient, home: Home, chain: str, *, chunk_blocks: int = 20_000,
                 reorg_window: int = 1024, compact_above: int = 64, compact_rows: int = 1_000_000,
                 progress: Progress | None = None) -> None:
        self.client = client
        self.home = home
        self.chain = chain
        self.chunk_blocks = max(1, int(chunk_blocks))
        self.reorg_window = max(1, int(reorg_window))
        self.compact_above = compact_above
        self.compact_rows = max(2, int(compact_rows))
        self.progress = progress
        self.blocks = home.blocks()
        self._st: StateStore | None = None

    @contextlib.contextmanager
    def _state(self) -> Iterator[StateStore]:
        """The state store: the one open for the current run, or a fresh one."""
        if self._st is not None:
            yield self._st
        else:
            with self.home.state() as st:
                yield st

    # -- chain identity --------------------------------------------------------
    def _bind_chain_id(self) -> None:
        key = f"chain_id:{self.chain}"
        with self._state() as st:
            row = st._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
            known = int(row[0]) if row else None
            if known is not None and self.client.chain_id is not None and known != self.client.chain_id:
                raise DataError(f"store holds chain id {known} for this chain, the client expects "
                                f"{self.client.chain_id}", chain=self.chain)
            if known is not None:
                self.client.chain_id = known
            got = self.client.chain_id_checked()
            if known is None:
                with st.transaction() as c:
                    c.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (key, str(got)))

    # -- stored hashes ---------------------------------------------------------
    def _stored(self, a: int, b: int) -> dict[int, tuple[bytes, int]]:
        t = self.blocks.read(self.chain, max(0, a), b, columns=("number", "hash", "timestamp"))
        return {int(n): (h, int(ts)) for n, h, ts in zip(t.column("number").to_pylist(), t.column("hash").to_pylist(),
                                                         t.column("timestamp").to_pylist(), strict=True)}

    # -- reorg -----------------------------------------------------------------
    def _resolve_reorg(self, tip: int, result: IngestResult) -> int:
        """The node no longer has our block ``tip``: find the common ancestor, record, truncate; return it."""
        lo = max(0, tip - self.reorg_window + 1)
        ours = self._stored(lo, tip)
        theirs = {h.number: h for h in self.client.headers(range(lo, tip + 1))}
        ancestor = None
        for n in range(tip, lo - 1, -1):
            if n in ours and ours[n][0] == theirs[n].hash:
                ancestor = n
                break
        if ancestor is None:
            raise DataError(f"reorg deeper than the reorg window of {self.reorg_window} blocks: no common "
                            f"ancestor in {lo}..{tip}", chain=self.chain, block=tip)
        first, last = ancestor + 1, tip
        ev = DetectedEvent(
            chain=self.chain, type="reorg", start_utc=float(ours[first][1]), end_utc=float(ours[last][1]),
            confidence=1.0, detector=REORG_DETECTOR,
            evidence={"depth": last - ancestor, "common_ancestor": ancestor, "first_orphaned": first,
                      "last_orphaned": last, "orphaned_head_hash": "0x" + ours[last][0].hex(),
                      "new_hash_at_head": "0x" + theirs[last].hash.hex()})
        with self._state() as st:
            st.add_events([ev])
            self.blocks.truncate_above(self.chain, ancestor)
            st.set_cursor(self.chain, ancestor + 1, "0x" + ours[ancestor][0].hex())
        result.reorgs.append(ev)
        return ancestor

    # -- fetching --------------------------------------------------------------
    def _fetch_linked(self, a: int, b: int) -> list[Header]:
        """Headers a..b whose parent links hold inside the chunk (re-fetched if the node moved meanwhile)."""
        for _ in range(3):
            hs = self.client.headers(range(a, b + 1))
            broken = next((i for i in range(1, len(hs)) if hs[i].parent_hash != hs[i - 1].hash), None)
            if broken is None:
                bad_t = next((i for i in range(1, len(hs)) if hs[i].timestamp < hs[i - 1].timestamp), None)
                if bad_t is not None:
                    raise DataError("block timestamp goes backwards", chain=self.chain, block=hs[bad_t].number,
                                    value=hs[bad_t].timestamp)
                return hs
            time.sleep(0.2)
        raise RpcError("parent links keep breaking inside a fetched range (the node reorganises while "
                       "we read, or serves inconsistent blocks)", chain=self.chain, block=a)

    def run(self, start: int, end: int) -> IngestResult:
        """Store every header of ``start..end`` (inclusive) the store lacks; handle reorgs at the joins."""
        if start < 0 or end < start - 1:
            raise DataError("block range must satisfy 0 <= from <= to", chain=self.chain, value=f"{start}..{end}")
        t0 = time.perf_counter()
        calls0, req0 = self.client.calls, self.client.requests
        result = IngestResult(self.chain, start, end)
        with _writer_lock(self.home, self.chain), self.home.state() as st:
            self._st = st
            try:
                return self._run(start, end, result, t0, calls0, req0)
            finally:
                self._st = None

    def _run(self, start: int, end: int, result: IngestResult, t0: float, calls0: int, req0: int) -> IngestResult:
        """The body of :meth:`run`, with the writer lock held and the state store open."""
        self._bind_chain_id()
        self.blocks.remove_temporary(self.chain)
        node_head = self.client.block_number()
        if start > min(end, node_head):
            stored_head = self.blocks.head(self.chain)
            if end < start or (stored_head is not None and stored_head >= start - 1):  # nothing to do
                result.end = start - 1
                result.seconds = time.perf_counter() - t0
                return result
            raise DataError(f"range starts after the node's head {node_head}", chain=self.chain, block=start)
        end = result.end = min(end, node_head)
        head = self.blocks.head(self.chain)
        if head is not None and start <= head <= end:
            # Does the node still have our newest stored block? (a reorg with no new blocks)
            ours = self._stored(head, head)
            if head in ours:
                node = self.client.header(head)
                if node.hash != ours[head][0]:
                    self._resolve_reorg(head, result)
        total = None
        done = 0
        while True:
            runs = uncovered(self.blocks.ranges(self.chain), start, end)
            if total is None:
                total = sum(b - a + 1 for a, b in runs)
            if not runs:
                break
            a, b = runs[0]
            restart = False
            prev = self._stored(a - 1, a - 1) if a > 0 else {}
            prev_hash = prev[a - 1][0] if prev else None
            for c in range(a, b + 1, self.chunk_blocks):
                ce = min(b, c + self.chunk_blocks - 1)
                hs = self._fetch_linked(c, ce)
                if prev_hash is not None and hs[0].parent_hash != prev_hash:
                    self._resolve_reorg(c - 1, result)
                    restart = True
                    break
                self.blocks.write(self.chain, headers_to_table(hs))
                with self._state() as st:
                    st.set_cursor(self.chain, ce + 1, "0x" + hs[-1].hash.hex())
                prev_hash = hs[-1].hash
                result.written += len(hs)
                done += len(hs)
                if self.progress:
                    self.progress(done, max(total, done))
                if self.compact_above:
                    small = [p for p in self.blocks.partitions(self.chain) if p.last - p.first + 1 < self.compact_rows]
                    if len(small) > self.compact_above:
                        self.blocks.compact(self.chain, smaller_than=self.compact_rows)
            if not restart and len(runs) == 1:
                break
        result.seconds = time.perf_counter() - t0
        result.calls = self.client.calls - calls0
        result.requests = self.client.requests - req0
        return result

    # -- observations ----------------------------------------------------------
    def observe(self, now_utc: float | None = None) -> dict[str, Any]:
        """Record the node's head, safe and finalized heads (numbers and times) in the state store."""
        now = time.time() if now_utc is None else now_utc  # clock-ok: when the head was observed
        head = self.client.header("latest")
        obs: dict[str, Any] = {"chain": self.chain, "observed_utc": now, "head_number": head.number,
                               "head_time_utc": float(head.timestamp)}
        for tag in ("safe", "finalized"):
            try:
                h = self.client.header(tag)
                obs[f"{tag}_number"], obs[f"{tag}_time_utc"] = h.number, float(h.timestamp)
            except (RpcRemoteError, RpcError):
                obs[f"{tag}_number"], obs[f"{tag}_time_utc"] = None, None
        with self.home.state() as st, st.transaction() as c:
            c.execute("INSERT OR REPLACE INTO head_observations(chain, observed_utc, head_number, head_time_utc, "
                      "safe_number, safe_time_utc, finalized_number, finalized_time_utc) VALUES (?,?,?,?,?,?,?,?)",
                      (self.chain, now, obs["head_number"], obs["head_time_utc"], obs["safe_number"],
                       obs["safe_time_utc"], obs["finalized_number"], obs["finalized_time_utc"]))
        return obs

    def follow(self, *, from_block: int | None = None, poll_s: float = 5.0, confirmations: int = 0,
               stop: Callable[[], bool] = lambda: False, sleep: Callable[[float], None] = time.sleep,
               on_round: Callable[[IngestResult], None] | None = None) -> None:
        """Ingest to the head, observe, sleep ``poll_s``, repeat until ``stop()`` is true."""
        while not stop():
            head = self.client.block_number() - confirmations
            stored = self.blocks.head(self.chain)
            start = from_block if stored is None else stored + 1
            if start is None:
                start = max(0, head)
            if head >= start:
                r = self.run(start, head)
                if on_round:
                    on_round(r)
            elif stored is not None and stored >= 0:
                self.run(stored, stored)  # checks the newest stored block for a reorg
            self.observe()
            if stop():
                break
            sleep(poll_s)
