"""Block headers in columnar files: Parquet partitions per chain and block range (layout: ``layout.py``).

A partition is written to a temporary name, fsynced and renamed, so a reader
sees a whole file or none. ``seq`` grows with every write; where partitions
overlap (a reorg replaced blocks) the row from the highest ``seq`` wins, and a
*truncation marker* partition with no rows drops everything above it from older
files. Reads go through DuckDB over the Parquet files, in-process.

Integrity (``integrity.py``): files are written with Parquet page checksums
(CRC-32 per page), and, when the store has a state database (a
:class:`~seqrisk.store.Home`), a SHA-256 of every file goes into its ledger
before the file appears. A read checks each file it opens against the ledger
once per process: a file whose hash differs (damaged) or that the ledger does
not know (foreign) is moved to ``<home>/quarantine/<chain>/``, its block range
recorded for the next ``ingest`` to fetch again, and the read raises
:class:`QuarantinedError` naming the file.

Concurrent readers: compaction writes the merged partition before it removes
the old files, so a reader whose listed file vanished lists again and rereads
(the data it sees is the same); it never fails for that reason.

Storage budget (< 50 MB per million headers): a block hash is 32 random bytes
and does not compress, and a parent hash is, on a canonical chain, the previous
row's hash. So a partition stores ``parent_hash`` as null wherever it equals the
previous row's hash (always stored for a partition's first row and wherever the
link breaks), and reads rebuild it: lossless for any input, 32 bytes per header
instead of 64. ``number`` and ``timestamp`` are delta-encoded. Measured: about
37 MB per million headers with realistic gas figures (benchmarks/bench_ingest.py).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from seqrisk.exceptions import DataError, StoreError
from seqrisk.store.integrity import VERIFIED, Guard, Problem, QuarantinedError, StateOpener
from seqrisk.store.layout import (
    BLOCK_SCHEMA,
    CHAIN_SLUG,
    ENCODING,
    PART_NAME,
    Partition,
    Vanished,
    content_problem,
    elide_parents,
    query_blocks,
    stamp,
)
from seqrisk.store.ledger import LedgerRow, file_sha256, ledger_add, ledger_remove

__all__ = ["BLOCK_SCHEMA", "READ_ATTEMPTS", "BlockStore", "Partition", "Problem", "QuarantinedError", "fsync_dir"]

#: How often a read lists the partitions again when files vanish under it (a compaction in another process).
READ_ATTEMPTS = 50


def fsync_dir(path: Path) -> None:
    """Make a rename inside directory ``path`` durable, where the OS can: POSIX systems fsync the directory;
    Windows has no directory descriptor (NTFS journals the rename itself), so this is a no-op there."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class BlockStore:
    """Parquet block partitions under ``root`` (``<home>/blocks``).

    ``state`` opens the state database holding the ledger (None: a bare
    store, written with page checksums but not hashed into a ledger);
    ``quarantine`` is where failed files go (default ``<root>/../quarantine``).
    """

    def __init__(self, root: Path | str, *, state: StateOpener | None = None,
                 quarantine: Path | str | None = None) -> None:
        self.root = Path(root)
        self._state = state
        self.quarantine_dir = Path(quarantine) if quarantine is not None else self.root.parent / "quarantine"
        self._marker_cache: dict[Path, bool] = {}
        self.guard = Guard(state, self.quarantine_dir, self._rewrite_marker, self._forget)

    def _rewrite_marker(self, chain: str, p: Partition) -> None:
        self._atomic(chain, BLOCK_SCHEMA.empty_table(), p.first, p.first, marker=True, seq=p.seq)

    def _forget(self, path: Path) -> None:
        self._marker_cache.pop(path, None)
        VERIFIED.pop(path, None)

    def _dir(self, chain: str) -> Path:
        if not CHAIN_SLUG.match(chain):
            raise DataError("chain id must be a lowercase slug", field="chain", value=chain)
        return self.root / chain

    def partitions(self, chain: str) -> list[Partition]:
        d = self._dir(chain)
        if not d.is_dir():
            return []
        out = []
        for p in d.iterdir():
            m = PART_NAME.match(p.name)
            if m:
                out.append(Partition(int(m.group(3)), int(m.group(1)), int(m.group(2)), p))
        return sorted(out)

    def chains(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.partitions(p.name))

    def write(self, chain: str, table: pa.Table, *, chain_id: int | None = None) -> Partition:
        """Write one partition of contiguous increasing block numbers, atomically.

        Rows replace earlier rows with the same numbers. ``chain_id`` (the EVM
        chain id) is kept in the file's metadata, so a lost state database can
        be rebuilt with it. Raises :class:`DataError` for a wrong schema or
        non-contiguous numbers; nothing is written then.
        """
        table = self._conform(chain, table)
        nums = table.column("number").to_pylist()
        if not nums:
            raise DataError("empty block batch", chain=chain)
        if any(b - a != 1 for a, b in itertools.pairwise(nums)):
            raise DataError("block numbers must be contiguous and increasing", chain=chain,
                            field="number", value=f"{nums[0]}..{nums[-1]}")
        meta = {} if chain_id is None else {b"seqrisk.chain_id": str(int(chain_id)).encode()}
        return self._atomic(chain, table, nums[0], nums[-1], meta=meta)

    def truncate_above(self, chain: str, number: int, *, note: dict[str, Any] | None = None) -> Partition:
        """Drop every stored block above ``number`` (a marker partition, atomic).

        ``note`` (JSON-able, e.g. the reorg event that caused it) is kept in the marker's metadata.
        """
        meta = {} if note is None else {b"seqrisk.note": json.dumps(note, sort_keys=True).encode()}
        return self._atomic(chain, BLOCK_SCHEMA.empty_table(), number + 1, number + 1, marker=True, meta=meta)

    def _atomic(self, chain: str, table: pa.Table, first: int, last: int, marker: bool = False,
                meta: dict[bytes, bytes] | None = None, seq: int | None = None) -> Partition:
        d = self._dir(chain)
        d.mkdir(parents=True, exist_ok=True)
        if seq is None:
            parts = self.partitions(chain)
            seq = max(p.seq for p in parts) + 1 if parts else 1
        name = f"part-{first:012d}-{last:012d}-{seq:08d}.parquet"
        tmp = d / f".{name}.tmp"
        meta = {**(meta or {}), b"seqrisk.marker": b"truncate" if marker else b"data"}
        try:
            if marker:
                pq.write_table(table.replace_schema_metadata(meta), tmp, compression="zstd", write_page_checksum=True)
            else:
                pq.write_table(elide_parents(table).replace_schema_metadata(meta), tmp, compression="zstd",
                               column_encoding=ENCODING, use_dictionary=["tx_count"], write_page_checksum=True)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            if self._state is not None:  # the ledger knows the file before it is visible
                sha, size = file_sha256(tmp)
                with self._state() as st:
                    ledger_add(st, chain, LedgerRow(name, first, last, seq, sha, size, marker))
            os.replace(tmp, d / name)
            fsync_dir(d)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write block partition: {exc}", file=str(d / name)) from None
        self._marker_cache[d / name] = marker
        VERIFIED[d / name] = stamp(d / name)
        return Partition(seq, first, last, d / name)

    def remove_temporary(self, chain: str) -> int:
        """Delete leftover temporary files of interrupted writes (call with no writer running).

        A temporary file whose final name never appeared leaves a ledger entry
        without a file: that entry is dropped too.
        """
        d = self._dir(chain)
        if not d.is_dir():
            return 0
        gone = []
        for p in d.glob(".part-*.tmp"):
            p.unlink(missing_ok=True)
            final = p.name[1:].removesuffix(".tmp")
            if not (d / final).exists():
                gone.append(final)
        if gone and self._state is not None:
            with self._state() as st:
                ledger_remove(st, chain, gone)
        return len(gone)

    @staticmethod
    def _conform(chain: str, table: pa.Table) -> pa.Table:
        missing = [f.name for f in BLOCK_SCHEMA if f.name not in table.column_names]
        if missing:
            raise DataError("block batch lacks columns", chain=chain, field=missing[0])
        try:
            return table.select(BLOCK_SCHEMA.names).cast(BLOCK_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"block batch has wrong types: {exc}", chain=chain) from None

    def _is_marker(self, chain: str, p: Partition) -> bool:
        hit = self._marker_cache.get(p.path)
        if hit is None:
            self.guard.check(chain, [p])
            try:
                hit = (pq.read_schema(p.path).metadata or {}).get(b"seqrisk.marker") == b"truncate"
            except FileNotFoundError:
                raise Vanished from None
            except (OSError, pa.ArrowException) as exc:
                raise self.guard.damaged(chain, p, f"unreadable ({exc})") from None
            self._marker_cache[p.path] = hit
        return hit

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        """``fn()``, again while files it listed vanish (compaction); it never fails for that."""
        for _ in range(READ_ATTEMPTS):
            try:
                return fn()
            except Vanished:
                continue
        raise StoreError(f"block partitions kept changing during {READ_ATTEMPTS} attempts to read them",
                         file=str(self.root))

    def read(self, chain: str, start: int | None = None, end: int | None = None, *,
             columns: Sequence[str] | None = None) -> pa.Table:
        """Headers with ``start <= number <= end``, one row per number (newest write wins).

        ``columns`` selects columns (default: all of :data:`BLOCK_SCHEMA`, in its order). Raises
        :class:`QuarantinedError` when a file fails its check (it is moved aside first).
        """
        cols = list(BLOCK_SCHEMA.names) if columns is None else [c for c in BLOCK_SCHEMA.names if c in columns]
        if columns is not None and (bad := set(columns) - set(BLOCK_SCHEMA.names)):
            raise DataError("unknown block column", chain=chain, field=sorted(bad)[0])
        if not cols:
            raise DataError("no column asked for", chain=chain, field="columns")
        schema = pa.schema([BLOCK_SCHEMA.field(c) for c in cols])
        t: pa.Table = self._retrying(lambda: self._read_once(chain, start, end, cols, schema))
        return t

    def _read_once(self, chain: str, start: int | None, end: int | None, cols: list[str],
                   schema: pa.Schema) -> pa.Table:
        parts = self.partitions(chain)
        markers = [p for p in parts if self._is_marker(chain, p)]
        data = [p for p in parts if p not in markers
                and (start is None or p.last >= start) and (end is None or p.first <= end)]
        if not data:
            return schema.empty_table()
        self.guard.check(chain, data)
        try:
            return query_blocks(data, markers, start, end, cols).cast(schema)
        except duckdb.Error as exc:
            if any(not p.path.exists() for p in data):
                raise Vanished from None
            for p in data:  # which file? (its hash matched, or there is no ledger: its contents are wrong)
                why = content_problem(p)
                if why is not None:
                    raise self.guard.damaged(chain, p, why) from None
            raise StoreError(f"cannot read blocks: {str(exc).splitlines()[0]}", chain=chain) from None

    def ranges(self, chain: str) -> list[tuple[int, int]]:
        """Stored block numbers as sorted, merged inclusive runs ``(first, last)``, from partition names alone."""
        out: list[tuple[int, int]] = self._retrying(lambda: self._ranges_once(chain))
        return out

    def _ranges_once(self, chain: str) -> list[tuple[int, int]]:
        parts = self.partitions(chain)
        markers = [p for p in parts if self._is_marker(chain, p)]
        spans = []
        for p in parts:
            if p in markers:
                continue
            last = min([p.last] + [m.first - 1 for m in markers if m.seq > p.seq])
            if last >= p.first:
                spans.append((p.first, last))
        out: list[tuple[int, int]] = []
        for a, b in sorted(spans):
            if out and a <= out[-1][1] + 1:
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
        return out

    def head(self, chain: str) -> int | None:
        """Highest stored block number, from partition names alone (no file is read)."""
        r = self.ranges(chain)
        return r[-1][1] if r else None

    def size_bytes(self, chain: str | None = None) -> int:
        chains = [chain] if chain else self.chains()
        total = 0
        for c in chains:
            for p in self.partitions(c):
                try:
                    total += p.path.stat().st_size
                except FileNotFoundError:  # compacted away meanwhile
                    continue
        return total

    def compact(self, chain: str, *, smaller_than: int | None = None) -> Partition | None:
        """Rewrite partitions as one per contiguous run (atomic each), then remove the old files.

        By default every partition is rewritten. With ``smaller_than`` only data
        partitions of fewer blocks are merged, each group of touching ones into
        the current view of its range (tiered compaction: big partitions and
        truncation markers stay, so the cost does not grow with the chain).
        Returns the last partition written (None when nothing changed). A
        process killed in between leaves old and new files side by side: the
        data read is the same.
        """
        parts = self.partitions(chain)
        if len(parts) <= 1:
            return None
        chain_id = self.chain_id(parts)
        groups: list[tuple[int | None, int | None, list[Partition]]]
        if smaller_than is None:
            groups = [(None, None, parts)]
        else:
            small = sorted((p for p in parts if not self._is_marker(chain, p) and p.last - p.first + 1 < smaller_than),
                           key=lambda p: (p.first, p.seq))
            merged: list[tuple[int | None, int | None, list[Partition]]] = []
            for p in small:
                last_hi = merged[-1][1] if merged else None
                if merged and last_hi is not None and p.first <= last_hi + 1:
                    lo, _, members = merged[-1]
                    merged[-1] = (lo, max(last_hi, p.last), [*members, p])
                else:
                    merged.append((p.first, p.last, [p]))
            groups = [(lo, hi, members) for lo, hi, members in merged if len(members) > 1]
        new = None
        for lo, hi, members in groups:
            t = self.read(chain, lo, hi)
            nums = t.column("number").to_numpy()
            cuts = [0, *(i + 1 for i in range(len(nums) - 1) if nums[i + 1] != nums[i] + 1), len(nums)]
            for x, y in itertools.pairwise(cuts):
                if y > x:
                    new = self.write(chain, t.slice(x, y - x), chain_id=chain_id)
            if smaller_than is None and t.num_rows == 0:
                return None
            for p in members:  # the file first, then its ledger entry: a reader never meets a file without one
                p.path.unlink(missing_ok=True)
                self._forget(p.path)
            if self._state is not None:
                with self._state() as st:
                    ledger_remove(st, chain, [p.path.name for p in members])
        return new

    @staticmethod
    def chain_id(parts: Sequence[Partition]) -> int | None:
        """The EVM chain id recorded in the newest partition that has one (None if none does)."""
        for p in sorted(parts, reverse=True):
            try:
                v = (pq.read_schema(p.path).metadata or {}).get(b"seqrisk.chain_id")
            except (OSError, pa.ArrowException):
                continue
            if v:
                return int(v)
        return None
