"""The block store's file layout: schemas, partition names, the parent-hash elision, the DuckDB read.

Layout under ``<home>/blocks/<chain>/``::

    part-<first:012d>-<last:012d>-<seq:08d>.parquet

Each partition holds a contiguous, increasing run of block numbers (a data
partition) or no rows (a truncation marker: everything from ``first`` on in
older files is dropped). Metadata ``seqrisk.marker`` says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["BLOCK_SCHEMA", "CHAIN_SLUG", "ENCODING", "FILE_SCHEMA", "PART_NAME", "Partition", "Vanished",
           "content_problem", "elide_parents", "query_blocks", "stamp"]

#: Columns of a stored header. ``hash``/``parent_hash`` are 32 raw bytes.
BLOCK_SCHEMA = pa.schema([
    pa.field("number", pa.int64(), nullable=False),
    pa.field("timestamp", pa.int64(), nullable=False),
    pa.field("hash", pa.binary(32), nullable=False),
    pa.field("parent_hash", pa.binary(32), nullable=False),
    pa.field("tx_count", pa.int32(), nullable=False),
    pa.field("gas_used", pa.int64(), nullable=False),
])
#: Physical layout of a data partition: ``parent_hash`` null where it equals the previous row's hash.
FILE_SCHEMA = pa.schema([f.with_nullable(True) if f.name == "parent_hash" else f for f in BLOCK_SCHEMA])
ENCODING = {"number": "DELTA_BINARY_PACKED", "timestamp": "DELTA_BINARY_PACKED"}
PART_NAME = re.compile(r"^part-(\d{12})-(\d{12})-(\d{8})\.parquet$")
CHAIN_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Vanished(Exception):
    """A listed partition file disappeared (a compaction removed it): list again."""


@dataclass(frozen=True, order=True)
class Partition:
    seq: int
    first: int
    last: int
    path: Path


def stamp(path: Path) -> tuple[int, int, int]:
    """Size, modification time (ns) and inode: a file that keeps its stamp kept its bytes (for our writes)."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino


def query_blocks(data: list[Partition], markers: list[Partition], start: int | None, end: int | None,
               cols: list[str]) -> pa.Table:
        files = ", ".join(f"('{p.path.as_posix()}', {p.seq})" for p in data)
        paths = ", ".join(f"'{p.path.as_posix()}'" for p in data)
        cuts = " OR ".join(f"(seq < {m.seq} AND number >= {m.first})" for m in markers) or "FALSE"
        # A null parent_hash is the previous row's hash, and that row (number - 1) is in the same
        # file because partitions are contiguous: so scanning from start - 1 is enough.
        pre, cond = [], []
        if start is not None:
            pre.append(f"number >= {int(start) - 1}")
            cond.append(f"number >= {int(start)}")
        if end is not None:
            pre.append(f"number <= {int(end)}")
        pre_sql = ("WHERE " + " AND ".join(pre)) if pre else ""
        cond_sql = (" AND " + " AND ".join(cond)) if cond else ""
        parent = ("coalesce(b.parent_hash, lag(b.hash) OVER (PARTITION BY b.filename ORDER BY b.number)) "
                  "AS parent_hash")
        inner = ", ".join(parent if c == "parent_hash" else f"b.{c}" for c in cols if c != "number") or "1 AS one"
        sql = f"""
            WITH f(path, seq) AS (VALUES {files}),
            b AS (SELECT * FROM read_parquet([{paths}], filename = true) {pre_sql}),
            l AS (SELECT b.number, {inner}, f.seq FROM b JOIN f ON b.filename = f.path)
            SELECT {', '.join(cols)}
            FROM l
            WHERE NOT ({cuts}) {cond_sql}
            QUALIFY row_number() OVER (PARTITION BY number ORDER BY seq DESC) = 1
            ORDER BY number
        """
        con = duckdb.connect()
        try:
            return con.sql(sql).to_arrow_table()
        finally:
            con.close()


def content_problem(p: Partition) -> str | None:
    """What is wrong with a partition file's contents (None: nothing): unreadable, a page checksum that
    fails, a schema or block range that does not match its name."""
    try:
        f = pq.ParquetFile(p.path, page_checksum_verification=True)
        kind = (f.schema_arrow.metadata or {}).get(b"seqrisk.marker")
        t = f.read()
    except FileNotFoundError:
        raise Vanished from None
    except (OSError, pa.ArrowException) as exc:
        return f"unreadable ({str(exc).splitlines()[0][:160]})"
    if kind == b"truncate":
        return None if t.num_rows == 0 and p.first == p.last else "a truncation marker with rows"
    if kind != b"data":
        return "not a seqrisk block partition (no seqrisk.marker metadata)"
    if not t.schema.remove_metadata().equals(FILE_SCHEMA):
        return "columns differ from a block partition's"
    nums = t.column("number").to_numpy()
    if len(nums) != p.last - p.first + 1 or not np.array_equal(nums, np.arange(p.first, p.last + 1)):
        return f"holds blocks other than {p.first}..{p.last} (its name)"
    return None


def elide_parents(table: pa.Table) -> pa.Table:
    """``table`` in the file layout: ``parent_hash`` null where it equals the previous row's hash."""
    h = table.column("hash").combine_chunks()
    ph = table.column("parent_hash").combine_chunks()
    if len(h) > 1:
        same = pc.equal(ph.slice(1), h.slice(0, len(h) - 1))
        keep = pa.concat_arrays([pa.array([True]), pc.invert(same)])
        ph = pc.if_else(keep, ph, pa.scalar(None, pa.binary(32)))
    i = table.schema.get_field_index("parent_hash")
    return table.set_column(i, FILE_SCHEMA.field("parent_hash"), ph).cast(FILE_SCHEMA)
