"""Advice to one party at a time: its own levers, its own loss, EL and ES, per dollar it pays."""

from __future__ import annotations

import numpy as np
import pytest

from seqrisk.decide import (
    ForcedInclusion,
    GracePeriod,
    IndemnityCover,
    Insure,
    MarginBuffer,
    MarginRules,
    Move,
    Pricing,
    SharedSequencer,
    Strategy,
    advise,
    compare,
)
from seqrisk.decide.measures import measure
from seqrisk.engine import Scenario, simulate
from seqrisk.exceptions import UsageError
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import Book, book_from_dict

from .conftest import ToyScenario, toy_simulate


def test_every_lever_says_who_controls_it() -> None:
    venue = (GracePeriod(3600.0), MarginRules(0.03), ForcedInclusion())
    holder = (MarginBuffer(0.1), Move("arbitrum", "base"), Insure(IndemnityCover()))
    assert {lv.party for lv in venue} == {"venue"} and {lv.party for lv in holder} == {"holder"}
    assert SharedSequencer(("base", "optimism")).party == "chain"
    assert Strategy.of(GracePeriod(3600.0), MarginBuffer(0.1)).party == "mixed"
    assert Strategy("baseline").party is None
    for lv in (*venue, *holder):
        assert "=" not in lv.describe()  # words, not the spec syntax


def test_advice_recommends_only_the_partys_own_levers(book: Book, model: OutageModel) -> None:
    cover = Insure(IndemnityCover(deductible_usd=1e4), Pricing(loading=0.3, cost_of_capital_per_year=0.1))
    cmp = compare(book, model, ToyScenario(paths=8000, top_up_share_max=1.0),
                  [GracePeriod(3600.0, 1.0), MarginBuffer(0.05), cover], simulate=toy_simulate)
    holder = advise(cmp, "holder")
    assert [e.party for e in holder.own] == ["holder", "holder"] and [e.party for e in holder.others] == ["venue"]
    # the grace period removes every liquidation in the toy, yet it is the venue's to set
    grace = holder.others[0]
    assert grace.cuts_el and grace not in holder.recommended
    ins = next(e for e in holder.own if e.strategy.startswith("insure"))
    # the cover: its premium exceeds its expected payout, so EL falls by less than a dollar per dollar; ES falls
    assert ins.cost_usd > 0 and ins.el_cut_per_usd < 1 and ins.es_cut_per_usd > 1
    assert ins in holder.recommended
    assert "costs more than it saves" in ins.sentence("99")
    venue = advise(cmp, "venue")
    assert {e.party for e in venue.own} == {"venue"}
    assert all(e.cost_usd == 0.0 for e in venue.own + venue.others)  # the venue pays for none of these
    # the figures are the party's own: never the holder's loss plus the venue's
    base = cmp.outcomes[0]
    assert venue.baseline_el.value == pytest.approx(measure(base.venue_usd, "el")[0].value)
    assert holder.baseline_el.value == pytest.approx(measure(base.holder_usd, "el")[0].value)
    with pytest.raises(UsageError):
        advise(cmp, "total")


def test_margin_rules_trade_liquidations_for_bad_debt_on_the_engine() -> None:
    """A lower maintenance margin liquidates fewer positions and leaves more bad debt per liquidation."""
    law = DurationLaw("lognormal", {"median_s": 6 * 3600.0, "sigma": 1.0})
    model = OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {"downtime": 6.0}, {"downtime": law})})
    book = book_from_dict({"assets": {"ETH": {"spot_usd": 2000.0, "vol": 1.2}}, "positions": [
        {"id": "p", "chain": "arbitrum", "type": "perp", "asset": "ETH", "side": "long", "notional_usd": 1e6,
         "leverage": 10, "maintenance_margin": 0.08, "liquidation_penalty": 0.02}]}, chains=["arbitrum"])
    sc = Scenario(paths=4096, seed=3, horizon_s=90 * 86400.0)
    cmp = compare(book, model, sc, [MarginRules(maintenance=0.01)])
    d = cmp.results[1].diffs
    assert d["p_liquidation"].value < -5 * d["p_liquidation"].se
    base, loose = cmp.outcomes
    # per path: the same outage and price; with the looser rule a liquidation happens lower, so bad debt only grows
    assert np.all(np.asarray(loose.venue_usd) >= np.asarray(base.venue_usd) - 1e-6)
    assert d["venue.el"].value > 0
    with pytest.raises(UsageError, match="1/leverage"):
        compare(book, model, sc, [MarginRules(maintenance=0.2)])
    assert simulate(book, model, sc).value("expected_loss")[0] == pytest.approx(
        cmp.baseline.measures["holder.el"].value, rel=1e-9)
