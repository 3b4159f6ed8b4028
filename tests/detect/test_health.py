"""Head health (seqrisk.health) against the scenarios of Chainlink's layer2-sequencer-health adapter tests.

The adapter (smartcontractkit/external-adapters-js, packages/sources/layer2-sequencer-health, test/unit:
evm.test.ts, evm-utils.test.ts, health.test.ts) keeps the last block number seen and the time it was first
seen; a head that does not advance for DELTA (120 s) is stale; a block more than DELTA_BLOCKS (6) below the last
seen one is an error (a lagging replica), and any failed check makes the feed unhealthy. Each scenario below is
its sequence of eth_blockNumber answers on a fake clock, with the adapter's expected answer per call. Under
``HealthRules.chainlink()`` seqrisk must agree on every one; under seqrisk's default rules the documented
differences are asserted too (a lagging replica or an unreachable endpoint is reported per endpoint, not as a
chain outage). Scenarios of the adapter that need its health endpoints or its empty-transaction probe have no
counterpart here (seqrisk reads blocks only) and are listed as not applicable in docs/ingest.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from seqrisk.health import HealthRules, HealthState, Observation, assess, step


@dataclass(frozen=True)
class Scenario:
    name: str
    delta_s: float
    delta_blocks: int
    calls: tuple[tuple[float, int | None], ...]  # (fake clock in s, block number answered; None: the call threw)
    chainlink: tuple[bool, ...]                  # the adapter's healthy? per call
    default: tuple[bool, ...] | None = None      # seqrisk's default rules where they differ


def _ok(n: int) -> tuple[bool, ...]:
    return (True,) * n


SCENARIOS = [
    # evm.test.ts
    Scenario("stale blocks are unhealthy after delta", 30, 6, ((0, 1), (10, 1), (20, 1), (30, 1)),
             (True, True, True, False)),
    Scenario("blocks are healthy after delta if blocks change", 30, 0,
             ((0, 0), (10, 1), (20, 2), (30, 2), (40, 2)), _ok(5)),
    Scenario("a block behind the last seen within delta blocks is healthy, beyond it is not", 30, 5,
             ((0, 10), (1, 6), (2, 5), (3, 4), (4, 3)), (True, True, True, False, False), _ok(5)),
    # evm-utils.test.ts, isValidBlock(block, lastSeen, deltaBlocks)
    *[Scenario(f"isValidBlock({b}, {last}, {d}) is {ok}", 120, d, ((0, last), (1, b)), (True, ok),
               None if ok else (True, True))
      for b, last, d, ok in ((95, 100, 5, True), (94, 100, 5, False), (105, 100, 5, True), (100, 100, 0, True),
                             (99, 100, 0, False))],
    # evm-utils.test.ts, isStaleBlock(block, lastSeen, lastSeenTimestamp, delta) at a fake clock
    *[Scenario(f"isStaleBlock({b}, {last}, {t0}, {d}) at {now} is {stale}", d, 6, ((t0, last), (now, b)),
               (True, not stale))
      for b, last, t0, d, now, stale in ((101, 100, 0, 5, 10, False), (100, 100, 0, 5, 4, False),
                                         (100, 100, 0, 5, 6, True), (99, 100, 0, 5, 5, True),
                                         (99, 100, 5, 3, 10, True))],
    # health.test.ts (the block-height part of the adapter)
    Scenario("sequencer and network checks succeed: healthy", 120, 6, ((0, 1),), (True,)),
    Scenario("network check fails after DEFAULT_DELTA_TIME + 1: unhealthy", 120, 6, ((0, 1), (120.001, 1)),
             (True, False)),
    Scenario("network check throws (an RPC error): unhealthy", 120, 6, ((0, None),), (False,), (True,)),
]


def _verdicts(sc: Scenario, rules: HealthRules) -> tuple[bool, ...]:
    obs = [Observation("rpc", t, n, error=None if n is not None else "Some RPC call error") for t, n in sc.calls]
    return tuple(h.verdict == "healthy" or (h.verdict == "unknown" and rules == HealthRules(
        sc.delta_s, sc.delta_blocks)) for h in assess(obs, rules))


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.name)
def test_chainlink_rules_agree_with_the_adapter(sc: Scenario) -> None:
    assert _verdicts(sc, HealthRules.chainlink(sc.delta_s, sc.delta_blocks)) == sc.chainlink


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.name)
def test_default_rules_differ_only_where_documented(sc: Scenario) -> None:
    """seqrisk's defaults: a lagging replica or an unreachable endpoint does not make the chain unhealthy."""
    assert _verdicts(sc, HealthRules(sc.delta_s, sc.delta_blocks)) == (sc.default or sc.chainlink)


