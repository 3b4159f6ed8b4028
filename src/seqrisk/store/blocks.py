"""Block headers in columnar files: Parquet partitions per chain and block range.

Layout under ``<home>/blocks/<chain>/``::

    part-<first:012d>-<last:012d>-<seq:08d>.parquet

Each partition holds a contiguous, increasing run of block numbers. A partition
is written to a temporary name, fsynced and renamed, so a reader sees a whole
file or none. ``seq`` grows with every write; where partitions overlap (a reorg
replaced blocks) the row from the highest ``seq`` wins, and a *truncation
marker* partition with no rows drops everything above it from older files.
Reads go through DuckDB over the Parquet files, in-process.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from seqrisk.exceptions import DataError, StoreError

__all__ = ["BLOCK_SCHEMA", "BlockStore", "Partition"]

#: Columns of a stored header. ``hash``/``parent_hash`` are 32 raw bytes.
BLOCK_SCHEMA = pa.schema([
    pa.field("number", pa.int64(), nullable=False),
    pa.field("timestamp", pa.int64(), nullable=False),
    pa.field("hash", pa.binary(32), nullable=False),
    pa.field("parent_hash", pa.binary(32), nullable=False),
    pa.field("tx_count", pa.int32(), nullable=False),
    pa.field("gas_used", pa.int64(), nullable=False),
])
_NAME = re.compile(r"^part-(\d{12})-(\d{12})-(\d{8})\.parquet$")
_CHAIN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True, order=True)
class Partition:
    seq: int
    first: int
    last: int
    path: Path


class BlockStore:
    """Parquet block partitions under ``root`` (``<home>/blocks``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _dir(self, chain: str) -> Path:
        if not _CHAIN.match(chain):
            raise DataError("chain id must be a lowercase slug", field="chain", value=chain)
        return self.root / chain

    def partitions(self, chain: str) -> list[Partition]:
        d = self._dir(chain)
        if not d.is_dir():
            return []
        out = []
        for p in d.iterdir():
            m = _NAME.match(p.name)
            if m:
                out.append(Partition(int(m.group(3)), int(m.group(1)), int(m.group(2)), p))
        return sorted(out)

    def chains(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.partitions(p.name))

    def write(self, chain: str, table: pa.Table) -> Partition:
        """Write one partition of contiguous increasing block numbers, atomically.

        Rows replace earlier rows with the same numbers. Raises
        :class:`DataError` for a wrong schema or non-contiguous numbers; nothing
        is written then.
        """
        table = self._conform(chain, table)
        nums = table.column("number").to_pylist()
        if not nums:
            raise DataError("empty block batch", chain=chain)
        if any(b - a != 1 for a, b in itertools.pairwise(nums)):
            raise DataError("block numbers must be contiguous and increasing", chain=chain,
                            field="number", value=f"{nums[0]}..{nums[-1]}")
        return self._atomic(chain, table, nums[0], nums[-1])

    def truncate_above(self, chain: str, number: int) -> Partition:
        """Drop every stored block above ``number`` (a marker partition, atomic)."""
        return self._atomic(chain, BLOCK_SCHEMA.empty_table(), number + 1, number + 1, marker=True)

    def _atomic(self, chain: str, table: pa.Table, first: int, last: int, marker: bool = False) -> Partition:
        d = self._dir(chain)
        d.mkdir(parents=True, exist_ok=True)
        parts = self.partitions(chain)
        seq = max(p.seq for p in parts) + 1 if parts else 1
        name = f"part-{first:012d}-{last:012d}-{seq:08d}.parquet"
        tmp = d / f".{name}.tmp"
        meta = {b"seqrisk.marker": b"truncate" if marker else b"data"}
        try:
            pq.write_table(table.replace_schema_metadata(meta), tmp, compression="zstd")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, d / name)
            dfd = os.open(d, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write block partition: {exc}", file=str(d / name)) from None
        return Partition(seq, first, last, d / name)

    @staticmethod
    def _conform(chain: str, table: pa.Table) -> pa.Table:
        missing = [f.name for f in BLOCK_SCHEMA if f.name not in table.column_names]
        if missing:
            raise DataError("block batch lacks columns", chain=chain, field=missing[0])
        try:
            return table.select(BLOCK_SCHEMA.names).cast(BLOCK_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"block batch has wrong types: {exc}", chain=chain) from None

    def _markers(self, chain: str) -> list[Partition]:
        return [p for p in self.partitions(chain)
                if (pq.read_schema(p.path).metadata or {}).get(b"seqrisk.marker") == b"truncate"]

    def read(self, chain: str, start: int | None = None, end: int | None = None) -> pa.Table:
        """Headers with ``start <= number <= end``, one row per number (newest write wins)."""
        parts = self.partitions(chain)
        markers = {p.path for p in self._markers(chain)}
        data = [p for p in parts if p.path not in markers]
        if not data:
            return BLOCK_SCHEMA.empty_table()
        files = ", ".join(f"('{p.path.as_posix()}', {p.seq})" for p in data)
        cuts = " OR ".join(f"(f.seq < {m.seq} AND b.number >= {m.first})"
                           for m in parts if m.path in markers) or "FALSE"
        where = []
        if start is not None:
            where.append(f"b.number >= {int(start)}")
        if end is not None:
            where.append(f"b.number <= {int(end)}")
        cond = (" AND " + " AND ".join(where)) if where else ""
        sql = f"""
            WITH f(path, seq) AS (VALUES {files}),
            b AS (SELECT *, parse_filename(filename) AS fname FROM read_parquet([{', '.join(
                f"'{p.path.as_posix()}'" for p in data)}], filename = true))
            SELECT b.number, b.timestamp, b.hash, b.parent_hash, b.tx_count, b.gas_used
            FROM b JOIN f ON b.filename = f.path
            WHERE NOT ({cuts}) {cond}
            QUALIFY row_number() OVER (PARTITION BY b.number ORDER BY f.seq DESC) = 1
            ORDER BY b.number
        """
        con = duckdb.connect()
        try:
            return con.sql(sql).to_arrow_table().cast(BLOCK_SCHEMA)
        finally:
            con.close()

    def head(self, chain: str) -> int | None:
        t = self.read(chain)
        return None if t.num_rows == 0 else int(t.column("number")[-1].as_py())

    def size_bytes(self, chain: str | None = None) -> int:
        chains = [chain] if chain else self.chains()
        return sum(p.path.stat().st_size for c in chains for p in self.partitions(c))

    def compact(self, chain: str) -> Partition | None:
        """Rewrite a chain's partitions as one (atomic), then remove the old files."""
        parts = self.partitions(chain)
        if len(parts) <= 1:
            return None
        t = self.read(chain)
        if t.num_rows == 0:
            return None
        new = self.write(chain, t)
        for p in parts:
            p.path.unlink(missing_ok=True)
        return new
