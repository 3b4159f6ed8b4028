"""Measures of the comparison against the engine's own figures and a sorted reference."""

from __future__ import annotations

import numpy as np
import pytest

from seqrisk.decide import to_outcome
from seqrisk.decide.measures import _tail, _var, measure
from seqrisk.engine import Scenario, simulate
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import book_from_dict


def test_partial_sort_var_matches_the_engine_quantile() -> None:
    rng = np.random.default_rng(0)
    for t in range(60):
        n = int(rng.integers(50, 3000))
        x = np.where(rng.random(n) < rng.random(), rng.lognormal(size=n) * rng.choice([-1, 1, 1, 1], n), 0.0)
        p = np.full(n, rng.uniform(0.05, 1)) if t % 2 else rng.uniform(0.05, 1, n)
        for a in (0.9, 0.99, 0.999):
            assert _var(x, p, a) == pytest.approx(_tail(x, p, a)["var"])


def test_measures_reproduce_the_engine_figures() -> None:
    law = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0})
    model = OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {"downtime": 6.0}, {"downtime": law})})
    book = book_from_dict({"assets": {"ETH": {"spot_usd": 2000.0, "vol": 0.8}}, "positions": [
        {"id": "a", "chain": "arbitrum", "type": "perp", "asset": "ETH", "side": "long", "notional_usd": 1e6,
         "leverage": 15, "maintenance_margin": 0.03}]}, chains=["arbitrum"])
    res = simulate(book, model, Scenario(paths=4096, seed=3, horizon_s=30 * 86400.0, keep_paths=True))
    out = to_outcome(res)
    assert out.p_event is not None
    el = measure(out.holder_usd, "el", out.p_event)[0]
    assert (el.value, el.se) == pytest.approx(res.value("expected_loss"))
    for lv in (0.99, 0.999):
        es = measure(out.holder_usd, f"es{lv * 100:g}", out.p_event)[0]
        var = measure(out.holder_usd, f"var{lv * 100:g}", out.p_event)[0]
        assert (es.value, es.se) == pytest.approx(res.value("es", level=lv))
        assert (var.value, var.se) == pytest.approx(res.value("var", level=lv))
