"""``seqrisk store query "SQL"``: read-only SQL (DuckDB) over the block store and the state database's tables.

Output: a table (default), CSV, JSON or Parquet, by ``--format`` or the ``--out`` file's suffix; results are
streamed in batches, never held whole (a table on the terminal shows the first rows).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from seqrisk.cli.app import state
from seqrisk.cli.render import JsonOpt, QuietOpt, messages
from seqrisk.cli.store_cmds import store_app
from seqrisk.exceptions import StoreError, UsageError

__all__: list[str] = []

FORMATS = ("table", "csv", "json", "parquet")
SUFFIXES = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".txt": "table"}
#: Rows a table on the terminal shows (CSV, JSON and Parquet hold every row).
TABLE_ROWS = 1000
BATCH_ROWS = 65_536


def resolve_format(fmt: str | None, out: Path | None, as_json: bool) -> str:
    """The output format from ``--format``, ``--json`` and the ``--out`` suffix; a disagreement is refused."""
    chosen = {f for f in (fmt, "json" if as_json else None) if f is not None}
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown format (use {', '.join(FORMATS)})", field="--format", value=fmt)
    if out is not None:
        by_suffix = SUFFIXES.get(out.suffix.lower())
        if by_suffix is None:
            raise UsageError(f"cannot tell the format from the file's suffix (use {', '.join(SUFFIXES)})",
                             field="--out", value=str(out))
        chosen.add(by_suffix)
    if len(chosen) > 1:
        raise UsageError(f"the output formats disagree: {' and '.join(sorted(chosen))}", field="--format")
    result = chosen.pop() if chosen else "table"
    if result == "parquet" and out is None:
        raise UsageError("Parquet is written to a file: give --out FILE.parquet", field="--format", value="parquet")
    return result


@store_app.command("query")
def query_cmd(
    sql: Annotated[str, typer.Argument(metavar="SQL", help="One query (SELECT ...) over the views: blocks, "
                                       "block_ranges, events, observations, head_observations, batch_postings, "
                                       "alerts, ingest_cursors, partitions, repairs, views.")],
    fmt: Annotated[str | None, typer.Option("--format", metavar="table|csv|json|parquet",
                                            help="Output format (default: from --out's suffix, else table).")]
    = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="FILE", help="Write the result to FILE (.csv, "
                                             ".json, .parquet, .txt) instead of standard output.")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run read-only SQL (DuckDB) over the local store: block headers, detected events, observations ...

    Anything but one query (INSERT, COPY, ATTACH, CREATE, SET, several statements) is refused; the store is
    never written. Example: seqrisk store query "SELECT chain, count(*) FROM blocks GROUP BY chain".
    """
    import duckdb

    from seqrisk.store.query import open_query

    kind = resolve_format(fmt, out, as_json)
    with open_query(state.settings.home, sql) as rel:
        columns = [(str(c), str(t)) for c, t in zip(rel.columns, rel.types, strict=True)]
        try:
            to_reader = getattr(rel, "to_arrow_reader", None) or rel.fetch_arrow_reader  # the name before DuckDB 1.4
            reader = to_reader(BATCH_ROWS)
            if kind == "parquet":
                n = _parquet(reader, out or Path())
            elif kind == "table":
                n = _table(reader, columns, out, quiet)
            else:
                n = _text(kind, reader, columns, sql, out)
        except duckdb.Error as exc:
            raise UsageError(f"the query failed: {str(exc).strip().splitlines()[0]}", field="SQL") from None
    if out is not None:
        messages().print(f"wrote {n:,} rows to {out}", markup=False)


def _rows(reader: Any) -> Iterator[tuple[Any, ...]]:
    for batch in reader:
        cols = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        yield from zip(*cols, strict=True)


def _cell(v: Any) -> Any:
    """A value as text formats show it: bytes as 0x-hex, times in ISO 8601."""
    if isinstance(v, bytes | bytearray | memoryview):
        return "0x" + bytes(v).hex()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _open(out: Path | None) -> Any:
    if out is None:
        return _Stdout()
    try:
        return open(out, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"cannot write the result: {exc.strerror or exc}", field="--out", value=str(out)) from None


class _Stdout:
    def __enter__(self) -> IO[str]:
        return sys.stdout

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()


def _text(kind: str, reader: Any, columns: list[tuple[str, str]], sql: str, out: Path | None) -> int:
    n = 0
    with _open(out) as fh:
        if kind == "csv":
            w = csv.writer(fh, lineterminator="\n")
            w.writerow([c for c, _ in columns])
            for row in _rows(reader):
                w.writerow(["" if v is None else _cell(v) for v in row])
                n += 1
            return n
        from seqrisk.cli.modeling import catalog_provenance
        from seqrisk.cli.render import json_text

        head = json.loads(json_text("store.query", {"sql": sql, "columns": [{"name": c, "type": t}
                                                                         for c, t in columns]},
                                    catalog_provenance()))
        text = json.dumps(head, indent=2, ensure_ascii=False)
        fh.write(text[:-2] + ',\n  "rows": [')
        names = [c for c, _ in columns]
        for row in _rows(reader):
            fh.write(("," if n else "") + "\n    " + json.dumps(dict(zip(names, map(_cell, row), strict=True)),
                                                              ensure_ascii=False, default=str))
            n += 1
        fh.write("\n  ]\n}\n" if n else "]\n}\n")
    return n


def _table(reader: Any, columns: list[tuple[str, str]], out: Path | None, quiet: bool) -> int:
    from rich.console import Console

    from seqrisk.cli.render import console, table

    t = table(None, *[c for c, _ in columns])
    n, more = 0, False
    for row in _rows(reader):
        if n == TABLE_ROWS:
            more = True
            break
        t.add_row(*["" if v is None else str(_cell(v)) for v in row])
        n += 1
    if out is None:
        console().print(t)
    else:
        with _open(out) as fh:
            Console(file=fh, width=10_000, highlight=False, soft_wrap=True).print(t)
    if more:
        messages().print(f"showing the first {TABLE_ROWS:,} rows: --format csv, json or parquet (or --out FILE) "
                         "writes them all", markup=False)
    return n


def _parquet(reader: Any, out: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 0
    try:
        with pq.ParquetWriter(out, reader.schema) as w:
            for batch in reader:
                w.write_batch(batch)
                n += batch.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"cannot write the result: {exc}", file=str(out)) from None
    return n
