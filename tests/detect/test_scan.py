"""The adaptive gap scan finds exactly the full scan's gaps (property test on in-memory chains)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrisk.exceptions import DataError
from seqrisk.ingest.scan import adaptive_scan, block_at_time, full_scan, scan_step


class FakeChain:
    """Timestamps in memory; counts fetched blocks like an RPC endpoint would."""

    def __init__(self, ts: np.ndarray) -> None:
        self.ts = ts
        self.fetched = 0

    def __call__(self, numbers: Sequence[int]) -> list[int]:
        self.fetched += len(numbers)
        return [int(self.ts[n]) for n in numbers]


@st.composite
def chains(draw: st.DrawFn) -> tuple[np.ndarray, float, float]:
    n = draw(st.integers(2, 3000))
    min_interval = draw(st.sampled_from([0.0, 1.0]))
    lo = int(min_interval)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dt = rng.integers(lo, lo + draw(st.integers(1, 4)), n - 1)
    threshold = float(draw(st.integers(5, 300)))
    for _ in range(draw(st.integers(0, 8))):
        i = int(rng.integers(0, n - 1))
        # gaps at, just under and well above the threshold
        dt[i] = draw(st.sampled_from([threshold, threshold - 1, threshold + 1, 3 * threshold, threshold / 2]))
    ts = 1_700_000_000 + np.concatenate(([0], np.cumsum(dt)))
    return ts.astype(np.int64), threshold, min_interval


@settings(max_examples=150, deadline=None)
@given(chains(), st.one_of(st.none(), st.integers(1, 500)), st.floats(0.2, 1.0))
def test_adaptive_scan_finds_the_full_scan_gaps(c: tuple[np.ndarray, float, float], step: int | None,
                                                fill: float) -> None:
    ts, thr, dmin = c
    fetch = FakeChain(ts)
    end = len(ts) - 1
    a = adaptive_scan(fetch, 0, end, threshold_s=thr, min_interval_s=dmin, step=step, fill=fill)
    f = full_scan(FakeChain(ts), 0, end, threshold_s=thr, batch=997)
    assert a.gaps == f.gaps
    assert [g.block for g in f.gaps] == np.nonzero(np.diff(ts) >= thr)[0].tolist()
    assert a.calls == fetch.fetched <= len(ts)
    assert f.calls == len(ts)


def test_chain_month_costs_under_two_percent() -> None:
    """A simulated 30-day month of a 2 s chain (1.3 M blocks) with 4 gaps, strictly increasing timestamps."""
    rng = np.random.default_rng(7)
    n = 30 * 86400 // 2
    dt = np.full(n - 1, 2, np.int64)
    where = rng.choice(n - 1, 4, replace=False)
    dt[where] = [150, 600, 3600, 121]
    ts = 1_700_000_000 + np.concatenate(([0], np.cumsum(dt)))
    fetch = FakeChain(ts)
    a = adaptive_scan(fetch, 0, n - 1, threshold_s=120, block_time_s=2.0, min_interval_s=1.0)
    assert [g.block for g in a.gaps] == sorted(where.tolist())
    k = scan_step(120, 2.0, 1.0)
    bound = math.ceil((n - 1) / k) + 1 + 4 * 2 * math.ceil(math.log2(k))
    assert a.calls <= bound
    assert a.fraction < 0.02


def test_block_at_time_is_searchsorted() -> None:
    ts = np.array([10, 12, 12, 15, 20, 20, 31], np.int64)
    for t in range(8, 34):
        b, calls = block_at_time(FakeChain(ts), t, 0, len(ts) - 1)
        want = int(np.searchsorted(ts, t, side="left"))
        assert b == min(want, len(ts) - 1)
        assert calls <= 3


def test_step_and_bad_arguments() -> None:
    assert scan_step(120, 2.0, 0.0, fill=0.8) == 48
    assert scan_step(120, 2.0, 1.0, fill=0.8) == 95
    assert scan_step(120, 1.0, 1.0) == 1_000_000
    with pytest.raises(DataError):
        adaptive_scan(FakeChain(np.arange(5)), 3, 2, threshold_s=10)
    with pytest.raises(DataError):
        adaptive_scan(FakeChain(np.arange(5)), 0, 4, threshold_s=1, min_interval_s=1)
