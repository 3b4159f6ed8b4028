"""Cancelling a running job of every kind over real loopback HTTP: the job stops by itself at the engine's next
checkpoint (between blocks of paths, sweep points, levers, replications, backtest origins) and ends `cancelled`,
and the same worker process goes on to run the next job.

The server's last resort, killing the worker of a cancelled job after ``cancel_grace_s``, is put out of reach
(an hour): a job that ends cancelled here stopped on its own, and its run says so (``cancelled``, where a killed
worker's run reads ``interrupted: cancelled``). Each job is sized to run far longer than the test waits for it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
import yaml

pytest.importorskip("fastapi")

from serve_util import BOOK, bearer, start, token, wait_jobs, wait_pids_gone

pytestmark = pytest.mark.timeout(600)
STARTING = (None, "queued", "starting", "fitting the outage model")


def test_a_cancelled_running_job_of_every_kind_stops_itself_and_the_worker_goes_on(tmp_path: Path) -> None:
    home = tmp_path / "home"
    w = bearer(token(home, "write"))
    srv = start(home, "--workers", "1", env={"SEQRISK_SERVE_CANCEL_GRACE_S": "1h",
                                             "SEQRISK_SERVE_MAX_ACTIVE_JOBS_PER_TOKEN": "10"})
    book = yaml.safe_load(BOOK.read_text())
    big = {"book": book, "paths": 200_000}
    asks = {
        "compare": {**big, "sweep": "grace=0:2h:5", "seed": 1},
        "insure": {**big, "payout": "50k", "trigger": "1h", "seed": 2},
        "allocate": {**big, "chains": ["arbitrum", "base"], "replications": 5, "seed": 3},
        "score": {**big, "chains": ["arbitrum", "base", "optimism"], "seed": 4},
        "report": {**big, "seed": 5},
        "backtest": {"train_until": "2023-01-01", "step": "30d"},
    }
    try:
        with httpx.Client(base_url=srv.base, timeout=60) as c:
            ids = {}
            for kind, body in asks.items():  # one worker: they run one after the other, in this order
                r = c.post(f"/api/v1/jobs/{kind}", json=body, headers=w)
                assert r.status_code == 202, (kind, r.text)
                ids[kind] = r.json()["job"]["id"]
            for kind, jid in ids.items():
                # past its start: the job stops at its next progress report (its runs' progress) or checkpoint
                while (job := c.get(f"/api/v1/jobs/{jid}").json()["job"])["progress"]["stage"] in STARTING:
                    time.sleep(0.05)
                assert job["status"] == "running", (kind, job["error"])
                r = c.post(f"/api/v1/jobs/{jid}/cancel", headers=w)
                assert r.status_code == 200 and r.json()["job"]["status"] == "running", (kind, r.text)
                job = wait_jobs(c, [jid], poll_s=0.1)[jid]
                assert job["status"] == "cancelled", (kind, job)
            after = c.post("/api/v1/jobs/simulate", json={"book": book, "paths": 500, "seed": 6}, headers=w)
            nxt = after.json()["job"]["id"]
            assert wait_jobs(c, [nxt])[nxt]["status"] == "done"
    finally:
        srv.stop()
    db = sqlite3.connect(home / "state.sqlite")
    try:
        runs = {jid: db.execute("SELECT pid, outcome FROM job_runs WHERE job_id=?", (jid,)).fetchall()
                for jid in [*ids.values(), nxt]}
    finally:
        db.close()
    assert all(len(r) == 1 for r in runs.values()), runs  # one attempt each: nothing killed and run again
    assert {r[0][1] for jid, r in runs.items() if jid != nxt} == {"cancelled"}, runs
    assert len({r[0][0] for r in runs.values()}) == 1, runs  # one worker process ran them all, then the next job
    log = srv.log.read_text()
    assert "starting a new one" not in log and "Traceback" not in log, log[-3000:]


def _worker_pid(home: Path, jid: str) -> int:
    db = sqlite3.connect(home / "state.sqlite")
    try:
        return int(db.execute("SELECT pid FROM job_runs WHERE job_id=? ORDER BY attempt DESC", (jid,)).fetchone()[0])
    finally:
        db.close()


def test_the_last_resort_a_job_that_cannot_stop_is_killed_with_its_worker(tmp_path: Path) -> None:
    """A worker that cannot reach a checkpoint (stopped with SIGSTOP) is killed `cancel_grace_s` after the cancel:
    its job ends cancelled (the run marked as killed) and a new worker runs the next job."""
    home = tmp_path / "home"
    w = bearer(token(home, "write"))
    srv = start(home, "--workers", "1", env={"SEQRISK_SERVE_CANCEL_GRACE_S": "1s"})
    book = yaml.safe_load(BOOK.read_text())
    try:
        with httpx.Client(base_url=srv.base, timeout=60) as c:
            stuck = c.post("/api/v1/jobs/simulate", json={"book": book, "paths": 200_000, "seed": 1},
                           headers=w).json()["job"]["id"]
            while (job := c.get(f"/api/v1/jobs/{stuck}").json()["job"])["progress"]["stage"] != "simulating paths":
                assert job["status"] in ("queued", "running"), job
                time.sleep(0.05)
            first = _worker_pid(home, stuck)
            os.kill(first, signal.SIGSTOP)  # it will not reach another checkpoint
            assert c.post(f"/api/v1/jobs/{stuck}/cancel", headers=w).status_code == 200
            assert wait_jobs(c, [stuck])[stuck]["status"] == "cancelled"
            assert wait_pids_gone({first}) == set()  # killed by the server, not by this test
            nxt = c.post("/api/v1/jobs/simulate", json={"book": book, "paths": 500, "seed": 2},
                         headers=w).json()["job"]["id"]
            assert wait_jobs(c, [nxt])[nxt]["status"] == "done"
            assert _worker_pid(home, nxt) != first  # a new worker took the place of the killed one
    finally:
        srv.stop()
    db = sqlite3.connect(home / "state.sqlite")
    try:
        outcomes = [r[0] for r in db.execute("SELECT outcome FROM job_runs WHERE job_id=?", (stuck,))]
    finally:
        db.close()
    assert outcomes == ["interrupted: cancelled"]  # the kill's mark, where a job that stops itself has "cancelled"
