"""Detection over the store, and detected events for the outage statistics.

:func:`run_detection` reads a chain's stored headers, L1 postings and head
observations, runs :func:`seqrisk.detect.detect_all` and replaces the chain's
detector events in the state store (reorg events from ingestion are kept).
Observations are assessed round by round with :mod:`seqrisk.health` (the best
head across endpoints, aged by the observer's clock and by block time; lagging
replicas left out); the safe-head lag is read from the endpoint serving the
best head (its finalized head where it has no safe tag).
:func:`chain_history` / :func:`events_for_fit` hand detected events and their
exposure windows to ``seqrisk.stats.fit_outage_model(catalog, events=...,
exposures=...)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from seqrisk.catalog import Chain
from seqrisk.detect import DetectConfig, Event, detect_all, health_rules
from seqrisk.health import ChainHealth, Observation, assess
from seqrisk.stats.events import Window
from seqrisk.store import DetectedEvent, Home

__all__ = ["DETECTORS", "chain_health", "chain_history", "config_for_chain", "events_for_fit", "load_observations",
           "observed_windows", "run_detection"]

#: Detectors whose events :func:`run_detection` owns (replaced on every run).
DETECTORS = ("gap", "backfill", "throughput", "batch-cadence", "safe-lag")


def config_for_chain(chain: Chain | None, **overrides: Any) -> DetectConfig:
    """Detector thresholds for a catalog chain: back-filled stalls where the catalog says the chain
    back-fills, one system transaction per block on the OP Stack (its L1-attributes deposit)."""
    base: dict[str, Any] = {}
    if chain is not None:
        base["backfilled"] = chain.empty_blocks_backfilled is True
        op_stack = chain.stack == "op-stack" or "op-stack" in chain.groups  # Base: its own stack, OP-derived
        base["system_txs_per_block"] = 1 if op_stack else 0
    base.update({k: v for k, v in overrides.items() if v is not None})
    return DetectConfig(**base)


def _to_stored(e: Event) -> DetectedEvent:
    return DetectedEvent(chain=e.chain, type=e.type, start_utc=e.start_utc, end_utc=e.end_utc,
                         confidence=e.confidence, detector=e.detector, evidence=e.evidence, ongoing=e.ongoing)


def load_observations(home: Home, chain: str, *, since_utc: float | None = None) -> list[Observation]:
    """A chain's stored head observations (every endpoint, every round), oldest first."""
    q = ("SELECT endpoint, observed_utc, head_number, head_time_utc, safe_number, safe_time_utc, finalized_number, "
         "finalized_time_utc, error FROM head_observations WHERE chain=?")
    args: list[Any] = [chain]
    if since_utc is not None:
        q += " AND observed_utc >= ?"
        args.append(since_utc)
    with home.state() as st:
        rows = st._conn.execute(q + " ORDER BY observed_utc, endpoint", args).fetchall()
    return [Observation(*r) for r in rows]


def chain_health(home: Home, chain: str, cfg: DetectConfig | None = None) -> list[ChainHealth]:
    """The chain's head health after each stored observation round (rules from ``cfg``'s thresholds)."""
    return assess(load_observations(home, chain), health_rules(cfg or DetectConfig()))


