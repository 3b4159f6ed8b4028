"""The worker pool: a fixed number of processes taking jobs from the queue in the state store.

Each worker is a separate process (started with ``spawn``, so it shares no
state with the web server) that loops: claim the oldest queued job, run it,
store the outcome, repeat; it waits on a wake-up event (set when a job is
submitted) or polls every half second. A supervisor thread in the server:

* replaces a worker that died, and hands its job back to the queue (or fails
  it with the reason once it has had ``max_attempts`` attempts);
* kills the worker of a cancelled job that has not stopped ``cancel_grace_s``
  after the request, the last resort: a job notices cancellation itself at its
  next progress report and at every checkpoint of the engine
  (:mod:`seqrisk.cancel`: between blocks of paths, so between the points of a
  sweep, the levers of a comparison, the replications of an allocation, and
  between the origins of a backtest, between the stages of fitting the outage
  model), and ends ``cancelled`` with its worker alive; one piece of work
  longer than the grace (a single huge block) may outlast it. It also kills
  the worker of a job running past ``max_job_s``;
* on shutdown asks the workers to stop at their next progress report: their
  jobs go back to the queue without using up an attempt.

With a Dask scheduler, each worker connects to it at its first job and runs
every engine run of its jobs there (blocks keyed by index: the numbers of the
local backend); the server checked the cluster (reachable, same versions)
before starting the workers.

A worker whose server died (killed with -9) notices at its next progress report
or wake-up that its parent changed and exits; the lease on its job was taken
back by the next server, so nothing it might still write is kept.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import secrets
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqrisk.cancel import cancellable
from seqrisk.exceptions import SeqriskError
from seqrisk.service.jobs import Job, JobStore
from seqrisk.store import StateStore

__all__ = ["WorkerPool", "error_doc", "worker_main"]

_POLL_S = 0.5
_PROGRESS_EVERY_S = 0.5
_CHECK_EVERY_S = 0.2


def _log(msg: str) -> None:
    print(f"seqrisk serve: {msg}", file=sys.stderr, flush=True)


def error_doc(exc: SeqriskError) -> dict[str, Any]:
    """A seqrisk error as the API shows it: type, message and the context fields (file paths left out)."""
    ctx = {k: (v if isinstance(v, int | float | str | bool) or v is None else str(v))
           for k, v in exc.context.items() if k != "file"}
    return {"type": type(exc).__name__, "message": exc.message, **ctx}


# -- the worker process ---------------------------------------------------------------------------------------
def worker_main(worker_id: str, state_path: str, home: str, catalog_dir: str | None, server_id: str,
                parent_pid: int, wake: Any, stop: Any, scheduler: str | None = None) -> None:
    """A worker's loop (the target of each worker process); ``scheduler``: run the engine on that Dask cluster."""
    from seqrisk.catalog import load_catalog
    from seqrisk.service.runners import RunContext

    try:
        ctx = RunContext(Path(home), Path(catalog_dir) if catalog_dir else None,
                         load_catalog(Path(catalog_dir) if catalog_dir else None), scheduler=scheduler)
    except SeqriskError as exc:
        _log(f"worker {worker_id}: cannot load the catalog: {exc}")
        sys.exit(3)
    jobs = JobStore(StateStore(state_path))
    try:
        while not stop.is_set():
            if os.getppid() != parent_pid:
                return  # the server is gone: its successor takes the queue back
            job = jobs.claim(worker_id, server=server_id, pid=os.getpid())
            if job is None:
                if wake.wait(_POLL_S):
                    wake.clear()
                continue
            _execute(job, jobs, ctx, worker_id, parent_pid, stop)
    finally:
        ctx.close()


