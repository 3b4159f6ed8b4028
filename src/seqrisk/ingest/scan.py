"""Adaptive gap scan: find every timestamp gap above a threshold without fetching every header.

A *gap* is a pair of consecutive blocks ``n, n + 1`` with
``t[n + 1] - t[n] >= threshold_s`` (what a full scan finds). The scan samples
every k-th block and bisects only the intervals whose elapsed time could hide
such a gap: an interval of ``m`` block steps can contain one only if
``t[hi] - t[lo] - (m - 1) * min_interval_s >= threshold_s``, where
``min_interval_s`` is a guaranteed lower bound on one block step (0 by
default; 1 on chains whose timestamps strictly increase in whole seconds).
Intervals that fail the test provably hold no gap, so the scan finds exactly
the full scan's gaps; the step k only decides how many requests it spends:
``k = fill * (threshold_s - min_interval_s) / (block_time_s - min_interval_s)``
so that an interval without a gap stays below the test.

The fetcher is any function from block numbers to timestamps (one batched
request per call), so tests run the scan on an in-memory chain.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from seqrisk.exceptions import DataError

__all__ = ["Gap", "ScanResult", "adaptive_scan", "block_at_time", "full_scan", "scan_step"]

#: ``numbers -> timestamps`` (UTC epoch seconds), one batched request per call.
Fetcher = Callable[[Sequence[int]], Sequence[int]]


@dataclass(frozen=True, order=True)
class Gap:
    """Blocks ``block`` and ``block + 1`` are ``gap_s`` seconds apart (``start_utc`` to ``end_utc``)."""

    block: int
    start_utc: float
    end_utc: float

    @property
    def gap_s(self) -> float:
        return self.end_utc - self.start_utc


@dataclass
class ScanResult:
    """Gaps found, and the cost: ``calls`` block fetches in ``rounds`` batched requests."""

    start: int
    end: int
    threshold_s: float
    step: int
    min_interval_s: float
    gaps: list[Gap] = field(default_factory=list)
    calls: int = 0
    rounds: int = 0

    @property
    def full_scan_calls(self) -> int:
        return self.end - self.start + 1

    @property
    def fraction(self) -> float:
        """Calls as a fraction of a full scan's."""
        return self.calls / self.full_scan_calls


class _Counted:
    def __init__(self, fetch: Fetcher) -> None:
        self.fetch = fetch
        self.calls = 0
        self.rounds = 0
        self.ts: dict[int, float] = {}

    def get(self, numbers: Sequence[int]) -> None:
        need = sorted({n for n in numbers if n not in self.ts})
        if not need:
            return
        got = self.fetch(need)
        if len(got) != len(need):
            raise DataError(f"fetcher returned {len(got)} timestamps for {len(need)} blocks")
        self.calls += len(need)
        self.rounds += 1
        self.ts.update(zip(need, (float(t) for t in got), strict=True))


def scan_step(threshold_s: float, block_time_s: float, min_interval_s: float = 0.0, fill: float = 0.8,
              max_step: int = 1_000_000) -> int:
    """Sampling step k (blocks) for a chain of ``block_time_s`` seconds per block."""
    if block_time_s <= min_interval_s:
        return max_step
    k = fill * (threshold_s - min_interval_s) / (block_time_s - min_interval_s)
    return int(max(1, min(max_step, math.floor(k))))


def adaptive_scan(fetch: Fetcher, start: int, end: int, *, threshold_s: float, block_time_s: float | None = None,
                  min_interval_s: float = 0.0, fill: float = 0.8, step: int | None = None) -> ScanResult:
    """Every gap of at least ``threshold_s`` seconds between consecutive blocks in ``start..end``.

    ``block_time_s`` (seconds per block) sets the step; when None it is
    estimated from the range's end points (gaps inflate it, which costs
    requests but never correctness). ``step`` overrides it.
    """
    if end < start:
        raise DataError("scan range is empty", value=f"{start}..{end}")
    if threshold_s <= 0 or min_interval_s < 0 or min_interval_s >= threshold_s:
        raise DataError("need threshold_s > min_interval_s >= 0", value=(threshold_s, min_interval_s))
    c = _Counted(fetch)
    if step is None:
        if block_time_s is None:
            c.get([start, end])
            block_time_s = (c.ts[end] - c.ts[start]) / max(1, end - start)
        step = scan_step(threshold_s, block_time_s, min_interval_s, fill)
    step = max(1, min(int(step), max(1, end - start)))
    samples = [*range(start, end, step), end]
    c.get(samples)
    todo = list(itertools.pairwise(samples))
    gaps: list[Gap] = []
    while todo:
        suspect = [(lo, hi) for lo, hi in todo
                   if c.ts[hi] - c.ts[lo] - (hi - lo - 1) * min_interval_s >= threshold_s]
        gaps += [Gap(lo, c.ts[lo], c.ts[hi]) for lo, hi in suspect if hi - lo == 1]
        split = [(lo, hi) for lo, hi in suspect if hi - lo > 1]
        c.get([(lo + hi) // 2 for lo, hi in split])
        todo = [iv for lo, hi in split for iv in ((lo, (lo + hi) // 2), ((lo + hi) // 2, hi))]
    return ScanResult(start, end, threshold_s, step, min_interval_s, sorted(gaps), c.calls, c.rounds)


def full_scan(fetch: Fetcher, start: int, end: int, *, threshold_s: float, batch: int = 10_000) -> ScanResult:
    """The reference: fetch every timestamp in ``start..end`` and list the gaps."""
    c = _Counted(fetch)
    ts = np.empty(end - start + 1)
    for a in range(start, end + 1, batch):
        b = min(end, a + batch - 1)
        nums = list(range(a, b + 1))
        c.get(nums)
        ts[a - start:b - start + 1] = [c.ts.pop(n) for n in nums]
    idx = np.nonzero(np.diff(ts) >= threshold_s)[0]
    gaps = [Gap(start + int(i), float(ts[i]), float(ts[i + 1])) for i in idx]
    return ScanResult(start, end, threshold_s, 1, 0.0, gaps, c.calls, c.rounds)


def block_at_time(fetch: Fetcher, t_utc: float, lo: int, hi: int) -> tuple[int, int]:
    """First block in ``lo..hi`` whose timestamp is >= ``t_utc`` (``hi`` if none); returns (block, calls)."""
    calls = 0
    while lo < hi:
        mid = (lo + hi) // 2
        calls += 1
        if float(fetch([mid])[0]) >= t_utc:
            hi = mid
        else:
            lo = mid + 1
    return lo, calls
