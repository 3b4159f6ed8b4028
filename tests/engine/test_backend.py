"""Execution backends: results in item order whatever the completion order; the engine's numbers never change."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import pandas as pd
import pytest

from seqrisk.engine import BLOCK_PATHS, Scenario, simulate
from seqrisk.engine.backend import LocalBackend, current_backend, in_order, open_backend, use_backend
from seqrisk.exceptions import UsageError

from .conftest import lognormal_model, make_book


def _square(shared: int, item: int) -> int:
    return shared * item * item


def test_local_backends_yield_in_item_order() -> None:
    for workers in (1, 2):
        done: list[int] = []
        out = list(LocalBackend(workers).map(_square, 3, range(7), on_done=done.append))
        assert out == [3 * i * i for i in range(7)]
        assert sorted(done) == list(range(7))


def test_in_order_reorders_and_keeps_the_window() -> None:
    """Tasks finishing in reverse order come back in index order; at most ``window`` are ahead of the next."""
    futures: dict[int, Future[int]] = {}
    ahead: list[int] = []
    yielded: list[int] = []

    def submit(i: int) -> Future[int]:
        futures[i] = Future()
        ahead.append(len(futures) - len(yielded))
        return futures[i]

    def wait_any(pending: set[Future[int]]) -> set[Future[int]]:
        last = max(i for i, f in futures.items() if f in pending)  # the newest finishes first
        futures[last].set_result(10 * last)
        return {futures[last]}

    done: list[int] = []
    for x in in_order(submit, 9, 3, wait_any, done.append):
        yielded.append(x)
    assert yielded == [10 * i for i in range(9)]
    assert done != sorted(done) and sorted(done) == list(range(9))
    assert max(ahead) <= 3


class Recording:
    """A backend that records what it was asked to run and runs it here."""

    name = "recording"

    def __init__(self, workers: int = 1) -> None:
        self.calls: list[int] = []
        self.workers = workers
        self.parallelism = workers

    def map(self, fn: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any], *,
            name: Callable[[int, Any], str] | None = None,
            on_done: Callable[[int], None] | None = None) -> Iterator[Any]:
        self.calls.append(len(items))
        return LocalBackend(self.workers).map(fn, shared, items, name=name, on_done=on_done)


@pytest.fixture(scope="module")
def inputs() -> tuple[Any, Any, Scenario]:
    book = make_book([{"id": "p", "type": "perp", "chain": "arbitrum", "asset": "ETH", "side": "long",
                       "notional_usd": 1e6, "leverage": 20, "maintenance_margin": 0.02}])
    return book, lognormal_model({"arbitrum": 0.05}), Scenario(paths=3 * BLOCK_PATHS + 17, chunk_paths=BLOCK_PATHS,
                                                               seed=5, horizon_s=7 * 86400.0)


@pytest.mark.parametrize("engine", ["kernel", "numpy"])
@pytest.mark.parametrize("workers", [1, 2])
def test_simulate_runs_its_chunks_on_the_given_backend(inputs: tuple[Any, Any, Scenario], engine: str,
                                                       workers: int) -> None:
    """Both engines, in this process and in a process pool: the serial run's numbers, path by path."""
    book, model, sc = inputs
    sc = sc.replace(engine=engine, keep_paths=True)
    rec = Recording(workers)
    seen: list[tuple[int, int]] = []
    a = simulate(book, model, sc)
    b = simulate(book, model, sc, backend=rec, progress=lambda d, n: seen.append((d, n)))
    assert rec.calls == [4]
    assert seen[-1] == (sc.paths, sc.paths) and len(seen) == 4
    assert a.diagnostics["engine"] == b.diagnostics["engine"] == (1.0 if engine == "kernel" else 0.0)
    for name in ("measures", "positions", "chains", "components"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    pd.testing.assert_frame_equal(a.path_losses(), b.path_losses(), check_exact=True)
    assert a.diagnostics == b.diagnostics


@pytest.mark.parametrize("engine", ["kernel", "numpy"])
def test_a_parallel_backend_gets_two_chunks_per_worker_and_the_same_numbers(inputs: tuple[Any, Any, Scenario],
                                                                             engine: str) -> None:
    """Default chunking: one chunk for the run in this process, two per worker on a backend of two."""
    book, model, sc = inputs
    sc = sc.replace(paths=10 * BLOCK_PATHS - 5, chunk_paths=None, engine=engine, keep_paths=True)
    serial, pool = Recording(1), Recording(2)
    a = simulate(book, model, sc, backend=serial)
    b = simulate(book, model, sc, backend=pool)
    assert pool.calls == [4] and serial.calls[0] < 4
    pd.testing.assert_frame_equal(a.measures, b.measures, check_exact=True)
    pd.testing.assert_frame_equal(a.positions, b.positions, check_exact=True)
    pd.testing.assert_frame_equal(a.path_losses(), b.path_losses(), check_exact=True)
    assert a.diagnostics == b.diagnostics


def test_use_backend_routes_every_run_of_a_comparison(inputs: tuple[Any, Any, Scenario]) -> None:
    from seqrisk.decide import GracePeriod, compare

    book, model, sc = inputs
    rec = Recording()
    seen: list[int] = []
    with use_backend(rec, progress=lambda d, n: seen.append(d)):
        assert current_backend() is rec
        cmp = compare(book, model, sc, [GracePeriod(3600.0, 0.5)])
    assert current_backend().name == "local"
    assert rec.calls == [4, 4]  # baseline and the one strategy, each in four chunks
    assert seen.count(sc.paths) == 2
    ref = compare(book, model, sc, [GracePeriod(3600.0, 0.5)])
    pd.testing.assert_frame_equal(cmp.summary(), ref.summary(), check_exact=True)


def test_backend_names_and_objects() -> None:
    with open_backend("local", workers=2) as be:
        assert isinstance(be, LocalBackend) and be.workers == 2
    with pytest.raises(UsageError, match="unknown backend"), open_backend("ray"):
        pass
    with pytest.raises(UsageError, match="map method"), open_backend(object()):  # type: ignore[arg-type]
        pass
    with pytest.raises(UsageError, match="workers"):
        LocalBackend(0)


def test_importing_seqrisk_and_running_locally_never_imports_dask() -> None:
    code = ("import sys, seqrisk, seqrisk.engine, seqrisk.decide, seqrisk.distributed, seqrisk.cli.app\n"
            "from seqrisk.engine.backend import open_backend\n"
            "with open_backend('local') as be: list(be.map(pow, 2, [1, 2]))\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