def _execute(job: Job, jobs: JobStore, ctx: Any, worker_id: str, parent_pid: int, stop: Any) -> None:
    from seqrisk import __version__
    from seqrisk.service.runners import Cancelled, run_job

    lease = job.lease or ""
    t0 = time.monotonic()
    if job.catalog_version != ctx.catalog.version or job.seqrisk_version != __version__:
        what = ("catalog", job.catalog_version, ctx.catalog.version) if job.catalog_version != ctx.catalog.version \
            else ("seqrisk version", job.seqrisk_version, __version__)
        jobs.fail(job.id, lease, {"type": "stale", "message": f"the {what[0]} changed since the job was submitted "
                                  f"(was {what[1]}, now {what[2]}): its numbers could not be reproduced; submit it "
                                  "again", "field": what[0].split()[0]})
        return
    last: list[Any] = [0.0, ""]

    def progress(done: float | None, total: float | None, stage: str) -> None:
        if os.getppid() != parent_pid:
            raise Cancelled("orphaned")
        if stop.is_set():
            raise Cancelled("shutdown")
        now = time.monotonic()
        if stage == last[1] and now - last[0] < _PROGRESS_EVERY_S and (done is None or done != total):
            return
        last[0], last[1] = now, stage
        verdict = jobs.progress(job.id, lease, done, total, stage)
        if verdict == "cancel":
            raise Cancelled("cancelled")
        if verdict == "lost":
            raise Cancelled("lost")

    checked = [0.0]

    def check() -> None:
        """At each of the engine's checkpoints (between blocks, origins): stop if the job is to stop."""
        if os.getppid() != parent_pid:
            raise Cancelled("orphaned")
        if stop.is_set():
            raise Cancelled("shutdown")
        now = time.monotonic()
        if now - checked[0] < _CHECK_EVERY_S:
            return
        checked[0] = now
        verdict = jobs.cancel_state(job.id, lease)
        if verdict != "ok":
            raise Cancelled("cancelled" if verdict == "cancel" else "lost")

    try:
        with ctx.engine(), cancellable(check):
            out = run_job(job.kind, job.request, ctx, progress)
    except Cancelled as c:
        if c.why == "cancelled":
            jobs.cancelled(job.id, lease)
        elif c.why == "shutdown":
            jobs.interrupted(job.id, lease, "the server stopped", max_attempts=10**9, counts=False)
        _log(f"worker {worker_id}: job {job.id} stopped ({c.why})")
        return
    except SeqriskError as exc:
        jobs.fail(job.id, lease, error_doc(exc))
        _log(f"worker {worker_id}: job {job.id} failed: {exc}")
        return
    except Exception:  # a defect: the log gets the traceback, the client a reference
        ref = "err_" + secrets.token_hex(4)
        _log(f"worker {worker_id}: job {job.id} failed with an internal error {ref}:\n{traceback.format_exc()}")
        jobs.fail(job.id, lease, {"type": "internal", "message": "internal error while running the job (the "
                                  "server log has the details)", "ref": ref})
        return
    if jobs.complete(job.id, lease, out.result, out.artifacts):
        _log(f"worker {worker_id}: job {job.id} ({job.kind}) done in {time.monotonic() - t0:.1f}s")
    else:
        _log(f"worker {worker_id}: job {job.id} finished but its lease was taken back; result not kept")


# -- the supervisor (in the server process) ---------------------------------------------------------------------
@dataclass
class _Slot:
    id: str
    proc: Any = None
    started: float = 0.0


