"""Kaplan-Meier (Greenwood, log-log band) and Turnbull's NPMLE against lifelines, an independent implementation.

lifelines needs pandas<3, so it is installed only in the oldest supported environment (.venv-oldest, extra
``crosscheck``), where ``make test`` runs these tests (marker ``oldest``); elsewhere they skip.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from seqrisk.stats import kaplan_meier, turnbull

pytestmark = pytest.mark.oldest  # run in .venv-oldest, where lifelines is installed

lifelines = pytest.importorskip("lifelines", reason="lifelines (needs pandas<3) is installed in .venv-oldest only")
from lifelines.fitters.npmle import npmle  # noqa: E402

Z95 = 1.959963984540054


def _right_censored(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole-minute durations (ties between events and with censorings), about a third censored."""
    rng = np.random.default_rng(seed)
    t = np.ceil(rng.lognormal(np.log(40.0), 1.0, n))
    c = np.ceil(rng.uniform(5.0, 200.0, n))
    return np.minimum(t, c), (t <= c).astype(int)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kaplan_meier_survival_greenwood_and_band_equal_lifelines(seed: int) -> None:
    t, d = _right_censored(seed, 120)
    assert 0 < d.sum() < t.size and np.unique(t).size < t.size  # censorings and ties present
    km = kaplan_meier(t, d)
    ref = lifelines.KaplanMeierFitter(alpha=0.05).fit(t, d)
    at = km["time_s"].to_numpy()
    s_ref = ref.survival_function_.loc[at, "KM_estimate"].to_numpy()
    ci = ref.confidence_interval_.loc[at]
    low_ref, high_ref = ci.iloc[:, 0].to_numpy(), ci.iloc[:, 1].to_numpy()
    np.testing.assert_allclose(km["survival"], s_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(km["at_risk"], ref.event_table.loc[at, "at_risk"].to_numpy())
    # lifelines' band is the log(-log) ("exponential Greenwood") interval, as ours
    inner = (s_ref > 0) & (s_ref < 1)
    np.testing.assert_allclose(km["low"].to_numpy()[inner], low_ref[inner], rtol=1e-9)
    np.testing.assert_allclose(km["high"].to_numpy()[inner], high_ref[inner], rtol=1e-9)
    # Greenwood's variance read back from lifelines' band: Var log(-log S) = gw / log(S)^2
    ls = np.log(s_ref[inner])
    sd_loglog = (np.log(-np.log(low_ref[inner])) - np.log(-ls)) / Z95
    gw = (sd_loglog * ls) ** 2
    np.testing.assert_allclose(km["se"].to_numpy()[inner], s_ref[inner] * np.sqrt(gw), rtol=1e-7)


def _interval_censored(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous durations (no tied endpoints): exact, inspected in (a, b], right- and left-censored."""
    rng = np.random.default_rng(seed)
    x = rng.weibull(0.8, n) * 3600.0
    lo, hi = x.copy(), x.copy()
    k = rng.integers(0, 4, n)
    width = rng.uniform(1.2, 4.0, n)
    lo[k == 1], hi[k == 1] = x[k == 1] / width[k == 1], x[k == 1] * rng.uniform(1.1, 3.0, (k == 1).sum())
    hi[k == 2] = np.inf                          # still open at the last look
    lo[k == 3], hi[k == 3] = 0.0, x[k == 3] * width[k == 3]
    return lo, hi


@pytest.mark.parametrize("seed", [3, 4])
def test_turnbull_npmle_equals_lifelines(seed: int) -> None:
    lo, hi = _interval_censored(seed, 80)
    ours = turnbull(lo, hi, tol=1e-13, max_iter=200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, intervals = npmle(lo, hi, tol=1e-13, max_iter=200_000)
    ref_left = np.array([iv.left for iv in intervals])
    ref_right = np.array([iv.right for iv in intervals])
    # the same innermost intervals (lifelines' closed intervals equal ours without tied endpoints) ...
    np.testing.assert_array_equal(ours["left_s"].to_numpy(), ref_left)
    np.testing.assert_array_equal(ours["right_s"].to_numpy(), ref_right)
    # ... and the same survival at their right ends, where the NPMLE is unique
    np.testing.assert_allclose(ours["survival"].to_numpy(), np.clip(1.0 - np.cumsum(p), 0.0, 1.0), atol=2e-6)
    assert ours["mass"].sum() == pytest.approx(1.0)
