"""The Dask backend on a real local cluster (worker processes on 127.0.0.1, no dashboard).

The numbers must be the local backend's exactly (``==``), for a simulation and a
sweep, with a worker killed mid-run too; a worker with another seqrisk is
refused; an unreachable or lost scheduler is one clear error, not a hang.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed", reason="the distributed extra is not installed: pip install 'seqrisk[distributed]'")

import cloudpickle

from seqrisk.distributed import DaskBackend
from seqrisk.distributed.dask_backend import _run_task
from seqrisk.distributed.environment import environment
from seqrisk.engine import BLOCK_PATHS, simulate
from seqrisk.engine.backend import use_backend
from seqrisk.exceptions import BackendError

from .conftest import SC, both_workers_up

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # this module's task functions travel by value


def same_result(a: Any, b: Any) -> None:
    for name in ("measures", "positions", "chains", "components"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    pd.testing.assert_frame_equal(a.path_losses(), b.path_losses(), check_exact=True)
    assert a.diagnostics == b.diagnostics


def kill_busy_worker(client: Any, prefix: str, timeout_s: float = 60.0) -> tuple[str, list[str]] | None:
    """SIGKILL the worker process holding the most tasks whose key starts with ``prefix``: its address and tasks.

    Waits up to ``timeout_s`` for such a task (``None`` when there was none; ``timeout_s=0``: look once).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        busy = {w: [str(k) for k in ks if str(k).startswith(prefix)] for w, ks in client.processing().items()}
        busy = {w: ks for w, ks in busy.items() if ks}
        if busy:
            break
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)
    victim = max(busy, key=lambda w: len(busy[w]))
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)
    return victim, busy[victim]


def test_simulate_is_bit_identical_to_the_local_backend(inputs: Any, local: Any, two_workers: DaskBackend) -> None:
    done: list[int] = []
    remote = simulate(*inputs, SC, backend=two_workers, progress=lambda d, n: done.append(d))
    same_result(local, remote)
    assert sorted(done) == done and done[-1] == SC.paths and len(done) == 6
    assert remote.diagnostics["events"] > 0 and remote.value("expected_loss")[0] > 0
    assert remote.diagnostics["engine"] == 0.0  # the desk holds options: the vectorised engine


def test_the_compiled_kernel_on_the_cluster_is_bit_identical(kernel_inputs: Any, two_workers: DaskBackend) -> None:
    """The kernel (compiled, or loaded from Numba's cache, in each worker process), default chunking and memory
    bound (no per-path arrays): the local run's numbers; with per-path arrays, the same paths too."""
    sc = SC.replace(paths=12 * BLOCK_PATHS + 7, chunk_paths=None, keep_paths=False, stress_outages=[
        {"chain": "arbitrum", "duration_s": 7200.0}])
    local = simulate(*kernel_inputs, sc)
    done: list[int] = []
    remote = simulate(*kernel_inputs, sc, backend=two_workers, progress=lambda d, n: done.append(d))
    assert remote.diagnostics["engine"] == local.diagnostics["engine"] == 1.0
    assert len(done) == 4  # two chunks per worker (the run in this process is one chunk)
    for name in ("measures", "positions", "chains", "components"):
        pd.testing.assert_frame_equal(getattr(local, name), getattr(remote, name), check_exact=True)
    assert local.diagnostics == remote.diagnostics and remote._paths is None  # memory bounded: no per-path arrays
    for series, (x, p, stride) in local._samples.items():  # the body sample behind loss_distribution
        rx, rp, rstride = remote._samples[series]
        assert stride == rstride and np.array_equal(x, rx) and np.array_equal(p, rp)
    q = [0.5, 0.99, 0.999]
    assert np.array_equal(local.loss_distribution().quantile(q), remote.loss_distribution().quantile(q))
    kept = sc.replace(keep_paths=True)
    pd.testing.assert_frame_equal(simulate(*kernel_inputs, kept).path_losses(),
                                  simulate(*kernel_inputs, kept, backend=two_workers).path_losses(), check_exact=True)


def test_a_sweep_is_bit_identical_to_the_local_backend(inputs: Any, two_workers: DaskBackend) -> None:
    from seqrisk.decide import GracePeriod, sweep

    book, model = inputs
    sc = SC.replace(paths=2 * BLOCK_PATHS)
    grid = [0.0, 3600.0]
    local = sweep(book, model, sc, "grace", grid, lambda g: GracePeriod(g, 0.5))
    with use_backend(two_workers):
        remote = sweep(book, model, sc, "grace", grid, lambda g: GracePeriod(g, 0.5))
    pd.testing.assert_frame_equal(local.comparison.summary(), remote.comparison.summary(), check_exact=True)
    assert (local.curve, local.vs_best, local.best_value, local.best_interval) == (
        remote.curve, remote.vs_best, remote.best_value, remote.best_interval)