@dataclass
class WorkerPool:
    """``size`` worker processes over the queue of the state store at ``state_path``."""

    state_path: Path
    home: Path
    catalog_dir: Path | None
    size: int
    max_attempts: int = 2
    max_job_s: float = 3600.0
    cancel_grace_s: float = 5.0
    scheduler: str | None = None
    server_id: str = field(default_factory=lambda: "srv_" + secrets.token_hex(4))
    _ctx: Any = None
    _slots: list[_Slot] = field(default_factory=list)
    _thread: threading.Thread | None = None
    _halt: threading.Event = field(default_factory=threading.Event)
    _cancel_seen: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self.wake = self._ctx.Event()
        self.stop_event = self._ctx.Event()

    def start(self) -> dict[str, str]:
        """Take back the jobs a previous server left running, start the workers and the supervisor.
        Returns what became of the jobs taken back."""
        with StateStore(self.state_path) as st:
            recovered = JobStore(st).recover("the server stopped while the job ran (resumed from its record)",
                                             max_attempts=self.max_attempts)
        for jid, status in recovered.items():
            _log(f"job {jid} was running when the server stopped: {status}")
        self._slots = [_Slot(f"w{i + 1}") for i in range(self.size)]
        for s in self._slots:
            self._spawn(s)
        self._thread = threading.Thread(target=self._supervise, name="seqrisk-pool", daemon=True)
        self._thread.start()
        return recovered

    def _spawn(self, slot: _Slot) -> None:
        slot.proc = self._ctx.Process(
            target=worker_main, name=f"seqrisk-worker-{slot.id}", daemon=True,
            args=(slot.id, str(self.state_path), str(self.home), str(self.catalog_dir) if self.catalog_dir else None,
                  self.server_id, os.getpid(), self.wake, self.stop_event, self.scheduler))
        slot.proc.start()
        slot.started = time.monotonic()

    def notify(self) -> None:
        """A job was queued: wake a waiting worker."""
        self.wake.set()

    def alive(self) -> dict[str, bool]:
        return {s.id: bool(s.proc is not None and s.proc.is_alive()) for s in self._slots}

    def pids(self) -> dict[str, int | None]:
        return {s.id: (s.proc.pid if s.proc is not None else None) for s in self._slots}

    def _supervise(self) -> None:
        with StateStore(self.state_path) as st:
            jobs = JobStore(st)
            while not self._halt.wait(_POLL_S):
                try:
                    self._round(st, jobs)
                except Exception:  # never let the supervisor die silently
                    _log("supervisor error:\n" + traceback.format_exc())

    def _round(self, st: StateStore, jobs: JobStore) -> None:
        running = jobs.attempts_running(self.server_id)
        by_worker = {r["worker"]: r for r in running}
        now = time.time()  # clock-ok: how long a job has run (limits), never in a figure
        for slot in self._slots:
            r = by_worker.get(slot.id)
            if slot.proc is not None and not slot.proc.is_alive():
                code = slot.proc.exitcode
                if r is not None:
                    status = jobs.interrupted(r["id"], r["lease"], f"the worker process died (exit code {code})",
                                              max_attempts=self.max_attempts)
                    _log(f"worker {slot.id} died (exit code {code}) running job {r['id']}: {status}")
                else:
                    _log(f"worker {slot.id} exited (code {code}); starting a new one")
                if not self._halt.is_set():
                    self._spawn(slot)
                continue
            if r is None:
                continue
            why = None
            if r["cancel_requested"]:
                seen = self._cancel_seen.setdefault(r["id"], now)
                if now - seen > self.cancel_grace_s:
                    why = "cancel"
            elif r["started_utc"] is not None and now - r["started_utc"] > self.max_job_s:
                why = "timeout"
            if why is not None:
                self._kill(slot)
                if why == "cancel":
                    jobs.interrupted(r["id"], r["lease"], "cancelled", max_attempts=self.max_attempts)
                else:
                    jobs.fail(r["id"], r["lease"], {"type": "limit", "limit": "max_job_s", "allowed": self.max_job_s,
                                                     "message": f"the job ran longer than {self.max_job_s:g} s"})
                _log(f"job {r['id']}: worker {slot.id} stopped ({why}); starting a new one")
                self._cancel_seen.pop(r["id"], None)
                self._spawn(slot)

    @staticmethod
    def _kill(slot: _Slot) -> None:
        if slot.proc is not None and slot.proc.is_alive():
            slot.proc.terminate()
            slot.proc.join(5.0)
            if slot.proc.is_alive():
                slot.proc.kill()
                slot.proc.join(5.0)

    def stop(self, grace_s: float | None = None) -> None:
        """Ask the workers to stop at their next progress report, wait up to ``grace_s``, then end them; jobs
        left running go back to the queue without using up an attempt."""
        self._halt.set()
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(10.0)
        deadline = time.monotonic() + (self.cancel_grace_s if grace_s is None else grace_s)
        for s in self._slots:
            if s.proc is not None:
                s.proc.join(max(0.0, deadline - time.monotonic()))
                self._kill(s)
        with StateStore(self.state_path) as st:
            jobs = JobStore(st)
            for r in jobs.attempts_running(self.server_id):
                jobs.interrupted(r["id"], r["lease"], "the server stopped", max_attempts=10**9, counts=False)
