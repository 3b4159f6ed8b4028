"""The Rockafellar-Uryasev allocation LP against brute force, and the tail measures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrisk.decide.allocation import allocate, cvar, tail_measures
from seqrisk.exceptions import UsageError


def _three_chain_losses(n: int = 4000, seed: int = 7) -> np.ndarray:
    """Rare, heavy losses per chain; chains 0 and 1 share a common shock."""
    rng = np.random.default_rng(seed)
    own = rng.random((n, 3)) < np.array([0.02, 0.015, 0.03])
    common = rng.random(n) < 0.01
    hit = own | np.column_stack([common, common, np.zeros(n, bool)])
    size = rng.lognormal(np.log([1.0, 1.4, 0.8]), 0.7, size=(n, 3))
    return np.where(hit, size, 0.0)


def test_cvar_matches_definition_and_order_index_es() -> None:
    x = np.random.default_rng(1).exponential(size=10_000)
    # RU definition, minimised over t by brute force on the sample points
    ru = min(t + np.mean(np.maximum(x - t, 0.0)) / 0.01 for t in np.sort(x)[-200:])
    assert cvar(x, 0.99) == pytest.approx(ru, rel=1e-12)
    # exponential(1): ES_0.99 = 1 + log(100)
    tm = tail_measures(x, 0.99)
    assert abs(tm.es - (1 + np.log(100))) < 4 * tm.es_se
    assert abs(tm.mean - 1.0) < 4 * tm.mean_se


def test_lp_is_feasible_and_beats_every_single_chain() -> None:
    L = _three_chain_losses()
    res = allocate(L, ["a", "b", "c"], alpha=0.99)
    w = np.array([res.weights[c] for c in "abc"])
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(w >= -1e-12)
    assert np.all(w <= 1 + 1e-12)
    for ch in "abc":
        assert res.es_usd <= res.single_chain_es_usd[ch] + 1e-9
    assert res.es_usd <= res.equal_split_es_usd + 1e-9
    assert res.es_usd == pytest.approx(cvar(L @ w, 0.99), rel=1e-12)
    assert res.objective_usd == pytest.approx(res.es_usd, rel=1e-7)


def test_lp_matches_brute_force_grid_on_three_chains() -> None:
    L = _three_chain_losses()
    res = allocate(L, ["a", "b", "c"], alpha=0.99, max_weight={"c": 0.6})
    step = 0.01
    best, arg = np.inf, None
    for i, j in itertools.product(range(101), repeat=2):
        w = np.array([i * step, j * step, 1 - (i + j) * step])
        if w[2] < -1e-12 or w[2] > 0.6 + 1e-12:
            continue
        v = cvar(L @ w, 0.99)
        if v < best:
            best, arg = v, w
    assert arg is not None
    # the LP optimum is at least as good as every grid point and within grid resolution of the best
    assert res.es_usd <= best + 1e-9
    assert res.es_usd >= best - 0.02 * best
    w = np.array([res.weights[c] for c in "abc"])
    assert np.max(np.abs(w - arg)) <= 0.05
    assert w[2] <= 0.6 + 1e-9


def test_costs_and_min_bounds_move_the_split() -> None:
    L = _three_chain_losses()
    free = allocate(L, ["a", "b", "c"])
    forced = allocate(L, ["a", "b", "c"], min_weight={"a": 0.5})
    assert forced.weights["a"] >= 0.5 - 1e-9
    assert forced.es_usd >= free.es_usd - 1e-9
    dear = allocate(L, ["a", "b", "c"], costs_usd={"c": 10.0})
    assert dear.weights["c"] < 1e-9


def test_infeasible_bounds_raise() -> None:
    with pytest.raises(UsageError):
        allocate(np.zeros((10, 2)), ["a", "b"], max_weight=0.4)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.integers(2, 4), cap=st.floats(0.5, 1.0))
def test_lp_never_loses_to_a_feasible_corner(seed: int, c: int, cap: float) -> None:
    rng = np.random.default_rng(seed)
    L = np.where(rng.random((300, c)) < 0.05, rng.lognormal(size=(300, c)), 0.0)
    chains = [f"c{i}" for i in range(c)]
    res = allocate(L, chains, alpha=0.95, max_weight=cap)
    w = np.array([res.weights[ch] for ch in chains])
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w <= cap + 1e-9)
    assert res.es_usd <= res.equal_split_es_usd + 1e-9
    for i in range(c):  # any feasible point: cap on chain i, the rest spread evenly
        v = np.full(c, (1 - cap) / (c - 1))
        v[i] = cap
        assert res.es_usd <= cvar(L @ v, 0.95) + 1e-9
