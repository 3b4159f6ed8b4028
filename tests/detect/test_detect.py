"""Pure detectors on synthetic headers with known events; the rolling baseline against a plain loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from seqrisk.detect import (
    DetectConfig,
    detect_all,
    detect_backfill_stalls,
    detect_degraded,
    detect_gaps,
    detect_posting_delays,
    detect_safe_lag,
    rolling_baseline,
)

T0 = 1_700_000_000.0


def naive_baseline(t: np.ndarray, x: np.ndarray, w: float, valid: np.ndarray) -> tuple[list[float], list[float],
                                                                                         list[int]]:
    means, stds, ns = [], [], []
    for i in range(len(x)):
        win = [x[j] for j in range(i) if t[j] > t[i] - w and valid[j]]
        ns.append(len(win))
        means.append(float(np.mean(win)) if win else math.nan)
        stds.append(float(np.std(win)) if win else math.nan)
    return means, stds, ns


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(0, 100), st.booleans()), min_size=1, max_size=60),
       st.floats(0.5, 30))
def test_rolling_baseline_matches_plain_loop(rows: list[tuple[int, float, bool]], w: float) -> None:
    t = np.cumsum([r[0] for r in rows]).astype(float)
    x = np.array([r[1] for r in rows])
    v = np.array([r[2] for r in rows])
    mean, std, n = rolling_baseline(t, x, w, v)
    m2, s2, n2 = naive_baseline(t, x, w, v)
    assert n.tolist() == n2
    np.testing.assert_allclose(mean, m2, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(std, s2, rtol=1e-6, atol=1e-5)


def chain(n: int, seed: int, gaps: dict[int, float] | None = None, tx_rate: float = 3.0
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blocks with 1-3 s intervals, ``gaps`` {index: extra seconds} after block index, Poisson txs."""
    rng = np.random.default_rng(seed)
    dt = rng.integers(1, 4, n - 1).astype(float)
    for i, g in (gaps or {}).items():
        dt[i] += g
    ts = T0 + np.concatenate(([0.0], np.cumsum(dt)))
    return np.arange(n), ts, rng.poisson(tx_rate, n)


def test_gaps_absolute_and_relative_exactly() -> None:
    num, ts, _ = chain(3000, 1, {500: 400.0, 1500: 40.0, 2500: 8.0})
    ev = detect_gaps("x", num, ts, DetectConfig())
    assert [e.evidence["last_block"] for e in ev] == [500, 1500]  # the 8 s extra is inside z < 15
    big, small = ev
    assert big.evidence["rules"] == ["absolute", "relative"] and big.confidence == 0.95
    assert small.evidence["rules"] == ["relative"] and small.confidence == 0.6
    assert big.start_utc == ts[500] and big.end_utc == ts[501] and big.type == "downtime"
    # the z-score is the one of the definition, against the trailing valid intervals
    dt = np.diff(ts)
    win = dt[:1500][ts[1:1501] > ts[1501] - 30 * 86400]
    win = win[win < 120]
    z = (dt[1500] - win.mean()) / max(win.std(), 0.5)
    assert small.evidence["z"] == pytest.approx(z, abs=0.01)


def test_relative_rule_needs_a_baseline_and_absolute_rule_alone() -> None:
    num, ts, _ = chain(50, 2, {10: 200.0, 30: 40.0})
    ev = detect_gaps("x", num, ts, DetectConfig())
    assert [(e.evidence["last_block"], e.evidence["rules"], e.confidence) for e in ev] == [(10, ["absolute"], 0.8)]


def test_stalled_head_is_ongoing_and_censored() -> None:
    num, ts, _ = chain(200, 3)
    assert detect_gaps("x", num, ts, DetectConfig(), now_utc=ts[-1] + 60) == []
    (e,) = detect_gaps("x", num, ts, DetectConfig(), now_utc=ts[-1] + 500)
    assert e.ongoing and e.end_utc is None and e.start_utc == ts[-1] and e.duration_s is None


def test_backfilled_stall_and_its_confidence() -> None:
    n = 2000
    num = np.arange(n)
    ts = T0 + 2.0 * num
    txc = np.full(n, 3)  # one system tx (OP Stack) + 2 user txs
    txc[1000:1100] = 1   # 100 blocks with only the system tx: a 202 s stall
    txc[1500:1520] = 1   # 20 blocks: 42 s, under the threshold
    cfg = DetectConfig(backfilled=True, system_txs_per_block=1)
    (e,) = detect_backfill_stalls("op", num, ts, txc, cfg)
    assert e.start_utc == ts[999] and e.end_utc == ts[1100] and e.evidence["empty_blocks"] == 100
    rate = 2 * 1000 / (ts[999] - ts[0])  # user txs per second before the stall (window covers it all)
    assert e.confidence == pytest.approx(1 - math.exp(-rate * 202), rel=1e-6)
    assert detect_backfill_stalls("op", num, ts, txc, DetectConfig(backfilled=False, system_txs_per_block=1)) == []
    # a quiet chain: the same empty run is not evidence of a stall
    quiet = np.where(np.arange(n) % 400 == 0, 2, 1)
    assert detect_backfill_stalls("op", num, ts, quiet, cfg) == []
    # a stall reaching the head is ongoing
    txc2 = txc.copy()
    txc2[1900:] = 1
    last = detect_backfill_stalls("op", num, ts, txc2, cfg)[-1]
    assert last.ongoing and last.end_utc is None