def test_a_worker_killed_mid_run_changes_no_number(inputs: Any, local: Any, two_workers: DaskBackend,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    client = two_workers.client
    before = client.run(os.getpid)
    killed: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(two_workers, "window", 6)  # every chunk in flight from the start

    def on_progress(done: int, total: int) -> None:
        if not killed:  # after a chunk: kill the worker holding the most of the run's other chunks (if any)
            hit = kill_busy_worker(client, "seqrisk-simulate-blocks", timeout_s=0)
            if hit is not None:
                killed.append(hit)

    remote = simulate(*inputs, SC, backend=two_workers, progress=on_progress)
    assert killed, "no worker held a task of the run after its first chunk"
    victim = killed[0][0]
    same_result(local, remote)
    both_workers_up(two_workers)
    assert before[victim] not in client.run(os.getpid).values()  # the process really died


def test_the_shared_inputs_are_recomputed_when_every_worker_holding_them_dies(
        inputs: Any, local: Any, two_workers: DaskBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """The book, model and scenario reach the workers as a task's result, not as scattered data (which Dask
    cannot recompute): killing every worker that holds them mid-run changes no number."""
    client = two_workers.client
    killed: list[str] = []
    monkeypatch.setattr(two_workers, "window", 6)

    def on_progress(done: int, total: int) -> None:
        if not killed and done < total:
            holders = sorted({w for k, ws in client.who_has().items() if str(k).startswith("seqrisk-shared-")
                              for w in ws})
            for w, pid in client.run(os.getpid, workers=holders).items():
                os.kill(pid, signal.SIGKILL)
                killed.append(w)

    remote = simulate(*inputs, SC, backend=two_workers, progress=on_progress)
    assert killed, "no worker held the shared inputs after the first chunk"
    same_result(local, remote)


def _shared_dependencies(dask_scheduler: Any) -> dict[str, list[str]]:
    """On the scheduler: each chunk task of a run and the keys it depends on."""
    return {str(k): sorted(str(d.key) for d in ts.dependencies) for k, ts in dask_scheduler.tasks.items()
            if str(k).startswith("seqrisk-simulate-blocks")}


def test_the_shared_inputs_travel_once_not_with_every_task(inputs: Any, local: Any,
                                                            two_workers: DaskBackend) -> None:
    """Every chunk task depends on one task holding the book, model and scenario: they are sent to a worker once,
    not inside each task."""
    client = two_workers.client
    graphs: list[dict[str, list[str]]] = []

    def on_progress(done: int, total: int) -> None:
        if not graphs and done < total:
            graphs.append(client.run_on_scheduler(_shared_dependencies))

    same_result(local, simulate(*inputs, SC, backend=two_workers, progress=on_progress))
    deps = graphs[0]
    assert len(deps) >= 2, deps
    shared = {d for ds in deps.values() for d in ds}
    assert len(shared) == 1 and next(iter(shared)).startswith("seqrisk-shared-")
    assert all(len(ds) == 1 for ds in deps.values())


def _kill_own_worker_once(marker: str, item: int) -> int:
    """A task that kills the worker process running it the first time it runs anywhere (marked by a file)."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return item * item
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def test_a_task_whose_worker_dies_is_recomputed(two_workers: DaskBackend, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    out = list(two_workers.map(_kill_own_worker_once, str(marker), list(range(6)),
                               name=lambda i, it: f"kill-once-{i}"))
    assert out == [i * i for i in range(6)]
    assert marker.read_text().isdigit()  # a worker died running one of them, which ran again elsewhere


def test_a_worker_with_another_seqrisk_is_refused(tmp_path: Path) -> None:
    from distributed import LocalCluster

    preload = tmp_path / "other_version.py"
    preload.write_text("import seqrisk._version\nseqrisk._version.__version__ = '0.0.1+other'\n")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      scheduler_port=0, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                      preload=[str(preload)], silence_logs=40) as cluster, pytest.raises(BackendError) as err:
        DaskBackend(cluster.scheduler_address, connect_timeout_s=60).open()
    msg = str(err.value)
    assert "seqrisk 0.0.1+other" in msg and f"seqrisk {environment()['seqrisk']}" in msg and "worker tcp://" in msg


def test_a_task_on_a_worker_unlike_the_client_refuses_to_run() -> None:
    """Workers that join after the connect-time check are checked again by every task."""
    other = environment() | {"numpy": "1.0.0"}
    with pytest.raises(BackendError, match=r"has numpy .* but this process has numpy 1\.0\.0"):
        _run_task(pow, (other, 2), 3)
    assert _run_task(pow, (environment(), 2), 3) == 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    # a hang would be stopped by the suite's per-test timeout; the error names the connect timeout
    with pytest.raises(BackendError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:\d+ within 2 s"):
        DaskBackend(f"tcp://127.0.0.1:{_free_port()}", connect_timeout_s=2).open()


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(Path(sys.executable).parent / "dask"), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def test_a_lost_scheduler_is_a_clear_error(inputs: Any, tmp_path: Path) -> None:
    book, model = inputs
    info = tmp_path / "scheduler.json"
    sched = _start(["scheduler", "--host", "127.0.0.1", "--port", str(_free_port()), "--no-dashboard",
                    "--scheduler-file", str(info)])
    procs = [sched]
    try:
        while not info.exists():  # a scheduler that never writes its file is stopped by the per-test timeout
            assert sched.poll() is None, "the scheduler exited before it started"
            time.sleep(0.1)
        procs.append(_start(["worker", "--scheduler-file", str(info), "--nthreads", "1", "--no-nanny",
                             "--no-dashboard", "--host", "127.0.0.1"]))
        with DaskBackend(scheduler_file_address(info), connect_timeout_s=60, worker_timeout_s=90) as be:
            def on_progress(done: int, total: int) -> None:
                if sched.poll() is None:
                    sched.kill()

            with pytest.raises(BackendError, match=r"lost the Dask scheduler at tcp://127\.0\.0\.1"):
                simulate(book, model, SC, backend=be, progress=on_progress)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)


def scheduler_file_address(path: Path) -> str:
    import json

    return str(json.loads(path.read_text())["address"])
