"""Read-only SQL over a seqrisk home with DuckDB: the block store's headers and the state database's tables.

A query is one ``SELECT`` (``WITH``, ``FROM``-first, ``DESCRIBE``, ``SUMMARIZE``
and ``SHOW`` included); anything else (``INSERT``, ``COPY``, ``ATTACH``,
``CREATE``, ``SET``, ``PRAGMA``, several statements ...) is refused before it
reaches DuckDB. The query runs in an in-memory DuckDB whose file access is then
limited to the block files and locked, so it reads nothing else and writes
nothing. The state database is opened read-only (SQLite ``mode=ro``).

Views (:data:`VIEWS`):

- ``blocks``: every stored header, one row per chain and block number, as reads
  see it (the newest write of a number wins, truncated blocks are gone, parent
  hashes restored). DuckDB scans the Parquet partitions: nothing is loaded first.
- ``block_ranges``: the stored runs of block numbers per chain (from file names).
- ``events``, ``observations``, ``head_observations``, ``batch_postings``,
  ``alerts``, ``ingest_cursors``, ``partitions``, ``repairs``: the state
  database's tables of the same names (times are seconds since the epoch, UTC:
  ``to_timestamp(start_utc)`` gives a timestamp).
- ``views``: these views and what they hold.

A state table is read only when the query names it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqrisk.exceptions import StoreError, UsageError
from seqrisk.store.layout import CHAIN_SLUG, PART_NAME

__all__ = ["STATE_TABLES", "VIEWS", "check_read_only", "open_query"]

#: Tables of the state database exposed as views, with what they hold.
STATE_TABLES: dict[str, str] = {
    "events": "detected events (downtime, stall, reorg, ...): chain, type, start_utc, end_utc, confidence, evidence",
    "observations": "monitor observations: chain, observed_utc, head_number, head_time_utc, lag_s, status",
    "head_observations": "head, safe and finalized blocks seen per endpoint: chain, observed_utc, endpoint, ...",
    "batch_postings": "L1 batch postings of a chain: chain, l1_block, l1_time_utc, tx_hash",
    "alerts": "alerts raised and cleared: chain, raised_utc, kind, message, cleared_utc",
    "ingest_cursors": "where ingestion resumes: chain, next_block, last_hash, updated_utc",
    "partitions": "the block files' ledger: chain, name, first, last, seq, sha256, bytes, marker",
    "repairs": "block ranges to fetch again (a file failed its check): chain, first, last, reason, file",
}
#: Every view a query can name, with what it holds.
VIEWS: dict[str, str] = {
    "blocks": "block headers, one row per chain and number as reads see them: chain, number, timestamp (unix "
              "seconds), hash, parent_hash, tx_count, gas_used",
    "block_ranges": "stored runs of block numbers: chain, first, last, blocks",
    **STATE_TABLES,
    "views": "these views and what they hold",
}
_BLOCK_COLUMNS = ("number BIGINT, timestamp BIGINT, hash BLOB, parent_hash BLOB, tx_count INTEGER, "
                  "gas_used BIGINT")


#: Words a query may start with (after comments and opening parentheses).
_QUERY_WORDS = frozenset({"SELECT", "WITH", "FROM", "VALUES", "TABLE", "DESCRIBE", "SHOW", "SUMMARIZE"})
_LEAD = re.compile(r"^(\s|--[^\n]*(\n|$)|/\*.*?\*/)*", re.S)


def check_read_only(sql: str) -> None:
    """Refuse anything but one query (:class:`UsageError`, naming the statement's kind)."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(f"the SQL does not parse: {_first_line(exc)}", field="SQL") from None
    if len(statements) != 1:
        raise UsageError(f"one query at a time ({len(statements)} statements given)", field="SQL")
    kind = statements[0].type
    first = _LEAD.sub("", sql).split(None, 1)[0].upper() if _LEAD.sub("", sql).strip() else ""
    if kind != duckdb.StatementType.SELECT or first.lstrip("(") not in _QUERY_WORDS | {""}:
        name = str(getattr(kind, "name", kind)).split(".")[-1]
        name = first if name == "SELECT" else name  # an older DuckDB parses some commands (PRAGMA) as a SELECT
        raise UsageError(f"the store is read-only: only a query (SELECT ...) runs, not {name}", field="SQL")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@dataclass(frozen=True)
class _File:
    chain: str
    path: Path
    first: int
    last: int
    seq: int
    marker: bool


def _block_files(blocks_dir: Path, ledger: dict[tuple[str, str], bool] | None) -> list[_File]:
    """The block partition files (``ledger``: (chain, name) -> marker; files it does not know are left out)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out: list[_File] = []
    if not blocks_dir.is_dir():
        return out
    for d in sorted(blocks_dir.iterdir()):
        if not d.is_dir() or not CHAIN_SLUG.match(d.name):
            continue
        for p in sorted(d.iterdir()):
            m = PART_NAME.match(p.name)
            if not m:
                continue
            if ledger is not None:
                if (d.name, p.name) not in ledger:
                    continue  # a file this store did not write
                marker = ledger[(d.name, p.name)]
            else:
                try:
                    marker = (pq.read_schema(p).metadata or {}).get(b"seqrisk.marker") == b"truncate"
                except (OSError, pa.ArrowException) as exc:
                    raise StoreError(f"unreadable block partition ({_first_line(exc)}); `seqrisk store info "
                                     f"--verify` checks every file", file=str(p)) from None
            out.append(_File(d.name, p, int(m.group(1)), int(m.group(2)), int(m.group(3)), marker))
    return out


def visible_intervals(files: list[_File]) -> list[tuple[_File, int, int]]:
    """For each data file, the runs of its block numbers that reads see: the newest write of a number wins and a
    truncation marker drops every number from its ``first`` in older files (the rule of the block store)."""
    out: list[tuple[_File, int, int]] = []
    by_chain: dict[str, list[_File]] = {}
    for f in files:
        by_chain.setdefault(f.chain, []).append(f)
    for parts in by_chain.values():
        data = [f for f in parts if not f.marker]
        for f in data:
            hi = min([f.last] + [m.first - 1 for m in parts if m.marker and m.seq > f.seq])
            runs = [(f.first, hi)] if hi >= f.first else []
            for g in data:
                if g.seq <= f.seq:
                    continue
                runs = [r for lo, up in runs for r in ((lo, min(up, g.first - 1)), (max(lo, g.last + 1), up))
                        if r[0] <= r[1]]
            out.extend((f, lo, up) for lo, up in runs)
    return out


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _blocks_view(intervals: list[tuple[_File, int, int]]) -> str:
    if not intervals:
        cols = ", ".join(f"NULL::{t} AS {n}" for n, t in (c.split(" ") for c in
                                                         ("chain VARCHAR", *_BLOCK_COLUMNS.split(", "))))
        return f"SELECT {cols} WHERE false"
    files = sorted({f.path.as_posix() for f, _, _ in intervals})
    runs = ", ".join(f"({_sql_str(f.path.as_posix())}, {_sql_str(f.chain)}, {lo}, {up})" for f, lo, up in intervals)
    # A null parent_hash is the previous row's hash in the same file (partitions are contiguous runs).
    return f"""
        WITH runs(path, chain, lo, up) AS (VALUES {runs}),
        b AS (SELECT filename, number, timestamp, hash,
                     coalesce(parent_hash, lag(hash) OVER (PARTITION BY filename ORDER BY number)) AS parent_hash,
                     tx_count, gas_used
              FROM read_parquet([{', '.join(_sql_str(p) for p in files)}], filename = true))
        SELECT runs.chain, b.number, b.timestamp, b.hash, b.parent_hash, b.tx_count, b.gas_used
        FROM b JOIN runs ON b.filename = runs.path AND b.number BETWEEN runs.lo AND runs.up
    """


def _ranges(intervals: list[tuple[_File, int, int]]) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    for chain, lo, up in sorted((f.chain, lo, up) for f, lo, up in intervals):
        if out and out[-1][0] == chain and lo <= out[-1][2] + 1:
            out[-1] = (chain, out[-1][1], max(out[-1][2], up))
        else:
            out.append((chain, lo, up))
    return out


def _state_schema() -> dict[str, list[tuple[str, str]]]:
    """Each exposed table's columns and declared SQLite types, from the store's migrations."""
    from seqrisk.store.state import MIGRATIONS

    mem = sqlite3.connect(":memory:")
    try:
        for m in MIGRATIONS:
            mem.executescript(m)
        return {t: [(r[1], r[2]) for r in mem.execute(f"PRAGMA table_info({t})")] for t in STATE_TABLES}
    finally:
        mem.close()


def _arrow_type(decl: str) -> Any:
    import pyarrow as pa

    d = decl.upper()
    return pa.int64() if "INT" in d else pa.float64() if d in ("REAL", "FLOAT", "DOUBLE") else pa.string()


def _state_table(conn: sqlite3.Connection | None, table: str, cols: list[tuple[str, str]]) -> Any:
    import pyarrow as pa

    schema = pa.schema([(n, _arrow_type(t)) for n, t in cols])
    if conn is None:
        return schema.empty_table()
    have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    if not have:
        return schema.empty_table()
    names = [n for n, _ in cols if n in have]
    rows = conn.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall()
    data = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    return pa.table({n: pa.array(data.get(n, [None] * len(rows)), type=schema.field(n).type) for n, _ in cols},
                    schema=schema)


@contextmanager
def _state_ro(path: Path) -> Iterator[sqlite3.Connection | None]:
    if not path.is_file():
        yield None
        return
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the state database: {exc}", file=str(path)) from None
    try:
        yield conn
    finally:
        conn.close()


def _ledger(st: sqlite3.Connection | None) -> dict[tuple[str, str], bool] | None:
    """The ledger's files, (chain, name) -> marker; None where there is none to go by (no state database, no
    ledger table, or partitions not yet hashed into it)."""
    if st is None or not st.execute("SELECT 1 FROM sqlite_master WHERE name = 'partitions'").fetchone():
        return None
    if st.execute("SELECT 1 FROM meta WHERE key = 'ledger_pending'").fetchone():
        return None
    return {(c, n): bool(m) for c, n, m in st.execute("SELECT chain, name, marker FROM partitions")}


def _named(sql: str) -> set[str]:
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
    return {v for v in VIEWS if v in words}


@contextmanager
def open_query(home_root: Path | str, sql: str) -> Iterator[Any]:
    """A DuckDB relation of ``sql`` over the home's views (read-only; see the module docstring).

    Refuses anything but one query (:class:`UsageError`); an SQL error is a :class:`UsageError` naming DuckDB's
    message. The relation is valid inside the ``with`` block.
    """
    import duckdb
    import pyarrow as pa

    check_read_only(sql)
    root = Path(home_root)
    named = _named(sql)
    con = duckdb.connect(":memory:")
    try:
        with _state_ro(root / "state.sqlite") as st:
            schema = _state_schema()
            for t in STATE_TABLES:
                if t in named:
                    con.register(t, _state_table(st, t, schema[t]))
            allowed: list[str] = []
            if named & {"blocks", "block_ranges"}:
                intervals = visible_intervals(_block_files(root / "blocks", _ledger(st)))
                allowed = sorted({f.path.as_posix() for f, _, _ in intervals})
                con.execute(f"CREATE VIEW blocks AS {_blocks_view(intervals)}")
                rng = _ranges(intervals)
                con.register("block_ranges", pa.table({
                    "chain": pa.array([c for c, _, _ in rng], pa.string()),
                    "first": pa.array([a for _, a, _ in rng], pa.int64()),
                    "last": pa.array([b for _, _, b in rng], pa.int64()),
                    "blocks": pa.array([b - a + 1 for _, a, b in rng], pa.int64())}))
            con.register("views", pa.table({"name": list(VIEWS), "holds": list(VIEWS.values())}))
        _lock(con, allowed)
        try:
            rel = con.sql(sql)
        except duckdb.Error as exc:
            raise UsageError(f"the query failed: {_first_line(exc)}", field="SQL") from None
        yield rel
    finally:
        con.close()


def _lock(con: Any, files: list[str]) -> None:
    """No file but the block partitions can be read from here on, and the settings cannot change back."""
    import duckdb

    try:
        con.execute("SET allowed_paths = [" + ", ".join(_sql_str(f) for f in files) + "]")
    except duckdb.Error:  # DuckDB before 1.3 has no allowed_paths: no file at all, unless blocks are queried
        if files:
            return
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
