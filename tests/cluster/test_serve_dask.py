"""`seqrisk serve --scheduler tcp://...` (the option `seqrisk simulate` takes): the job pool runs its simulations on a
Dask cluster (2 workers on 127.0.0.1) and every number is the local CLI's with the same seed: a simulation and a
grace-period sweep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytest.importorskip("distributed", reason="the distributed extra is not installed: pip install 'seqrisk[distributed]'")
pytest.importorskip("fastapi")

from seqrisk.distributed import DaskBackend
from serve_util import BOOK, bearer, cli, start, token, wait_jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("provenance", "notes")}


def test_jobs_on_a_dask_cluster_equal_the_local_cli(two_workers: DaskBackend, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    w = bearer(token(home, "write"))
    def transitions() -> int:
        return int(two_workers.client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter))

    before = transitions()
    srv = start(home, "--workers", "1", "--scheduler", str(two_workers.address))
    try:
        assert f"simulations run on the Dask cluster at {two_workers.address}" in srv.log.read_text()
        book = yaml.safe_load(BOOK.read_text())
        with httpx.Client(base_url=srv.base, timeout=60) as c:
            info = c.get("/api/v1/info").json()
            assert info["backend"] == {"name": "dask", "scheduler": two_workers.address}
            asks = {"simulate": {"book": book, "paths": 3000, "seed": 11, "horizon": "30d"},
                    "compare": {"book": book, "sweep": "grace=0:2h:3", "paths": 1500, "seed": 12,
                                "horizon": "30d"}}
            ids = {k: c.post(f"/api/v1/jobs/{k}", json=v, headers=w).json()["job"]["id"] for k, v in asks.items()}
            jobs = wait_jobs(c, list(ids.values()))
            assert {j["status"] for j in jobs.values()} == {"done"}, jobs
            results = {k: c.get(f"/api/v1/jobs/{jid}/result").json() for k, jid in ids.items()}
        assert transitions() > before  # the cluster ran the blocks
    finally:
        srv.stop()
    sim = cli(tmp_path, "simulate", str(BOOK), "--paths", "3000", "--seed", "11", "--horizon", "30d", "--json")
    cmp_ = cli(tmp_path, "compare", str(BOOK), "--sweep", "grace=0:2h:3", "--paths", "1500", "--seed", "12",
               "--horizon", "30d", "--json")
    assert sim.returncode == 0 and cmp_.returncode == 0, sim.stderr + cmp_.stderr
    assert _strip(results["simulate"]) == _strip(json.loads(sim.stdout))
    assert _strip(results["compare"]) == _strip(json.loads(cmp_.stdout))
