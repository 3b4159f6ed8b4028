"""The engine's outage sampler against the model's closed forms: shock hit laws, type mixes, predictive laws."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from seqrisk.engine.events import EVENT_CODES, build_cells, sample_block_events
from seqrisk.outage import ChainOutageLaw, CommonShock, DurationLaw, OutageModel, PredictiveDuration

YEAR = 365 * 86400.0
LN = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0})
MINUTE = DurationLaw("fixed", {"duration_s": 60.0})


def _model(q: float | None, n_chains: int = 10, shock_rate: float = 2.0) -> OutageModel:
    chains = [f"c{i}" for i in range(n_chains)]
    laws = {c: ChainOutageLaw(c, {"downtime": 0.1}, {"downtime": LN}) for c in chains}
    shock = CommonShock("g", tuple(chains), shock_rate, LN, "downtime", type_mix={"downtime": 0.7, "degraded": 0.3},
                        durations={"downtime": LN, "degraded": MINUTE}, extra_hit_probability=q)
    return OutageModel(chains=laws, shocks=(shock,))


def _sample(model: OutageModel, chains: list[str], n: int, seed: int = 0):
    cells = build_cells(model, chains)
    return sample_block_events(np.random.default_rng(seed), n, YEAR, cells, np.zeros((n, 1)), np.ones((n, 1)),
                               conditional=False)


def test_thinned_shock_counts_types_and_co_outages_match_the_closed_form() -> None:
    q, n_all, rate = 0.2, 10, 2.0
    n = 200_000
    es = _sample(_model(q, n_all, rate), ["c0", "c1", "c2"], n)
    k = np.arange(2, n_all + 1)
    p_k = sps.binom.pmf(k - 2, n_all - 2, q)
    p_hit = float(p_k @ k) / n_all                          # a given member is hit
    p_pair = float(p_k @ (k * (k - 1))) / (n_all * (n_all - 1))  # two given members are both hit
    for c in range(3):
        down = np.sum((es.chain == c) & (es.type == EVENT_CODES["downtime"])) / n
        deg = np.sum((es.chain == c) & (es.type == EVENT_CODES["degraded"])) / n
        assert down == pytest.approx(0.1 + rate * p_hit * 0.7, rel=0.02)
        assert deg == pytest.approx(rate * p_hit * 0.3, rel=0.03)
    # co-outages: one arrival hitting both c0 and c1 (same path, same start)
    keys = {}
    for p, ch, t in zip(es.path, es.chain, es.t0, strict=True):
        keys.setdefault((int(p), float(t)), set()).add(int(ch))
    both = sum(1 for v in keys.values() if {0, 1} <= v) / n
    assert both == pytest.approx(rate * p_pair, rel=0.03)
    # a degraded hit takes the degraded law (a minute); durations of one arrival are comonotone
    assert np.all(es.dur[es.type == EVENT_CODES["degraded"]] == 60.0)


def test_marshall_olkin_shock_still_hits_every_simulated_member() -> None:
    es = _sample(_model(None, 4, 1.0), ["c0", "c1"], 50_000, seed=1)
    shock = es.dur > 0
    keys = {}
    for p, ch, t in zip(es.path[shock], es.chain[shock], es.t0[shock], strict=True):
        keys.setdefault((int(p), float(t)), set()).add(int(ch))
    multi = [v for v in keys.values() if len(v) > 1]
    assert len(multi) / 50_000 == pytest.approx(1.0, rel=0.03)   # every shock event hits both


def test_predictive_durations_are_sampled_from_the_predictive_law() -> None:
    law = PredictiveDuration.from_draws("weibull", [8.0, 9.0, 7.5, 8.2], [0.8, 0.0, 0.5, 1.2], [0.7, 0.9, 0.6, 1.0])
    model = OutageModel(chains={"a": ChainOutageLaw("a", {"downtime": 5.0}, {"downtime": law})})
    es = _sample(model, ["a"], 40_000, seed=2)
    assert es.dur.size > 100_000
    assert sps.kstest(es.dur, law.cdf).pvalue > 0.001
