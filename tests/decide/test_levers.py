"""Levers as pure transforms: spec syntax, model and book changes, costs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqrisk.decide import (
    ForcedInclusion,
    GracePeriod,
    MarginBuffer,
    MarginRules,
    Move,
    MoveCost,
    Setup,
    SharedSequencer,
    Strategy,
    initial_margin_usd,
    parse_lever,
    parse_strategy,
    parse_sweep,
    parse_usd,
    sweep_factory,
)
from seqrisk.decide.insurance import trigger_rate_per_year
from seqrisk.exceptions import UsageError
from seqrisk.outage import OutageModel
from seqrisk.portfolio import Book
from seqrisk.units import YEAR_S

from .conftest import ToyScenario


def test_spec_round_trip_and_errors() -> None:
    s = parse_strategy("grace=90m,qmax=0.5,repay-blocked+buffer=0.25,rate=0.08")
    assert s.levers == (GracePeriod(5400.0, 0.5, repay_blocked=True), MarginBuffer(0.25, 0.08))
    assert parse_lever("grace=1h,response=10m,sigma=2") == GracePeriod(3600.0, None, 600.0, 2.0)
    assert parse_lever("grace=1h") == GracePeriod(3600.0)  # the scenario's response law
    assert parse_lever(MarginBuffer(0.1).label) == MarginBuffer(0.1)
    assert parse_lever("forced-inclusion,l1=10m,gas=5") == ForcedInclusion(600.0, 5.0)
    assert parse_lever("move=arbitrum:base:0.5,fee=3,transit=1h") == Move("arbitrum", "base", 0.5,
                                                                           MoveCost(taker_fee_bps=3, transit_s=3600.0))
    assert parse_lever("move=arbitrum:base:0.5") == Move("arbitrum", "base", 0.5)
    assert parse_lever(Move("a", "b", 0.5, MoveCost(1, 2, 3, 60.0, 0.05)).label) == Move("a", "b", 0.5,
                                                                                          MoveCost(1, 2, 3, 60.0, 0.05))
    assert parse_lever("margin-rules,maintenance=0.03,penalty=0.01") == MarginRules(0.03, 0.01)
    assert parse_lever(MarginRules(0.02, chain="base").label) == MarginRules(0.02, chain="base")
    assert parse_lever(GracePeriod(3600.0, 0.5).label) == GracePeriod(3600.0, 0.5)
    assert parse_usd("$1.5M") == 1.5e6
    assert parse_usd("100k") == 1e5
    assert parse_sweep("grace=0:4h:5") == ("grace", [0.0, 3600.0, 7200.0, 10800.0, 14400.0])
    assert parse_sweep("grace=0,1s,15m,4h") == ("grace", [0.0, 1.0, 900.0, 14400.0])
    assert parse_sweep("qmax=0.2,0.8") == ("qmax", [0.2, 0.8])
    for bad in ("grace=1h,qmax=2", "grace=1h,q=0.5", "grace=1h,response=0s", "buffer=x", "frobnicate=1",
                "grace=1h,zzz=1", "move=arbitrum",
                "move=arbitrum:base,bps=3", "margin-rules"):
        with pytest.raises(UsageError):
            parse_strategy(bad)
    with pytest.raises(UsageError):
        parse_sweep("color=0:1:3")


def test_sweep_factory_keeps_other_levers() -> None:
    make = sweep_factory("grace", "grace=1h,qmax=0.5+buffer=0.1")
    s = make(7200.0)
    assert s.levers == (GracePeriod(7200.0, 0.5), MarginBuffer(0.1))
    assert s.name == "grace=2h"
    assert sweep_factory("buffer", None)(0.3).levers == (MarginBuffer(0.3),)
    assert sweep_factory("fraction", "move=arbitrum:base")(0.25).levers == (Move("arbitrum", "base", 0.25),)
    with pytest.raises(UsageError):
        sweep_factory("fraction", None)


def test_grace_and_buffer_set_the_scenario_and_costs(book: Book, model: OutageModel) -> None:
    setup = Setup(book=book, scenario=ToyScenario(horizon_s=YEAR_S / 2), model=model)
    out = Strategy.of(GracePeriod(3600.0, 0.7, repay_blocked=True), MarginBuffer(0.5, 0.1)).apply(setup)
    assert MarginBuffer(0.5).apply(setup).costs_usd["capital"] == pytest.approx(0.5 * 1.4e6 * 0.1 / 2)
    assert out.scenario.grace_period_s == 3600.0
    assert out.scenario.top_up_share_max == 0.0  # repay blocked: nobody can top up
    assert out.scenario.margin_buffer == 0.5
    margin = 1e6 / 10 + 200 * 2000 / 5 + 100 * 2000
    assert initial_margin_usd(book) == pytest.approx(margin)
    assert out.costs_usd["capital"] == pytest.approx(0.5 * (1e6 + 200 * 2000) * 0.1 / 2)


def test_forced_inclusion_cost_counts_outages_longer_than_the_delay(book: Book, model: OutageModel) -> None:
    setup = Setup(book=book, scenario=ToyScenario(), model=model)
    out = ForcedInclusion(900.0, l1_cost_usd=10.0, delays_s={"arbitrum": 7200.0}).apply(setup)
    assert out.scenario.forced_inclusion
    assert out.model.chains["arbitrum"].forced_inclusion_delay_s == 7200.0
    uses = 2 * trigger_rate_per_year(out.model, "arbitrum", 7200.0) + trigger_rate_per_year(model, "base", 43200.0)
    assert out.costs_usd["L1 gas"] == pytest.approx(10.0 * uses)


def test_move_splits_positions_and_keeps_notional(book: Book, model: OutageModel) -> None:
    setup = Setup(book=book, scenario=ToyScenario(), model=model)
    out = Move("arbitrum", "optimism", 0.25).apply(setup)
    by_id = {p.id: p for p in out.book.positions}
    assert by_id["p1"].notional_usd == pytest.approx(7.5e5)
    assert by_id["p1@optimism"].notional_usd == pytest.approx(2.5e5)
    assert by_id["p1@optimism"].chain == "optimism"
    assert by_id["p2"].size + by_id["p2@optimism"].size == pytest.approx(-200.0)
    assert initial_margin_usd(out.book) == pytest.approx(initial_margin_usd(book))
    # moving is never free: two trades at the taker fee and half the spread, the margin bridged and in transit
    moved, margin = 0.25 * (1e6 + 200 * 2000), 0.25 * (1e6 / 10 + 200 * 2000 / 5)
    assert out.costs_usd["trading"] == pytest.approx(moved * 2 * (5 + 2 / 2) * 1e-4)
    assert out.costs_usd["bridging"] == pytest.approx(margin * 10 * 1e-4)
    assert out.costs_usd["capital in transit"] == pytest.approx(margin * 0.08 * 1800 / YEAR_S)
    assert all(c.payer == "holder" for c in out.costs) and out.cost_usd("venue") == 0.0
    whole = Move("base", "arbitrum").apply(setup)
    assert {p.chain for p in whole.book.positions} == {"arbitrum"}
    with pytest.raises(UsageError):
        Move("scroll", "base").apply(setup)


def test_shared_sequencer_changes_rates_durations_and_adds_a_group(model: OutageModel) -> None:
    lever = SharedSequencer(("arbitrum", "base"), rate_factor=0.5, duration_factor=0.25, shock_rate_per_year=0.2)
    new = lever.transform(model)
    assert new.chains["arbitrum"].rates_per_year["downtime"] == pytest.approx(1.0)
    assert new.chains["arbitrum"].durations["downtime"].params["median_s"] == pytest.approx(900.0)
    assert new.shocks[-1].members == ("arbitrum", "base")
    assert new.chains["optimism"] == model.chains["optimism"]
    # rate of outages longer than 1h on arbitrum: own thinned + the new group's
    h = 3600.0
    sf = new.chains["arbitrum"].durations["downtime"].sf(h)
    assert trigger_rate_per_year(new, "arbitrum", h) == pytest.approx(1.0 * sf + 0.2 * sf)
    # durations scaled: P(0.25 D > h) = P(D > 4h)
    assert sf == pytest.approx(model.chains["arbitrum"].durations["downtime"].sf(4 * h))
    assert math.isclose(trigger_rate_per_year(new, "base", 0.0), 0.5 + 0.3 + 0.2)


@given(g=st.integers(0, 4 * 86400), q=st.floats(0, 1), blocked=st.booleans(), k=st.floats(0, 2), f=st.floats(0.01, 1))
def test_labels_parse_back_to_the_same_lever(g: int, q: float, blocked: bool, k: float, f: float) -> None:
    lev = GracePeriod(float(g), q, float(g) + 1.0, 0.5 + q, blocked)
    assert parse_lever(lev.label) == lev
    assert parse_lever(MarginBuffer(k).label) == MarginBuffer(k)
    assert parse_lever(Move("arbitrum", "base", f).label) == Move("arbitrum", "base", f)
    assert parse_lever(ForcedInclusion(float(g)).label) == ForcedInclusion(float(g))


def test_move_to_an_unmodelled_chain_is_refused(book: Book, model: OutageModel) -> None:
    with pytest.raises(UsageError, match="no law"):
        Move("arbitrum", "scroll").apply(Setup(book=book, scenario=ToyScenario(), model=model))
