"""The job queue in the state store, without a server: a job interrupted once is queued again with its record, a
job interrupted ``max_attempts`` times is failed with the reason (never lost, never left running), an orderly
shutdown gives the attempt back, and a restart takes back what the previous server left running."""

from __future__ import annotations

from pathlib import Path

from seqrisk.service.jobs import JobStore
from seqrisk.store import StateStore


def test_interrupted_jobs_are_run_again_then_failed_with_the_reason(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.sqlite") as st:
        jobs = JobStore(st)
        job, created = jobs.submit("simulate", {"paths": 100}, token_id=None, catalog_version="c1",
                                   seqrisk_version="v1", seed=4)
        assert created
        run = jobs.claim("w1", server="s1", pid=1)
        assert run is not None and run.id == job.id and run.attempts == 1
        assert jobs.interrupted(job.id, run.lease, "the worker process died", max_attempts=2) == "queued"
        again = jobs.claim("w2", server="s1", pid=2)
        assert again is not None and again.request == job.request and again.seed == 4 and again.attempts == 2
        # a restart finds it running under a server that is gone: the second attempt was the last
        assert jobs.recover("the server stopped while the job ran", max_attempts=2) == {job.id: "failed"}
        failed = jobs.get(job.id, with_runs=True)
        assert failed is not None and failed.status == "failed" and failed.error is not None
        assert failed.error["type"] == "interrupted" and failed.error["attempts"] == 2
        assert "the server stopped while the job ran" in failed.error["message"]
        assert [r["outcome"] for r in failed.runs] == ["interrupted: the worker process died",
                                                       "interrupted: the server stopped while the job ran"]
        # an orderly shutdown does not use up an attempt
        other, _ = jobs.submit("simulate", {"paths": 200}, token_id=None, catalog_version="c1", seqrisk_version="v1")
        for _ in range(3):
            r = jobs.claim("w1", server="s2", pid=3)
            assert r is not None and r.id == other.id
            assert jobs.interrupted(r.id, r.lease, "the server stopped", max_attempts=2, counts=False) == "queued"
        kept = jobs.get(other.id)
        assert kept is not None and kept.status == "queued" and kept.attempts == 0
        # a lease taken back is no longer the worker's to end
        r = jobs.claim("w1", server="s2", pid=3)
        assert r is not None and jobs.recover("restart", max_attempts=5) == {other.id: "queued"}
        assert not jobs.complete(other.id, str(r.lease), {"schema": "x"}) and jobs.cancel_state(other.id,
                                                                                               str(r.lease)) == "lost"
