"""Comparison mechanics on a stand-in engine: pairing, errors, costs, covers, sweeps."""

from __future__ import annotations

import numpy as np
import pytest

from seqrisk.decide import GracePeriod, Insure, MarginBuffer, Strategy, compare, sweep, sweep_factory
from seqrisk.decide.insurance import IndemnityCover, Pricing
from seqrisk.decide.measures import measure, paired_diff
from seqrisk.outage import OutageModel
from seqrisk.portfolio import Book

from .conftest import ToyScenario, toy_simulate


def test_paired_errors_are_smaller_than_unpaired(book: Book, model: OutageModel) -> None:
    cmp = compare(book, model, ToyScenario(), [MarginBuffer(0.02), GracePeriod(3600.0, 0.5)],
                  simulate=toy_simulate)
    assert [r.name for r in cmp.results] == ["baseline", "buffer=0.02", "grace=1h,qmax=0.5"]
    for r in cmp.results[1:]:
        for key in ("holder.el", "venue.el", "p_liquidation"):
            d = r.diffs[key]
            assert d.se < d.se_unpaired, (r.name, key)
    # the buffer cuts the liquidation probability by many paired standard errors
    d = cmp.results[1].diffs["p_liquidation"]
    assert d.value < -5 * d.se


def test_paired_error_is_the_error_of_the_path_differences(book: Book, model: OutageModel) -> None:
    cmp = compare(book, model, ToyScenario(paths=40_000), [MarginBuffer(0.03)], simulate=toy_simulate)
    base, other = cmp.outcomes
    diff = other.holder_usd - base.holder_usd
    d = cmp.results[1].diffs["holder.el"]
    assert d.value == pytest.approx(diff.mean())
    assert d.se == pytest.approx(diff.std(ddof=1) / np.sqrt(diff.size))
    # ES: the influence-function error agrees with a paired bootstrap (asymptotically: 400 tail paths here)
    rng = np.random.default_rng(0)
    reps = []
    for _ in range(100):
        i = rng.integers(0, diff.size, diff.size)
        reps.append(measure(other.holder_usd[i], "es99")[0].value - measure(base.holder_usd[i], "es99")[0].value)
    pd_ = paired_diff("es99", base.holder_usd, other.holder_usd)
    assert pd_.se == pytest.approx(np.std(reps, ddof=1), rel=0.3)


def test_costs_and_cover_enter_the_results(book: Book, model: OutageModel) -> None:
    cover = IndemnityCover(deductible_usd=1e4)
    strat = Strategy.of(Insure(cover, Pricing(loading=0.0, cost_of_capital_per_year=0.0)))
    cmp = compare(book, model, ToyScenario(paths=5000), [strat, MarginBuffer(0.1)], simulate=toy_simulate)
    ins, buf = cmp.results[1], cmp.results[2]
    base = cmp.outcomes[0].holder_usd
    # fair premium = expected payout; the holder keeps the deductible
    assert ins.cost_usd("holder") == pytest.approx(np.mean(np.maximum(base - 1e4, 0.0)))
    assert ins.cost_usd("venue") == 0.0  # the holder buys the cover
    assert np.all(cmp.outcomes[1].holder_usd <= 1e4 + 1e-9)
    assert ins.diffs["holder.el"].value == pytest.approx(-ins.cost_usd())
    assert ins.reduction_per_usd("holder.el") == pytest.approx(1.0)
    assert buf.costs_usd["capital"] > 0
    df = cmp.summary()
    assert list(df.index) == ["baseline", ins.name, buf.name]
    assert df.loc["baseline", "d_holder.el"] == 0.0
    assert not any(c.startswith(("total", "d_total")) for c in df.columns)  # holder and venue never added
    assert list(cmp.summary("venue").filter(like="holder").columns) == []


def test_sweep_finds_the_minimum_of_a_known_curve(book: Book, model: OutageModel) -> None:
    # with q = 1 everyone tops up at restart: the grace period then removes every liquidation
    res = sweep(book, model, ToyScenario(paths=5000, top_up_share_max=1.0), "grace", [0.0, 1800.0, 3600.0],
                sweep_factory("grace", "grace=0,qmax=1"), simulate=toy_simulate)
    assert res.best_value in res.near_best
    assert res.curve[0].value >= res.curve[res.values.index(res.best_value)].value
    assert res.curve[-1].value == 0.0
    assert res.vs_best[0].value > 2 * res.vs_best[0].se
