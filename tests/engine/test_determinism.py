"""A seed fixes every number: chunkings and workers; common random numbers across mitigations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from seqrisk.engine import BLOCK_PATHS, Regime, Scenario, simulate
from seqrisk.outage import ChainOutageLaw, CommonShock, DurationLaw, Hawkes, OutageModel

from .conftest import make_book

ETH = {"spot_usd": 3000.0, "vol": {"calm": 0.6, "stressed": 1.2}, "jumps": {"rate_per_year": 20, "mean": -0.02,
                                                                          "sigma": 0.05}, "depth_usd": 5e7}
BTC = {"spot_usd": 90000.0, "vol": {"calm": 0.5, "stressed": 1.0}, "depth_usd": 1e8}


def rich_book():  # type: ignore[no-untyped-def]
    pos = [
        {"id": "a1", "type": "perp", "chain": "arbitrum", "asset": "ETH", "side": "long", "notional_usd": 2e6,
         "leverage": 25, "maintenance_margin": 0.02, "liquidation_penalty": 0.01},
        {"id": "a2", "type": "perp", "chain": "arbitrum", "asset": "BTC", "side": "short", "notional_usd": 1e6,
         "leverage": 20, "maintenance_margin": 0.02, "liquidation_penalty": 0.01},
        {"id": "b1", "type": "perp", "chain": "base", "asset": "ETH", "side": "short", "notional_usd": 1e6,
         "leverage": 30, "maintenance_margin": 0.01, "liquidation_penalty": 0.01},
        {"id": "b2", "type": "option", "chain": "base", "asset": "ETH", "kind": "put", "quantity": -200,
         "strike_usd": 2900, "expiry": "12h", "implied_vol": 0.7},
        {"id": "o1", "type": "loan", "chain": "optimism", "collateral_asset": "ETH", "collateral_amount": 500,
         "debt_usd": 1.2e6, "liquidation_threshold": 0.82, "liquidation_bonus": 0.05, "close_factor": 0.5},
        {"id": "o2", "type": "option", "chain": "optimism", "asset": "BTC", "kind": "call", "quantity": -5,
         "strike_usd": 95000, "expiry": "3d", "implied_vol": 0.55},
    ]
    return make_book(pos, assets_override={"ETH": ETH, "BTC": BTC}, correlations=[["ETH", "BTC", 0.7]],
                     markets=[{"chain": "arbitrum", "asset": "ETH", "open_interest_usd": 5e7, "long_share": 0.6,
                               "leverage": [5, 20, 50], "maintenance_margin": 0.01}])


def rich_model() -> OutageModel:
    ln = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.2})
    short = DurationLaw("lognormal", {"median_s": 60.0, "sigma": 1.0})
    types = {"downtime": 20.0, "degraded": 20.0, "censorship": 10.0, "reorg": 10.0, "da_delay": 10.0}
    laws = {t: (ln if t != "reorg" else short) for t in types}
    return OutageModel(
        chains={c: ChainOutageLaw(c, types, laws, forced_inclusion_delay_s=7200.0 if c == "base" else None)
                for c in ("arbitrum", "base", "optimism")},
        shocks=(CommonShock("op", ("base", "optimism"), 10.0, ln),), beta=0.8, sigma_ref=0.6,
        hawkes=Hawkes(0.3, 4.0))


SC = dict(horizon_s=3 * 86400.0, seed=123, regimes=[Regime(name="calm", switch_rates_per_year={"stressed": 20}),
                                                    Regime(name="stressed", switch_rates_per_year={"calm": 50})],
          paths=2 * BLOCK_PATHS + 300, grace_period_s=900.0, top_up_share_max=0.3, settlement="stale",
          keep_paths=True)


@pytest.fixture(scope="module")
def runs() -> dict[str, object]:
    book, model = rich_book(), rich_model()
    out = {}
    for name, extra in {"one": dict(chunk_paths=BLOCK_PATHS), "big": dict(chunk_paths=10 * BLOCK_PATHS),
                        "workers": dict(chunk_paths=BLOCK_PATHS, workers=2)}.items():
        out[name] = simulate(book, model, Scenario(**(SC | extra)))
    return out


def test_chunkings_and_workers_give_identical_numbers(runs: dict) -> None:  # type: ignore[type-arg]
    ref = runs["one"]
    for name in ("big", "workers"):
        other = runs[name]
        pd.testing.assert_frame_equal(ref.measures, other.measures, check_exact=True)
        pd.testing.assert_frame_equal(ref.positions, other.positions, check_exact=True)
        pd.testing.assert_frame_equal(ref.path_losses(), other.path_losses(), check_exact=True)
    assert ref.diagnostics["cascades"] > 0
    assert ref.diagnostics["events"] > ref.n_paths


def test_every_event_type_costs_something(runs: dict) -> None:  # type: ignore[type-arg]
    comp = runs["one"].components.set_index("component")
    for c in ("liquidation", "hedging", "settlement", "reorg", "degraded", "capital"):
        assert comp.loc[c, "holder_expected_loss_usd"] != 0.0, c


def test_prefix_of_a_longer_run_is_the_same_paths() -> None:
    """The same paths whatever the run length (the weight column, p / N, is the only one that scales with N)."""
    book, model = rich_book(), rich_model()
    a = simulate(book, model, Scenario(**(SC | dict(paths=BLOCK_PATHS + 10)))).path_losses().drop(columns="weight")
    b = simulate(book, model, Scenario(**(SC | dict(paths=3 * BLOCK_PATHS)))).path_losses().drop(columns="weight")
    pd.testing.assert_frame_equal(a.iloc[:BLOCK_PATHS].reset_index(drop=True),
                                  b.iloc[:BLOCK_PATHS].reset_index(drop=True), check_exact=True)


def test_common_random_numbers_make_paired_differences_precise() -> None:
    """Grace period vs none on the same seed: the paired difference has a far smaller error."""
    book, model = rich_book(), rich_model()
    base = simulate(book, model, Scenario(**(SC | dict(grace_period_s=0.0, top_up_share_max=0.0))))
    mit = simulate(book, model, Scenario(**(SC | dict(grace_period_s=300.0, top_up_share_max=0.1))))
    np.testing.assert_array_equal(base.path_losses().p_event, mit.path_losses().p_event)
    d, d_se = mit.paired_difference(base)
    a, a_se = mit.value("expected_loss")
    b, b_se = base.value("expected_loss")
    assert d == pytest.approx(a - b, rel=1e-9, abs=1e-9)
    assert d_se < 0.6 * math.sqrt(a_se ** 2 + b_se ** 2)
    # a smooth lever (more holders topping up within the same grace period) is paired almost exactly
    t1 = simulate(book, model, Scenario(**(SC | dict(top_up_share_max=0.35))))
    t0 = simulate(book, model, Scenario(**SC))
    d2, d2_se = t1.paired_difference(t0)
    assert d2 < 0
    assert d2_se < 0.1 * math.sqrt(t1.value("expected_loss")[1] ** 2 + t0.value("expected_loss")[1] ** 2)
    # moving nothing but the margin buffer keeps every outage and market path
    buf = simulate(book, model, Scenario(**(SC | dict(margin_buffer=0.02))))
    assert buf.diagnostics["events"] == simulate(book, model, Scenario(**SC)).diagnostics["events"]


def test_conditional_and_plain_sampling_agree() -> None:
    book, model = rich_book(), rich_model()
    sc = SC | dict(paths=4 * BLOCK_PATHS, horizon_s=86400.0)
    c = simulate(book, model, Scenario(**sc))
    p = simulate(book, model, Scenario(**(sc | dict(conditional_sampling=False, seed=7))))
    for persp in ("holder", "venue"):
        v1, s1 = c.value("expected_loss", perspective=persp)
        v2, s2 = p.value("expected_loss", perspective=persp)
        assert abs(v1 - v2) < 4 * math.sqrt(s1 * s1 + s2 * s2) + 1e-9
    assert c.diagnostics["mean_p_event"] < 1.0
    assert p.diagnostics["mean_p_event"] == 1.0
