"""Kaplan-Meier survival estimate (durations in seconds), with Greenwood standard errors.

>>> km = kaplan_meier([1, 2, 2, 3], [1, 1, 0, 1])
>>> [round(s, 4) for s in km["survival"]]
[0.75, 0.5, 0.0]
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from seqrisk.exceptions import DataError

__all__ = ["kaplan_meier", "km_points_from_bounds", "turnbull"]


def kaplan_meier(durations: Any, observed: Any, *, level: float = 0.95) -> pd.DataFrame:
    """Product-limit estimate of P(D > t) at each distinct event time.

    ``observed`` is 1 for an ended duration, 0 for a right-censored one (censored
    at a time tied with events count as still at risk at that time). Columns:
    ``time_s, at_risk, events, censored, survival, se`` (Greenwood) and ``low,
    high`` (log-log interval, clipped to [0, 1]).
    """
    t = np.asarray(durations, dtype=float)
    d = np.asarray(observed, dtype=bool)
    if t.shape != d.shape or t.ndim != 1:
        raise DataError("durations and observed must be 1-d of the same length")
    if t.size == 0:
        raise DataError("no durations: the Kaplan-Meier estimate is undefined")
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise DataError("durations must be finite and >= 0")
    times = np.unique(t[d])
    at_risk = np.array([(t >= x).sum() for x in times], dtype=float)
    events = np.array([((t == x) & d).sum() for x in times], dtype=float)
    censored = np.array([((t == x) & ~d).sum() for x in times], dtype=float)
    surv = np.cumprod(1 - events / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.cumsum(events / (at_risk * (at_risk - events)))
        se = surv * np.sqrt(gw)
        z = float(sps.norm.ppf(0.5 + level / 2))
        ll = np.log(-np.log(surv))
        sll = np.sqrt(gw) / np.abs(np.log(surv))
        low = np.exp(-np.exp(ll + z * sll))
        high = np.exp(-np.exp(ll - z * sll))
    ok = (surv > 0) & (surv < 1) & np.isfinite(sll)
    low = np.where(ok, low, np.where(surv <= 0, 0.0, surv))
    high = np.where(ok, high, np.where(surv <= 0, 0.0, 1.0))
    se = np.where(np.isfinite(se), se, 0.0)
    return pd.DataFrame({"time_s": times, "at_risk": at_risk, "events": events, "censored": censored,
                         "survival": surv, "se": se, "low": np.clip(low, 0, 1), "high": np.clip(high, 0, 1)})


def km_points_from_bounds(low_s: Any, high_s: Any) -> tuple[np.ndarray, np.ndarray]:
    """Turn duration bounds into Kaplan-Meier input ``(time_s, observed)``.

    Exact durations as they are; an interval ``(a, b)`` at its geometric
    midpoint ``sqrt(a b)`` (``b / 2`` when ``a = 0``), observed; a right-censored
    one at its lower bound, censored; unknown ``(0, inf)`` durations are left out.
    This is a display approximation (a Turnbull estimate would treat the
    intervals exactly).
    """
    lo = np.asarray(low_s, dtype=float)
    hi = np.asarray(high_s, dtype=float)
    keep = ~((lo <= 0) & ~np.isfinite(hi))
    lo, hi = lo[keep], hi[keep]
    right = ~np.isfinite(hi)
    mid = np.where(lo > 0, np.sqrt(lo * np.where(right, lo, hi)), np.where(right, 0.0, hi / 2))
    t = np.where(right, lo, mid)
    return t, ~right


def turnbull(low_s: Any, high_s: Any, *, tol: float = 1e-10, max_iter: int = 10000) -> pd.DataFrame:
    """Turnbull's nonparametric MLE of the duration distribution under interval censoring.

    Each duration is known to lie in ``(low, high]`` (exact when ``low == high``,
    right-censored when ``high = inf``; unknown ``(0, inf)`` durations are
    left out). The mass sits on the *innermost intervals* ``(left_s, right_s]``
    (a left endpoint followed by a right endpoint with no endpoint between) and
    is found by the self-consistency (EM) algorithm. Columns: ``left_s,
    right_s, mass, survival`` (P(D > right_s)). With only exact and
    right-censored durations it equals the Kaplan-Meier estimate.
    """
    lo = np.asarray(low_s, dtype=float)
    hi = np.asarray(high_s, dtype=float)
    if lo.shape != hi.shape or lo.ndim != 1 or np.any(hi < lo) or np.any(lo < 0):
        raise DataError("bounds must be 1-d with 0 <= low <= high")
    keep = ~((lo <= 0) & ~np.isfinite(hi))
    lo, hi = lo[keep], hi[keep]
    if lo.size == 0:
        raise DataError("no duration with information: the Turnbull estimate is undefined")
    exact = lo == hi
    # sort keys at equal values: an exact duration's left end (x-) < right ends (x] < other left ends (x, ...
    lkey = np.where(exact, 0, 2)
    pts = [(v, k, "L") for v, k in zip(lo, lkey, strict=True)] + [(v, 1, "R") for v in hi]
    pts.sort(key=lambda p: (p[0], p[1]))
    inner = [(a, b) for a, b in itertools.pairwise(pts) if a[2] == "L" and b[2] == "R"]
    q_key = np.array([(a[0], a[1]) for a, _ in inner])
    p_key = np.array([(b[0], b[1]) for _, b in inner])

    def le(x0: Any, k0: Any, x1: Any, k1: Any) -> Any:
        return (x0 < x1) | ((x0 == x1) & (k0 <= k1))

    alpha = (le(lo[:, None], lkey[:, None], q_key[None, :, 0], q_key[None, :, 1])
             & le(p_key[None, :, 0], p_key[None, :, 1], hi[:, None], 1)).astype(float)
    m = np.full(len(inner), 1.0 / len(inner))
    for _ in range(max_iter):
        denom = alpha @ m
        new = m * (alpha / denom[:, None]).mean(axis=0)
        done = np.max(np.abs(new - m)) < tol
        m = new
        if done:
            break
    surv = 1.0 - np.cumsum(m)
    return pd.DataFrame({"left_s": q_key[:, 0], "right_s": p_key[:, 0], "mass": m,
                         "survival": np.clip(surv, 0.0, 1.0)})
