"""The job queue under load and across a killed server, over real loopback HTTP with real worker processes.

* 50 jobs submitted at once (and the same idempotency key sent 10 times at once) to a pool of 2: every job
  finishes, none is lost, none is run twice, the key makes one job; the state store is the witness.
* The server killed with SIGKILL while its workers run jobs, then started again on the same home: every job
  finishes, the interrupted ones are run again from their record (a second attempt), and their numbers are
  those of the CLI with the same seed.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from serve_util import BOOK, Server, bearer, cli, start, token, wait_jobs, wait_pids_gone

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ENV = {"SEQRISK_SERVE_MAX_ACTIVE_JOBS_PER_TOKEN": "200"}


def _runs(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(home / "state.sqlite")
    out: dict[str, list[tuple[Any, ...]]] = {}
    for jid, attempt, outcome, pid in db.execute("SELECT job_id, attempt, outcome, pid FROM job_runs"):
        out.setdefault(jid, []).append((attempt, outcome, pid))
    db.close()
    return out


@pytest.fixture
def stopped() -> Iterator[list[Server]]:
    """Servers to stop at the end, whatever the test did."""
    servers: list[Server] = []
    yield servers
    for s in servers:
        s.stop()


def _pool_of_two(tmp_path: Path, stopped: list[Server]) -> tuple[Path, dict[str, str], Server]:
    """A server with 2 workers on a fresh home, and a write token's header."""
    home = tmp_path / "home"
    home.mkdir()
    w = bearer(token(home, "write"))
    srv = start(home, "--workers", "2", env=ENV)
    stopped.append(srv)
    return home, w, srv


def test_fifty_concurrent_jobs_on_two_workers_none_lost_none_twice(tmp_path: Path, stopped: list[Server]) -> None:
    home, w, srv = _pool_of_two(tmp_path, stopped)
    book = yaml.safe_load(BOOK.read_text())

    def submit(i: int) -> httpx.Response:
        with httpx.Client(base_url=srv.base, timeout=120) as c:
            return c.post("/api/v1/jobs/simulate", json={"book": book, "paths": 200, "seed": i % 25,
                                                         "horizon": "7d"}, headers=w)

    def submit_same_key(_: int) -> httpx.Response:
        with httpx.Client(base_url=srv.base, timeout=120) as c:
            return c.post("/api/v1/jobs/simulate", json={"book": book, "paths": 200, "seed": 0, "horizon": "7d"},
                          headers={**w, "Idempotency-Key": "once"})

    with ThreadPoolExecutor(max_workers=60) as ex:
        futs = [ex.submit(submit, i) for i in range(50)] + [ex.submit(submit_same_key, i) for i in range(10)]
        replies = [f.result() for f in futs]
    assert all(r.status_code in (200, 202) for r in replies), [r.text for r in replies if r.status_code >= 300]
    ids = [r.json()["job"]["id"] for r in replies[:50]]
    keyed = {r.json()["job"]["id"] for r in replies[50:]}
    assert len(set(ids)) == 50 and len(keyed) == 1 and not keyed & set(ids)
    assert sorted(r.status_code for r in replies[50:]) == [200] * 9 + [202]
    with httpx.Client(base_url=srv.base, timeout=60) as c:
        jobs = wait_jobs(c, [*ids, *keyed])
        assert {j["status"] for j in jobs.values()} == {"done"}
        # same book and seed, same numbers: jobs i and i + 25 ran the same simulation on either worker
        for i in (0, 7, 24):
            a, b = (c.get(f"/api/v1/jobs/{ids[k]}/result").json() for k in (i, i + 25))
            assert a["measures"] == b["measures"] and a["provenance"]["seed"] == i
        assert c.get(f"/api/v1/jobs/{ids[0]}/result").json()["measures"] != \
            c.get(f"/api/v1/jobs/{ids[1]}/result").json()["measures"]
    runs = _runs(home)
    db = sqlite3.connect(home / "state.sqlite")
    rows = db.execute("SELECT id, status, attempts FROM jobs").fetchall()
    db.close()
    assert len(rows) == 51 and {r[1] for r in rows} == {"done"} and {r[2] for r in rows} == {1}
    assert all(len(runs[jid]) == 1 and runs[jid][0][:2] == (1, "done") for jid, *_ in rows)  # each ran once
    workers = {r[0][2] for r in runs.values()}
    assert len(workers) == 2  # both workers took jobs


def test_a_killed_server_loses_no_job(tmp_path: Path, stopped: list[Server]) -> None:
    home, w, srv = _pool_of_two(tmp_path, stopped)
    book = yaml.safe_load(BOOK.read_text())
    ids = []
    with httpx.Client(base_url=srv.base, timeout=60) as c:
        for i in range(6):  # long enough to be killed mid-run
            r = c.post("/api/v1/jobs/simulate", json={"book": book, "paths": 30_000, "seed": 100 + i,
                                                      "horizon": "90d"}, headers=w)
            assert r.status_code == 202, r.text
            ids.append(r.json()["job"]["id"])
        while True:  # both workers running a job (a run reports progress only as its chunks finish)
            jobs = [c.get(f"/api/v1/jobs/{j}").json()["job"] for j in ids]
            if sum(1 for j in jobs if j["status"] == "running") >= 2:
                break
            assert sum(1 for j in jobs if j["status"] in ("queued", "running")) >= 2, "jobs too short to kill"
            time.sleep(0.1)
    srv.stop(signal.SIGKILL)
    orphans = {r[2] for rs in _runs(home).values() for r in rs}
    interrupted = {jid for jid, rs in _runs(home).items() if any(r[1] is None for r in rs)}
    assert len(interrupted) >= 2
    # the workers of the killed server notice their parent is gone and exit on their own
    assert wait_pids_gone(orphans) == set()
    srv2 = start(home, "--workers", "2", env=ENV, log_name="serve-2.log")
    stopped.append(srv2)
    with httpx.Client(base_url=srv2.base, timeout=60) as c:
        jobs = wait_jobs(c, ids)
        assert {j["status"] for j in jobs.values()} == {"done"}, jobs
        again = sorted(interrupted)[0]
        api = c.get(f"/api/v1/jobs/{again}/result").json()
        seed = jobs[again]["reproducibility"]["seed"]
    runs = _runs(home)
    for jid in interrupted:  # the first attempt was left open by the killed server; the second finished it
        outcomes = [r[1] for r in sorted(runs[jid])]
        assert jobs[jid]["attempts"] == 2 and len(outcomes) == 2, runs[jid]
        assert outcomes[0].startswith("interrupted: the server stopped") and outcomes[1] == "done"
    for jid in set(ids) - interrupted:
        assert [r[1] for r in runs[jid]] == ["done"]
    assert "was running when the server stopped: queued" in (home / "serve-2.log").read_text()
    ref = cli(tmp_path, "simulate", str(BOOK), "--paths", "30000", "--seed", str(seed), "--horizon", "90d", "--json")
    assert ref.returncode == 0, ref.stderr
    assert {k: v for k, v in api.items() if k != "provenance"} == \
        {k: v for k, v in json.loads(ref.stdout).items() if k != "provenance"}