@pytest.mark.parametrize(("last", "block", "past"), [(100, 100, True), (100, 99, True), (100, 101, False),
                                                      (0, 0, True), (1, 0, True), (0, 1, False)])
def test_is_past_block_is_whether_the_head_advanced(last: int, block: int, past: bool) -> None:
    """evm-utils isPastBlock(block, lastSeen): a head that did not advance keeps ageing by the observer's clock."""
    (_, h) = assess([Observation("rpc", 0.0, last), Observation("rpc", 10.0, block)])
    assert (h.age_observer_s == 10.0) == past and (h.age_observer_s == 0.0) == (not past)


def test_block_clock_sees_a_stall_from_one_observation_and_both_ages_are_reported() -> None:
    """The observer's clock needs the head to sit still across rounds; the block clock sees an old head at once."""
    (h,) = assess([Observation("a", 1_000.0, 50, head_time_utc=700.0)])
    assert (h.age_block_s, h.age_observer_s, h.verdict) == (300.0, 0.0, "stalled")
    assert h.reasons == ("head 50 stale by the block clock",)
    (h,) = assess([Observation("a", 1_000.0, 50, head_time_utc=700.0)], HealthRules(clock="observer"))
    assert h.verdict == "healthy"


def test_cross_replica_height_check_in_one_round() -> None:
    """Two endpoints polled in the same round: the one more than 6 blocks behind the other is lagging, and
    the chain's head is the other's."""
    (h,) = assess([Observation("a", 5.0, 100, 4.0), Observation("b", 5.0, 93, 1.0), Observation("c", 5.0, 94, 2.0)])
    assert {e.endpoint: (e.verdict, e.lag_blocks) for e in h.endpoints} == {
        "a": ("healthy", 0), "b": ("lagging", 7), "c": ("healthy", 6)}
    assert (h.head_number, h.verdict) == (100, "healthy") and h.best is not None and h.best.endpoint == "a"
    assert h.reasons == ("b lags 7 blocks (tolerance 6)",)


def test_a_stalled_chain_served_behind_confirmations_is_stalled() -> None:
    """The observed head, not the stored one, ages: a node whose head stops at 500 is stalled after 120 s
    whatever the ingest's confirmations keep in the store."""
    obs = [Observation("a", 1_000.0 + 10 * i, min(500, 490 + i), 1_000.0 + 2 * min(10, i)) for i in range(20)]
    hs = assess(obs)
    assert [h.verdict for h in hs].index("stalled") == 14  # block clock: 1130 - 1020 < 120 <= 1140 - 1020
    assert hs[-1].head_number == 500 and hs[-1].age_observer_s == 90.0 and hs[-1].age_block_s == 170.0


def test_step_is_assess_one_round_at_a_time() -> None:
    obs = [Observation(e, float(t), n, float(t) - 1) for t, e, n in
           [(0, "a", 1), (0, "b", 1), (5, "a", 2), (5, "b", None), (9, "a", 2), (9, "b", 2)]]
    st = HealthState()
    stepped = []
    for t in (0, 5, 9):
        st, h = step(st, [o for o in obs if o.observed_utc == t])
        stepped.append(h)
    assert stepped == assess(obs) and st.rounds == 3


@pytest.mark.parametrize("bad", [{"stale_head_s": 0}, {"stale_head_s": float("nan")}, {"replica_lag_blocks": -1},
                                 {"clock": "wall"}])
def test_bad_rules_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        HealthRules(**bad)  # type: ignore[arg-type]
