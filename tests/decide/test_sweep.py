"""Sweeps: both parties' curves, the deciding party's objective for a stated weighting, its optimum and interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrisk.decide import MarginBuffer, optimal_weight_ranges, sweep, sweep_factory
from seqrisk.exceptions import UsageError
from seqrisk.outage import OutageModel
from seqrisk.portfolio import Book

from .conftest import ToyScenario, toy_simulate


@settings(max_examples=60, deadline=None)
@given(own=st.lists(st.floats(0, 100), min_size=2, max_size=7), seed=st.integers(0, 1000))
def test_weight_ranges_name_the_brute_force_optimum(own: list[float], seed: int) -> None:
    """For every weight w, the point whose range holds w is the minimiser of own + w other."""
    other = list(np.random.default_rng(seed).uniform(0, 100, len(own)))
    ranges = optimal_weight_ranges(own, other)
    for w in (0.0, 0.1, 0.5, 1.0, 2.0, 10.0, 1e3):
        obj = [a + w * b for a, b in zip(own, other, strict=True)]
        best = min(obj)
        holders = [i for i, r in enumerate(ranges) if r is not None and r[0] - 1e-9 <= w <= r[1] + 1e-9]
        assert holders, (w, ranges)
        assert all(obj[i] <= best + 1e-6 * max(1.0, abs(best)) for i in holders)


def test_weight_ranges_of_a_known_frontier() -> None:
    # own rises, other falls: a convex frontier; the middle point is best for weights between the two slopes
    ranges = optimal_weight_ranges([0.0, 1.0, 3.0], [4.0, 2.0, 1.5])
    assert ranges[0] == (0.0, 0.5)
    assert ranges[1] == (0.5, 4.0)
    assert ranges[2] == (4.0, math.inf)
    assert optimal_weight_ranges([0.0, 5.0], [1.0, 1.0])[1] is None  # dominated: never the optimum


def test_grace_sweep_is_the_venues_trade_off(book: Book, model: OutageModel) -> None:
    """The toy's grace period: everyone tops up, liquidations vanish; the objective adds the stated weight."""
    sc = ToyScenario(paths=5000, top_up_share_max=1.0)
    values = [0.0, 1800.0, 3600.0]
    res = sweep(book, model, sc, "grace", values, sweep_factory("grace", "grace=0,qmax=1"), perspective="venue",
                weight=2.0, simulate=toy_simulate)
    for e, h, v in zip(res.curve, res.holder, res.venue, strict=True):
        assert e.value == pytest.approx(v.value + 2.0 * h.value)
    assert res.objective == "venue bad debt + 2 x holder loss"
    assert res.best_value in res.near_best
    lo, hi = res.best_interval
    assert lo <= res.best_value <= hi
    assert res.curve[-1].value == 0.0 and res.curve[0].value > 0
    assert res.vs_best[0].value > 2 * res.vs_best[0].se
    # the weight ranges agree with the optimum at the stated weight
    i = res.values.index(res.best_value)
    wr = res.weight_ranges[i]
    assert wr is not None and wr[0] <= 2.0 <= wr[1]


def test_buffer_sweep_with_cost_is_the_holders_trade_off(book: Book, model: OutageModel) -> None:
    sc = ToyScenario(paths=5000)
    values = [0.0, 0.05, 0.2, 1.0]
    res = sweep(book, model, sc, "buffer", values, MarginBuffer, perspective="holder", with_cost=True,
                simulate=toy_simulate)
    costs = [r.cost_usd("holder") for r in res.comparison.results[1:]]
    assert costs[0] == 0.0 and costs[-1] > costs[1] > 0
    for e, h, c in zip(res.curve, res.holder, costs, strict=True):
        assert e.value == pytest.approx(h.value + c)
    # a full buffer removes the loss but costs more than it saves: not the optimum
    assert res.best_value != 1.0
    with pytest.raises(UsageError):
        sweep(book, model, sc, "buffer", values, MarginBuffer, perspective="total", simulate=toy_simulate)
    with pytest.raises(UsageError):
        sweep(book, model, sc, "buffer", values, MarginBuffer, weight=-1.0, simulate=toy_simulate)
