"""The issue's properties of the levers, on the real loss engine (small seeded runs).

Liquidation per path is read from the attributable losses of a perps-only book
with ``cost_of_capital = 0``: a path then loses anything only through a
liquidation (holder equity or venue bad debt).
"""

from __future__ import annotations

import numpy as np
import pytest

from seqrisk.decide import ForcedInclusion, GracePeriod, MarginBuffer, Setup, compare, to_outcome
from seqrisk.engine import Scenario, StressOutage, simulate
from seqrisk.engine.prepare import prepare
from seqrisk.engine.sampling import sample_chunk
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import Book, book_from_dict

CHAINS = ("arbitrum", "base")


def _book(sides: tuple[str, ...] = ("long", "short")) -> Book:
    pos = [{"id": f"{s}{i}", "chain": "arbitrum", "type": "perp", "asset": "ETH", "side": s,
            "notional_usd": 1e6 * (1 + i), "leverage": lev, "maintenance_margin": 0.025}
           for s in sides for i, lev in enumerate((20, 12, 8))]
    return book_from_dict({"assets": {"ETH": {"spot_usd": 2000.0, "vol": 0.8}}, "positions": pos}, chains=CHAINS)


def _model(delay_s: float | None = None) -> OutageModel:
    law = DurationLaw("lognormal", {"median_s": 3 * 3600.0, "sigma": 1.0})
    return OutageModel(chains={c: ChainOutageLaw(c, {"downtime": 12.0}, {"downtime": law},
                                                 forced_inclusion_delay_s=delay_s) for c in CHAINS})


def _sc(**kw: object) -> Scenario:
    base: dict[str, object] = dict(horizon_s=30 * 86400.0, paths=4096, seed=7, forced_inclusion=False,
                                   cost_of_capital=0.0, keep_paths=True)
    return Scenario(**(base | kw))


