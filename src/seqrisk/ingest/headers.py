"""Header ingestion into the block store: resumable, idempotent, crash-safe, reorg-aware.

The block store is the truth about what is stored; the SQLite cursor records
progress for humans and ``--follow``. Each chunk of headers is fetched, checked
(parent links inside the chunk and to the stored block before it), written as
one atomic Parquet partition, and only then is the cursor moved. A process
killed anywhere leaves whole partitions only; a restart fetches whatever
numbers in the asked range the store does not hold, so it ends with exactly the
data of an uninterrupted run (duplicates from a write whose cursor update was
lost are identical rows, and reads keep one), and every run ends by setting the
cursor to the stored head's successor (a kill between the last write and its
cursor update would otherwise leave the cursor behind for good).

A parent-hash mismatch at a join, or a stored head the node no longer has,
means the node reorganised: the ingestor fetches the node's recent headers,
walks back to the common ancestor, records a ``reorg`` event (first, before
touching the store, so a crash cannot lose it), truncates the orphaned blocks
and fetches their replacements in the same run, from the common ancestor on,
whatever block the run started from.

Endpoints are not trusted blindly: a range whose parent links break inside it
is fetched again from the next endpoint (an inconsistent replica), and a node
whose head is behind the stored head is not read at all (the next endpoint that
is not behind is used, else :class:`NodeBehindError` says so plainly).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from filelock import FileLock, Timeout

from seqrisk.exceptions import DataError, RpcError, StoreError
from seqrisk.health import ChainHealth, HealthRules, HealthState, Observation, step
from seqrisk.ingest.events import load_observations
from seqrisk.rpc import ChainIdMismatchError, Header, RpcClient
from seqrisk.store import BLOCK_SCHEMA, DetectedEvent, Home, Problem, QuarantinedError, StateStore
from seqrisk.store.ledger import clear_repair, repairs

__all__ = ["REORG_DETECTOR", "IngestResult", "Ingestor", "NodeBehindError", "headers_to_table", "missing_runs",
           "uncovered"]

REORG_DETECTOR = "ingest-reorg"
Progress = Callable[[int, int], None]


class NodeBehindError(RpcError):
    """Every endpoint's head is behind the block store's head (a lagging or re-syncing node): nothing to read."""


@dataclass
class IngestResult:
    """What one ingest run did: blocks written, reorgs seen (as events), requests used."""

    chain: str
    start: int
    end: int
    written: int = 0
    reorgs: list[DetectedEvent] = field(default_factory=list)
    repaired: list[tuple[int, int]] = field(default_factory=list)  # quarantined ranges fetched again
    quarantined: list[Problem] = field(default_factory=list)       # partitions that failed a check meanwhile
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
    """One writer per chain: an OS file lock (``flock`` on POSIX, ``LockFileEx`` on Windows, via filelock)."""
    path = home.root / "blocks" / f".{chain}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise StoreError("another ingest of this chain is running", chain=chain, file=str(path)) from None
    try:
        yield
    finally:
        lock.release()


class Ingestor:
    """Fetches headers of one chain through ``client`` into ``home``'s block store.

    ``chunk_blocks`` headers make one partition (and one cursor step);
    ``reorg_window`` is how far back a reorg may reach before it is an error;
    more than ``compact_above`` partitions of fewer than ``compact_rows`` blocks
    are merged (tiered compaction, so its cost does not grow with the chain).
    ``clock`` is the observer's clock of :meth:`observe` (UTC epoch seconds);
    ``health_rules`` judge the observed heads (:mod:`seqrisk.health`).
    """

    def __init__(self, client: RpcClient, home: Home, chain: str, *, chunk_blocks: int = 20_000,
                 reorg_window: int = 1024, compact_above: int = 64, compact_rows: int = 1_000_000,
                 progress: Progress | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:  # clock-ok: the observer's clock
        self.client = client
        self.home = home
        self.chain = chain
        self.chunk_blocks = max(1, int(chunk_blocks))
        self.reorg_window = max(1, int(reorg_window))
        self.compact_above = compact_above
        self.compact_rows = max(2, int(compact_rows))
        self.progress = progress
        self._sleep = sleep
        self._clock = clock
        self.health_rules = HealthRules()
        self._health: HealthState | None = None
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
    def _stored(self, a: int, b: int) -> dict[int, tuple[bytes, int, bytes]]:
        """Stored ``number -> (hash, timestamp, parent_hash)`` for ``a..b``."""
        t = self.blocks.read(self.chain, max(0, a), b, columns=("number", "hash", "timestamp", "parent_hash"))
        return {int(n): (h, int(ts), ph) for n, h, ts, ph in zip(
            t.column("number").to_pylist(), t.column("hash").to_pylist(), t.column("timestamp").to_pylist(),
            t.column("parent_hash").to_pylist(), strict=True)}

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
        first = min(n for n in ours if n > ancestor)  # blocks may be missing right above the ancestor
        last = tip
        ev = DetectedEvent(
            chain=self.chain, type="reorg", start_utc=float(ours[first][1]), end_utc=float(ours[last][1]),
            confidence=1.0, detector=REORG_DETECTOR,
            evidence={"depth": last - ancestor, "common_ancestor": ancestor, "first_orphaned": first,
                      "last_orphaned": last, "orphaned_head_hash": "0x" + ours[last][0].hex(),
                      "new_hash_at_head": "0x" + theirs[last].hash.hex()})
        with self._state() as st:
            st.add_events([ev])
            self.blocks.truncate_above(self.chain, ancestor, note={  # a lost state database recovers it from here
                "chain": ev.chain, "type": ev.type, "start_utc": ev.start_utc, "end_utc": ev.end_utc,
                "confidence": ev.confidence, "detector": ev.detector, "evidence": ev.evidence})
            st.set_cursor(self.chain, ancestor + 1, "0x" + ours[ancestor][0].hex())
        result.reorgs.append(ev)
        return ancestor

    # -- fetching --------------------------------------------------------------
    def _fetch_linked(self, a: int, b: int) -> list[Header]:
        """Headers a..b whose parent links hold inside the chunk.

        A broken link is fetched again once from the same endpoint (the node
        may have moved while we read), then from the next endpoint (a replica
        serving inconsistent blocks), each endpoint getting two tries.
        """
        n_ep = len(self.client.endpoints)
        broken_at = a
        for attempt in range(2 * n_ep):
            hs = self.client.headers(range(a, b + 1))
            broken = next((i for i in range(1, len(hs)) if hs[i].parent_hash != hs[i - 1].hash), None)
            if broken is None:
                bad_t = next((i for i in range(1, len(hs)) if hs[i].timestamp < hs[i - 1].timestamp), None)
                if bad_t is not None:
                    raise DataError("block timestamp goes backwards", chain=self.chain, block=hs[bad_t].number,
                                    value=hs[bad_t].timestamp)
                return hs
            broken_at = hs[broken].number
            if attempt % 2 == 1:
                self.client.fail_over()
            else:
                self._sleep(0.2)
        raise RpcError(f"parent links keep breaking inside a fetched range on {'every' if n_ep > 1 else 'the'} "
                       "endpoint (the node reorganises while we read, or serves inconsistent blocks)",
                       chain=self.chain, block=broken_at)

    def _node_head(self, stored_head: int | None) -> int:
        """The head of an endpoint that is not behind the store (moving to it); NodeBehindError if none is."""
        head = self.client.block_number()
        if stored_head is None or head >= stored_head:
            return head
        heads = self.client.heads()
        answered = {i: h for i, h in enumerate(heads) if isinstance(h, int)}
        best = max(answered, key=answered.__getitem__, default=None)
        if best is not None and answered[best] >= stored_head:
            self.client.prefer(best)
            return answered[best]
        shown = ", ".join(f"{name} at {h}" for name, h in zip(self.client.endpoint_names(), heads, strict=True)
                          if isinstance(h, int))
        raise NodeBehindError(f"the node is behind the stored head {stored_head} ({shown}): a lagging or "
                              "re-syncing node; nothing was read. Wait for it to catch up or give another --rpc",
                              chain=self.chain)

    def run(self, start: int, end: int | None = None) -> IngestResult:
        """Store every header of ``start..end`` (inclusive; ``end`` None: the node's head) the store lacks.

        A reorg found at a join or at the stored head is repaired in the same
        run: the orphaned blocks are replaced from the common ancestor on, even
        below ``start``.
        """
        if start < 0 or (end is not None and end < start - 1):
            raise DataError("block range must satisfy 0 <= from <= to", chain=self.chain, value=f"{start}..{end}")
        t0 = time.perf_counter()
        calls0, req0 = self.client.calls, self.client.requests
        result = IngestResult(self.chain, start, start - 1 if end is None else end)
        with _writer_lock(self.home, self.chain), self.home.state() as st:
            self._st = st
            try:
                for _ in range(10):
                    try:
                        return self._run(start, end, result, t0, calls0, req0)
                    except QuarantinedError as q:  # the file is set aside and its range recorded: run again
                        result.quarantined.append(q.problem)
                raise StoreError("block partitions keep failing their checks; run `seqrisk store info --verify`",
                                 chain=self.chain)
            finally:
                self._st = None

    def _run(self, start: int, end_arg: int | None, result: IngestResult, t0: float, calls0: int,
             req0: int) -> IngestResult:
        """The body of :meth:`run`, with the writer lock held and the state store open."""
        self._bind_chain_id()
        self.blocks.remove_temporary(self.chain)
        head = self.blocks.head(self.chain)
        node_head = self._node_head(head if head is not None and (end_arg is None or end_arg >= head) else None)
        end = node_head if end_arg is None else end_arg
        if head is not None and head <= min(end, node_head):
            # Does the node still have our newest stored block? (a reorg, with or without new blocks)
            ours = self._stored(head, head)
            if head in ours and self.client.header(head).hash != ours[head][0]:
                start = min(start, self._resolve_reorg(head, result) + 1)
        if start > min(end, node_head):
            stored_head = self.blocks.head(self.chain)
            if not (end < start or (stored_head is not None and stored_head >= start - 1)):
                raise DataError(f"range starts after the node's head {node_head}", chain=self.chain, block=start)
            result.end = start - 1  # nothing new to fetch; quarantined ranges still are
        else:
            end = result.end = min(end, node_head)
            result.start = self._fill(start, end, result)
        with self._state() as st:
            todo = repairs(st, self.chain)
        for r in todo:  # ranges of quarantined partitions, wherever they lie
            if r.first <= node_head:
                self._fill(r.first, min(r.last, node_head), result)
            if not uncovered(self.blocks.ranges(self.chain), r.first, min(r.last, node_head)) or \
                    r.first > (self.blocks.head(self.chain) or -1):
                with self._state() as st:
                    clear_repair(st, self.chain, r.first, r.last)
                result.repaired.append((r.first, r.last))
        self._settle_cursor()
        result.seconds = time.perf_counter() - t0
        result.calls = self.client.calls - calls0
        result.requests = self.client.requests - req0
        return result

    def _settle_cursor(self) -> None:
        """Put the cursor on the stored head's successor, whatever the run did.

        Moving the cursor is a second step after a partition's write (the
        Parquet file and the SQLite row cannot change in one transaction), so a
        process killed between them leaves the cursor behind blocks that are
        stored; the next run then finds nothing to fetch and would never move
        it. Every run ends here, so it ends with the cursor of an uninterrupted
        run.
        """
        head = self.blocks.head(self.chain)
        if head is None:
            return
        want = (head + 1, "0x" + self._stored(head, head)[head][0].hex())
        with self._state() as st:
            if st.cursor(self.chain) != want:
                st.set_cursor(self.chain, *want)

    def _fill(self, start: int, end: int, result: IngestResult) -> int:
        """Fetch every number of ``start..end`` the store lacks, checking the joins; return the (maybe lowered)
        start: a reorg found at a join is repaired from the common ancestor on."""
        total = None
        done = 0
        while True:
            runs = uncovered(self.blocks.ranges(self.chain), start, end)
            if total is None:
                total = sum(b - a + 1 for a, b in runs)
            if not runs:
                return start
            a, b = runs[0]
            restart = False
            prev = self._stored(a - 1, a - 1) if a > 0 else {}
            prev_hash = prev[a - 1][0] if prev else None
            for c in range(a, b + 1, self.chunk_blocks):
                ce = min(b, c + self.chunk_blocks - 1)
                hs = self._fetch_linked(c, ce)
                if prev_hash is not None and hs[0].parent_hash != prev_hash:
                    # refetch from the common ancestor, even below the run's start
                    start = min(start, self._resolve_reorg(c - 1, result) + 1)
                    restart = True
                    break
                if ce == b and (nxt := self._stored(b + 1, b + 1)) and nxt[b + 1][2] != hs[-1].hash:
                    raise RpcError(f"the node's block {b} does not link to the stored block {b + 1} (a node on "
                                   "another fork, or an inconsistent replica); nothing was written for it",
                                   chain=self.chain, block=b)
                self.blocks.write(self.chain, headers_to_table(hs), chain_id=self.client.chain_id)
                if ce == self.blocks.head(self.chain):  # the cursor is the stored head's successor (never back)
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
                return start

    # -- observations ----------------------------------------------------------
    def observe(self, now_utc: float | None = None) -> ChainHealth:
        """Ask every endpoint for its head (and safe and finalized heads where served), store the round.

        The round's time is the observer's clock (``now_utc``, default now);
        an endpoint that does not answer is stored with its error. Returns the
        chain's head health after this round, judged with the rounds before.
        """
        now = self._clock() if now_utc is None else now_utc
        obs = []
        for i, name in enumerate(self.client.endpoint_names()):
            try:
                head = self.client.header("latest", endpoint=i)
            except ChainIdMismatchError:
                raise
            except RpcError as exc:
                obs.append(Observation(name, now, None, error=exc.message[:200]))
                continue
            tags: dict[str, Header | None] = {}
            for tag in ("safe", "finalized"):
                try:
                    tags[tag] = self.client.tag_header(tag, endpoint=i)
                except RpcError:
                    tags[tag] = None
            s, f = tags["safe"], tags["finalized"]
            obs.append(Observation(name, now, head.number, float(head.timestamp),
                                   None if s is None else s.number, None if s is None else float(s.timestamp),
                                   None if f is None else f.number, None if f is None else float(f.timestamp)))
        with self.home.state() as st, st.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO head_observations(chain, observed_utc, endpoint, head_number, "
                          "head_time_utc, safe_number, safe_time_utc, finalized_number, finalized_time_utc, error) "
                          "VALUES (?,?,?,?,?,?,?,?,?,?)",
                          [(self.chain, o.observed_utc, o.endpoint, o.head_number, o.head_time_utc, o.safe_number,
                            o.safe_time_utc, o.finalized_number, o.finalized_time_utc, o.error) for o in obs])
        if self._health is None:  # the rounds stored before this one (an earlier run) set the clock
            self._health = HealthState()
            for _, h in itertools.groupby(load_observations(self.home, self.chain), key=lambda o: o.observed_utc):
                rnd = list(h)
                if rnd[0].observed_utc < now:
                    self._health, _ = step(self._health, rnd, self.health_rules)
        self._health, health = step(self._health, obs, self.health_rules)
        return health

    def follow(self, *, from_block: int | None = None, poll_s: float = 5.0, confirmations: int = 0,
               stop: Callable[[], bool] = lambda: False, sleep: Callable[[float], None] = time.sleep,
               on_round: Callable[[IngestResult], None] | None = None,
               on_wait: Callable[[RpcError], None] | None = None,
               on_observe: Callable[[ChainHealth], None] | None = None) -> None:
        """Ingest to ``confirmations`` blocks behind the head, observe, sleep ``poll_s``, repeat until ``stop()``.

        Every round checks the stored head against the node (a reorg is
        repaired from the common ancestor). A node behind the store, or one
        that cannot be reached, is reported to ``on_wait`` and the round is
        skipped: the loop waits for the next one.
        """
        while not stop():
            stored = self.blocks.head(self.chain)
            try:
                target = self.client.block_number() - confirmations
                if stored is None:
                    start = from_block if from_block is not None else max(0, target)
                    r = self.run(start, max(target, start - 1))
                else:
                    r = self.run(stored + 1, max(target, stored))
                if on_round:
                    on_round(r)
            except (NodeBehindError, RpcError) as exc:
                if isinstance(exc, ChainIdMismatchError):
                    raise
                if on_wait:
                    on_wait(exc)
            health = self.observe()
            if on_observe:
                on_observe(health)
            if stop():
                break
            sleep(poll_s)
