"""Where the engine's work runs: one process, a local process pool, or a cluster (an execution backend).

The engine splits a run into chunks of whole ``BLOCK_PATHS`` blocks, each
with its own random streams, and merges the chunks' statistics in block
order. A backend only runs ``fn(shared, item)`` for every item and hands the
results back *in item order*, whatever order they finish in; it never sees
what a chunk computes, so every number is the same on every backend, for any
number of workers::

    backend.map(fn, shared, items, on_done=...)  -> iterator of fn(shared, item), in item order

``shared`` (the prepared book, model and scenario) is sent once per worker,
not once per item. Backends:

* :class:`LocalBackend` ``(workers=1)``: in this process; with ``workers > 1``
  a local process pool (each worker process receives ``shared`` once);
* ``"dask"``: :class:`seqrisk.distributed.DaskBackend`, a Dask cluster (an
  existing scheduler or a local cluster), loaded only when asked for.

Pass a backend to :func:`~seqrisk.engine.simulate` (``backend=``), or make it
the default of every run in a block of code (comparisons, sweeps, scores)::

    with use_backend("dask"):           # or a DaskBackend(...) you keep open
        seqrisk.compare(book, model, scenario, strategies)

Every backend passes a :func:`seqrisk.cancel.checkpoint` before it starts an item and while it waits for one,
so a cancellable caller stops a run between blocks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from seqrisk.cancel import checkpoint
from seqrisk.exceptions import UsageError

__all__ = ["BACKENDS", "Backend", "LocalBackend", "current_backend", "current_progress", "in_order", "open_backend",
           "parallelism_of", "use_backend"]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

#: Backends known by name: ``name -> "module:class"`` (imported on first use; "dask" needs ``seqrisk[distributed]``).
BACKENDS = {"local": "seqrisk.engine.backend:LocalBackend", "dask": "seqrisk.distributed:DaskBackend"}


@runtime_checkable
class Backend(Protocol):
    """Runs ``fn(shared, item)`` for each item and yields the results in item order.

    ``fn`` must be pure (its result depends only on its arguments) and
    importable by name (a module-level function), so a backend may run it in
    another process or machine, and run it again when a worker is lost.
    ``on_done(i)`` is called when item ``i`` has finished (in any order,
    possibly before earlier items are yielded). ``name(i, item)`` names the
    task in logs and dashboards. A backend may say how many items it runs at
    once (``parallelism``, read by :func:`parallelism_of`; the engine then cuts
    a run into at least two chunks per worker).
    """

    name: str

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T], *,
            name: Callable[[int, T], str] | None = None,
            on_done: Callable[[int], None] | None = None) -> Iterator[R]: ...


def parallelism_of(backend: Backend) -> int:
    """How many items ``backend`` runs at once (its ``parallelism`` attribute; 1 when it has none)."""
    try:
        return max(1, int(getattr(backend, "parallelism", 1)))
    except (TypeError, ValueError):
        return 1


_SHARED: dict[str, Any] = {}


def _install(shared: Any) -> None:
    """Pool initializer: keep the run's shared inputs in the worker process (sent once per process)."""
    _SHARED["value"] = shared


def _call(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(_SHARED["value"], item)


@dataclass
class LocalBackend:
    """This machine: ``workers == 1`` runs in this process, ``workers > 1`` in a process pool of that size.

    At most ``2 * workers`` items are in flight, so memory stays bounded by a
    few chunks however long the run.
    """

    workers: int = 1
    name: str = "local"

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UsageError("workers must be at least 1", field="workers", value=self.workers)

    @property
    def parallelism(self) -> int:
        """Items run at once: the number of worker processes."""
        return self.workers

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T], *,
            name: Callable[[int, T], str] | None = None,
            on_done: Callable[[int], None] | None = None) -> Iterator[R]:
        items = list(items)
        if self.workers == 1 or len(items) <= 1:
            for i, it in enumerate(items):
                checkpoint()
                out = fn(shared, it)
                if on_done is not None:
                    on_done(i)
                yield out
            return
        with ProcessPoolExecutor(max_workers=min(self.workers, len(items)), initializer=_install,
                                 initargs=(shared,)) as ex:
            def submit(i: int) -> Future[R]:
                return ex.submit(_call, fn, items[i])

            try:
                yield from in_order(submit, len(items), 2 * self.workers, _wait_any, on_done)
            except BaseException:  # stopped (a checkpoint, an error): what has not started never will
                ex.shutdown(wait=True, cancel_futures=True)
                raise

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None


