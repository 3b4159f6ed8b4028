"""Hawkes MLE: O(n) kernel sums equal the obvious O(n^2) twin; recovery with coverage; LR test size."""

from __future__ import annotations

import numpy as np
import pytest

from seqrisk.exceptions import DataError, NotFittedError
from seqrisk.stats import HawkesFitter, simulate_hawkes
from seqrisk.stats.hawkes import _excitation_sums, _excitation_sums_reference


@pytest.mark.parametrize("beta", [1e-3, 0.5, 7.0, 300.0, 1e5])
def test_excitation_sums_match_reference_twin(beta: float) -> None:
    t = np.sort(np.random.default_rng(1).uniform(0, 400, 300))
    assert np.allclose(_excitation_sums(t, beta), _excitation_sums_reference(t, beta), rtol=1e-9, atol=1e-12)


def test_simulation_has_the_stationary_mean_count() -> None:
    n = [simulate_hawkes(0.4, 0.5, 2.0, 500, seed=s).size for s in range(60)]
    assert np.mean(n) == pytest.approx(0.4 * 500 / (1 - 0.5), rel=0.05)


def test_loglik_at_the_optimum_beats_the_truth_and_poisson_nests() -> None:
    t = simulate_hawkes(0.5, 0.6, 3.0, 300, seed=4)
    f = HawkesFitter().fit(t, 300)
    assert f.loglik_ >= f.loglik_poisson_
    assert f.lr_stat_ == pytest.approx(2 * (f.loglik_ - f.loglik_poisson_))
    assert f.p_value_ < 1e-6
    s = f.summary()
    assert s.loc["branching", "low"] <= f.branching_ <= s.loc["branching", "high"]


@pytest.mark.slow
def test_parameter_recovery_and_coverage() -> None:
    mu, n, beta, horizon = 0.5, 0.5, 2.0, 300.0
    runs = 100
    hits = {"mu": 0, "branching": 0, "decay_per_day": 0}
    est = []
    for s in range(runs):
        f = HawkesFitter().fit(simulate_hawkes(mu, n, beta, horizon, seed=1000 + s), horizon)
        for k, true in (("mu", mu), ("branching", n), ("decay_per_day", beta)):
            lo, hi = f.intervals_[k]
            hits[k] += lo <= true <= hi
        est.append((f.mu_, f.branching_, f.decay_per_day_))
    m = np.mean(est, axis=0)
    assert m[0] == pytest.approx(mu, rel=0.1)
    assert m[1] == pytest.approx(n, abs=0.05)
    assert m[2] == pytest.approx(beta, rel=0.2)
    for k, h in hits.items():
        assert 0.88 <= h / runs <= 0.99, k  # seeded: 0.98 / 0.93 / 0.98; too wide intervals fail too


@pytest.mark.slow
def test_lr_test_size_under_poisson() -> None:
    rng = np.random.default_rng(3)
    p, pbar = [], []
    for _ in range(60):
        t = np.sort(rng.uniform(0, 300, rng.poisson(120)))
        f = HawkesFitter().fit(t, 300)
        p.append(f.p_value_)
        pbar.append(f.p_value_chibar_)
    assert np.mean(np.array(p) < 0.05) <= 0.08          # chi2_2 reference: not liberal
    assert np.mean(np.array(pbar) < 0.05) >= np.mean(np.array(p) < 0.05)


def test_inhomogeneous_baseline_absorbs_a_trend() -> None:
    # Poisson events with intensity growing like the number of live chains: no excitation once the
    # baseline shape is given
    rng = np.random.default_rng(7)
    horizon = 1000.0
    grid = np.arange(0, horizon, 1.0)
    live = 1 + np.floor(grid / 100)                   # 1..10 chains
    lam = 0.05 * live
    counts = rng.poisson(lam)
    t = np.sort(np.repeat(grid, counts) + rng.uniform(0, 1, counts.sum()))
    w_ev = 1 + np.floor(t / 100)
    f = HawkesFitter().fit(t, horizon, baseline_at_events=w_ev, baseline_integral=float(live.sum()))
    assert f.p_value_ > 0.01
    assert f.mu_ == pytest.approx(0.05, rel=0.2)


def test_bad_input() -> None:
    with pytest.raises(DataError, match="at least 3"):
        HawkesFitter().fit([1.0, 2.0], 10)
    with pytest.raises(DataError):
        HawkesFitter().fit([1.0, 2.0, 30.0], 10)
    with pytest.raises(NotFittedError):
        HawkesFitter().summary()


def test_marks_keep_excitation_within_each_process() -> None:
    # three independent Hawkes processes observed together: with marks the fit recovers their
    # shared parameters; a mark observed for a shorter time has its own end for the compensator
    parts = [simulate_hawkes(0.3, 0.5, 1.0, 600, seed=s) for s in (1, 2, 3)]
    parts[2] = parts[2][parts[2] < 300]
    t = np.concatenate(parts)
    marks = np.repeat([0, 1, 2], [p.size for p in parts])
    end = np.where(marks == 2, 300.0, 600.0)
    f = HawkesFitter().fit(t, 600, marks=marks, end_days=end, baseline_integral=600 + 600 + 300)
    assert f.branching_ == pytest.approx(0.5, abs=0.12)
    assert f.mu_ == pytest.approx(0.3, rel=0.25)
    assert f.p_value_ < 1e-4
    # the same events unmarked, times shuffled in: the order of inputs does not matter
    perm = np.random.default_rng(0).permutation(t.size)
    g = HawkesFitter().fit(t[perm], 600, marks=marks[perm], end_days=end[perm], baseline_integral=1500)
    assert g.loglik_ == pytest.approx(f.loglik_, rel=1e-6)