def run_detection(home: Home, chain: str, cfg: DetectConfig, *, since_utc: float | None = None,
                  now_utc: float | None = None, write: bool = True) -> list[DetectedEvent]:
    """Detect events on ``chain``'s stored data; write them (replacing earlier detector events).

    The whole stored history feeds the baselines; only events starting at or
    after ``since_utc`` are returned and replaced. ``now_utc`` (for ongoing
    events) defaults to the newest head observation; a stalled head is judged
    from the observations (:func:`chain_health`) when there are any.
    """
    t = home.blocks().read(chain, columns=("number", "timestamp", "tx_count"))
    num = t.column("number").to_numpy()
    ts = t.column("timestamp").to_numpy()
    txc = t.column("tx_count").to_numpy()
    with home.state() as st:
        post = np.array([r[0] for r in st._conn.execute(
            "SELECT l1_time_utc FROM batch_postings WHERE chain=? ORDER BY l1_time_utc", (chain,))], dtype=float)
    rounds = chain_health(home, chain, cfg)
    obs = None
    if rounds:  # the safe head's lag, from the endpoint serving the best head (finalized where it has no safe)
        best = [None if h.best is None else h.best.observation for h in rounds]
        lagging = [None if b is None else (b.safe_time_utc if b.safe_time_utc is not None else b.finalized_time_utc)
                   for b in best]
        obs = {"observed_utc": np.array([h.observed_utc for h in rounds], float),
               "head_time_utc": np.array([np.nan if b is None or b.head_time_utc is None else b.head_time_utc
                                          for b in best], float),
               "safe_time_utc": np.array([np.nan if x is None else x for x in lagging], float)}
        if now_utc is None:
            now_utc = rounds[-1].observed_utc
    events = detect_all(chain, num, ts, txc, cfg, now_utc=now_utc, posting_utc=post if len(post) else None,
                        observations=obs, health=rounds[-1] if rounds else None)
    if since_utc is not None:
        events = [e for e in events if e.start_utc >= since_utc]
    stored = [_to_stored(e) for e in events]
    if write:
        with home.state() as st:
            with st.transaction() as c:
                q = f"DELETE FROM events WHERE chain=? AND detector IN ({','.join('?' * len(DETECTORS))})"
                args: list[Any] = [chain, *DETECTORS]
                if since_utc is not None:
                    q += " AND start_utc >= ?"
                    args.append(since_utc)
                c.execute(q, args)
            st.add_events(stored)
    return stored


def chain_history(home: Home, chain: str, *, types: Iterable[str] | None = None,
                  min_confidence: float = 0.0) -> tuple[list[DetectedEvent], tuple[datetime, datetime] | None]:
    """A chain's detected events (from the state store) and its exposure window.

    The exposure window runs from the first to the last stored block time (UTC);
    None when no block is stored. Events outside the window are dropped.
    """
    blocks = home.blocks()
    head = blocks.head(chain)
    if head is None:
        return [], None
    first = blocks.ranges(chain)[0][0]
    lo = blocks.read(chain, first, first, columns=("timestamp",)).column("timestamp")
    hi = blocks.read(chain, head, head, columns=("timestamp",)).column("timestamp")
    window = (datetime.fromtimestamp(int(lo[0].as_py()), UTC), datetime.fromtimestamp(int(hi[0].as_py()), UTC))
    with home.state() as st:
        evs = st.events(chain=chain)
    keep = set(types) if types is not None else None
    a, b = window[0].timestamp(), window[1].timestamp()
    out = [e for e in evs if (keep is None or e.type in keep) and e.confidence >= min_confidence
           and a <= e.start_utc <= b]
    return [dataclasses.replace(e) for e in out], window


def observed_windows(home: Home, chain: str) -> list[tuple[datetime, datetime]]:
    """The UTC time spans of a chain's stored block ranges (one per run of consecutive block numbers)."""
    blocks = home.blocks()
    out = []
    for a, b in blocks.ranges(chain):
        t = blocks.read(chain, a, a, columns=("timestamp",)).column("timestamp")[0].as_py()
        u = blocks.read(chain, b, b, columns=("timestamp",)).column("timestamp")[0].as_py()
        out.append((datetime.fromtimestamp(int(t), UTC), datetime.fromtimestamp(int(u), UTC)))
    return out


def events_for_fit(home: Home, chains: Iterable[str] | None = None, *, min_confidence: float = 0.5
                   ) -> tuple[list[DetectedEvent], dict[str, Window]]:
    """Detected events and exposure windows of every stored chain, as ``fit_outage_model`` takes them.

    A chain stored in one run of blocks gets its ``(first, last)`` block time; a chain with blocks
    missing in between gets the list of its runs' spans, so the missing time is not counted as
    observed (the catalog's incidents still count there).
    """
    names = list(chains) if chains is not None else home.blocks().chains()
    events: list[DetectedEvent] = []
    exposures: dict[str, Window] = {}
    for c in names:
        evs, window = chain_history(home, c, min_confidence=min_confidence)
        if window is not None:
            events += evs
            spans = observed_windows(home, c)
            exposures[c] = window if len(spans) == 1 else [w for w in spans if w[1] > w[0]]
    return events, exposures