def test_degraded_throughput_collapse() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    num = np.arange(n)
    ts = T0 + 2.0 * num
    txc = rng.poisson(5.0, n)
    txc[10_000:10_900] = rng.poisson(0.1, 900)  # 30 minutes at 2 % of normal
    ev = detect_degraded("x", ts, txc, DetectConfig(bucket_s=600.0))
    assert len(ev) == 1
    e = ev[0]
    assert e.type == "degraded" and e.detector == "throughput"
    assert ts[10_000] - 600 <= e.start_utc <= ts[10_000] + 600
    assert ts[10_899] - 600 <= e.end_utc <= ts[10_899] + 600  # type: ignore[operator]
    # its p-value is the Poisson lower tail at the baseline mean
    assert e.evidence["max_p_value"] < 1e-6
    lam = e.evidence["baseline_user_txs_per_bucket"]
    assert lam == pytest.approx(5.0 * 300, rel=0.05)
    assert stats.poisson.cdf(e.evidence["user_txs"] / e.evidence["buckets"], lam) < 1e-6


def test_no_false_positives_on_a_healthy_chain() -> None:
    num, ts, txc = chain(40_000, 9)
    assert detect_all("x", num, ts, txc, DetectConfig(bucket_s=300.0)) == []


def test_downtime_buckets_are_not_degraded() -> None:
    num, ts, txc = chain(20_000, 11, {12_000: 3600.0})
    ev = detect_all("x", num, ts, txc, DetectConfig(bucket_s=300.0))
    assert [(e.type, e.detector) for e in ev] == [("downtime", "gap")]


def test_posting_delays_and_safe_lag() -> None:
    p = T0 + np.concatenate((np.arange(0, 3600, 120.0), 3480 + 5400 + np.arange(0, 1200, 120.0)))
    (e,) = detect_posting_delays("x", p, DetectConfig(posting_gap_s=3600))
    assert e.type == "da_delay" and e.duration_s == pytest.approx(5400) and e.confidence == 0.9
    ongoing = detect_posting_delays("x", p, DetectConfig(posting_gap_s=3600), now_utc=p[-1] + 4000)[-1]
    assert ongoing.ongoing and ongoing.end_utc is None
    obs = T0 + 60.0 * np.arange(10)
    lag = np.array([100, 100, 4000, 5000, 100, 100, 100, 4000, 4000, 4000], float)
    ev = detect_safe_lag("x", obs, obs, obs - lag, DetectConfig(safe_lag_s=3600))
    assert [(x.start_utc, x.end_utc, x.ongoing) for x in ev] == [(obs[2], obs[4], False), (obs[7], None, True)]


def test_blocks_missing_from_the_store_are_not_events() -> None:
    # two ingested ranges with 1,000 blocks (~2,000 s) missing between them: nothing is known there
    num, ts, txc = chain(20_000, 13, {500: 400.0}, tx_rate=3.0)
    txc[14_900:15_000] = 0           # an empty run of 100 blocks (~200 s) up to the missing blocks ...
    txc[16_000:16_030] = 0           # ... and a short one right after them (~60 s, under the threshold)
    keep = (num < 15_000) | (num >= 16_000)
    num, ts, txc = num[keep], ts[keep], txc[keep]
    ev = detect_all("x", num, ts, txc, DetectConfig(backfilled=True, bucket_s=300.0))
    assert [(e.type, e.detector) for e in ev] == [("downtime", "gap"), ("downtime", "backfill")]
    gap, stall = ev
    assert gap.evidence["last_block"] == 500
    # the empty run stops at the last stored block before the missing ones (not joined to the run after)
    i = int(np.searchsorted(num, 14_899))
    assert stall.start_utc == ts[i] and stall.end_utc == ts[i + 100]
    assert (stall.evidence["first_empty_block"], stall.evidence["last_empty_block"]) == (14_900, 14_999)
    # the same headers with nothing missing (numbers renumbered) read the jump as a real gap
    assert any(e.evidence.get("last_block") == 14_999 for e in detect_gaps("x", np.arange(len(ts)), ts,
                                                                            DetectConfig()))
