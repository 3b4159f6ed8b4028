"""The grace-period model: holders respond after a lognormal time, a share would top up at all.

A position the restart cascade would close is at stake; a share
``q(G) = q_max F_R(G)`` of those holders tops up within the grace period G,
the rest are tested at the price of ``restart + G`` (which kept moving with no
liquidation, so equity can fall below zero: the venue's bad debt).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from grace_reference import grace_closed_form
from seqrisk.engine import Scenario, StressOutage, load_scenario, simulate
from seqrisk.exceptions import ValidationError

from .conftest import lognormal_model, make_book

SIG, P0, LEV, MM, UNITS = 0.8, 2000.0, 12.5, 0.05, 100.0
D = 6 * 3600.0
PLAIN = dict(forced_inclusion=False, turnover_per_day=0.0, cost_of_capital=0.0, keep_paths=True)
RESPONSE = dict(top_up_share_max=0.7, response_median_s=1800.0, response_sigma=1.2)


def _stress(paths: int, **kw: object) -> Scenario:
    return Scenario(paths=paths, seed=3, horizon_s=D, stress_outages=[StressOutage(chain="arbitrum", duration_s=D)],
                    **(PLAIN | RESPONSE | kw))  # type: ignore[arg-type]


def _closed_form(g: float) -> dict[str, float]:
    """One long perp (no impact) frozen for D, at stake if P(D) < trigger, tested at P(D + G) (grace_reference)."""
    return grace_closed_form(g, sig=SIG, p0=P0, lev=LEV, mm=MM, units=UNITS, d=D,
                             q_max=RESPONSE["top_up_share_max"], response_median_s=RESPONSE["response_median_s"],
                             response_sigma=RESPONSE["response_sigma"])


def _book():  # type: ignore[no-untyped-def]
    return make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": UNITS,
                       "leverage": LEV, "maintenance_margin": MM, "liquidation_penalty": MM}], vol=SIG, eta=0.0)


@pytest.mark.parametrize("g", [0.0, 600.0, 1800.0, 4 * 3600.0])
def test_single_perp_against_the_closed_form(g: float) -> None:
    res = simulate(_book(), lognormal_model({}), _stress(60_000, grace_period_s=g))
    cf = _closed_form(g)
    checks = [("expected_loss", "holder", "holder"), ("p_liquidation", "holder", "p_liquidation")]
    if g > 0:  # without grace bad debt needs a 4-sd move in 6 h: no path of this run has any
        checks.append(("expected_loss", "venue", "venue"))
    for measure, persp, key in checks:
        v, se = res.value(measure, perspective=persp)
        assert abs(v - cf[key]) < 4 * se + 1e-9 * abs(cf[key]), (g, key, v, se, cf[key])


def test_closed_form_trade_off() -> None:
    """In the closed form itself: holder loss and P(liquidation) fall with G, the venue's bad debt rises."""
    grid = [0.0, 300.0, 1800.0, 3600.0, 4 * 3600.0, 12 * 3600.0]
    cf = [_closed_form(g) for g in grid]
    assert all(b["holder"] < a["holder"] for a, b in itertools.pairwise(cf))
    assert all(b["p_liquidation"] < a["p_liquidation"] for a, b in itertools.pairwise(cf))
    assert all(b["venue"] > a["venue"] for a, b in itertools.pairwise(cf))


def _desk(depth: float = 2e8):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    n = 120
    pos = [{"id": f"p{i}", "type": "perp", "chain": "arbitrum", "asset": "ETH",
            "size": float(rng.choice([-1.0, 1.0]) * rng.lognormal(math.log(50.0), 1.0)),
            "leverage": float(rng.uniform(2.0, 15.0))} for i in range(n)]
    return make_book(pos, vol=SIG, eta=0.1, depth=depth)


@pytest.mark.parametrize("depth", [1e10, 2e8])
def test_engine_trade_off_on_a_book(depth: float) -> None:
    """A 120-perp book under a 3-hour outage, the default response law, paired runs (common random numbers):
    holder loss and P(liquidation) fall as G grows; the venue's bad debt (none without grace here: it needs
    the price to move on while nobody can be liquidated) never falls and rises at long G. With a shallow
    market (depth 2e8) the restart cascades run several rounds."""
    book = _desk(depth)
    runs = [simulate(book, lognormal_model({}), Scenario(
        paths=20_000, seed=9, horizon_s=86400.0, grace_period_s=g,
        stress_outages=[StressOutage(chain="arbitrum", duration_s=3 * 3600.0)], **PLAIN))  # type: ignore[arg-type]
        for g in (0.0, 900.0, 3600.0, 4 * 3600.0)]
    assert runs[0].diagnostics["max_rounds"] >= (5 if depth < 1e9 else 2)
    pliq = [r.value("p_liquidation")[0] for r in runs]
    assert all(y < x for x, y in itertools.pairwise(pliq))
    for a, b in itertools.pairwise(runs):
        d, se = b.paired_difference(a)
        assert d < -3 * se
        dv, _ = b.paired_difference(a, "venue_attributable")
        assert dv >= -1e-9
    dv, sev = runs[-1].paired_difference(runs[-2], "venue_attributable")
    assert dv > 3 * sev


def test_a_one_second_grace_changes_almost_nothing() -> None:
    book, model = _desk(), lognormal_model({"arbitrum": 2.0}, median_s=3 * 3600.0)
    base = dict(paths=8192, seed=9, horizon_s=7 * 86400.0, **PLAIN)
    r0 = simulate(book, model, Scenario(grace_period_s=0.0, **base))  # type: ignore[arg-type]
    r1 = simulate(book, model, Scenario(grace_period_s=1.0, **base))  # type: ignore[arg-type]
    h0, h1 = r0.value("expected_loss")[0], r1.value("expected_loss")[0]
    assert h0 > 0
    assert abs(h1 - h0) < 1e-3 * h0
    assert r1.scenario.grace_saved_share < 1e-5


def test_saved_share_is_the_response_law() -> None:
    sc = Scenario(grace_period_s=3600.0, **RESPONSE)  # type: ignore[arg-type]
    law = stats.lognorm(s=RESPONSE["response_sigma"], scale=RESPONSE["response_median_s"])
    assert sc.grace_saved_share == pytest.approx(RESPONSE["top_up_share_max"] * law.cdf(3600.0), rel=1e-12)
    assert Scenario().grace_saved_share == 0.0
    assert load_scenario(None, grace_period_s="2h", response_median_s="30m").response_median_s == 1800.0


def test_the_retired_top_up_share_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="top_up_share_max") as exc:
        load_scenario(None, top_up_share=0.3)
    assert exc.value.context.get("field") == "top_up_share"
