"""Head health of a chain from repeated observations of its endpoints (pure, layer 2).

An :class:`Observation` is what one endpoint answered at one moment, timed by
the observer's clock: its head block number and that block's timestamp (and
its safe and finalized heads where it serves them), or nothing (unreachable).
Observations taken in one polling round share ``observed_utc``.

Two clocks age the chain's head, and both are always reported:

- the **observer's clock**: seconds since the highest head seen so far was
  first seen (a head that stops advancing; Chainlink's sequencer-health rule);
- the **block clock**: ``observed_utc - head_time_utc``, the age of the head
  block's own timestamp (needs one observation only, but trusts the
  sequencer's timestamps and the observer's clock being set right).

:class:`HealthRules` says which clock decides (``clock``: "either", "observer"
or "block"), the stale-head threshold (``stale_head_s``, 120 s like
Chainlink's default) and the replica-lag tolerance (``replica_lag_blocks``, 6
like Chainlink's): an endpoint whose head is more than that many blocks below
the highest head seen so far, by any endpoint in this or an earlier round, is
*lagging* (a replica behind a load balancer, or a second ``--rpc``); its head
does not count for the chain. By default endpoint trouble (lagging,
unreachable) is reported per endpoint and leaves the chain's verdict alone;
:meth:`HealthRules.chainlink` makes both unhealthy, as Chainlink's adapter does.

:func:`step` folds one round into a :class:`HealthState` (for a live monitor);
:func:`assess` folds a whole history. Times are UTC epoch seconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ChainHealth", "EndpointHealth", "HealthRules", "HealthState", "Observation", "assess", "step"]

Clock = Literal["either", "observer", "block"]


@dataclass(frozen=True)
class Observation:
    """One endpoint's answer at ``observed_utc`` (observer's clock); ``head_number`` None: no answer."""

    endpoint: str
    observed_utc: float
    head_number: int | None
    head_time_utc: float | None = None
    safe_number: int | None = None
    safe_time_utc: float | None = None
    finalized_number: int | None = None
    finalized_time_utc: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class HealthRules:
    """When a head is stale and a replica lags (seconds, blocks)."""

    stale_head_s: float = 120.0
    replica_lag_blocks: int = 6
    clock: Clock = "either"
    lagging_is_unhealthy: bool = False
    unreachable_is_unhealthy: bool = False

    def __post_init__(self) -> None:
        if not self.stale_head_s > 0 or self.stale_head_s == float("inf"):
            raise ValueError(f"stale_head_s must be a positive number of seconds, got {self.stale_head_s!r}")
        if self.replica_lag_blocks < 0:
            raise ValueError(f"replica_lag_blocks must be >= 0, got {self.replica_lag_blocks!r}")
        if self.clock not in ("either", "observer", "block"):
            raise ValueError(f"clock must be either, observer or block, got {self.clock!r}")

    @classmethod
    def chainlink(cls, stale_head_s: float = 120.0, replica_lag_blocks: int = 6) -> HealthRules:
        """Chainlink's sequencer-health rules: observer's clock only; a lagging replica or a failed call
        makes the chain unhealthy."""
        return cls(stale_head_s, replica_lag_blocks, "observer", True, True)


@dataclass(frozen=True)
class EndpointHealth:
    """One endpoint in one round: what it answered, both ages, its lag behind the best head seen, its verdict."""

    observation: Observation
    age_block_s: float | None
    age_observer_s: float | None
    lag_blocks: int | None
    verdict: Literal["healthy", "stale", "lagging", "unreachable"]

    @property
    def endpoint(self) -> str:
        return self.observation.endpoint

    @property
    def head_number(self) -> int | None:
        return self.observation.head_number


@dataclass(frozen=True)
class ChainHealth:
    """The chain after one round: its best head (highest seen so far), both ages, verdict and reasons.

    ``verdict``: "healthy"; "stalled" (the head is stale by the deciding clock);
    "unhealthy" (only under rules that count lagging or unreachable endpoints);
    "unknown" (no endpoint answered and no rule says otherwise).
    """

    observed_utc: float
    head_number: int | None
    head_time_utc: float | None
    head_first_seen_utc: float | None
    age_block_s: float | None
    age_observer_s: float | None
    verdict: Literal["healthy", "stalled", "unhealthy", "unknown"]
    reasons: tuple[str, ...]
    endpoints: tuple[EndpointHealth, ...]
    rounds: int
    stale_by: tuple[str, ...] = ()  # the clocks that call the head stale: "observer-clock", "block-clock"

    @property
    def best(self) -> EndpointHealth | None:
        """The endpoint that serves the best head this round (None if none does)."""
        return next((e for e in self.endpoints if e.head_number is not None and e.head_number == self.head_number
                     and e.verdict != "lagging"), None)


@dataclass(frozen=True)
class HealthState:
    """What :func:`step` carries from round to round."""

    head_number: int | None = None
    head_time_utc: float | None = None
    head_first_seen_utc: float | None = None
    endpoint_heads: dict[str, tuple[int, float]] = field(default_factory=dict)  # best head, first seen
    rounds: int = 0


def _stale(age_block_s: float | None, age_observer_s: float | None, rules: HealthRules) -> list[str]:
    fired = []
    if rules.clock in ("either", "observer") and age_observer_s is not None and age_observer_s >= rules.stale_head_s:
        fired.append("observer-clock")
    if rules.clock in ("either", "block") and age_block_s is not None and age_block_s >= rules.stale_head_s:
        fired.append("block-clock")
    return fired


def step(state: HealthState, round_obs: Sequence[Observation], rules: HealthRules = HealthRules()
         ) -> tuple[HealthState, ChainHealth]:
    """Fold one round (observations sharing ``observed_utc``) into ``state``; return the new state and verdict."""
    if not round_obs:
        raise ValueError("a round needs at least one observation")
    t = round_obs[0].observed_utc
    if any(o.observed_utc != t for o in round_obs):
        raise ValueError("observations of one round must share observed_utc")
    latest = {o.endpoint: o for o in round_obs}  # one answer per endpoint (the last)
    answered = [o for o in latest.values() if o.head_number is not None]
    round_max = max((o for o in answered), key=lambda o: o.head_number or 0, default=None)
    head, head_t, first = state.head_number, state.head_time_utc, state.head_first_seen_utc
    if round_max is not None and (head is None or (round_max.head_number or 0) > head):
        head, head_t, first = round_max.head_number, round_max.head_time_utc, t
    ep_heads = dict(state.endpoint_heads)
    eps = []
    for o in latest.values():
        if o.head_number is None:
            eps.append(EndpointHealth(o, None, None, None, "unreachable"))
            continue
        best, seen = ep_heads.get(o.endpoint, (-1, t))
        if o.head_number > best:
            best, seen = o.head_number, t
        ep_heads[o.endpoint] = (best, seen)
        age_b = None if o.head_time_utc is None else t - o.head_time_utc
        age_o = t - seen if o.head_number >= best else None
        lag = (head or 0) - o.head_number
        verdict: Literal["healthy", "stale", "lagging", "unreachable"]
        if lag > rules.replica_lag_blocks:
            verdict = "lagging"
        elif _stale(age_b, age_o, rules):
            verdict = "stale"
        else:
            verdict = "healthy"
        eps.append(EndpointHealth(o, age_b, age_o, lag, verdict))
    age_b = None if head_t is None else t - head_t
    age_o = None if first is None else t - first
    reasons: list[str] = []
    lagging = [e for e in eps if e.verdict == "lagging"]
    down = [e for e in eps if e.verdict == "unreachable"]
    fired = _stale(age_b, age_o, rules) if head is not None else []
    chain_verdict: Literal["healthy", "stalled", "unhealthy", "unknown"] = "healthy"
    if fired:
        chain_verdict = "stalled"
        reasons += [f"head {head} stale by the {f.replace('-', ' ')}" for f in fired]
    if not answered:
        reasons.append("no endpoint answered")
        if chain_verdict == "healthy":
            chain_verdict = "unhealthy" if rules.unreachable_is_unhealthy else "unknown"
    reasons += [f"{e.endpoint} lags {e.lag_blocks} blocks (tolerance {rules.replica_lag_blocks})" for e in lagging]
    reasons += [f"{e.endpoint} unreachable" + (f": {e.observation.error}" if e.observation.error else "")
                for e in down if answered]
    if chain_verdict == "healthy" and ((rules.lagging_is_unhealthy and lagging)
                                       or (rules.unreachable_is_unhealthy and down)):
        chain_verdict = "unhealthy"
    new = HealthState(head, head_t, first, ep_heads, state.rounds + 1)
    return new, ChainHealth(t, head, head_t, first, age_b, age_o, chain_verdict, tuple(reasons), tuple(eps),
                            new.rounds, tuple(fired))


def assess(observations: Iterable[Observation], rules: HealthRules = HealthRules(),
           state: HealthState | None = None) -> list[ChainHealth]:
    """The chain's health after each round of ``observations`` (grouped by ``observed_utc``, in time order)."""
    st = state or HealthState()
    out = []
    for _, grp in itertools.groupby(sorted(observations, key=lambda o: o.observed_utc), key=lambda o: o.observed_utc):
        st, h = step(st, list(grp), rules)
        out.append(h)
    return out

