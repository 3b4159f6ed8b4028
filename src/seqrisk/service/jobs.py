"""The job queue, persisted in the state store: submitted, claimed, run, finished, never lost, never run twice.

A job moves ``queued -> running -> done | failed | cancelled``. Every change is
one SQLite transaction (``BEGIN IMMEDIATE``), so concurrent workers, the web
server and a restart see one consistent queue:

* a worker *claims* the oldest queued job and gets a *lease* (the id of this
  attempt, also a row of ``job_runs``); progress, the result and the end of
  the attempt are written only while that lease holds, so a worker orphaned
  by a killed server can never overwrite a job a new server has taken back;
* at start-up the server takes back every job a previous server left
  ``running`` (:meth:`JobStore.recover`): queued again to resume from its
  record, or failed with the reason after ``max_attempts`` attempts;
* the record holds everything the result depends on (the validated request
  with the book, the seed, the as-of date, the catalog and seqrisk versions),
  so a job run again gives the same numbers.

Times are UTC epoch seconds (operational time stamps, never used in a figure).
"""

from __future__ import annotations

import builtins
import json
import secrets
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from seqrisk.exceptions import SeqriskError
from seqrisk.store import StateStore

__all__ = ["ACTIVE", "FINAL", "Job", "JobStore", "LimitError"]

ACTIVE = ("queued", "running")
FINAL = ("done", "failed", "cancelled")
_COLS = ("id", "seq", "kind", "token_id", "idempotency_key", "status", "request", "book_digest", "seed", "as_of",
         "catalog_version", "seqrisk_version", "submitted_utc", "started_utc", "finished_utc", "attempts", "lease",
         "cancel_requested", "progress_done", "progress_total", "stage", "error")


def _now() -> float:
    return time.time()  # clock-ok: operational time stamps of the queue (shown, never in a figure)


class LimitError(SeqriskError):
    """A request over one of the service's limits; ``limit`` names it, ``allowed`` is its value."""

    def __init__(self, message: str, *, limit: str, allowed: Any, status: int = 413, **context: Any) -> None:
        super().__init__(message, limit=limit, allowed=allowed, **context)
        self.limit = limit
        self.allowed = allowed
        self.status = status


@dataclass(frozen=True)
class Job:
    """A job's record (the result is read separately: it may be large)."""

    id: str
    seq: int
    kind: str
    token_id: str | None
    idempotency_key: str | None
    status: str
    request: dict[str, Any]
    book_digest: str | None
    seed: int | None
    as_of: str | None
    catalog_version: str
    seqrisk_version: str
    submitted_utc: float
    started_utc: float | None
    finished_utc: float | None
    attempts: int
    lease: str | None
    cancel_requested: bool
    progress_done: float | None
    progress_total: float | None
    stage: str | None
    error: dict[str, Any] | None
    runs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Job:
        d = dict(zip(_COLS, row, strict=True))
        d["request"] = json.loads(d["request"])
        d["error"] = json.loads(d["error"]) if d["error"] else None
        d["cancel_requested"] = bool(d["cancel_requested"])
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """The job as the API shows it (the request without the book's positions)."""
        frac = (self.progress_done / self.progress_total
                if self.progress_done is not None and self.progress_total else None)
        req = {k: v for k, v in self.request.items() if k != "book"}
        return {
            "id": self.id, "kind": self.kind, "status": self.status, "submitted_utc": self.submitted_utc,
            "started_utc": self.started_utc, "finished_utc": self.finished_utc, "attempts": self.attempts,
            "cancel_requested": self.cancel_requested,
            "progress": {"stage": self.stage, "done": self.progress_done, "total": self.progress_total,
                         "fraction": frac},
            "error": self.error, "request": req,
            "reproducibility": {"seed": self.seed, "as_of": self.as_of, "catalog_version": self.catalog_version,
                                "seqrisk_version": self.seqrisk_version, "book_digest": self.book_digest},
            "runs": self.runs,
        }


