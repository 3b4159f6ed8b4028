"""``--backend``, ``--scheduler``, ``--workers``: where a command's simulations run, and their progress on stderr.

Every command that runs the loss engine (simulate, compare and its sweeps,
insure, allocate, score, report) takes the three options; inside
:func:`engine_backend` every engine run of the command uses that backend
(numbers do not depend on it) and reports its progress on stderr: a bar on a
terminal, and with the Dask backend one line per tenth of a run otherwise (a
batch job's log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from seqrisk.cli.render import messages
from seqrisk.exceptions import UsageError

if TYPE_CHECKING:
    from seqrisk.engine.backend import Backend

__all__ = ["BackendOpt", "SchedulerOpt", "WorkersOpt", "backend_kind", "engine_backend"]

BackendOpt = Annotated[str | None, typer.Option(
    "--backend", help="Where simulations run: local (this machine, --workers processes) or dask (a Dask cluster: "
    "--scheduler, or a local cluster of --workers processes on 127.0.0.1). Numbers do not change.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Address of a running Dask scheduler, tcp://HOST:PORT (implies --backend dask; "
    "docs/distributed.md).")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=1, help="Worker processes: the local process pool, or the local Dask cluster's size "
    "(default: one per CPU).")]


def backend_kind(backend: str | None, scheduler: str | None) -> str:
    """``local`` or ``dask`` from ``--backend`` and ``--scheduler`` (a scheduler implies dask); a usage error for
    another backend, or a scheduler with ``--backend local``."""
    kind = backend or ("dask" if scheduler else "local")
    if kind not in ("local", "dask"):
        raise UsageError("backend is local or dask", field="--backend", value=backend)
    if kind == "local" and scheduler:
        raise UsageError("--scheduler needs --backend dask", field="--scheduler", value=scheduler)
    return kind


class _Progress:
    """``progress(done_paths, total_paths)`` of successive engine runs, drawn on stderr."""

    def __init__(self, err: Console, lines: bool) -> None:
        self.err, self.lines = err, lines
        self.run = 0
        self.last = (0, 0)
        self.tenth = 0
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _Progress:
        if self.err.is_terminal and not self.err.quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.completed:,}/{task.total:,} paths"), TimeRemainingColumn(),
                                console=self.err, transient=True)
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, done: int, total: int) -> None:
        if done <= self.last[0] or total != self.last[1]:  # a new run
            self.run += 1
            self.tenth = 0
            if self.bar is not None:
                if self.task is not None:
                    self.bar.remove_task(self.task)
                self.task = self.bar.add_task(f"simulating (run {self.run})" if self.run > 1 else "simulating",
                                              total=total)
        self.last = (done, total)
        if self.bar is not None:
            self.bar.update(self.task, completed=done)
        elif self.lines and (10 * done // total > self.tenth or done == total):
            from seqrisk.engine.scenario import BLOCK_PATHS

            self.tenth = 10 * done // total
            blocks = -(-total // BLOCK_PATHS)
            self.err.print(f"run {self.run}: {done:,}/{total:,} paths ({-(-done // BLOCK_PATHS)}/{blocks} blocks)",
                           markup=False, highlight=False)


def _also(show: Callable[[int, int], None] | None, outer: Callable[[int, int], None] | None
          ) -> Callable[[int, int], None] | None:
    """The command's progress display, and the progress of the block the command runs in (a job's worker runs the
    command inside one: its runs are the job's progress)."""
    if show is None or outer is None:
        return show or outer

    def both(done: int, total: int) -> None:
        show(done, total)
        outer(done, total)
    return both


@contextmanager
def engine_backend(backend: str | None, scheduler: str | None, workers: int | None, *,
                   progress: bool = True) -> Iterator[Backend | None]:
    """Open the chosen backend and make it (and a stderr progress display) the default of every engine run.

    Yields the backend, or ``None`` for the local backend without ``--workers``
    (runs then keep the scenario's own ``workers``).
    """
    from seqrisk.engine.backend import (  # the engine is imported when a command runs it
        LocalBackend,
        current_progress,
        use_backend,
    )

    kind = backend_kind(backend, scheduler)
    err = messages()
    with ExitStack() as stack:
        be: Backend | None
        if kind == "dask":
            from seqrisk.distributed import DaskBackend

            # Dask logs its own reconnection attempts and worker restarts with tracebacks; the command reports
            # what matters in one line (a lost scheduler, a refused worker), so its log is kept quiet
            log = logging.getLogger("distributed")
            stack.callback(log.setLevel, log.level)
            log.setLevel(logging.CRITICAL)
            dask = stack.enter_context(DaskBackend(scheduler, workers=None if scheduler else workers))
            err.print(f"backend: {dask.describe()}", markup=False)
            for note in dask.notes:
                err.print(f"note: {note}", markup=False)
            be = dask
        else:
            be = LocalBackend(workers) if workers else None
        show = stack.enter_context(_Progress(err, lines=kind == "dask")) if progress else None
        stack.enter_context(use_backend(be, progress=_also(show, current_progress())))
        yield be
