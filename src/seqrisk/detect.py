"""Detect sequencer events in block headers (pure, layer 2): arrays in, events out.

Detectors (each event says which one found it, with its evidence):

- ``gap`` -> ``downtime``: consecutive blocks ``dt = t[i+1] - t[i]`` seconds
  apart with ``dt >= gap_threshold_s`` (absolute rule; Chainlink's node
  operators call a sequencer down after 120 s without a block) or with
  ``z = (dt - mean) / max(std, min_std_s) >= z_threshold`` against the trailing
  ``baseline_window_s`` of block intervals (relative rule, L2BEAT's z >= 15 over
  a 30-day rolling mean and standard deviation; intervals above the absolute
  threshold are left out of the baseline). Confidence 0.95 when both rules
  fire, 0.8 for the absolute rule alone, 0.6 for the relative rule alone.
- ``gap`` -> ongoing ``downtime`` (:func:`detect_stalled_head`): the chain's
  head is stale at the last observation. With head observations
  (:mod:`seqrisk.health`) the head is the highest one an endpoint served,
  which is above the stored head when ingestion stays some confirmations
  behind, aged both by the observer's clock (unchanged since first seen) and
  by its block timestamp, stale at ``gap_threshold_s`` by the clock
  ``head_clock`` names; a replica more than ``replica_lag_blocks`` behind does
  not count. Without observations the stored head is aged at ``now_utc``.
- ``backfill`` -> ``downtime``: on chains that fill a stall with empty blocks
  (OP Stack), a run of blocks with no user transaction (``tx_count <=
  system_txs_per_block``) lasting ``>= stall_threshold_s``. Confidence is the
  probability that the trailing baseline user-transaction rate r (per second)
  would have produced at least one transaction in the run's duration D:
  ``1 - exp(-r D)``; runs below ``min_confidence`` (0.99) are not reported (a quiet
  chain has long empty runs too).
- ``throughput`` -> ``degraded``: user transactions per ``bucket_s`` bucket
  below ``degraded_ratio`` times the trailing baseline mean and with Poisson
  probability ``P(X <= count | mean) < degraded_alpha``; confidence ``1 - p``.
  Buckets touching a downtime event are left out.
- ``batch-cadence`` -> ``da_delay``: L1 batch postings ``>= posting_gap_s``
  apart; ``safe-lag`` -> ``da_delay``: observations whose safe head lags the
  head by ``>= safe_lag_s``.

Headers need not be contiguous: where block numbers jump (blocks missing from
the store, e.g. two ingested ranges) nothing is known, so no gap is read across
the jump, an empty run stops at it and :func:`detect_all` leaves its time out
of the throughput buckets.

Times are UTC epoch seconds; durations seconds; rates per second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqrisk.health import ChainHealth, HealthRules
from seqrisk.units import DAY_S

__all__ = ["DetectConfig", "Event", "detect_all", "detect_backfill_stalls", "detect_degraded", "detect_gaps",
           "detect_posting_delays", "detect_safe_lag", "detect_stalled_head", "health_rules", "rolling_baseline"]


@dataclass(frozen=True)
class DetectConfig:
    """Thresholds of the detectors (seconds unless named otherwise)."""

    gap_threshold_s: float = 120.0
    z_threshold: float = 15.0
    baseline_window_s: float = 30 * DAY_S
    min_baseline_intervals: int = 100
    min_std_s: float = 0.5
    backfilled: bool = False
    system_txs_per_block: int = 0
    stall_threshold_s: float = 120.0
    min_confidence: float = 0.99
    bucket_s: float = 600.0
    degraded_ratio: float = 0.2
    degraded_alpha: float = 1e-6
    min_baseline_buckets: int = 6
    posting_gap_s: float = 3600.0
    safe_lag_s: float = 3600.0
    replica_lag_blocks: int = 6
    head_clock: str = "either"


def health_rules(cfg: DetectConfig) -> HealthRules:
    """The head-health rules of a detector configuration: a head is stale after ``gap_threshold_s``."""
    return HealthRules(stale_head_s=cfg.gap_threshold_s, replica_lag_blocks=cfg.replica_lag_blocks,
                       clock=cfg.head_clock)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Event:
    """A detected event; same attributes as the store's ``DetectedEvent`` (end None while ongoing)."""

    chain: str
    type: str
    start_utc: float
    end_utc: float | None
    confidence: float
    detector: str
    evidence: dict[str, Any] = field(default_factory=dict)
    ongoing: bool = False

    @property
    def duration_s(self) -> float | None:
        return None if self.end_utc is None else self.end_utc - self.start_utc


