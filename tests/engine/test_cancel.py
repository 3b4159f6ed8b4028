"""Cooperative cancellation (:mod:`seqrisk.cancel`): a run stops at the checkpoint after the blocks it finished,
on one process and on a pool, a backtest between origins and a fit between its stages; outside a cancellable
block a checkpoint is a no-op and the numbers do not change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from seqrisk.cancel import cancellable, checkpoint
from seqrisk.catalog import load_catalog
from seqrisk.engine import BLOCK_PATHS, Scenario, simulate
from seqrisk.engine.backend import LocalBackend
from seqrisk.stats.backtest import backtest

from .conftest import lognormal_model, make_book


class Stop(Exception):
    pass


def _stop_at(n: int) -> tuple[list[int], Callable[[], None]]:
    """A check that lets ``n - 1`` checkpoints pass and raises at the ``n``-th; the list counts them."""
    seen = [0]

    def check() -> None:
        seen[0] += 1
        if seen[0] >= n:
            raise Stop
    return seen, check


BOOK = make_book([{"id": "x", "type": "perp", "chain": "base", "asset": "ETH", "size": 10.0, "leverage": 15}])
MODEL = lognormal_model({"base": 0.05})
SC = Scenario(paths=6 * BLOCK_PATHS, chunk_paths=BLOCK_PATHS, seed=3, horizon_s=30 * 86400.0, engine="numpy")


def test_a_run_stops_at_the_checkpoint_after_the_blocks_it_finished() -> None:
    done: list[int] = []
    seen, check = _stop_at(3)
    with cancellable(check), pytest.raises(Stop):
        simulate(BOOK, MODEL, SC, progress=lambda d, t: done.append(d))
    assert done == [BLOCK_PATHS, 2 * BLOCK_PATHS] and seen[0] == 3  # two blocks ran, the third never started
    checkpoint()  # outside the block: nothing to stop
    full = simulate(BOOK, MODEL, SC)
    with cancellable(lambda: None):
        again = simulate(BOOK, MODEL, SC)
    assert again.value("expected_loss") == full.value("expected_loss")


def test_a_pool_stops_too_and_can_run_again() -> None:
    seen, check = _stop_at(2)
    with LocalBackend(2) as be, cancellable(check), pytest.raises(Stop):
        list(be.map(pow, 2, list(range(50))))
    assert seen[0] == 2
    assert list(LocalBackend(2).map(pow, 2, list(range(5)))) == [1, 2, 4, 8, 16]


def test_a_backtest_stops_between_origins() -> None:
    origins: list[int] = []
    seen = [0]

    def check() -> None:  # every checkpoint passes until the first origin is scored; the next one stops
        seen[0] += 1
        if origins:
            raise Stop
    with cancellable(check), pytest.raises(Stop):
        backtest(load_catalog(), train_until=datetime(2023, 1, 1, tzinfo=UTC),
                 test_until=datetime(2026, 1, 1, tzinfo=UTC), progress=lambda d, t: origins.append(d))
    assert origins == [1]  # the first origin was scored, the second never finished


def test_a_fit_stops_between_its_stages() -> None:
    """The fit of the outage model passes checkpoints between its stages: stopped at the third, it ends there."""
    from seqrisk.stats import fit_outage_statistics

    counted, count = _stop_at(10**9)
    with cancellable(count):
        fit_outage_statistics(load_catalog(), group_hawkes=True)
    assert counted[0] >= 8  # event set, trend, rates and durations per type, the Hawkes fits, the coupling
    seen, check = _stop_at(3)
    with cancellable(check), pytest.raises(Stop):
        fit_outage_statistics(load_catalog())
    assert seen[0] == 3
