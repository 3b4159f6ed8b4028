"""A local Dask cluster (two worker processes on 127.0.0.1, no dashboard) shared by the tests of this package."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from seqrisk.catalog import load_catalog
from seqrisk.distributed import DaskBackend
from seqrisk.engine import BLOCK_PATHS, Scenario, simulate
from seqrisk.outage import OutageModel
from seqrisk.portfolio import book_from_dict, load_book

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "desk.yaml"
MODEL = ROOT / "examples" / "outage-model.json"
SC = Scenario(paths=6 * BLOCK_PATHS - 100, chunk_paths=BLOCK_PATHS, seed=11, horizon_s=7 * 86400.0, keep_paths=True)


def perps_book() -> Any:
    """The desk's perps and markets with one volatility regime and no jumps: a book the compiled kernel runs."""
    doc = yaml.safe_load(BOOK.read_text())
    for a in doc["assets"].values():
        a["vol"] = a["vol"]["calm"]
        a.pop("jumps", None)
    doc["positions"] = [p for p in doc["positions"] if p["type"] == "perp"]
    return book_from_dict(doc, chains=load_catalog().chain_ids())


@pytest.fixture(scope="module")
def inputs() -> tuple[Any, OutageModel]:
    """The desk (options too: the vectorised engine runs it) and the bundled outage model."""
    return load_book(BOOK, chains=load_catalog().chain_ids()), OutageModel.load(MODEL)


@pytest.fixture(scope="module")
def kernel_inputs() -> tuple[Any, OutageModel]:
    """The desk's perps and the bundled outage model without self-excitation: the compiled kernel runs them."""
    return perps_book(), dataclasses.replace(OutageModel.load(MODEL), hawkes=None)


@pytest.fixture(scope="module")
def local(inputs: tuple[Any, OutageModel]) -> Any:
    """The reference: the same run on the local backend."""
    return simulate(*inputs, SC)


@pytest.fixture(scope="package")
def dask() -> Iterator[DaskBackend]:
    with DaskBackend(workers=2, connect_timeout_s=60) as be:
        yield be


def both_workers_up(dask: DaskBackend) -> None:
    """Wait for both workers (a test before may have killed one; its nanny restarts it). On a loaded machine a
    nanny may give up restarting; the cluster is then scaled back to two workers, which starts a new one."""
    try:
        dask.client.wait_for_workers(2, timeout=120)
    except TimeoutError:  # distributed's WorkerStartTimeoutError is one
        dask._cluster.scale(2)
        dask.client.wait_for_workers(2, timeout=240)


@pytest.fixture
def two_workers(dask: DaskBackend) -> DaskBackend:
    """The cluster with both workers up."""
    both_workers_up(dask)
    return dask


