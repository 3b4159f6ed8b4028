"""The job workers' outage model (issue 17): read from the home's cache the commands use, and cancellable while
it is fitted.

Each test runs jobs the way a worker does (:func:`seqrisk.service.runners.run_job` with a worker's
:class:`~seqrisk.service.runners.RunContext`, inside the worker's :func:`seqrisk.cancel.cancellable` block); a new
context is a new worker (or the server restarted), with nothing of the last one in memory. Every call of the fitter
is counted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from seqrisk.cancel import cancellable
from seqrisk.catalog import load_catalog
from seqrisk.outage import OutageModel

pytest.importorskip("fastapi")

from seqrisk.service.runners import Cancelled, RunContext, run_job

ROOT = Path(__file__).resolve().parents[1]
DESK = ROOT / "examples" / "desk.yaml"
REQUEST = {"book": yaml.safe_load(DESK.read_text()), "paths": 500, "seed": 3, "horizon": "30d"}


def _worker(home: Path) -> RunContext:
    return RunContext(home, None, load_catalog())


def _quiet(done: float | None, total: float | None, stage: str) -> None:
    return None


def test_a_second_worker_reads_the_fit_and_gives_the_same_figures(tmp_path: Path, fits: list[Any]) -> None:
    first = run_job("simulate", REQUEST, _worker(tmp_path), _quiet).result
    assert len(fits) == 1 and fits[0]["group_hawkes"] is False
    [entry] = sorted((tmp_path / "cache" / "models").glob("*.json"))
    second = run_job("simulate", REQUEST, _worker(tmp_path), _quiet).result
    assert len(fits) == 1  # another worker: read from the cache, not refitted
    assert second == first  # the same figures and provenance
    # the command reads the same entry (the same key: catalog, as-of, options, code) and gives the same figures
    from seqrisk.cli.app import app

    r = CliRunner().invoke(app, ["--home", str(tmp_path), "simulate", str(DESK), "--paths", "500", "--seed", "3",
                                 "--horizon", "30d", "--json"])
    assert r.exit_code == 0, r.output
    assert len(fits) == 1
    cli = json.loads(r.stdout)
    assert {k: v for k, v in cli.items() if k != "provenance"} == {k: v for k, v in first.items()
                                                                    if k != "provenance"}
    # a damaged entry is refitted (never trusted), gives the same figures and is written again
    good = entry.read_text()
    entry.write_text(good[: len(good) // 2])
    third = run_job("simulate", REQUEST, _worker(tmp_path), _quiet).result
    assert len(fits) == 2 and third == first
    assert OutageModel.from_json(entry.read_text()).to_json() == OutageModel.from_json(good).to_json()


def test_a_tampered_statistics_entry_is_refitted(tmp_path: Path, fits: list[Any]) -> None:
    """The statistics (what a report job shows) are pickled and signed: an entry whose bytes changed is refitted,
    never unpickled."""
    stats = _worker(tmp_path).statistics(None, with_statistics=True)
    assert len(fits) == 1 and fits[0]["group_hawkes"] is True
    assert _worker(tmp_path).statistics(None, with_statistics=True).model.to_json() == stats.model.to_json()
    assert len(fits) == 1
    [entry] = sorted((tmp_path / "cache" / "statistics").glob("*.pickle"))
    blob = bytearray(entry.read_bytes())
    blob[-40] ^= 0x01  # one bit of the pickle
    entry.write_bytes(bytes(blob))
    again = _worker(tmp_path).statistics(None, with_statistics=True)
    assert len(fits) == 2 and again.model.to_json() == stats.model.to_json()
    assert entry.read_bytes() != bytes(blob)  # written again, signed
    _worker(tmp_path).statistics(None, with_statistics=True)
    assert len(fits) == 2


def test_a_job_cancelled_while_the_model_is_fitted_stops_inside_the_fit(tmp_path: Path, fits: list[Any]) -> None:
    """The cancel arrives once the job reports it is fitting: the fit stops at its next checkpoint (between its
    stages), so no model is cached and the job never reaches its simulation."""
    stages: list[str] = []
    checks = {"after_cancel": 0}

    def progress(done: float | None, total: float | None, stage: str) -> None:
        stages.append(stage)

    def check() -> None:
        if stages and stages[-1] == "fitting the outage model":
            checks["after_cancel"] += 1
            raise Cancelled("cancelled")

    with pytest.raises(Cancelled), cancellable(check):
        run_job("report", {**REQUEST, "mitigations": False}, _worker(tmp_path), progress)
    assert len(fits) == 1 and checks["after_cancel"] == 1  # the fit began and stopped at its first checkpoint
    assert stages[-1] == "fitting the outage model"
    assert not list((tmp_path / "cache").rglob("*.pickle")) and not list((tmp_path / "cache").rglob("*.json"))
    # uncancelled, the same fit runs to the end (past every checkpoint) and is cached
    stages.append("simulating paths")
    with cancellable(check):
        _worker(tmp_path).statistics(None, with_statistics=True)
    assert len(fits) == 2 and checks["after_cancel"] == 1 and list((tmp_path / "cache").rglob("*.pickle"))
