"""A job run by its command (compare, insure, allocate, score, backtest) reports a real fraction done (issue 17).

The command's runs (engine runs; a backtest's origins) report their progress to the job: run ``k`` of the
``planned`` ones at ``done / total`` of its paths is ``(k - 1 + done / total) / planned``. Every kind is held to its
plan: the fraction rises, and reaches 1 exactly when the command's last run ends (a command that made more runs
than planned would reach 1 early, one with fewer never). Over real HTTP the fraction a client polls rises to 1.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytest.importorskip("fastapi")

from seqrisk.catalog import load_catalog
from seqrisk.service.requests import KINDS
from seqrisk.service.runners import RunContext, run_job
from serve_util import BOOK, bearer, start, token, wait_jobs

DESK = yaml.safe_load(BOOK.read_text())

#: requests of every kind a command runs, sized to a few blocks of paths per run
CASES: dict[str, dict[str, Any]] = {
    "compare": {"book": DESK, "mitigations": ["grace=1h", "buffer=0.05"], "paths": 9000, "seed": 1},
    "compare-sweep": {"book": DESK, "sweep": "grace=0:2h:3", "perspective": "venue", "paths": 9000, "seed": 1},
    "insure": {"book": DESK, "payout": "50k", "trigger": "1h", "paths": 9000, "seed": 2},
    "allocate": {"book": DESK, "chains": ["arbitrum", "base"], "replications": 3, "paths": 9000, "seed": 3},
    "score": {"chains": ["arbitrum", "base", "optimism"], "paths": 9000, "seed": 4},
    "backtest": {"train_until": "2023-01-01", "step": "182d"},
}


@pytest.fixture(scope="module")
def worker() -> Iterator[RunContext]:
    with tempfile.TemporaryDirectory(prefix="seqrisk-progress-") as home:
        yield RunContext(Path(home), None, load_catalog())


@pytest.mark.parametrize("name", list(CASES))
def test_a_commands_job_rises_to_one_as_its_last_planned_run_ends(name: str, worker: RunContext) -> None:
    kind = name.split("-")[0]
    seen: list[tuple[float | None, float | None, str]] = []
    run_job(kind, CASES[name], worker, lambda d, t, s: seen.append((d, t, s)))
    fractions = [d / t for d, t, _ in seen if d is not None and t]
    planned = KINDS[kind].model_validate(CASES[name]).planned_runs()
    assert fractions == sorted(fractions), seen  # never goes back
    assert fractions[0] == 0.0 and fractions[-1] == 1.0, seen
    assert all(f < 1.0 for f in fractions[:-1]), seen  # 1 only when the last planned run ends: the plan held
    assert len(fractions) >= planned + 1, seen  # each run reported (at least its end)
    if planned > 1:
        assert seen[-1][2].endswith(f"run {planned} of {planned}"), seen


def test_the_fraction_a_client_polls_rises_to_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    w = bearer(token(home, "write"))
    srv = start(home, "--workers", "1")
    try:
        with httpx.Client(base_url=srv.base, timeout=60) as c:
            body = {"book": DESK, "sweep": "grace=0:2h:3", "perspective": "venue", "paths": 12_000, "seed": 5}
            r = c.post("/api/v1/jobs/compare", json=body, headers=w)
            assert r.status_code == 202, r.text
            jid = r.json()["job"]["id"]
            polled: list[float] = []
            while (job := c.get(f"/api/v1/jobs/{jid}").json()["job"])["status"] in ("queued", "running"):
                if job["progress"]["fraction"] is not None:
                    polled.append(job["progress"]["fraction"])
                time.sleep(0.05)
            assert job["status"] == "done", job
            assert job["progress"]["fraction"] == 1.0
            assert polled == sorted(polled) and any(0.0 < f < 1.0 for f in polled), polled
            page = c.get("/jobs").text
            row = next(ln for ln in page.splitlines() if jid in ln)
            assert "100%" in row, row
            wait_jobs(c, [jid])
    finally:
        srv.stop()
