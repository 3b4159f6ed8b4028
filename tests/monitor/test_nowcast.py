"""The now-cast: the conditional duration law against closed forms, and book losses that behave."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from seqrisk.exceptions import UnknownChainError, UsageError
from seqrisk.monitor.nowcast import (
    SCHEMA,
    expected_remaining,
    nowcast,
    remaining_quantile,
    remaining_sf,
    sample_remaining,
)
from seqrisk.outage import DurationLaw, OutageModel, PredictiveDuration
from seqrisk.portfolio.load import load_book

EXAMPLE_MODEL = OutageModel.load("examples/outage-model.json")
MU, SIG = math.log(3600.0), 1.2  # arbitrum's downtime law in the example model


def _ln_partial_mean(mu: float, s: float, a: float) -> float:
    """E[(D - a)^+] for log D ~ N(mu, s^2), closed form."""
    la = math.log(a)
    return math.exp(mu + s * s / 2) * stats.norm.cdf((mu + s * s - la) / s) - a * stats.norm.sf((la - mu) / s)


@pytest.mark.parametrize("a", [60.0, 420.0, 3600.0, 6 * 3600.0, 7 * 86400.0])
def test_lognormal_closed_forms(a: float) -> None:
    law = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": SIG})
    ref = stats.lognorm(s=SIG, scale=3600.0)
    t = np.array([900.0, 3600.0, 21600.0])
    np.testing.assert_allclose(remaining_sf(law, a, t), ref.sf(a + t) / ref.sf(a), rtol=1e-10)
    assert expected_remaining(law, a) == pytest.approx(_ln_partial_mean(MU, SIG, a) / ref.sf(a), rel=1e-5)
    sa = ref.sf(a)
    med = math.exp(MU + SIG * stats.norm.isf(0.5 * sa)) - a
    assert remaining_quantile(law, a, 0.5) == pytest.approx(med, rel=1e-8)


def test_predictive_law_closed_form() -> None:
    """A lognormal predictive mixture: each draw is lognormal(loc, sqrt(loc_sd^2 + sigma^2))."""
    loc, sd, sig = np.log([600.0, 3600.0, 20000.0]), np.array([0.3, 0.5, 0.0]), np.array([1.0, 1.5, 0.8])
    law = PredictiveDuration("lognormal", loc, sd, sig)
    s = np.sqrt(sd ** 2 + sig ** 2)
    for a in (300.0, 7200.0):
        sf = np.array([stats.norm.sf((math.log(a) - m) / v) for m, v in zip(loc, s, strict=True)])
        pm = np.array([_ln_partial_mean(m, v, a) for m, v in zip(loc, s, strict=True)])
        assert expected_remaining(law, a) == pytest.approx(pm.sum() / sf.sum(), rel=1e-4)
        sf_t = np.array([stats.norm.sf((math.log(a + 3600) - m) / v) for m, v in zip(loc, s, strict=True)])
        assert remaining_sf(law, a, 3600.0) == pytest.approx(sf_t.sum() / sf.sum(), rel=1e-9)


def test_conditional_samples_follow_the_conditional_law() -> None:
    law = DurationLaw("weibull", {"scale_s": 3000.0, "shape": 0.7})
    a = 1800.0
    d = sample_remaining(law, a, np.random.default_rng(3).random(20_000))
    assert d.min() >= a
    ref = stats.weibull_min(c=0.7, scale=3000.0)
    cond = lambda x: 1 - ref.sf(x) / ref.sf(a)  # noqa: E731
    assert stats.kstest(d, cond).pvalue > 1e-3


def test_nowcast_figures_and_json() -> None:
    nc = nowcast("arbitrum", 420.0, model=EXAMPLE_MODEL)
    ref = stats.lognorm(s=SIG, scale=3600.0)
    p = {lab: x for lab, _, x in nc.p_still_down}
    assert p["+1h"] == pytest.approx(ref.sf(420 + 3600) / ref.sf(420), rel=1e-9)
    assert p["+15m"] > p["+1h"] > p["+6h"]
    fid = nc.forced_inclusion_delay_s
    assert fid is not None and nc.p_still_down_at_forced_inclusion == pytest.approx(ref.sf(fid) / ref.sf(420),
                                                                                    rel=1e-9)
    doc = json.loads(json.dumps(nc.to_dict(), allow_nan=False))
    assert doc["schema"] == SCHEMA and doc["books"] == []
    # the longer it has lasted, the longer it is expected to last (lognormal: decreasing hazard in the tail)
    later = nowcast("arbitrum", 6 * 3600.0, model=EXAMPLE_MODEL)
    assert later.expected_remaining_s > nc.expected_remaining_s
    assert later.p_still_down_at_forced_inclusion is not None
    assert later.p_still_down_at_forced_inclusion > nc.p_still_down_at_forced_inclusion


def test_book_loss_rises_with_down_for() -> None:
    """A long-only levered book loses more, and is liquidated more often, the longer the outage has lasted."""
    book = load_book("examples/first-steps.yaml")
    early = nowcast("arbitrum", 0.0, model=EXAMPLE_MODEL, books=[book], paths=4000, seed=1).books[0]
    late = nowcast("arbitrum", 12 * 3600.0, model=EXAMPLE_MODEL, books=[book], paths=4000, seed=1).books[0]
    assert late.expected_loss_usd - early.expected_loss_usd > 3 * math.hypot(late.expected_loss_se_usd,
                                                                             early.expected_loss_se_usd)
    assert late.p_liquidation - early.p_liquidation > 3 * math.hypot(late.p_liquidation_se, early.p_liquidation_se)
    assert late.es_usd >= late.expected_loss_usd
    top = late.positions[0]
    assert top.id == "eth-long" and top.top_up_usd == pytest.approx(1e5)
    assert top.saved_usd is not None and top.saved_se_usd is not None
    assert 0 < top.saved_usd <= top.expected_loss_usd + 3 * top.saved_se_usd
    # same inputs and seed: the same numbers
    again = nowcast("arbitrum", 12 * 3600.0, model=EXAMPLE_MODEL, books=[book], paths=4000, seed=1).books[0]
    assert again == late


def test_book_without_positions_on_the_chain() -> None:
    book = load_book("examples/first-steps.yaml")
    b = nowcast("optimism", 600.0, model=EXAMPLE_MODEL, books=[book], paths=64).books[0]
    assert b.note is not None and "no position" in b.note and b.expected_loss_usd == 0.0


def test_bad_input() -> None:
    with pytest.raises(UnknownChainError):
        nowcast("arbitrun", 60.0, model=EXAMPLE_MODEL)
    with pytest.raises(UsageError, match="down-for"):
        nowcast("arbitrum", -1.0, model=EXAMPLE_MODEL)
    with pytest.raises(UsageError, match="es_level"):
        nowcast("arbitrum", 1.0, model=EXAMPLE_MODEL, es_level=1.0)
