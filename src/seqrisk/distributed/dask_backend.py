"""The Dask execution backend: chunks of blocks as pure, deterministically keyed tasks on a Dask cluster.

``DaskBackend(scheduler="tcp://HOST:PORT")`` connects to an existing
cluster; ``DaskBackend(workers=N)`` starts a local cluster of ``N`` worker
processes on 127.0.0.1 (no dashboard). Opening checks that the scheduler and
every worker run what this process runs (:mod:`.environment`) and refuses a
mismatch with the package and both versions named.

A run's shared inputs (prepared book, model, scenario) travel once, pickled,
as the argument of one task that unpickles them; every chunk task depends on
that task's result, so each worker receives them once (from the worker that
ran it, or a peer) and each task carries only its item (a list of block
indices). They are deliberately not ``scatter``-ed: Dask's active memory
manager keeps a single replica of scattered data, and scattered data that dies
with its worker cannot be recomputed, so a killed worker would end the run;
a task's result is recomputed from its arguments instead. A task is keyed by
a digest of its function, the shared inputs and the items, and the item's
name, so the same work has the same key; tasks are pure, so Dask recomputes
the ones a lost worker held, and results come back in item order
(:func:`~seqrisk.engine.backend.in_order`): a killed worker changes no
number. A scheduler that goes away, a cluster with no worker for
``worker_timeout_s``, or a task whose workers keep dying end the run with a
:class:`~seqrisk.exceptions.BackendError`, never a hang.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from seqrisk.distributed.environment import DASK_PACKAGES, cpu_note, environment, first_difference
from seqrisk.engine.backend import in_order
from seqrisk.exceptions import BackendError, UsageError

__all__ = ["DaskBackend"]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

_WORKER_ENV: dict[str, dict[str, str]] = {}


def _run_task(fn: Callable[[Any, Any], Any], payload: tuple[dict[str, str], Any], item: Any) -> Any:
    """On a worker: refuse to compute if this worker differs from the client, else ``fn(shared, item)``."""
    expected, shared = payload
    mine = _WORKER_ENV.get("env")
    if mine is None:
        mine = _WORKER_ENV["env"] = environment()
    diff = first_difference(expected, mine)
    if diff is not None:
        raise BackendError(_mismatch_message(_worker_address(), *diff))
    return fn(shared, item)


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:  # pragma: no cover - not inside a worker
        return "a worker"


def _mismatch_message(where: str, package: str, mine: str, theirs: str) -> str:
    return (f"{where} has {package} {theirs} but this process has {package} {mine}: install the same versions "
            "on every worker (docs/distributed.md, The worker environment)")


def _unpickle(blob: bytes) -> Any:
    """On a worker: the run's shared inputs from their pickle (a task, so a lost copy is recomputed)."""
    return pickle.loads(blob)


