"""Common shocks on hand-built events: attribution to one group, and what the other groups report."""

from __future__ import annotations

import pytest

from seqrisk.stats.events import EventSet, OutageEvent
from seqrisk.stats.shocks import common_shocks
from seqrisk.units import DAY_S, YEAR_S

T0 = 1_600_000_000.0
WINDOWS = {c: ((T0, T0 + 2 * YEAR_S),) for c in ("a", "b", "c", "d")}
# "small" = {a, b} is the most specific group of a and b; "big" holds all four; "cd" = {c, d}
GROUPS = {"small": ("a", "b"), "big": ("a", "b", "c", "d"), "cd": ("c", "d")}


def ev(chain: str, day: float, cause: str = "") -> OutageEvent:
    return OutageEvent(chain, "downtime", T0 + day * DAY_S, 600.0, 600.0, f"{chain}-{day}", cause=cause)


def test_joint_event_counts_under_one_group_and_the_others_say_where() -> None:
    events = (ev("a", 10), ev("b", 10.5),        # joint a + b: goes to "small" (smallest containing group)
              ev("c", 100), ev("d", 300),        # not joint (200 days apart)
              ev("a", 400))                      # alone
    shocks, in_joint = common_shocks(EventSet(events, WINDOWS, T0 + 2 * YEAR_S), GROUPS)
    by = {s.group: s for s in shocks}
    assert in_joint == {0, 1}
    small, big, cd = by["small"], by["big"], by["cd"]
    assert (small.joint_events, small.joint_among_members, small.counted_under) == (1, 1, ())
    assert small.member_events == 3 and small.share == pytest.approx(2 / 3)
    assert small.rate_per_year == pytest.approx(1 / 2.0)
    # "big" saw the same joint event among its members, but it is "small"'s shock: own 0, rate 0
    assert (big.joint_events, big.joint_among_members, big.counted_under) == (0, 1, ("small",))
    assert big.member_events == 5 and big.share == pytest.approx(2 / 5) and big.rate_per_year == 0.0
    assert (cd.joint_events, cd.joint_among_members, cd.counted_under, cd.share) == (0, 0, (), 0.0)


def test_cause_text_picks_the_named_group() -> None:
    events = (ev("a", 10, "Big provider outage"), ev("b", 10.2, "big provider"))
    shocks, _ = common_shocks(EventSet(events, WINDOWS, T0 + 2 * YEAR_S), GROUPS)
    by = {s.group: s for s in shocks}
    assert (by["big"].joint_events, by["big"].counted_under) == (1, ())
    assert (by["small"].joint_events, by["small"].joint_among_members, by["small"].counted_under) == (
        0, 1, ("big",))
    assert by["small"].share == 1.0


def test_chains_linked_through_two_groups_count_where_attributed() -> None:
    # b, c, d within a day: no group contains {b, c, d}; the pair rule picks the smallest group with two of them
    events = (ev("b", 50), ev("c", 50.3), ev("d", 50.6))
    shocks, _ = common_shocks(EventSet(events, WINDOWS, T0 + 2 * YEAR_S),
                              {"small": ("a", "b"), "cd": ("c", "d"), "bc": ("a", "b", "c")})
    by = {s.group: s for s in shocks}
    assert by["cd"].joint_events == 1 and by["cd"].joint_among_members == 1
    assert by["cd"].share == 1.0                 # both of its member events were part of the joint event
    # it hit two members of "bc" too (b and c): counted there as a joint event among members, not as its shock
    assert (by["bc"].joint_events, by["bc"].joint_among_members, by["bc"].counted_under) == (0, 1, ("cd",))
    assert by["bc"].share == 1.0
    assert by["small"].joint_among_members == 0 and by["small"].share == 0.0   # only b of {a, b} was hit


def test_joint_events_may_differ_in_type_and_fall_back_to_the_wide_group() -> None:
    # a and c share no named group: their same-day outage (one downtime, one degraded) is the L1-wide group's
    wins = {**WINDOWS, "e": ((T0, T0 + 2 * YEAR_S),)}
    groups = {"small": ("a", "b"), "cd": ("c", "d"), "l1": ("a", "b", "c", "d", "e")}
    events = (ev("a", 10), OutageEvent("c", "degraded", T0 + 10.4 * DAY_S, 600.0, 600.0, "c-deg"),
              ev("a", 50), ev("b", 50.2))          # the named group wins when it holds both chains
    shocks, in_joint = common_shocks(EventSet(events, wins, T0 + 2 * YEAR_S), groups, wide=("l1",))
    by = {s.group: s for s in shocks}
    assert in_joint == {0, 1, 2, 3}
    assert by["l1"].joint_events == 1 and by["l1"].wide and by["l1"].member_types == ("downtime", "degraded")
    assert by["l1"].hit_sizes == ((2, 5),)          # two chains hit of the five live
    assert by["small"].joint_events == 1 and by["l1"].counted_under == ("small",)


def test_shock_model_pools_named_groups_and_fits_hit_and_type_laws() -> None:
    from seqrisk.stats.shocks import fit_shock_model

    wins = {c: ((T0, T0 + 4 * YEAR_S),) for c in "abcdefgh"}
    groups = {"g1": ("a", "b"), "g2": ("c", "d"), "g3": ("e", "f", "g"), "l1": tuple("abcdefgh")}
    events = (ev("a", 10), ev("b", 10.1), ev("c", 400), ev("h", 400.2))   # g1's own, then an L1-wide one
    shocks, _ = common_shocks(EventSet(events, wins, T0 + 4 * YEAR_S), groups, wide=("l1",))
    sm = fit_shock_model(shocks, {"downtime": 3.0, "degraded": 1.0}, n_draws=32)
    raw = {s.group: s.rate_per_year for s in shocks}
    assert raw["g1"] == pytest.approx(1 / 4) and raw["g2"] == 0.0
    assert 0 < sm.rate("g2") < sm.rate("g1") < raw["g1"]      # pooled: shrunk, and a zero group is not 0
    assert sm.rate("l1") == pytest.approx(1.5 / 4)             # Jeffreys posterior mean (k + 1/2) / T
    lo, hi = sm.interval("g1")
    assert lo < sm.rate("g1") < hi
    # q ~ Beta(1 + 0, 1 + (2 - 2) + (8 - 2)): every joint event hit exactly two chains
    assert sm.extra_hit_probability == pytest.approx(1 / 8)
    assert sm.type_mix["downtime"] == pytest.approx((4 + 0.75) / 5)
    assert sm.zero_probability("l1", 1.0) == pytest.approx((4 / 5) ** 1.5)