def _run(book: Book, model: OutageModel, sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    out = to_outcome(simulate(book, model, sc))
    return np.asarray(out.holder_usd), np.asarray(out.venue_usd)


@pytest.mark.parametrize("grace_s", [600.0, 3600.0, 4 * 3600.0])
def test_grace_with_full_top_up_never_increases_liquidation(grace_s: float) -> None:
    book, model = _book(), _model()
    base, _ = _run(book, model, _sc())
    # every holder would top up and responds within a second: the grace period saves all it can
    fast = _sc(response_median_s=0.5, response_sigma=0.1)
    setup = GracePeriod(grace_s, top_up_share_max=1.0).apply(Setup(book=book, scenario=fast, model=model))
    graced, _ = _run(book, model, setup.scenario)
    assert np.mean(base > 0) > 0.02  # the baseline liquidates on some paths
    assert np.all((graced > 1e-9) <= (base > 1e-9))  # per path: liquidated with grace => liquidated without
    assert np.all(graced <= base + 1e-6)
    flags = to_outcome(simulate(book, model, setup.scenario)).liquidated
    assert flags is not None
    assert not np.any(flags)  # the engine's own per-path flag agrees


def test_grace_without_top_up_never_helps_when_prices_fall() -> None:
    book, model = _book(("long",)), _model()
    sc0 = _sc(engine="numpy")  # the test reads the vectorised engine's own sample of the same paths
    sc1 = GracePeriod(3600.0, top_up_share_max=0.7, repay_blocked=True).apply(
        Setup(book=book, scenario=sc0, model=model)).scenario
    assert sc1.top_up_share_max == 0.0
    base, venue0 = _run(book, model, sc0)
    graced, venue1 = _run(book, model, sc1)
    # the engine's own sample of the graced run: prices at restart (t_eff) and at the end of the grace period
    cs = sample_chunk(prepare(book, model, sc1), sc1, [0])
    n_ev = np.bincount(cs.path, minlength=cs.n)
    fell_ev = cs.x_eval[:, 0] <= cs.x_eff[:, 0]
    fell = (np.bincount(cs.path, weights=fell_ev, minlength=cs.n) == n_ev) & (n_ev == 1)
    assert fell.sum() > 500
    liq0, liq1 = base + venue0 > 1e-9, graced + venue1 > 1e-9  # someone lost something: a liquidation
    assert liq0[fell].sum() > 10
    assert np.all(liq1[fell] >= liq0[fell])           # liquidated without grace => still liquidated
    assert np.all(venue1[fell] >= venue0[fell] - 1e-6)  # and the venue's bad debt only grows
    # with no top-up the grace period saves only positions whose price recovered by its end: over all paths
    # it does not raise P(liquidation) beyond noise
    assert liq1.mean() <= liq0.mean() + 3 * np.sqrt(liq0.mean() / liq0.size)


def test_full_margin_buffer_removes_liquidation_under_a_bounded_move() -> None:
    book = _book()
    sc0 = _sc(stress_outages=[StressOutage(chain="arbitrum", duration_s=6 * 3600.0)], horizon_s=86400.0)
    base, _ = _run(book, _model(), sc0)
    # a 6 h outage at 80 %/year moves the price by far less than the 100 % a 100 % buffer absorbs
    assert np.mean(base > 0) > 0.1
    buffered, _ = _run(book, _model(), MarginBuffer(1.0).apply(Setup(book=book, scenario=sc0, model=_model())).scenario)
    assert np.all(buffered == 0.0)


def test_forced_inclusion_bounds_exposure_at_the_delay() -> None:
    book, model = _book(), _model(delay_s=None)
    setup = ForcedInclusion(l1_inclusion_s=300.0, delays_s={"arbitrum": 1200.0, "base": 1200.0}).apply(
        Setup(book=book, scenario=_sc(), model=model))
    cs = sample_chunk(prepare(book, setup.model, setup.scenario), setup.scenario, [0])
    exposure, raw = cs.t_eff - cs.t0, cs.t1 - cs.t0
    assert raw.max() > 4 * 3600.0
    np.testing.assert_allclose(exposure, np.minimum(raw, 1500.0), rtol=1e-12)
    # and the losses fall with the exposure
    base, _ = _run(book, model, _sc())
    fi, _ = _run(book, setup.model, setup.scenario)
    assert np.mean(fi > 0) < 0.5 * np.mean(base > 0)


def test_paired_errors_on_the_engine_are_smaller_than_unpaired() -> None:
    book, model = _book(), _model()
    cmp = compare(book, model, _sc(), [GracePeriod(1800.0, 0.5), MarginBuffer(0.02), MarginBuffer(0.002)])
    for r in cmp.results[1:]:
        for key in ("holder.el", "venue.el", "holder.es99", "p_liquidation"):
            d = r.diffs[key]
            assert d.se < d.se_unpaired, (r.name, key, d)
    # the smaller the change, the more the common random numbers cancel
    small = cmp.results[3].diffs
    assert small["holder.el"].se < 0.5 * small["holder.el"].se_unpaired
    assert small["holder.es99"].se < 0.5 * small["holder.es99"].se_unpaired


def test_parametric_cover_on_the_engine_pays_with_the_closed_form_probability() -> None:
    import math

    from seqrisk.decide import Insure
    from seqrisk.decide.insurance import ParametricCover, Pricing, price_parametric, trigger_rate_per_year

    book, model = _book(), _model()
    cover = ParametricCover("arbitrum", 1e5, 6 * 3600.0)
    free = Pricing(loading=0.0, cost_of_capital_per_year=0.0)
    cmp = compare(book, model, _sc(paths=8192, cost_of_capital=0.08), [Insure(cover, free)])
    base, ins = cmp.outcomes
    payout = np.asarray(base.holder_usd) - np.asarray(ins.holder_usd)
    assert set(np.unique(np.round(payout))) <= {0.0, 1e5}
    # rows line up: a path that pays had a downtime, so its frozen collateral cost something
    assert np.all(np.asarray(base.holder_usd)[payout > 0] > 0)
    p = np.asarray(base.p_event) * (payout > 0)
    lam_t = trigger_rate_per_year(model, "arbitrum", 6 * 3600.0) * 30 / 365
    expect = -math.expm1(-lam_t)
    assert abs(p.mean() - expect) < 4 * p.std(ddof=1) / math.sqrt(p.size)
    # the premium charged is the closed form over the scenario's horizon
    cf = price_parametric(model, ParametricCover("arbitrum", 1e5, 6 * 3600.0, period_s=30 * 86400.0), free)
    assert cmp.results[1].costs_usd["premium"] == pytest.approx(cf.premium_usd)


def test_shared_sequencer_cuts_the_loss_but_links_the_chains() -> None:
    from seqrisk.decide import SharedSequencer

    book, model = _book(), _model()
    lever = SharedSequencer(("arbitrum", "base"), rate_factor=0.25, duration_factor=0.5, shock_rate_per_year=1.0)
    cmp = compare(book, model, _sc(cost_of_capital=0.08), [lever])
    d = cmp.results[1].diffs["holder.el"]
    assert d.value < -3 * d.se
    new = lever.transform(model)
    assert new.shocks[-1].members == ("arbitrum", "base")
    assert new.chains["arbitrum"].rates_per_year["downtime"] == pytest.approx(3.0)


def test_levers_act_on_the_scenario_explicit_outage_laws() -> None:
    from seqrisk.decide import SharedSequencer

    book = _book()
    quiet = OutageModel(chains={c: ChainOutageLaw(c, {"downtime": 0.01}, {"downtime": DurationLaw(
        "lognormal", {"median_s": 600.0, "sigma": 0.5})}) for c in CHAINS})
    sc = _sc(outages={"arbitrum": [{"rate_per_year": 12.0, "params": {"median_s": 3 * 3600.0, "sigma": 1.0}}]})
    off = SharedSequencer(("arbitrum",), rate_factor=0.0, duration_factor=1.0, shock_rate_per_year=0.0)
    cmp = compare(book, quiet, sc, [off])
    assert cmp.results[0].measures["holder.el"].value > 0
    assert cmp.results[1].measures["holder.el"].value == 0.0
