"""``--backend dask``, ``--scheduler``, ``--workers`` from the command line: the local run's output, character for
character, with its own local cluster, on an existing cluster, and with a worker killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="the distributed extra is not installed: pip install 'seqrisk[distributed]'")

from typer.testing import CliRunner

from seqrisk.cli.app import app
from seqrisk.distributed import DaskBackend
from seqrisk.exceptions import SeqriskError

from .conftest import BOOK, MODEL, SC, both_workers_up
from .test_dask_backend import _free_port, kill_busy_worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``seqrisk ARGS`` in this process: exit code, stdout, stderr (errors as the command prints them)."""
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "80", **(env or {})})
    if isinstance(r.exception, SeqriskError):  # what ``seqrisk.cli.main`` prints for it
        return r.exception.exit_code, r.stdout, r.stderr + f"error: {r.exception}\n"
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "scenario.yaml"
    path.write_text(f"paths: {SC.paths}\nchunk_paths: {SC.chunk_paths}\nseed: {SC.seed}\nhorizon_s: {SC.horizon_s}\n")
    return path


@pytest.fixture(scope="module")
def local_output(config: Path) -> str:
    code, out, err = run("simulate", str(BOOK), "--config", str(config), "--model", str(MODEL))
    assert code == 0, err
    return out


def test_simulate_on_its_own_local_cluster_prints_the_local_numbers(config: Path, local_output: str) -> None:
    code, out, err = run("simulate", str(BOOK), "--config", str(config), "--model", str(MODEL), "--backend", "dask",
                         "--workers", "2")
    assert code == 0, err
    assert out == local_output
    assert "backend: local Dask cluster at tcp://127.0.0.1:" in err and "2 workers" in err
    assert "run 1: 12,288/24,476 paths (3/6 blocks)" in err  # progress on stderr, by blocks
    assert "run 1: 24,476/24,476 paths (6/6 blocks)" in err


def test_simulate_on_an_existing_cluster_survives_a_killed_worker(config: Path, local_output: str,
                                                                  dask: DaskBackend) -> None:
    out = run_killing_a_worker(dask, ["simulate", str(BOOK), "--config", str(config), "--model", str(MODEL)],
                               "seqrisk-simulate-blocks")
    assert out == local_output


def run_killing_a_worker(dask: DaskBackend, args: list[str], prefix: str, attempts: int = 3) -> str:
    """``seqrisk ARGS --scheduler`` in a subprocess while the worker holding a task named ``prefix...`` is
    SIGKILLed; the command must still succeed: its stdout. A run that finishes before a task could be caught
    is run again (up to ``attempts`` times); a kill must happen in one of them."""
    client = dask.client
    for _ in range(attempts):
        both_workers_up(dask)
        p = subprocess.Popen([sys.executable, "-m", "seqrisk", *args, "--scheduler", str(dask.address)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             env={**os.environ, "COLUMNS": "80"})  # the width of run(): the same lines
        try:
            hit = kill_busy_worker(client, prefix, timeout_s=150)
            out, err = p.communicate(timeout=180)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
        assert p.returncode == 0, err
        if hit is not None and hit[1]:
            return out
    raise AssertionError(f"no task named {prefix}... was caught running in {attempts} runs")


def test_a_sweep_on_an_existing_cluster_prints_the_local_numbers(config: Path, dask: DaskBackend) -> None:
    args = ["compare", str(BOOK), "--sweep", "grace=0:2h:2", "--paths", "2000", "--model", str(MODEL), "--json"]
    local = run(*args)
    remote = run(*args, "--scheduler", str(dask.address))
    assert local[0] == remote[0] == 0, remote[2]
    assert remote[1] == local[1]


def test_backend_usage_and_connection_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run("simulate", str(BOOK), "--model", str(MODEL), "--backend", "ray")
    assert code == 2 and err == "error: backend is local or dask (field=--backend, value='ray')\n"
    code, _, err = run("simulate", str(BOOK), "--model", str(MODEL), "--backend", "local", "--scheduler",
                       "tcp://127.0.0.1:1")
    assert code == 2 and "--scheduler needs --backend dask" in err
    code, _, err = run("simulate", str(BOOK), "--model", str(MODEL), "--scheduler", "127.0.0.1:8786")
    assert code == 2 and "tcp://HOST:PORT" in err
    import dask

    monkeypatch.setitem(dask.config.config["distributed"]["comm"]["timeouts"], "connect", "2s")
    code, _, err = run("simulate", str(BOOK), "--model", str(MODEL), "--scheduler", f"tcp://127.0.0.1:{_free_port()}")
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:") and "within 2 s" in err


BACKTEST = ["backtest", "--train-until", "2023-01-01", "--step", "182d", "--json"]


@pytest.fixture(scope="module")
def local_backtest() -> str:
    code, out, err = run(*BACKTEST)
    assert code == 0, err
    return out


def test_a_backtest_on_a_cluster_prints_the_local_numbers(local_backtest: str, dask: DaskBackend) -> None:
    """Every origin's refit runs as a task; the scores are merged in origin order: the same JSON, byte for byte,
    on an existing cluster and on the local process pool."""
    code, out, err = run(*BACKTEST, "--scheduler", str(dask.address))
    assert code == 0, err
    assert out == local_backtest
    n = len(json.loads(out)["origins"])
    assert n >= 4 and f"backtest: {n}/{n} origins refitted" in err
    code, out, err = run(*BACKTEST, "--workers", "2")
    assert code == 0, err
    assert out == local_backtest


def test_a_backtest_survives_a_killed_worker(local_backtest: str, dask: DaskBackend) -> None:
    assert run_killing_a_worker(dask, BACKTEST, "backtest-origin-") == local_backtest
