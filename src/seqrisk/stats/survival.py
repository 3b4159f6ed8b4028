"""Kaplan-Meier survival estimate (durations in seconds), with Greenwood standard errors.

>>> km = kaplan_meier([1, 2, 2, 3], [1, 1, 0, 1])
>>> [round(s, 4) for s in km["survival"]]
[0.75, 0.5, 0.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from seqrisk.exceptions import DataError

__all__ = ["kaplan_meier", "km_points_from_bounds"]


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
