"""What one polling round of the monitor saw for a chain, and the status the status model gives it.

Times are UTC epoch seconds on the observer's clock unless a name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from seqrisk.health import Observation

__all__ = ["Evidence", "State", "Status"]

State = Literal["healthy", "degraded", "down"]


@dataclass(frozen=True)
class Evidence:
    """One polling round for one chain: every endpoint's answer plus the side channels, where watched.

    ``feed_up``: the chain's Chainlink L2 sequencer uptime feed (``latestRoundData``: answer 0 is up, 1 is
    down); None where the chain has no feed or it could not be read. ``feed_started_utc``: that round's
    ``startedAt``. ``l1_batch_age_s``: seconds since the chain last posted a batch to its L1 inbox; None where
    not watched. ``probe_pending_s``: seconds since the sequencer accepted a probe transaction that is not yet
    included in a block; None when no accepted probe is waiting (or none is sent).
    """

    chain: str
    observed_utc: float
    observations: tuple[Observation, ...]
    feed_up: bool | None = None
    feed_started_utc: float | None = None
    l1_batch_age_s: float | None = None
    probe_pending_s: float | None = None


@dataclass(frozen=True)
class Status:
    """The chain's status after a round: a state with the probability that the sequencer is down.

    ``down_for_s`` is the observer-clock time since the chain's head last advanced: the age an ongoing
    outage is conditioned on by the now-cast. ``reasons`` are one-line, human-readable explanations.
    """

    chain: str
    observed_utc: float
    state: State
    p_down: float
    head_number: int | None
    head_age_observer_s: float | None
    head_age_block_s: float | None
    down_for_s: float
    lagging_endpoints: tuple[str, ...] = ()
    unreachable_endpoints: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default_factory=tuple)
