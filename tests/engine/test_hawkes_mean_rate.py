"""The model file's rates are long-run mean rates: self-excitation must not add events on top of them."""

from __future__ import annotations

import math

import pytest

from seqrisk.engine import Scenario, simulate
from seqrisk.outage import ChainOutageLaw, DurationLaw, Hawkes, OutageModel
from seqrisk.portfolio import book_from_dict


@pytest.mark.parametrize("branching", [0.0, 0.5])
def test_mean_event_count_equals_the_fitted_rate(branching: float) -> None:
    rate, years, decay_per_day, n = 12.0, 1.0, 10.0, 10_000
    law = DurationLaw("fixed", {"duration_s": 60.0})
    book = book_from_dict({"assets": {"ETH": {"spot_usd": 2000.0, "vol": 0.8}}, "positions": [
        {"id": "a", "chain": "arbitrum", "type": "perp", "asset": "ETH", "side": "long", "notional_usd": 1e6,
         "leverage": 2}]}, chains=["arbitrum"])
    model = OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {"downtime": rate}, {"downtime": law})},
                        hawkes=Hawkes(branching, decay_per_day) if branching else None)
    res = simulate(book, model, Scenario(paths=n, seed=11, horizon_s=years * 365 * 86400.0,
                                         conditional_sampling=False, keep_paths=False))
    mean = res.diagnostics["arrivals"] / n
    # variance of a stationary Hawkes count over T: rate T / (1 - branching)^2; start-up shortfall is
    # rate * branching / ((1 - branching) * decay * T), about 0.003 here
    se = math.sqrt(rate * years / (1 - branching) ** 2 / n)
    assert abs(mean - rate * years) < 4 * se + 0.01
