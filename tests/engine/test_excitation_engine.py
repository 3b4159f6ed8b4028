"""The engine samples the model's cross-chain excitation: mean rates kept, co-outages as the model says."""

from __future__ import annotations

import numpy as np
import pytest

from seqrisk.engine import Scenario
from seqrisk.engine.events import build_excitation, sample_block_events
from seqrisk.outage import ChainOutageLaw, DurationLaw, Hawkes, OutageModel
from seqrisk.stats.simulate import simulate_history

DAY = 86400.0
T = 60 * DAY
LAW = DurationLaw("fixed", {"duration_s": 600.0})


def _model(within: float, cross: float, decay_per_day: float = 0.2) -> OutageModel:
    rates = {"a": 2.0, "b": 4.0, "c": 6.0}
    return OutageModel(chains={c: ChainOutageLaw(c, {"downtime": r}, {"downtime": LAW}) for c, r in rates.items()},
                       hawkes=Hawkes(within, decay_per_day, cross) if within + cross > 0 else None)


def _engine_counts(model: OutageModel, chains: list[str], n: int, seed: int = 0, horizon_s: float = T) -> np.ndarray:
    _, cells, ex = build_excitation(model, chains)
    ev = sample_block_events(np.random.default_rng(seed), n, horizon_s, cells, np.zeros((n, 1)), np.ones((n, 1)),
                             conditional=False, excitation=ex)
    out = np.zeros((n, len(chains)), np.int64)
    np.add.at(out, (ev.path, ev.chain), 1)
    return out


def test_engine_counts_and_co_outages_match_an_independent_simulation_of_the_model() -> None:
    # the statistics' history simulator (stats.simulate, written for the predictive checks) and the engine's
    # sampler implement the same multichain Hawkes model independently; their joint counts must agree
    n = 40_000
    model = _model(0.2, 0.4)
    eng = _engine_counts(model, ["a", "b", "c"], n)
    hist = simulate_history(model, {c: [(0.0, T)] for c in ("a", "b", "c")}, n, seed=1, posterior=False)
    ref = hist.counts()[:, :, 0]
    for k in range(3):
        se = np.sqrt(eng[:, k].var() / n + ref[:, k].var() / n)
        assert eng[:, k].mean() == pytest.approx(ref[:, k].mean(), abs=4 * se)
    both = (eng[:, 0] > 0) & (eng[:, 1] > 0)
    both_ref = (ref[:, 0] > 0) & (ref[:, 1] > 0)
    assert both.mean() == pytest.approx(both_ref.mean(), abs=4 * np.sqrt(2 * 0.25 / n))
    def cov(x: np.ndarray) -> tuple[float, float]:
        prod = (x[:, 0] - x[:, 0].mean()) * (x[:, 1] - x[:, 1].mean())
        return float(prod.mean()), float(prod.std() / np.sqrt(prod.size))

    (c_e, se_e), (c_r, se_r) = cov(eng), cov(ref)
    assert c_e == pytest.approx(c_r, abs=4 * np.hypot(se_e, se_r))
    assert c_e > 10 * se_e  # cross-chain excitation makes counts of different chains covary


def test_mean_rates_are_kept_and_unsimulated_chains_still_excite_the_simulated() -> None:
    # immigrant rates keep each chain's fitted mean rate; chains outside the book still beget follow-ons on it
    n = 40_000
    model = _model(0.1, 0.5, decay_per_day=5.0)  # fast decay: the start-up shortfall is small
    full = _engine_counts(model, ["a", "b", "c"], n)
    only_a = _engine_counts(model, ["a"], n, seed=3)
    years = T / (365 * DAY)
    for k, r in enumerate((2.0, 4.0, 6.0)):
        assert full[:, k].mean() == pytest.approx(r * years, rel=0.04)
    assert only_a[:, 0].mean() == pytest.approx(2.0 * years, rel=0.04)


def test_the_stress_knob_replaces_the_cross_chain_excitation() -> None:  # counts covary only when stressed
    n = 40_000
    base = _model(0.0, 0.0)
    stressed = Scenario(cross_branching=0.6).outage_model(base)
    assert stressed.hawkes is not None and stressed.hawkes.cross_branching == 0.6
    assert stressed.hawkes.decay_per_day == 0.05
    # over 3 years (the process starts with no past outage: over a horizon H it misses about
    # n / ((1 - n) decay H) of the mean count, 3% here): the same mean counts, more joint outages
    h = 3 * 365 * DAY
    indep = _engine_counts(base, ["a", "b"], n // 4, horizon_s=h)
    dep = _engine_counts(stressed, ["a", "b"], n // 4, seed=5, horizon_s=h)
    assert dep[:, 0].mean() == pytest.approx(indep[:, 0].mean(), rel=0.08)
    r_dep, r_indep = np.corrcoef(dep.T)[0, 1], np.corrcoef(indep.T)[0, 1]
    assert abs(r_indep) < 4 / np.sqrt(indep.shape[0]) and r_dep > 0.2
    off = Scenario(cross_branching=0.0).outage_model(_model(0.1, 0.4))
    assert off.hawkes is not None and off.hawkes.cross_branching == 0.0 and off.hawkes.branching == 0.1


def test_the_independent_twin_keeps_every_chains_rates_and_drops_joint_outages() -> None:
    from seqrisk.outage import CommonShock

    laws = {c: ChainOutageLaw(c, {"downtime": 1.0}, {"downtime": LAW}) for c in ("a", "b", "c")}
    shock = CommonShock("g", ("a", "b", "c"), 3.0, LAW, "downtime", type_mix={"downtime": 0.75, "degraded": 0.25},
                        durations={"downtime": LAW, "degraded": LAW}, extra_hit_probability=0.5)
    model = OutageModel(chains=laws, shocks=(shock,), hawkes=Hawkes(0.05, 1.0, 0.1))
    twin = model.independent()
    assert twin.hawkes is not None and twin.hawkes.cross_branching == 0.0 and twin.hawkes.branching == 0.05
    n, h = 40_000, 365 * DAY
    for m in (model, twin):
        _, cells, ex = build_excitation(m, ["a", "b"])
        ev = sample_block_events(np.random.default_rng(9), n, h, cells, np.zeros((n, 1)), np.ones((n, 1)),
                                 conditional=False, excitation=ex)
        per = [np.sum(ev.chain == k) / n for k in (0, 1)]
        # own 1/yr plus the shock's hits: 3/yr * P(hit) = 3 * (2 + 0.5) / 3 = 2.5/yr (start-up shortfall ~3%)
        assert per == pytest.approx([3.5, 3.5], rel=0.05)
        same_time = np.intersect1d(ev.t0[(ev.chain == 0)], ev.t0[(ev.chain == 1)]).size
        assert (same_time > 1000) if m is model else same_time == 0