class JobStore:
    """The ``jobs``, ``job_runs`` and ``job_artifacts`` tables of a state store."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self._c = state._conn

    # -- submitting ------------------------------------------------------------
    def submit(self, kind: str, request: dict[str, Any], *, token_id: str | None, catalog_version: str,
               seqrisk_version: str, seed: int | None = None, as_of: str | None = None,
               book_digest: str | None = None, idempotency_key: str | None = None, max_active_per_token: int = 8,
               max_queued: int = 1000) -> tuple[Job, bool]:
        """Queue a job; ``(job, created)``. The same token and idempotency key return the first job
        (``created`` False). Over a limit: :class:`LimitError` (429) naming it."""
        with self.state.transaction() as c:
            if idempotency_key is not None:
                row = c.execute(f"SELECT {','.join(_COLS)} FROM jobs WHERE token_id IS ? AND idempotency_key=?",
                                (token_id, idempotency_key)).fetchone()
                if row is not None:
                    return Job.from_row(row), False
            mine = int(c.execute("SELECT COUNT(*) FROM jobs WHERE token_id IS ? AND status IN ('queued','running')",
                                 (token_id,)).fetchone()[0])
            if mine >= max_active_per_token:
                raise LimitError(f"this token already has {mine} jobs queued or running; wait for one to finish "
                                 "or cancel one", limit="max_active_jobs_per_token", allowed=max_active_per_token,
                                 status=429)
            total = int(c.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('queued','running')").fetchone()[0])
            if total >= max_queued:
                raise LimitError(f"the queue is full ({total} jobs queued or running)", limit="max_queued_jobs",
                                 allowed=max_queued, status=429)
            seq = int(c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0])
            jid = "job_" + secrets.token_hex(8)
            c.execute("INSERT INTO jobs(id, seq, kind, token_id, idempotency_key, status, request, book_digest, seed, "
                      "as_of, catalog_version, seqrisk_version, submitted_utc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      (jid, seq, kind, token_id, idempotency_key, "queued", json.dumps(request),
                       book_digest, seed, as_of, catalog_version, seqrisk_version, _now()))
            row = c.execute(f"SELECT {','.join(_COLS)} FROM jobs WHERE id=?", (jid,)).fetchone()
        return Job.from_row(row), True

    # -- reading ---------------------------------------------------------------
    def get(self, job_id: str, *, with_runs: bool = False) -> Job | None:
        row = self._c.execute(f"SELECT {','.join(_COLS)} FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            return None
        job = Job.from_row(row)
        if with_runs:
            object.__setattr__(job, "runs", self.runs(job_id))
        return job

    def list(self, *, status: str | None = None, token_id: str | None = None, limit: int = 100,
             before_seq: int | None = None) -> list[Job]:
        """Newest first."""
        q = f"SELECT {','.join(_COLS)} FROM jobs WHERE 1=1"
        args: list[Any] = []
        for col, val in (("status", status), ("token_id", token_id)):
            if val is not None:
                q += f" AND {col}=?"
                args.append(val)
        if before_seq is not None:
            q += " AND seq<?"
            args.append(before_seq)
        rows = self._c.execute(q + " ORDER BY seq DESC LIMIT ?", [*args, limit]).fetchall()
        return [Job.from_row(r) for r in rows]

    def runs(self, job_id: str) -> builtins.list[dict[str, Any]]:
        keys = ("run_id", "attempt", "worker", "pid", "server", "started_utc", "ended_utc", "outcome")
        return [dict(zip(keys, r, strict=True)) for r in self._c.execute(
            f"SELECT {','.join(keys)} FROM job_runs WHERE job_id=? ORDER BY attempt, started_utc", (job_id,))]

    def result(self, job_id: str) -> dict[str, Any] | None:
        row = self._c.execute("SELECT result FROM jobs WHERE id=?", (job_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def artifact(self, job_id: str, name: str) -> tuple[str, bytes] | None:
        row = self._c.execute("SELECT media_type, content FROM job_artifacts WHERE job_id=? AND name=?",
                              (job_id, name)).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def artifacts(self, job_id: str) -> builtins.list[dict[str, Any]]:
        return [{"name": r[0], "media_type": r[1], "bytes": r[2]} for r in self._c.execute(
            "SELECT name, media_type, LENGTH(content) FROM job_artifacts WHERE job_id=? ORDER BY name", (job_id,))]

    def counts(self) -> dict[str, int]:
        return {s: n for s, n in self._c.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")}

    # -- running (workers) -----------------------------------------------------
    def claim(self, worker: str, *, server: str, pid: int) -> Job | None:
        """Take the oldest queued job: running, one more attempt, a new lease (and a ``job_runs`` row)."""
        with self.state.transaction() as c:
            row = c.execute(f"SELECT {','.join(_COLS)} FROM jobs WHERE status='queued' ORDER BY seq LIMIT 1"
                            ).fetchone()
            if row is None:
                return None
            job = Job.from_row(row)
            lease = "run_" + secrets.token_hex(8)
            now = _now()
            c.execute("UPDATE jobs SET status='running', attempts=attempts+1, lease=?, started_utc=?, "
                      "progress_done=NULL, progress_total=NULL, stage='starting' WHERE id=? AND status='queued'",
                      (lease, now, job.id))
            c.execute("INSERT INTO job_runs(run_id, job_id, attempt, worker, pid, server, started_utc) "
                      "VALUES (?,?,?,?,?,?,?)", (lease, job.id, job.attempts + 1, worker, pid, server, now))
            row = c.execute(f"SELECT {','.join(_COLS)} FROM jobs WHERE id=?", (job.id,)).fetchone()
        return Job.from_row(row)

    def progress(self, job_id: str, lease: str, done: float | None, total: float | None, stage: str | None) -> str:
        """Record progress; returns ``"ok"``, ``"cancel"`` (cancellation asked) or ``"lost"`` (lease gone)."""
        with self.state.transaction() as c:
            n = c.execute("UPDATE jobs SET progress_done=?, progress_total=?, stage=? WHERE id=? AND lease=? AND "
                          "status='running'", (done, total, stage, job_id, lease)).rowcount
            if n == 0:
                return "lost"
            flag = c.execute("SELECT cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()[0]
        return "cancel" if flag else "ok"

    def cancel_state(self, job_id: str, lease: str) -> str:
        """``"ok"``, ``"cancel"`` (cancellation asked) or ``"lost"`` (the lease is gone), read without writing."""
        row = self._c.execute("SELECT cancel_requested, lease, status FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None or row[1] != lease or row[2] != "running":
            return "lost"
        return "cancel" if row[0] else "ok"

    def _end(self, c: sqlite3.Connection, job_id: str, lease: str, status: str, outcome: str,
             error: dict[str, Any] | None = None, result: dict[str, Any] | None = None) -> bool:
        now = _now()
        n = c.execute("UPDATE jobs SET status=?, finished_utc=?, error=?, result=?, lease=NULL, stage=? "
                      "WHERE id=? AND lease=? AND status='running'",
                      (status, now, json.dumps(error) if error else None,
                       json.dumps(result, allow_nan=False) if result is not None else None, status, job_id,
                       lease)).rowcount
        if n:
            c.execute("UPDATE job_runs SET ended_utc=?, outcome=? WHERE run_id=?", (now, outcome, lease))
        return bool(n)

    def complete(self, job_id: str, lease: str, result: dict[str, Any],
                 artifacts: Sequence[tuple[str, str, bytes]] = ()) -> bool:
        """Store the result and artifacts ``(name, media type, bytes)`` and mark the job done, in one
        transaction; False (nothing written) when the lease no longer holds."""
        with self.state.transaction() as c:
            if not self._end(c, job_id, lease, "done", "done", result=result):
                return False
            c.execute("UPDATE jobs SET progress_done=1, progress_total=1 WHERE id=?", (job_id,))  # all of it
            c.executemany("INSERT OR REPLACE INTO job_artifacts(job_id, name, media_type, content) VALUES (?,?,?,?)",
                          [(job_id, n, m, sqlite3.Binary(b)) for n, m, b in artifacts])
        return True

    def fail(self, job_id: str, lease: str, error: dict[str, Any]) -> bool:
        with self.state.transaction() as c:
            return self._end(c, job_id, lease, "failed", "failed", error=error)

    def cancelled(self, job_id: str, lease: str) -> bool:
        with self.state.transaction() as c:
            return self._end(c, job_id, lease, "cancelled", "cancelled",
                             error={"type": "cancelled", "message": "cancelled on request"})

    def interrupted(self, job_id: str, lease: str | None, reason: str, *, max_attempts: int,
                    counts: bool = True) -> str | None:
        """An attempt ended without an outcome (server stopped or killed, worker died): queue the job again,
        or fail it with ``reason`` once it has had ``max_attempts`` attempts. ``counts`` False (an orderly
        shutdown) gives the attempt back. Returns the job's new status (None: lease no longer held)."""
        with self.state.transaction() as c:
            return self._interrupt(c, job_id, lease, reason, max_attempts, counts)

    def _interrupt(self, c: sqlite3.Connection, job_id: str, lease: str | None, reason: str, max_attempts: int,
                   counts: bool) -> str | None:
        row = c.execute("SELECT attempts, cancel_requested, lease FROM jobs WHERE id=? AND status='running'",
                        (job_id,)).fetchone()
        if row is None or (lease is not None and row[2] != lease):
            return None
        attempts, cancel, held = int(row[0]), bool(row[1]), row[2]
        now = _now()
        c.execute("UPDATE job_runs SET ended_utc=?, outcome=? WHERE run_id=?", (now, "interrupted: " + reason, held))
        if not counts:
            attempts -= 1
        err: dict[str, Any] | None
        if cancel:
            status, err = "cancelled", {"type": "cancelled", "message": "cancelled on request"}
        elif attempts >= max_attempts:
            status, err = "failed", {"type": "interrupted", "message": f"interrupted {attempts} times; last: "
                                     f"{reason}", "attempts": attempts}
        else:
            status, err = "queued", None
        c.execute("UPDATE jobs SET status=?, lease=NULL, attempts=?, error=?, stage=?, finished_utc=? WHERE id=?",
                  (status, attempts, json.dumps(err) if err else None, "requeued" if status == "queued" else status,
                   None if status == "queued" else now, job_id))
        return status

    def recover(self, reason: str, *, max_attempts: int) -> dict[str, str]:
        """At start-up: every job left running by a previous server is queued again or failed (with ``reason``).
        Returns ``{job id: new status}``."""
        out: dict[str, str] = {}
        with self.state.transaction() as c:
            for (jid,) in c.execute("SELECT id FROM jobs WHERE status='running' ORDER BY seq").fetchall():
                st = self._interrupt(c, jid, None, reason, max_attempts, True)
                if st is not None:
                    out[jid] = st
        return out

    # -- cancelling ------------------------------------------------------------
    def cancel(self, job_id: str) -> str:
        """Cancel: a queued job at once, a running one at its next progress report (``cancel_requested``).
        Returns the status after the call."""
        with self.state.transaction() as c:
            row = c.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(job_id)
            status = str(row[0])
            if status == "queued":
                c.execute("UPDATE jobs SET status='cancelled', finished_utc=?, stage='cancelled', error=? WHERE id=?",
                          (_now(), json.dumps({"type": "cancelled", "message": "cancelled before it started"}),
                           job_id))
                return "cancelled"
            if status == "running":
                c.execute("UPDATE jobs SET cancel_requested=1 WHERE id=?", (job_id,))
            return status

    def running(self) -> builtins.list[Job]:
        rows = self._c.execute(f"SELECT {','.join(_COLS)} FROM jobs WHERE status='running' ORDER BY seq").fetchall()
        return [Job.from_row(r) for r in rows]

    def attempts_running(self, server: str) -> builtins.list[dict[str, Any]]:
        """The running jobs of ``server``'s workers: job id, lease, worker, pid, start, cancellation asked."""
        keys = ("id", "lease", "worker", "pid", "started_utc", "cancel_requested")
        rows = self._c.execute(
            "SELECT j.id, j.lease, r.worker, r.pid, j.started_utc, j.cancel_requested FROM jobs j "
            "JOIN job_runs r ON r.run_id = j.lease WHERE j.status='running' AND r.server=?", (server,))
        return [dict(zip(keys, r, strict=True)) for r in rows]
