"""The now-cast: the conditional duration law against closed forms, and book losses that behave."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from seqrisk.engine.scenario import Scenario
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


def test_a_top_up_also_freezes_its_collateral_so_its_saving_falls_with_the_cost_of_capital() -> None:
    """The saving of a top-up is the liquidations it avoids minus the cost of its own collateral, frozen with the
    rest for the outage: on common random numbers it falls linearly in the cost of capital, by about the
    collateral's cost over the expected outage, and is not negative when capital costs nothing."""
    from seqrisk.units import YEAR_S

    desk = load_book("examples/desk.yaml")
    put = next(p for p in desk.positions if p.id == "base-eth-put")  # short, margined: rarely liquidated
    book = desk.model_copy(update={"positions": [put.model_copy(update={"initial_margin": 0.05})]})
    a, top_up = 2 * 3600.0, 0.1 * 1000 * 3000.0  # 10% of the put's notional at spot

    def top(coc: float) -> tuple[float, float, float]:
        nc = nowcast("base", a, model=EXAMPLE_MODEL, books=[book], paths=4000, seed=3,
                     scenario=Scenario(cost_of_capital=coc))
        p = nc.books[0].positions[0]
        assert p.id == "base-eth-put" and p.saved_usd is not None and p.saved_se_usd is not None
        assert p.top_up_usd == pytest.approx(top_up)
        return p.saved_usd, p.saved_se_usd, nc.expected_remaining_s

    s0, se0, remaining = top(0.0)
    s8, _, _ = top(0.08)
    s16, _, _ = top(0.16)
    assert s0 >= -3 * se0
    assert s8 - s16 == pytest.approx(s0 - s8, rel=1e-6)  # the cost term is linear and shares every draw
    cost = 0.08 * top_up * (a + remaining) / YEAR_S  # the collateral's cost over the expected outage
    assert 0.5 * cost < s0 - s8 < 2 * cost


def test_the_monitors_nowcaster_reads_its_books_and_scenario_at_start(tmp_path: Path) -> None:
    """The monitor's now-cast runs the config's books under the config's scenario; a bad book or scenario file
    stops the monitor at start with the file and field, rather than failing every down alert later."""
    from seqrisk.catalog import load_catalog
    from seqrisk.exceptions import DataError
    from seqrisk.monitor.config import load_monitor_config
    from seqrisk.monitor.runner import default_nowcaster

    cat = load_catalog()
    (tmp_path / "scenario.yaml").write_text("cost_of_capital: 1.0\n")
    figures = {}
    for name, extra in (("plain", ""), ("dear", ", scenario: scenario.yaml")):
        cfg_file = tmp_path / f"{name}.yaml"
        cfg_file.write_text("chains: [arbitrum]\n"
                            f"nowcast: {{books: [{Path('examples/first-steps.yaml').resolve()}], paths: 400{extra}}}\n")
        run = default_nowcaster(EXAMPLE_MODEL, cat, load_monitor_config(cfg_file))
        figures[name] = run("arbitrum", 3600.0)["books"][0]["expected_loss_usd"]
        # the same as the library's now-cast of that book under that scenario
        sc = Scenario(cost_of_capital=1.0) if extra else None
        lib = nowcast("arbitrum", 3600.0, model=EXAMPLE_MODEL, books=["examples/first-steps.yaml"], paths=400,
                      catalog=cat, scenario=sc)
        assert figures[name] == lib.books[0].expected_loss_usd
    assert figures["dear"] > figures["plain"]  # frozen capital costs more
    (tmp_path / "bad.yaml").write_text("cost_of_capital: -1\n")
    cfg_file = tmp_path / "bad-config.yaml"
    cfg_file.write_text("chains: [arbitrum]\nnowcast: {scenario: bad.yaml}\n")
    with pytest.raises(DataError) as ei:
        default_nowcaster(EXAMPLE_MODEL, cat, load_monitor_config(cfg_file))
    assert "cost_of_capital" in str(ei.value) and "bad.yaml" in str(ei.value)
    cfg_file.write_text("chains: [arbitrum]\nnowcast: {books: [missing-book.yaml]}\n")
    with pytest.raises(DataError, match=r"missing-book\.yaml"):
        default_nowcaster(EXAMPLE_MODEL, cat, load_monitor_config(cfg_file))