def _wait_any(pending: set[Future[Any]]) -> set[Future[Any]]:
    return wait(pending, return_when=FIRST_COMPLETED).done


def in_order(submit: Callable[[int], Any], n: int, window: int, wait_any: Callable[[set[Any]], set[Any]],
             on_done: Callable[[int], None] | None, result: Callable[[Any], Any] = lambda f: f.result(),
             release: Callable[[Any], None] = lambda f: None) -> Iterator[Any]:
    """Results of ``n`` submitted tasks in index order, with at most ``window`` tasks ahead of the next one.

    ``submit(i)`` starts task ``i`` and returns its future; ``wait_any(pending)``
    blocks until at least one has finished and returns the finished ones.
    Results that finish early wait (in memory) until their turn.
    """
    index: dict[Any, int] = {}
    pending: set[Any] = set()
    ready: dict[int, Any] = {}
    for nxt in range(n):
        checkpoint()
        while len(index) < n and len(index) - nxt < max(window, 1):
            i = len(index)
            f = submit(i)
            index[f] = i
            pending.add(f)
        while nxt not in ready:
            checkpoint()  # (a stop here leaves the tasks in flight to the caller's clean-up: a pool's shutdown)
            for f in wait_any(pending):
                pending.discard(f)
                ready[index[f]] = f
                if on_done is not None:
                    on_done(index[f])
        f = ready.pop(nxt)
        out = result(f)
        release(f)
        yield out


@dataclass(frozen=True)
class _Context:
    backend: Backend | None
    progress: Callable[[int, int], None] | None


_CONTEXT: ContextVar[_Context | None] = ContextVar("seqrisk_backend", default=None)


def current_backend(workers: int = 1) -> Backend:
    """The backend of the enclosing :func:`use_backend` block, else ``LocalBackend(workers)``."""
    ctx = _CONTEXT.get()
    return ctx.backend if ctx is not None and ctx.backend is not None else LocalBackend(workers)


def current_progress() -> Callable[[int, int], None] | None:
    """The progress callback of the enclosing :func:`use_backend` block (``None`` outside one)."""
    ctx = _CONTEXT.get()
    return ctx.progress if ctx is not None else None


@contextmanager
def open_backend(backend: Backend | str | None, *, workers: int = 1, **options: Any) -> Iterator[Backend]:
    """A backend ready to use: an object is used as is (and not closed); a name is opened here and closed after.

    ``None`` is the enclosing :func:`use_backend` block's backend, else
    ``LocalBackend(workers)``. Names: ``"local"``, ``"dask"``
    (:class:`seqrisk.distributed.DaskBackend`, given ``options`` and, when
    ``workers > 1``, a local cluster of that many workers unless a scheduler
    is configured).
    """
    if backend is None:
        yield current_backend(workers)
        return
    if not isinstance(backend, str):
        if not callable(getattr(backend, "map", None)):
            raise UsageError(f"a backend has a map method; got a {type(backend).__name__}", field="backend")
        yield backend
        return
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend; use one of {', '.join(BACKENDS)}", field="backend", value=backend)
    mod_name, _, cls_name = BACKENDS[backend].partition(":")
    try:
        cls = getattr(importlib.import_module(mod_name), cls_name)  # a plugin: loaded by name, only when asked
    except ImportError as exc:
        raise UsageError(f"the {backend} backend needs the distributed extra: pip install 'seqrisk[distributed]' "
                         f"({exc})", field="backend", value=backend) from None
    if backend == "local":
        yield cls(workers)
        return
    with cls(workers=workers if workers > 1 else None, **options) as opened:
        yield opened


@contextmanager
def use_backend(backend: Backend | str | None, *, workers: int = 1,
                progress: Callable[[int, int], None] | None = None, **options: Any) -> Iterator[Backend]:
    """Make ``backend`` the default of every engine run inside the block (a name is opened and closed here).

    ``progress(done_paths, total_paths)``, when given, is the default progress
    callback of those runs (a run's own ``progress`` argument wins). With
    ``backend=None`` only the progress default is set: runs keep the
    enclosing block's backend, or their own ``scenario.workers``.
    """
    outer = _CONTEXT.get()
    with open_backend(backend, workers=workers, **options) as be:
        keep = be if backend is not None else (outer.backend if outer is not None else None)
        token = _CONTEXT.set(_Context(keep, progress))
        try:
            yield be
        finally:
            _CONTEXT.reset(token)
