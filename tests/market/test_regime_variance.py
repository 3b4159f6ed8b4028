"""Integrated variance along regime paths: the running-sum form equals adding every segment's share in turn.

``regime_variance`` finds the segment each point lies in and adds its share to the variance of the segments
before it (a running sum per path). The plain definition adds, for every segment, the part of it before the
point. The two must agree to the last bit (the engine's figures must not move with the method), for points
given one path per row and for points that index shared paths, at segment boundaries and before any segment.
"""

from __future__ import annotations

import numpy as np
import pytest

from seqrisk.market.paths import regime_variance, sample_regime_paths


def by_definition(t_s: np.ndarray, seg_start: np.ndarray, seg_regime: np.ndarray, var: np.ndarray) -> np.ndarray:
    """V(t) = sum over segments of (the part of the segment before t) x (its regime's variance rate)."""
    n_pts, n_seg = seg_start.shape
    out = np.zeros((n_pts, var.shape[0]))
    for j in range(n_seg):
        s0 = seg_start[:, j]
        s1 = seg_start[:, j + 1] if j + 1 < n_seg else np.full(n_pts, np.inf)
        dur = np.where(np.isfinite(s0), np.clip(np.minimum(t_s, s1) - s0, 0.0, None), 0.0)
        out += dur[:, None] * var[:, seg_regime[:, j]].T
    return out


@pytest.mark.parametrize("k", [1, 2, 3])
def test_running_sums_equal_the_definition_bit_for_bit(k: int) -> None:
    rng = np.random.default_rng(k)
    rates = rng.random((k, k)) * 1e-6
    np.fill_diagonal(rates, 0.0)
    starts, regimes = sample_regime_paths(rng, 300, 3e7, rates, np.full(k, 1.0 / k))
    var = rng.random((2, k)) * 1e-7
    rows = rng.integers(0, 300, 70_000)  # more than one step of points
    t = rng.random(rows.size) * 3.2e7
    t[:40] = starts[rows[:40], 0]  # on a path's first boundary
    last = starts[rows[40:80], -1]
    t[40:80] = np.where(np.isfinite(last), last, 1.0)  # on its last used boundary
    want = by_definition(t, starts[rows], regimes[rows], var)
    assert np.array_equal(regime_variance(t, starts, regimes, var, rows=rows), want)
    assert np.array_equal(regime_variance(t, starts[rows], regimes[rows], var), want)


def test_a_point_before_the_first_segment_has_no_variance_and_no_point_gives_an_empty_array() -> None:
    starts, regimes = np.array([[10.0, 20.0, np.inf]]), np.array([[0, 1, 1]])
    var = np.array([[1.0, 3.0]])
    got = regime_variance(np.array([5.0, 15.0, 25.0]), starts, regimes, var, rows=np.zeros(3, np.int64))
    assert got[:, 0].tolist() == [0.0, 5.0, 10.0 + 15.0]
    assert regime_variance(np.zeros(0), starts, regimes, var, rows=np.zeros(0, np.int64)).shape == (0, 1)
