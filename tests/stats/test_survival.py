"""Kaplan-Meier against a textbook example worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from seqrisk.exceptions import DataError
from seqrisk.stats import kaplan_meier, km_points_from_bounds

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment


def test_kaplan_meier_hand_worked_example() -> None:
    # times 3, 5+, 6, 6, 8+, 10, 12 (+ = censored)
    # t=3: at risk 7, 1 event -> S = 6/7
    # t=6: at risk 5 (5+ left), 2 events -> S = 6/7 * 3/5 = 18/35
    # t=10: at risk 2 (8+ left), 1 event -> S = 18/35 * 1/2 = 9/35
    # t=12: at risk 1, 1 event -> S = 0
    t = [3, 5, 6, 6, 8, 10, 12]
    d = [1, 0, 1, 1, 0, 1, 1]
    km = kaplan_meier(t, d)
    assert km["time_s"].tolist() == [3, 6, 10, 12]
    assert km["at_risk"].tolist() == [7, 5, 2, 1]
    assert km["events"].tolist() == [1, 2, 1, 1]
    assert np.allclose(km["survival"], [6 / 7, 18 / 35, 9 / 35, 0.0])
    # Greenwood at t=6: S^2 * (1/(7*6) + 2/(5*3))
    assert km["se"].iloc[1] == pytest.approx(18 / 35 * np.sqrt(1 / 42 + 2 / 15))
    assert (km["low"] <= km["survival"]).all() and (km["survival"] <= km["high"]).all()


def test_kaplan_meier_without_censoring_is_the_empirical_survival() -> None:
    t = np.array([4.0, 1.0, 3.0, 2.0])
    km = kaplan_meier(t, np.ones(4))
    assert np.allclose(km["survival"], [0.75, 0.5, 0.25, 0.0])


def test_bounds_to_km_points() -> None:
    t, obs = km_points_from_bounds([60, 100, 0, 0, 50], [60, 400, 30, np.inf, np.inf])
    assert t.tolist() == [60, 200, 15, 50]
    assert obs.tolist() == [True, True, True, False]


def test_empty_input_is_an_error() -> None:
    with pytest.raises(DataError):
        kaplan_meier([], [])


def test_turnbull_equals_kaplan_meier_without_interval_censoring() -> None:
    from seqrisk.stats import turnbull

    t = np.array([3, 5, 6, 6, 8, 10, 12.0])
    d = np.array([1, 0, 1, 1, 0, 1, 1])
    tb = turnbull(t, np.where(d == 1, t, np.inf))
    km = kaplan_meier(t, d)
    assert np.allclose(tb["right_s"], km["time_s"]) and np.allclose(tb["survival"], km["survival"])


def test_turnbull_hand_worked_interval_example() -> None:
    # (1,3], (2,5], (0,2.5], (4,inf): innermost intervals (2,2.5] and (4,5]; likelihood m1^2 (m1+m2) m2
    # with m1 + m2 = 1 is largest at m1 = 2/3
    from seqrisk.stats import turnbull

    tb = turnbull([1, 2, 0, 4], [3, 5, 2.5, np.inf])
    assert tb[["left_s", "right_s"]].to_numpy().tolist() == [[2.0, 2.5], [4.0, 5.0]]
    assert np.allclose(tb["mass"], [2 / 3, 1 / 3], atol=1e-7)
    with pytest.raises(DataError):
        turnbull([0.0], [np.inf])
