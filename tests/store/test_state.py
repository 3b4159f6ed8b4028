"""SQLite state: migrations, concurrent reader and writer, a writer killed mid-transaction."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from seqrisk.exceptions import StoreError
from seqrisk.store import MIGRATIONS, SCHEMA_VERSION, DetectedEvent, StateStore

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment


def test_migrates_from_empty_home(tmp_path: Path) -> None:
    path = tmp_path / "new" / "state.sqlite"
    with StateStore(path) as st:
        assert st.version == SCHEMA_VERSION == len(MIGRATIONS)
        assert st.integrity_ok()
        assert {"events", "ingest_cursors", "observations", "alerts", "user_incidents"} <= set(st.counts())
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with StateStore(path) as st:  # reopening applies nothing
        assert st.version == SCHEMA_VERSION


def test_refuses_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    StateStore(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer"):
        StateStore(path)


def test_events_round_trip_and_upsert(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.sqlite") as st:
        e = DetectedEvent("base", "downtime", 1000.0, None, 0.9, "gap", {"blocks": [1, 2]}, ongoing=True)
        st.add_events([e])
        st.add_events([DetectedEvent("base", "downtime", 1000.0, 1600.0, 0.95, "gap", {"blocks": [1, 2]})])
        got = st.events(chain="base")
        assert len(got) == 1
        assert got[0].end_utc == 1600.0 and not got[0].ongoing and got[0].duration_s == 600.0
        assert got[0].evidence == {"blocks": [1, 2]}
        st.set_cursor("base", 42, "0xab")
        assert st.cursor("base") == (42, "0xab")
        assert st.cursor("arbitrum") is None


def test_failed_transaction_writes_nothing(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.sqlite") as st:
        with pytest.raises(RuntimeError), st.transaction() as c:
            c.execute("INSERT INTO alerts(chain, raised_utc, kind, message) VALUES ('a', 1, 'k', 'm')")
            raise RuntimeError("boom")
        assert st.counts()["alerts"] == 0


_WRITER = textwrap.dedent("""
    import sys, time
    from seqrisk.store import StateStore
    st = StateStore(sys.argv[1])
    n = int(sys.argv[2])
    hold = sys.argv[3] == "hold"
    for i in range(n):
        with st.transaction() as c:
            for j in range(50):
                c.execute("INSERT INTO observations(chain, observed_utc, status) VALUES (?, ?, 'ok')",
                          ("c", i * 1000.0 + j))
            if hold and i == n - 1:
                print("IN-TX", flush=True)
                time.sleep(60)
        if not hold:
            print(i, flush=True)
    print("DONE", flush=True)
""")


def _writer(path: Path, n: int, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(n), mode],
                            stdout=subprocess.PIPE, text=True)


@pytest.mark.integration
def test_reader_sees_consistent_snapshots_while_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    StateStore(path).close()
    proc = _writer(path, 200, "run")
    seen = set()
    try:
        reader = StateStore(path)
        while proc.poll() is None:
            n = reader.counts()["observations"]
            assert n % 50 == 0, "a reader never sees half a transaction"
            seen.add(n)
        assert proc.returncode == 0
        assert reader.counts()["observations"] == 200 * 50
        assert len(seen) > 1, "the reader ran while the writer was writing"
        reader.close()
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


@pytest.mark.integration
def test_writer_killed_mid_transaction_leaves_store_consistent(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    StateStore(path).close()
    proc = _writer(path, 5, "hold")
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline and "IN-TX" not in line:
        line = proc.stdout.readline()
    assert "IN-TX" in line
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with StateStore(path) as st:
        assert st.integrity_ok()
        assert st.counts()["observations"] == 4 * 50  # the open transaction is gone, the rest is whole
        st.add_events([DetectedEvent("c", "downtime", 1.0, 2.0, 1.0, "t")])  # and it is writable
        assert len(st.events()) == 1
