"""Every limit of the service refuses with a 4xx that names it and its value: a server on loopback with small
limits and no workers (accepted jobs stay queued)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("fastapi")

import httpx

from serve_util import bearer, start, token

ROOT = Path(__file__).resolve().parents[1]
BOOK = yaml.safe_load((ROOT / "examples" / "desk.yaml").read_text())
LIMITS = {"MAX_POSITIONS": str(len(BOOK["positions"])), "MAX_BOOK_BYTES": "20000", "MAX_ACTIVE_JOBS_PER_TOKEN": "2",
          "MAX_QUEUED_JOBS": "3", "MAX_PATHS": "50000", "MAX_STRATEGIES": "3"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, dict[str, str], dict[str, str]]]:
    home = tmp_path_factory.mktemp("limits") / "home"
    a, b = bearer(token(home, "write")), bearer(token(home, "write"))
    with start(home, "--workers", "0", env={f"SEQRISK_SERVE_{k}": v for k, v in LIMITS.items()}) as srv, \
            httpx.Client(base_url=srv.base, timeout=60) as c:
        yield c, a, b


def _limit(r: Any, status: int, name: str, allowed: Any) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert (err["type"], err["limit"], err["allowed"]) == ("limit", name, allowed), err
    return dict(err)


def test_book_size_positions_paths_and_levers_are_named(app: Any) -> None:
    """(Refused before anything is queued: the next test starts from an empty queue.)"""
    c, w, _ = app
    bigger = {**BOOK, "positions": [*BOOK["positions"], {**BOOK["positions"][0], "id": "one-more"}]}
    err = _limit(c.post("/api/v1/jobs/simulate", json={"book": bigger}, headers=w), 413, "max_positions",
                 len(BOOK["positions"]))
    assert err["field"] == "book.positions"
    padded = {**BOOK, "name": "x" * 30_000}
    _limit(c.post("/api/v1/jobs/simulate", json={"book": padded}, headers=w), 413, "max_book_bytes", 20_000)
    _limit(c.post("/api/v1/books", json={"content": yaml.safe_dump(padded)}, headers=w), 413, "max_book_bytes",
           20_000)
    _limit(c.post("/api/v1/jobs/simulate", json={"book": BOOK, "paths": 50_001}, headers=w), 413, "max_paths",
           50_000)
    _limit(c.post("/api/v1/jobs/compare", json={"book": BOOK, "sweep": "grace=0:4h:5"}, headers=w), 413,
           "max_strategies", 3)


def test_jobs_per_token_and_in_all_are_named(app: Any) -> None:
    c, a, b = app
    body = {"book": BOOK, "paths": 1000}
    assert [c.post("/api/v1/jobs/simulate", json=body, headers=a).status_code for _ in range(2)] == [202, 202]
    err = _limit(c.post("/api/v1/jobs/simulate", json=body, headers=a), 429, "max_active_jobs_per_token", 2)
    assert "2 jobs queued or running" in err["message"]
    assert c.post("/api/v1/jobs/simulate", json=body, headers=b).status_code == 202  # another token's own share
    _limit(c.post("/api/v1/jobs/simulate", json=body, headers=b), 429, "max_queued_jobs", 3)
    # a cancelled job frees its place
    jid = c.get("/api/v1/jobs", params={"status": "queued"}).json()["jobs"][0]["id"]
    owner = a if c.post(f"/api/v1/jobs/{jid}/cancel", headers=a).status_code == 200 else b
    if owner is b:
        assert c.post(f"/api/v1/jobs/{jid}/cancel", headers=b).status_code == 200
    assert c.post("/api/v1/jobs/simulate", json=body, headers=owner).status_code == 202
    # another token cannot cancel a job that is not its own
    mine = c.get("/api/v1/jobs", params={"status": "queued"}).json()["jobs"]
    other = b if owner is a else a
    theirs = [j for j in mine if c.post(f"/api/v1/jobs/{j['id']}/cancel", headers=other).status_code == 403]
    assert theirs