def rolling_baseline(t: np.ndarray, x: np.ndarray, window_s: float,
                     valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trailing mean, standard deviation and count of ``x[j]`` over ``t[i] - window_s < t[j]``, ``j < i``.

    ``t`` is nondecreasing; only ``valid`` entries enter the baseline. O(n)
    with prefix sums (population standard deviation).
    """
    t = np.asarray(t, dtype=float)
    x = np.asarray(x, dtype=float)
    v = np.ones(len(x), bool) if valid is None else np.asarray(valid, bool)
    xv = np.where(v, x, 0.0)
    c0 = np.concatenate(([0.0], np.cumsum(v.astype(float))))
    c1 = np.concatenate(([0.0], np.cumsum(xv)))
    c2 = np.concatenate(([0.0], np.cumsum(xv * xv)))
    lo = np.searchsorted(t, t - window_s, side="right")
    idx = np.arange(len(x))
    n = c0[idx] - c0[lo]
    s1 = c1[idx] - c1[lo]
    s2 = c2[idx] - c2[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
        var = np.where(n > 0, s2 / np.maximum(n, 1) - mean * mean, np.nan)
    return mean, np.sqrt(np.maximum(var, 0.0)), n


def _consecutive(number: np.ndarray) -> np.ndarray:
    """``c[i]`` true when block ``i + 1`` directly follows block ``i`` (no blocks missing between)."""
    return np.diff(np.asarray(number, dtype=np.int64)) == 1


def detect_gaps(chain: str, number: np.ndarray, timestamp: np.ndarray, cfg: DetectConfig,
                now_utc: float | None = None) -> list[Event]:
    """``downtime`` events from timestamp gaps (absolute and relative rules), plus a stalled head.

    Only consecutive block numbers are compared: a jump in the numbers is missing data, not a gap.
    """
    t = np.asarray(timestamp, dtype=float)
    out: list[Event] = []
    if len(t) >= 2:
        dt = np.diff(t)
        cons = _consecutive(number)
        mean, std, n = rolling_baseline(t[1:], dt, cfg.baseline_window_s, valid=(dt < cfg.gap_threshold_s) & cons)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (dt - mean) / np.maximum(std, cfg.min_std_s)
        rel = cons & (n >= cfg.min_baseline_intervals) & (z >= cfg.z_threshold)
        ab = cons & (dt >= cfg.gap_threshold_s)
        for i in np.nonzero(ab | rel)[0]:
            rules = [r for r, f in (("absolute", ab[i]), ("relative", rel[i])) if f]
            conf = 0.95 if len(rules) == 2 else (0.8 if ab[i] else 0.6)
            out.append(Event(chain, "downtime", float(t[i]), float(t[i + 1]), conf, "gap", {
                "last_block": int(number[i]), "next_block": int(number[i + 1]), "gap_s": float(dt[i]),
                "z": None if not np.isfinite(z[i]) else round(float(z[i]), 2),
                "baseline_mean_s": None if not np.isfinite(mean[i]) else round(float(mean[i]), 4),
                "baseline_std_s": None if not np.isfinite(std[i]) else round(float(std[i]), 4),
                "baseline_intervals": int(n[i]), "rules": rules}))
    return out + detect_stalled_head(chain, number, timestamp, cfg, now_utc=now_utc)


def detect_stalled_head(chain: str, number: np.ndarray, timestamp: np.ndarray, cfg: DetectConfig, *,
                        now_utc: float | None = None, health: ChainHealth | None = None) -> list[Event]:
    """An ongoing ``downtime`` event when the chain's head is stale (none otherwise).

    ``health`` (the last round of :func:`seqrisk.health.assess`) decides when
    its head is at or above the stored head: the event starts at the head
    block's timestamp and carries both ages. Otherwise the stored head is
    aged by its timestamp at ``now_utc``.
    """
    t = np.asarray(timestamp, dtype=float)
    last = int(number[-1]) if len(t) else None
    if health is not None and health.head_number is not None and (last is None or health.head_number >= last):
        if health.verdict != "stalled":
            return []
        start = health.head_time_utc if health.head_time_utc is not None else health.head_first_seen_utc
        lagging = [e.endpoint for e in health.endpoints if e.verdict == "lagging"]
        return [Event(chain, "downtime", float(start or 0.0), None, 0.9 if len(health.stale_by) == 2 else 0.8,
                      "gap", {"last_block": health.head_number, "head_age_s": health.age_block_s,
                              "head_age_observer_s": health.age_observer_s, "observed_utc": health.observed_utc,
                              "stale_by": list(health.stale_by), "lagging_endpoints": lagging,
                              "rules": ["absolute"]}, ongoing=True)]
    if now_utc is not None and len(t) and now_utc - t[-1] >= cfg.gap_threshold_s:
        return [Event(chain, "downtime", float(t[-1]), None, 0.8, "gap", {
            "last_block": last, "head_age_s": float(now_utc - t[-1]), "head_age_observer_s": None,
            "observed_utc": float(now_utc), "stale_by": ["block-clock"], "rules": ["absolute"]}, ongoing=True)]
    return []


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``(i, j)`` (inclusive) where ``mask`` is true."""
    m = np.concatenate(([False], np.asarray(mask, bool), [False]))
    d = np.diff(m.astype(np.int8))
    return list(zip(np.nonzero(d == 1)[0].tolist(), (np.nonzero(d == -1)[0] - 1).tolist(), strict=True))


def _user_txs(tx_count: np.ndarray, cfg: DetectConfig) -> np.ndarray:
    return np.maximum(np.asarray(tx_count, dtype=float) - cfg.system_txs_per_block, 0.0)


def detect_backfill_stalls(chain: str, number: np.ndarray, timestamp: np.ndarray, tx_count: np.ndarray,
                           cfg: DetectConfig) -> list[Event]:
    """``downtime`` events hidden by back-filled empty blocks (only when ``cfg.backfilled``)."""
    if not cfg.backfilled or len(timestamp) < 2:
        return []
    t = np.asarray(timestamp, dtype=float)
    u = _user_txs(tx_count, cfg)
    cu = np.concatenate(([0.0], np.cumsum(u)))
    cons = _consecutive(number)
    runs = []
    for i, j in _runs(u == 0):  # an empty run stops at missing blocks: what happened there is unknown
        cuts = (np.nonzero(~cons[i:j])[0] + i).tolist()
        runs += list(zip([i] + [k + 1 for k in cuts], [*cuts, j], strict=True))
    out = []
    for i, j in runs:
        a = i - 1 if i > 0 and cons[i - 1] else i
        ongoing = j == len(t) - 1
        end = None if ongoing else float(t[j + 1] if cons[j] else t[j])
        dur = (t[j] if end is None else end) - t[a]
        if dur < cfg.stall_threshold_s:
            continue
        lo = int(np.searchsorted(t, t[a] - cfg.baseline_window_s, side="left"))
        span = t[a] - t[lo]
        txs = cu[a + 1] - cu[lo]
        rate = txs / span if span > 0 else 0.0
        conf = float(1.0 - np.exp(-rate * dur))
        if conf < cfg.min_confidence:
            continue
        out.append(Event(chain, "downtime", float(t[a]), end, round(conf, 6), "backfill", {
            "first_empty_block": int(number[i]), "last_empty_block": int(number[j]), "empty_blocks": j - i + 1,
            "stall_s": float(dur), "baseline_user_tx_per_s": round(rate, 6)}, ongoing=ongoing))
    return out


def detect_degraded(chain: str, timestamp: np.ndarray, tx_count: np.ndarray, cfg: DetectConfig,
                    exclude: Sequence[tuple[float, float | None]] = ()) -> list[Event]:
    """``degraded`` events: user-transaction throughput collapses against the trailing baseline."""
    t = np.asarray(timestamp, dtype=float)
    if len(t) < 2:
        return []
    u = _user_txs(tx_count, cfg)
    t0 = np.floor(t[0] / cfg.bucket_s) * cfg.bucket_s
    b = ((t - t0) // cfg.bucket_s).astype(np.int64)
    nb = int(b[-1]) + 1
    counts = np.bincount(b, weights=u, minlength=nb)
    starts = t0 + cfg.bucket_s * np.arange(nb)
    valid = (starts >= t[0]) & (starts + cfg.bucket_s <= t[-1])  # whole buckets only
    for s, e in exclude:
        e2 = t[-1] if e is None else e
        valid &= ~((starts < e2) & (starts + cfg.bucket_s > s))
    mean, _, n = rolling_baseline(starts, counts, cfg.baseline_window_s, valid)
    ok = valid & (n >= cfg.min_baseline_buckets) & (mean > 0)
    p = np.ones(nb)
    from scipy.special import pdtr  # imported here: scipy costs ~0.3 s at CLI start-up

    p[ok] = pdtr(counts[ok], mean[ok])  # Poisson CDF P(X <= count | mean)
    flag = ok & (counts < cfg.degraded_ratio * np.nan_to_num(mean)) & (p < cfg.degraded_alpha)
    out = []
    for i, j in _runs(flag):
        out.append(Event(chain, "degraded", float(starts[i]), float(starts[j] + cfg.bucket_s),
                         round(float(1.0 - p[i:j + 1].max()), 9), "throughput", {
                             "buckets": j - i + 1, "bucket_s": cfg.bucket_s,
                             "user_txs": float(counts[i:j + 1].sum()),
                             "baseline_user_txs_per_bucket": round(float(np.nanmean(mean[i:j + 1])), 3),
                             "max_p_value": float(p[i:j + 1].max())}))
    return out


def detect_posting_delays(chain: str, posting_utc: np.ndarray, cfg: DetectConfig,
                          now_utc: float | None = None) -> list[Event]:
    """``da_delay`` events: L1 batch postings at least ``posting_gap_s`` apart (or none since)."""
    p = np.sort(np.asarray(posting_utc, dtype=float))
    out = []
    if len(p) >= 2:
        d = np.diff(p)
        med = float(np.median(d))
        for i in np.nonzero(d >= cfg.posting_gap_s)[0]:
            out.append(Event(chain, "da_delay", float(p[i]), float(p[i + 1]),
                             0.9 if d[i] >= 3 * med else 0.6, "batch-cadence",
                             {"posting_gap_s": float(d[i]), "median_posting_interval_s": med}))
    if now_utc is not None and len(p) and now_utc - p[-1] >= cfg.posting_gap_s:
        out.append(Event(chain, "da_delay", float(p[-1]), None, 0.6, "batch-cadence",
                         {"since_last_posting_s": float(now_utc - p[-1])}, ongoing=True))
    return out


def detect_safe_lag(chain: str, observed_utc: np.ndarray, head_time_utc: np.ndarray, safe_time_utc: np.ndarray,
                    cfg: DetectConfig) -> list[Event]:
    """``da_delay`` events: runs of observations whose safe head lags the head by ``>= safe_lag_s``."""
    o = np.asarray(observed_utc, dtype=float)
    lag = np.asarray(head_time_utc, dtype=float) - np.asarray(safe_time_utc, dtype=float)
    out = []
    for i, j in _runs(np.nan_to_num(lag, nan=0.0) >= cfg.safe_lag_s):
        ongoing = j == len(o) - 1
        out.append(Event(chain, "da_delay", float(o[i]), None if ongoing else float(o[j + 1]), 0.7, "safe-lag",
                         {"max_lag_s": float(np.nanmax(lag[i:j + 1])), "observations": j - i + 1},
                         ongoing=ongoing))
    return out


def detect_all(chain: str, number: np.ndarray, timestamp: np.ndarray, tx_count: np.ndarray, cfg: DetectConfig,
               *, now_utc: float | None = None, posting_utc: np.ndarray | None = None,
               observations: dict[str, np.ndarray] | None = None, health: ChainHealth | None = None) -> list[Event]:
    """Every detector on one chain's headers (sorted by number), postings and observations; sorted by start.

    ``health`` is the chain's head health at the last observation round (:func:`detect_stalled_head`).
    """
    down = (detect_gaps(chain, number, timestamp, cfg)
            + detect_stalled_head(chain, number, timestamp, cfg, now_utc=now_utc, health=health)
            + detect_backfill_stalls(chain, number, timestamp, tx_count, cfg))
    ts = np.asarray(timestamp, dtype=float)
    missing: list[tuple[float, float | None]] = [(float(ts[k]), float(ts[k + 1]))
                                                 for k in np.nonzero(~_consecutive(number))[0]]
    events = down + detect_degraded(chain, timestamp, tx_count, cfg,
                                    [(e.start_utc, e.end_utc) for e in down] + missing)
    if posting_utc is not None:
        events += detect_posting_delays(chain, posting_utc, cfg, now_utc)
    if observations is not None and len(observations.get("observed_utc", ())):
        events += detect_safe_lag(chain, observations["observed_utc"], observations["head_time_utc"],
                                  observations["safe_time_utc"], cfg)
    return sorted(events, key=lambda e: (e.start_utc, e.type, e.detector))