class DaskBackend:
    """Runs the engine's chunks on a Dask cluster; use it as a context manager (or ``open()``/``close()``).

    ``scheduler``: address of an existing scheduler (``tcp://HOST:PORT``;
    default: Dask's ``scheduler-address`` setting, else a local cluster).
    ``workers``: size of the local cluster (default: this machine's CPUs);
    an existing cluster brings its own. ``connect_timeout_s`` bounds each
    attempt to reach the scheduler (default: Dask's
    ``distributed.comm.timeouts.connect``, 30 s unless configured, e.g. by
    ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``); ``worker_timeout_s`` how long the cluster
    may have no worker (at connect time and during a run). ``window``: tasks
    in flight ahead of the next result (default: twice the cluster's threads).
    ``notes`` collects remarks for the user (other CPU vector instructions).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, *, workers: int | None = None, threads_per_worker: int = 1,
                 connect_timeout_s: float | None = None, worker_timeout_s: float = 120.0,
                 check_environment: bool = True, window: int | None = None, poll_s: float = 1.0) -> None:
        if scheduler is not None and workers is not None:
            raise UsageError("workers sizes a local cluster; an existing cluster (scheduler) has its own",
                             field="workers", value=workers)
        if scheduler is not None and "://" not in scheduler:
            raise UsageError("a scheduler address looks like tcp://HOST:PORT", field="scheduler", value=scheduler)
        if workers is not None and workers < 1:
            raise UsageError("workers must be at least 1", field="workers", value=workers)
        self.scheduler = scheduler
        self.workers = workers
        self.threads_per_worker = threads_per_worker
        self.connect_timeout_s = connect_timeout_s or 30.0
        self._timeout_given = connect_timeout_s is not None
        self.worker_timeout_s = worker_timeout_s
        self.check_environment = check_environment
        self.window = window
        self.poll_s = poll_s
        self.notes: list[str] = []
        self.address: str | None = None
        self._client: Any = None
        self._cluster: Any = None
        self._env: dict[str, str] = {}

    # -- connection ----------------------------------------------------------------------------------------
    def open(self) -> DaskBackend:
        """Connect (or start the local cluster), wait for a worker and check every worker's environment."""
        if self._client is not None:
            return self
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise UsageError(f"the dask backend needs the distributed extra: pip install 'seqrisk[distributed]' "
                             f"({exc})", field="backend", value="dask") from None
        self._env = environment()
        if not self._timeout_given:
            from dask.utils import parse_timedelta

            self.connect_timeout_s = float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s"))
        address = self.scheduler or dask.config.get("scheduler-address", None)
        try:
            if address:
                self.address = str(address)
                self._client = Client(self.address, timeout=self.connect_timeout_s, set_as_default=False)
            else:
                self._cluster = LocalCluster(
                    n_workers=self.workers or os.cpu_count() or 1, threads_per_worker=self.threads_per_worker,
                    processes=True, host="127.0.0.1", scheduler_port=0, dashboard_address=None,
                    # no dashboard; the scheduler's health endpoints on a free loopback port (not 8787)
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, silence_logs=logging.ERROR)
                self.address = str(self._cluster.scheduler_address)
                self._client = Client(self._cluster, timeout=self.connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise BackendError(f"cannot reach the Dask scheduler at {address or 'a local cluster'} within "
                               f"{self.connect_timeout_s:g} s ({type(exc).__name__}: {exc})") from None
        except ValueError as exc:  # an address Dask cannot parse
            self.close()
            raise UsageError(f"not a Dask scheduler address ({exc})", field="scheduler", value=address) from None
        try:
            self._wait_for_workers()
            if self.check_environment:
                self._check_environment()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Disconnect, and stop the local cluster if this backend started it."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        for thing in (client, cluster):
            if thing is not None:
                with contextlib.suppress(Exception):  # closing after a lost scheduler may fail: nothing is left
                    thing.close()

    def __enter__(self) -> DaskBackend:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (opening the backend if needed)."""
        return self.open()._client

    def describe(self) -> str:
        """One line: where the cluster is and how big."""
        threads = self._nthreads()
        kind = "local Dask cluster" if self._cluster is not None else "Dask cluster"
        return f"{kind} at {self.address}: {len(threads)} workers, {sum(threads.values())} threads"

    @property
    def parallelism(self) -> int:
        """Tasks the cluster runs at once now: the sum of its workers' threads (at least 1)."""
        return max(1, sum(self._nthreads().values()))

    def _nthreads(self) -> dict[str, int]:
        try:
            return dict(self._client.nthreads(callback_timeout=self.connect_timeout_s))
        except (OSError, TimeoutError) as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: BaseException | None = None) -> BackendError:
        why = f" ({type(exc).__name__})" if exc is not None else ""
        return BackendError(f"lost the Dask scheduler at {self.address}{why}: the run is abandoned; check the "
                            "scheduler and run again (every number is recomputed the same)")

    def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + self.worker_timeout_s
        while not self._nthreads():
            if time.monotonic() > deadline:
                raise BackendError(f"no worker joined the Dask scheduler at {self.address} within "
                                   f"{self.worker_timeout_s:g} s")
            time.sleep(min(self.poll_s, 0.5))

    def _check_environment(self) -> None:
        try:
            versions = self._client.get_versions()
            workers = self._client.run(environment)
        except ImportError as exc:
            raise BackendError(f"a worker of the Dask cluster at {self.address} cannot import seqrisk ({exc}): "
                               "install the same seqrisk on every worker (docs/distributed.md)") from None
        sched = dict(versions.get("scheduler", {}).get("packages", {}))
        sched_env = {k: v for k, v in sched.items() if isinstance(v, str)}
        sched_env["python"] = ".".join(str(sched.get("python", "")).split(".")[:2])
        diff = first_difference(self._env, sched_env, DASK_PACKAGES)
        if diff is not None:
            raise BackendError(_mismatch_message(f"the Dask scheduler at {self.address}", *diff))
        for addr, env in sorted(workers.items()):
            diff = first_difference(self._env, env)
            if diff is not None:
                raise BackendError(_mismatch_message(f"worker {addr}", *diff))
        for addr, env in sorted(workers.items()):
            note = cpu_note(self._env, env, f"worker {addr}")
            if note is not None:
                self.notes.append(note)
                break

    # -- work ----------------------------------------------------------------------------------------------
    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T], *,
            name: Callable[[int, T], str] | None = None,
            on_done: Callable[[int], None] | None = None) -> Iterator[R]:
        """``fn(shared, item)`` for each item as tasks on the cluster, yielded in item order (see the module)."""
        from distributed import CancelledError, KilledWorker, wait

        client = self.client
        items = list(items)
        if not items:
            return
        blob = pickle.dumps((self._env, shared), protocol=5)
        h = hashlib.sha256(blob)
        h.update(pickle.dumps((getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)), items),
                              protocol=5))
        digest = h.hexdigest()[:16]
        with warnings.catch_warnings():  # the book travels in the graph on purpose (see the module's docstring)
            warnings.filterwarnings("ignore", message=".*[Ll]arge object.*")
            payload = client.submit(_unpickle, blob, key=f"seqrisk-shared-{digest}", pure=True, retries=0)
        del blob
        window = self.window or 2 * max(sum(self._nthreads().values()), 1)
        live: list[Any] = []

        def submit(i: int) -> Any:
            label = name(i, items[i]) if name is not None else f"seqrisk-task-{i}"
            f = client.submit(_run_task, fn, payload, items[i], key=f"{label}-{digest}", pure=True, retries=0)
            live.append(f)
            return f

        def wait_any(pending: set[Any]) -> set[Any]:
            idle_since: float | None = None
            while True:
                try:
                    with client.as_current():
                        done = wait(list(pending), timeout=self.poll_s, return_when="FIRST_COMPLETED").done
                except TimeoutError:
                    done = set()
                except (CancelledError, OSError) as exc:  # OSError: distributed's CommClosedError
                    raise self._lost(exc) from None
                if done:
                    return set(done)
                if client.status != "running":
                    raise self._lost()
                if self._nthreads():
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > self.worker_timeout_s:
                    raise BackendError(f"the Dask cluster at {self.address} has had no worker for "
                                       f"{self.worker_timeout_s:g} s; the run is abandoned")

        def result(f: Any) -> Any:
            try:
                return f.result()
            except KilledWorker as exc:
                raise BackendError(f"task {f.key} was running on each of several workers that died (Dask's "
                                   f"allowed-failures): it may exhaust the workers' memory ({exc})") from None
            except (CancelledError, OSError) as exc:
                if f.status == "error" and not isinstance(exc, CancelledError):
                    raise  # an error of the task itself (a task may raise OSError)
                # the result could not be fetched: the scheduler went away (the client may not know it yet)
                raise self._lost(exc) from None

        try:
            yield from in_order(submit, len(items), window, wait_any, on_done, result, _release)
        finally:
            for f in [*live, payload]:
                _release(f)


def _release(f: Any) -> None:
    """Let the cluster forget a future (after its result is read, or when a run is abandoned)."""
    with contextlib.suppress(Exception):  # the client may already be closed after a lost scheduler
        f.release()
