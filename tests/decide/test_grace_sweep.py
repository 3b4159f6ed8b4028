"""The grace-period sweep on the engine: the venue's trade-off, checked against a closed form.

A single long perp, a 6-hour outage and a known response-time law: every
point of the sweep (holders' loss, venue bad debt) matches the closed form of
``grace_reference``, the weighted objective's minimiser on the grid lies in the
sweep's interval, and a 1-second grace changes nothing. On a book of many perps
the curve is a trade-off with an interior optimum, not a step.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from grace_reference import grace_closed_form
from seqrisk.decide import GracePeriod, optimal_weight_ranges, sweep
from seqrisk.engine import Scenario, StressOutage
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import Book, book_from_dict, load_book

SIG, P0, LEV, MM, UNITS, D = 0.8, 2000.0, 12.5, 0.05, 100.0, 6 * 3600.0
RESPONSE = {"top_up_share_max": 0.7, "response_median_s": 1800.0, "response_sigma": 1.2}
GRID = [0.0, 1.0, 600.0, 1800.0, 3600.0, 2 * 3600.0, 4 * 3600.0, 8 * 3600.0]


def _perp() -> Book:
    return book_from_dict({"assets": {"ETH": {"spot_usd": P0, "vol": SIG, "impact_eta": 0.0, "depth_usd": 1e12}},
                           "positions": [{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH",
                                          "size": UNITS, "leverage": LEV, "maintenance_margin": MM,
                                          "liquidation_penalty": MM}]}, chains=["arbitrum"])


def _stress(paths: int, duration_s: float = D, **kw: object) -> Scenario:
    return Scenario(paths=paths, seed=3, horizon_s=duration_s, forced_inclusion=False, turnover_per_day=0.0,
                    cost_of_capital=0.0, stress_outages=[StressOutage(chain="arbitrum", duration_s=duration_s)],
                    **(RESPONSE | kw))  # type: ignore[arg-type]


def _model() -> OutageModel:
    law = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0})
    return OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {"downtime": 1.0}, {"downtime": law})})


@pytest.fixture(scope="module")
def closed() -> list[dict[str, float]]:
    return [grace_closed_form(g, sig=SIG, p0=P0, lev=LEV, mm=MM, units=UNITS, d=D, q_max=0.7,
                              response_median_s=1800.0, response_sigma=1.2) for g in GRID]


def test_sweep_points_and_optimum_match_the_closed_form(closed: list[dict[str, float]]) -> None:
    # the weight under which the closed form's optimum is an interior grid point: the middle of its range
    ranges = optimal_weight_ranges([c["venue"] for c in closed], [c["holder"] for c in closed])
    interior = [i for i, r in enumerate(ranges) if r is not None and 0 < i < len(GRID) - 1 and math.isfinite(r[1])]
    assert interior, ranges  # the closed form itself has an interior trade-off
    i_best = interior[len(interior) // 2]
    lo, hi = ranges[i_best]  # type: ignore[misc]
    weight = (lo + hi) / 2
    res = sweep(_perp(), _model(), _stress(40_000), "grace", GRID, GracePeriod, perspective="venue", weight=weight)
    for g, c, h, v in zip(GRID, closed, res.holder, res.venue, strict=True):
        assert abs(h.value - c["holder"]) < 4 * h.se + 1e-9 * c["holder"], (g, h, c)
        if c["venue"] > 1.0:  # without (or with a 1-second) grace no path reaches bad debt: a 4-sd move in 6 h
            assert abs(v.value - c["venue"]) < 4 * v.se + 1e-9 * c["venue"], (g, v, c)
    # the sweep's 90% interval holds the closed form's optimum, and the optimum is a trade-off, not a step
    b_lo, b_hi = res.best_interval
    assert b_lo <= GRID[i_best] <= b_hi, (res.best_interval, GRID[i_best], weight)
    assert res.best_value > 0.0
    # a 1-second grace is no cure: nobody responds in a second; only a second of price noise moves the loss
    d1 = res.comparison.results[2].diffs["holder.el"].value - res.comparison.results[1].diffs["holder.el"].value
    assert abs(d1) < 0.01 * closed[0]["holder"]


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_on_the_desk_the_grace_trade_off_is_interior_not_a_step() -> None:
    """examples/desk.yaml over a year with the example outage model: holders' loss falls with the grace period;
    the venue's bad debt falls while top-ups save positions at stake and rises once the price runs on with
    nobody liquidated, so the venue's own optimum lies inside the grid; a 1-second grace is no cure."""
    book, model = load_book(EXAMPLES / "desk.yaml"), OutageModel.load(EXAMPLES / "outage-model.json")
    grid = [0.0, 1.0, 1800.0, 2 * 3600.0, 4 * 3600.0, 8 * 3600.0]
    # 8,000 paths: every assertion below holds at seeds 0-3 (at 6,000 the 30-minute one fails at seed 0)
    res = sweep(book, model, Scenario(paths=8000, seed=0, horizon_s=365 * 86400.0), "grace", grid, GracePeriod,
                perspective="venue", weight=0.0)
    holder = [e.value for e in res.holder]
    assert holder[1] >= 0.99 * holder[0]  # nobody responds within a second
    assert all(b < a for a, b in itertools.pairwise(holder[1:]))
    venue = res.comparison.results
    down, up = venue[3].diffs["venue.el"], venue[6].diffs["venue.el"].value - venue[4].diffs["venue.el"].value
    assert down.value < -2 * down.se  # 30 minutes: top-ups spare bad debt
    assert up > 0  # 8 hours against 2: the price runs on, bad debt grows
    assert grid[1] < res.best_value < grid[-1]
    assert sum(r is not None for r in res.weight_ranges) >= 3  # different weightings pick different periods
