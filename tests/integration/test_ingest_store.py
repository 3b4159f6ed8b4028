"""The block store as ingestion uses it: lossless compact layout, fast head, run-wise compaction, budget."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrisk.ingest import headers_to_table, missing_runs, uncovered
from seqrisk.rpc import Header
from seqrisk.store import BLOCK_SCHEMA, BlockStore


def linked(first: int, n: int, seed: int, parent: bytes | None = None) -> pa.Table:
    rng = np.random.default_rng(seed)
    hs = [parent or rng.bytes(32)] + [rng.bytes(32) for _ in range(n)]
    return headers_to_table([Header(first + i, 1_700_000_000 + 2 * (first + i), hs[i + 1], hs[i], i % 7,
                                    21_000 * (i % 7)) for i in range(n)])


def test_parent_hash_elision_is_lossless_even_when_links_break(tmp_path: Path) -> None:
    bs = BlockStore(tmp_path)
    t = linked(0, 300, 1)
    ph = t.column("parent_hash").to_pylist()
    ph[150] = b"\x07" * 32  # a broken link inside one partition must survive
    t = t.set_column(3, BLOCK_SCHEMA.field("parent_hash"), pa.array(ph, pa.binary(32)))
    bs.write("c", t)
    assert bs.read("c").equals(t)
    for a, b in [(0, 0), (149, 151), (150, 150), (151, 299), (10, None), (None, 5)]:
        lo, hi = a or 0, 299 if b is None else b
        assert bs.read("c", a, b).equals(t.slice(lo, hi - lo + 1)), (a, b)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["write", "truncate", "compact", "compact-small"]), st.integers(0, 120),
                          st.integers(1, 40)), min_size=1, max_size=8))
def test_store_matches_a_dict_model(tmp_path_factory: object, ops: list[tuple[str, int, int]]) -> None:
    bs = BlockStore(tmp_path_factory.mktemp("s"))  # type: ignore[attr-defined]
    model: dict[int, tuple[object, ...]] = {}
    for i, (op, first, n) in enumerate(ops):
        if op == "write":
            t = linked(first, n, i)
            bs.write("c", t)
            for row in t.to_pylist():
                model[row["number"]] = tuple(row.values())
        elif op == "truncate":
            bs.truncate_above("c", first)
            model = {k: v for k, v in model.items() if k <= first}
        elif op == "compact":
            bs.compact("c")
        else:
            before = {p.path for p in bs.partitions("c") if p.last - p.first + 1 >= n}
            bs.compact("c", smaller_than=n)
            assert before <= {p.path for p in bs.partitions("c")}  # big partitions stay
        got = bs.read("c").to_pylist()
        assert [tuple(r.values()) for r in got] == [model[k] for k in sorted(model)]
        assert bs.head("c") == (max(model) if model else None)
        # stored runs from partition names alone agree with the data
        runs = bs.ranges("c")
        assert [n for a, b in runs for n in range(a, b + 1)] == sorted(model)
        assert all(b1 + 1 < a2 for (_, b1), (a2, _) in itertools.pairwise(runs))
        stored = np.array(sorted(model), dtype=np.int64)
        assert uncovered(runs, 10, 90) == missing_runs(stored, 10, 90)
        part = bs.read("c", 20, 60, columns=["timestamp", "number"])
        assert part.column_names == ["number", "timestamp"]
        assert part.to_pylist() == [{"number": r["number"], "timestamp": r["timestamp"]} for r in got
                                    if 20 <= r["number"] <= 60]


def test_missing_runs() -> None:
    assert missing_runs(np.array([], np.int64), 0, 9) == [(0, 9)]
    assert missing_runs(np.array([0, 1, 2, 5, 9]), 0, 9) == [(3, 4), (6, 8)]
    assert missing_runs(np.arange(20), 3, 7) == []


def test_storage_budget_per_million_headers(tmp_path: Path) -> None:
    """200,000 linked headers with realistic gas figures; the size scales linearly (one partition)."""
    n = 200_000
    rng = np.random.default_rng(3)
    raw = rng.bytes(32 * (n + 1))
    hashes = [raw[32 * i:32 * i + 32] for i in range(n + 1)]
    t = pa.table({"number": np.arange(n, dtype=np.int64),
                  "timestamp": 1_700_000_000 + np.cumsum(rng.integers(1, 4, n)),
                  "hash": pa.array(hashes[1:], pa.binary(32)), "parent_hash": pa.array(hashes[:-1], pa.binary(32)),
                  "tx_count": rng.poisson(15, n).astype(np.int32),
                  "gas_used": rng.integers(0, 30_000_000, n)})
    bs = BlockStore(tmp_path)
    bs.write("c", t)
    per_million_mb = bs.size_bytes("c") / n * 1e6 / 1e6
    assert per_million_mb < 40  # 32 MB of block hashes is the floor
    assert bs.read("c", n - 5, n - 1).equals(t.slice(n - 5, 5).cast(BLOCK_SCHEMA))


def test_exposure_of_a_store_with_missing_blocks_is_its_stored_runs(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from seqrisk.ingest import events_for_fit
    from seqrisk.store import Home

    home = Home(tmp_path)
    home.blocks().write("base", linked(0, 100, 1))
    (_, one), = events_for_fit(home)[1].items()
    assert one == (datetime.fromtimestamp(1_700_000_000, UTC), datetime.fromtimestamp(1_700_000_198, UTC))
    home.blocks().write("base", linked(5000, 100, 2))       # blocks 100..4999 are missing
    (_, two), = events_for_fit(home)[1].items()
    assert two == [one, (datetime.fromtimestamp(1_700_010_000, UTC), datetime.fromtimestamp(1_700_010_198, UTC))]


def test_safe_and_finalized_head_lag_from_the_store_become_da_delays(tmp_path: Path) -> None:
    from seqrisk.detect import DetectConfig
    from seqrisk.ingest import run_detection
    from seqrisk.store import Home

    home = Home(tmp_path)
    home.blocks().write("op", linked(0, 2000, 3))   # blocks every 2 s from 1_700_000_000
    t0 = 1_700_000_000.0
    # observations every 10 min: safe lag 2 h at 3 and 4; no safe tag (finalized only) from 7, lagging 2 h at 8
    rows = []
    for i in range(10):
        head_t = t0 + 600 * i
        lag = 7200.0 if i in (3, 4, 8) else 60.0
        safe, fin = (head_t - lag, head_t - 900) if i < 7 else (None, head_t - lag)
        rows.append(("op", head_t + 1, i, head_t, i, safe, i, fin))
    with home.state() as st, st.transaction() as c:
        c.executemany("INSERT INTO head_observations(chain, observed_utc, head_number, head_time_utc, safe_number, "
                      "safe_time_utc, finalized_number, finalized_time_utc) VALUES (?,?,?,?,?,?,?,?)", rows)
    ev = [e for e in run_detection(home, "op", DetectConfig(safe_lag_s=3600)) if e.detector == "safe-lag"]
    assert [(e.start_utc, e.end_utc, e.type) for e in ev] == [
        (rows[3][1], rows[5][1], "da_delay"), (rows[8][1], rows[9][1], "da_delay")]
    with home.state() as st:
        assert len([e for e in st.events(chain="op") if e.detector == "safe-lag"]) == 2
