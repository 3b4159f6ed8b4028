"""``seqrisk store query``: SQL over a real home (block partitions with a reorg and a truncation, a state
database with events), checked against the block store's own reads; writes refused and the store unchanged."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from seqrisk.cli.app import app, main
from seqrisk.store import Home
from seqrisk.store.state import DetectedEvent

from .conftest import headers

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Base: 0..99, a reorg rewrote 90..95, truncated above 95, then 96..120; arbitrum 1000..1049; two events."""
    root = tmp_path / "home"
    h = Home(root)
    bs = h.blocks()
    bs.write("base", headers(0, 99), chain_id=8453)
    bs.write("base", headers(90, 95, salt=1))
    bs.truncate_above("base", 95)
    bs.write("base", headers(96, 120, salt=2))
    bs.write("arbitrum", headers(1000, 1049), chain_id=42161)
    with h.state() as st:
        st.add_events([DetectedEvent("base", "downtime", 1000.0, 1600.0, 0.9, "gap", {"blocks": [1, 2]}),
                       DetectedEvent("arbitrum", "stall", 5000.0, 5060.0, 0.7, "gap", {})])
    return root


def _snapshot(root: Path) -> dict[str, str]:
    """Every file of the home (SQLite's -wal/-shm companions aside) by content hash, and every state table."""
    out = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
           if p.is_file() and not p.name.endswith(("-wal", "-shm"))}
    con = sqlite3.connect(root / "state.sqlite")
    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        out[f"table:{t}"] = hashlib.sha256(repr(con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall())
                                           .encode()).hexdigest()
    con.close()
    return out


def _q(root: Path, *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["--home", str(root), "store", "query", *args], catch_exceptions=False)
    return r.exit_code, r.stdout


def test_blocks_view_is_what_the_block_store_reads(home: Path) -> None:
    code, out = _q(home, "SELECT chain, number, hash, parent_hash, tx_count FROM blocks ORDER BY chain, number",
                   "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["schema"] == "seqrisk.store.query/1" and [c["name"] for c in doc["columns"]][:2] == ["chain", "number"]
    rows = doc["rows"]
    bs = Home(home).blocks()
    want = []
    for chain in ("arbitrum", "base"):
        t = bs.read(chain).to_pylist()
        want += [{"chain": chain, "number": r["number"], "hash": "0x" + r["hash"].hex(),
                  "parent_hash": "0x" + r["parent_hash"].hex(), "tx_count": r["tx_count"]} for r in t]
    assert rows == want
    assert len(rows) == 50 + 121
    by_number = {r["number"]: r for r in rows if r["chain"] == "base"}
    assert by_number[92]["hash"].endswith("01") and by_number[89]["hash"].endswith("00")  # the reorg's rows win
    assert by_number[100]["hash"].endswith("02")


def test_views_counts_and_formats(home: Path, tmp_path: Path) -> None:
    code, out = _q(home, "SELECT chain, first, last, blocks FROM block_ranges ORDER BY chain", "--format", "csv")
    assert code == 0 and out.splitlines() == ["chain,first,last,blocks", "arbitrum,1000,1049,50", "base,0,120,121"]
    code, out = _q(home, "SELECT chain, type, end_utc - start_utc AS seconds FROM events ORDER BY chain",
                   "--format", "csv")
    assert out.splitlines() == ["chain,type,seconds", "arbitrum,stall,60.0", "base,downtime,600.0"]
    code, out = _q(home, "SELECT chain, count(*) AS n, max(timestamp) - min(timestamp) AS span FROM blocks "
                   "GROUP BY chain ORDER BY chain")
    assert code == 0 and "arbitrum  50" in out and "base      121  240" in out
    code, out = _q(home, "SELECT name FROM views ORDER BY name", "--format", "csv")
    assert {"blocks", "events", "observations", "block_ranges"} <= set(out.split())
    pq_out = tmp_path / "b.parquet"
    code, _ = _q(home, "SELECT * FROM blocks WHERE chain = 'base' ORDER BY number", "--out", str(pq_out))
    t = pq.read_table(pq_out)
    assert code == 0 and t.num_rows == 121 and t.column("hash")[0].as_py() == headers(0, 0)["hash"][0].as_py()
    js = tmp_path / "e.json"
    code, _ = _q(home, "SELECT * FROM events WHERE false", "--out", str(js))
    assert code == 0 and json.loads(js.read_text())["rows"] == []


def test_an_empty_home_has_empty_views(tmp_path: Path) -> None:
    code, out = _q(tmp_path / "new", "SELECT (SELECT count(*) FROM blocks) AS b, (SELECT count(*) FROM events) AS e",
                   "--format", "csv")
    assert code == 0 and out.splitlines() == ["b,e", "0,0"]
    assert not (tmp_path / "new").exists()  # a query creates nothing


@pytest.mark.parametrize("sql", [
    "INSERT INTO events VALUES (99, 'base', 'downtime', 0, 1, 0, 1, 'x', '{{}}', 0)",
    "COPY (SELECT * FROM blocks) TO '{blocks}/base/part-000000000000-000000000000-99999999.parquet'",
    "ATTACH '{root}/state.sqlite' AS st",
    "CREATE TABLE t AS SELECT 1",
    "SET enable_external_access = true",
    "SELECT 1; DELETE FROM events",
    "PRAGMA version",
    "DROP VIEW blocks",
])
def test_writes_are_refused_and_the_store_is_unchanged(home: Path, capsys: pytest.CaptureFixture[str],
                                                        sql: str) -> None:
    before = _snapshot(home)
    with pytest.raises(SystemExit) as ei:
        main(["--home", str(home), "store", "query", sql.format(root=home, blocks=home / "blocks")])
    assert ei.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ("read-only" in err or "one query at a time" in err), err
    assert _snapshot(home) == before


def test_files_outside_the_store_cannot_be_read(home: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(SystemExit) as ei:
        main(["--home", str(home), "store", "query", f"SELECT * FROM read_csv('{secret}')"])
    assert ei.value.code == 2 and "the query failed" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "expect"), [
    (["--format", "xml"], "unknown format"),
    (["--out", "x.xlsx"], "cannot tell the format"),
    (["--format", "csv", "--json"], "the output formats disagree"),
    (["--format", "parquet"], "Parquet is written to a file"),
    ([], "the query failed: Catalog Error"),
])
def test_usage_errors_exit_2(home: Path, capsys: pytest.CaptureFixture[str], args: list[str], expect: str) -> None:
    sql = "SELECT * FROM nowhere" if not args else "SELECT 1"
    with pytest.raises(SystemExit) as ei:
        main(["--home", str(home), "store", "query", sql, *args])
    assert ei.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expect in err, err
