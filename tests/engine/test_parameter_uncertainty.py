"""Parameter uncertainty in the engine: each path draws its outage parameters from their posterior."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from seqrisk.engine import Scenario, simulate
from seqrisk.engine.events import build_cells, sample_block_events
from seqrisk.exceptions import DataError, UsageError
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel, PredictiveDuration, rate_draws

from .conftest import make_book

YEAR = 365 * 86400.0


def _model(shape: float = 2.0, rate_years: float = 4.0) -> OutageModel:
    """One chain whose downtime rate is known only as Gamma(shape, rate_years) (mean 0.5/yr), its durations
    as a predictive law over an unknown location (loc_sd 1.5, sigma 0.5)."""
    law = PredictiveDuration("lognormal", np.array([np.log(3600.0)]), np.array([1.5]), np.array([0.5]))
    return OutageModel(chains={"base": ChainOutageLaw("base", {"downtime": shape / rate_years}, {"downtime": law},
                                                      rate_draws={"downtime": rate_draws([shape], [rate_years])})})


def _events(model: OutageModel, n: int, params: bool, seed: int = 0):
    cells = build_cells(model, ["base"])
    return sample_block_events(np.random.default_rng(seed), n, YEAR, cells, np.zeros((n, 1)), np.ones((n, 1)),
                               conditional=False, params=np.random.default_rng(seed + 1) if params else None)


def test_counts_per_path_are_negative_binomial_with_uncertainty_and_poisson_without() -> None:
    n = 200_000
    for params in (True, False):
        ev = _events(_model(), n, params)
        k = np.bincount(ev.path, minlength=n)
        law = sps.nbinom(2.0, 4.0 / 5.0) if params else sps.poisson(0.5)
        se = np.sqrt(law.var() / n)
        assert k.mean() == pytest.approx(0.5, abs=4 * se)
        assert np.mean(k == 0) == pytest.approx(law.pmf(0), abs=4 * np.sqrt(law.pmf(0) * (1 - law.pmf(0)) / n))
        assert k.var() == pytest.approx(law.var(), rel=0.03)  # 0.625 with uncertainty, 0.5 without


def test_a_paths_outages_of_one_chain_share_its_duration_parameters() -> None:
    # with parameter uncertainty the path fixes the chain's location: two outages on one path have log
    # durations correlated loc_sd^2 / (loc_sd^2 + sigma^2) = 0.9; with point estimates they are independent
    n = 400_000
    for params, rho in ((True, 2.25 / 2.5), (False, 0.0)):
        ev = _events(_model(shape=40.0, rate_years=20.0), n, params)  # ~2 outages per path
        order = np.lexsort((ev.t0, ev.path))
        p, d = ev.path[order], np.log(ev.dur[order])
        first = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
        has2 = first[(first + 1 < p.size)]
        has2 = has2[p[has2 + 1] == p[has2]]
        r = np.corrcoef(d[has2], d[has2 + 1])[0, 1]
        assert r == pytest.approx(rho, abs=0.02)
        # the marginal law of one duration is the predictive law either way
        assert np.median(d) == pytest.approx(np.log(3600.0), abs=0.03)


def _run(model: OutageModel, **kw: object):
    book = make_book([{"id": "p", "type": "perp", "chain": "base", "asset": "ETH", "size": 50.0, "leverage": 10.0}])
    sc = Scenario(horizon_s=YEAR, paths=3 * 4096, seed=7, **kw)  # type: ignore[arg-type]
    return simulate(book, model, sc)


def test_parameter_uncertainty_is_deterministic_chunk_invariant_and_runs_on_numpy() -> None:
    m = _model()
    a = _run(m, parameter_uncertainty=True, chunk_paths=4096)
    b = _run(m, parameter_uncertainty=True, chunk_paths=3 * 4096)
    assert a.value("es", level=0.99) == b.value("es", level=0.99)
    assert a.value("expected_loss") == b.value("expected_loss")
    assert a.diagnostics["engine"] == 0.0
    with pytest.raises(UsageError, match="parameter uncertainty"):
        _run(m, parameter_uncertainty=True, engine="kernel")
    point = _run(m)
    assert point.value("expected_loss") != a.value("expected_loss")


def test_a_model_without_draws_refuses_parameter_uncertainty() -> None:
    law = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0})
    m = OutageModel(chains={"base": ChainOutageLaw("base", {"downtime": 0.5}, {"downtime": law})})
    with pytest.raises(DataError, match="posterior draws"):
        _run(m, parameter_uncertainty=True)
