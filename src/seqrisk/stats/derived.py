"""Derived figures of one chain and event type: predictive point values with posterior intervals.

The point values are predictive: ``P(at least one)`` is ``1 - P(no event)``
under the negative-binomial predictive (the rate integrated over its
posterior, not the posterior mean plugged in), and the duration figures are
those of the chain's predictive duration law (integrated over its chain effect
and the duration parameters). Rates use the posterior mean. The 95% intervals
are percentiles of draws of the chain's own figures: a rate from its posterior
paired with the chain's own duration parameters (a posterior draw of the
duration model and of the chain's effect given it):

========================  ==========================================  ========
name                      definition                                  unit
========================  ==========================================  ========
outages_per_year          lambda                                      1/year
p_at_least_one            1 - P(N_h = 0), h the horizon               prob.
duration_p50_s/p90/p99    duration quantiles                          s
mttr_s                    mean duration E[D]                          s
mtbf_days                 365 / lambda                                days
downtime_min_per_year     lambda E[D] / 60                            min/yr
availability              1 - lambda E[D] / (365 d), floored at 0     fraction
availability_nines        -log10(1 - availability)                    nines
========================  ==========================================  ========

Infinite values (a rate of 0 gives MTBF and nines = inf; a heavy log-logistic
tail with shape <= 1 has an infinite mean) are kept as ``inf``, never NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqrisk.stats.durations import mean_duration_s, std_ppf
from seqrisk.stats.predictive import DurationPosterior
from seqrisk.units import DAY_S, YEAR_DAYS, YEAR_S

__all__ = ["FIGURES", "derived_figures"]

FIGURES: dict[str, str] = {
    "outages_per_year": "1/year", "p_at_least_one": "probability", "duration_p50_s": "s",
    "duration_p90_s": "s", "duration_p99_s": "s", "mttr_s": "s", "mtbf_days": "days",
    "downtime_min_per_year": "min/year", "availability": "fraction", "availability_nines": "nines",
}


def _figures(lam: Any, mu: Any, sigma: Any, family: str, horizon_s: float) -> dict[str, Any]:
    lam, mu, sigma = np.asarray(lam, float), np.asarray(mu, float), np.asarray(sigma, float)
    mean = mean_duration_s(family, mu, sigma)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        down_frac = np.where(lam > 0, lam * mean / YEAR_S, 0.0)
        avail = np.clip(1.0 - down_frac, 0.0, 1.0)
        out = {
            "outages_per_year": lam,
            "p_at_least_one": -np.expm1(-lam * horizon_s / YEAR_S),
            "duration_p50_s": np.exp(mu + sigma * std_ppf(family, 0.5)),
            "duration_p90_s": np.exp(mu + sigma * std_ppf(family, 0.9)),
            "duration_p99_s": np.exp(mu + sigma * std_ppf(family, 0.99)),
            "mttr_s": mean,
            "mtbf_days": np.where(lam > 0, YEAR_DAYS / np.where(lam > 0, lam, 1.0), np.inf),
            "downtime_min_per_year": down_frac * YEAR_S / 60.0,
            "availability": avail,
            "availability_nines": np.where(down_frac > 0, -np.log10(np.minimum(down_frac, 1.0)), np.inf),
        }
    return out


def derived_figures(rate_per_year: float, rate_draws: Any, posterior: DurationPosterior, *,
                    chain: str | None = None, horizon_s: float = YEAR_S, seed: int = 0, level: float = 0.95,
                    extra_rate_per_year: float = 0.0, extra_rate_draws: Any = None,
                    p_none: float | None = None) -> dict[str, dict[str, Any]]:
    """Derived figures (see module doc): ``{name: {estimate, low, high, unit}}``.

    ``rate_per_year`` is the posterior-mean own rate, ``rate_draws`` posterior
    draws of it (one draw of the chain's duration parameters is paired with
    each). ``extra_rate_per_year`` (the common shocks that also hit the chain)
    is added, with its posterior draws ``extra_rate_draws`` when given.
    ``p_none`` is the predictive probability of no event in the horizon (else
    ``exp(-lambda h)`` at the posterior mean).
    """
    rng = np.random.default_rng(seed)
    lam_hat = rate_per_year + extra_rate_per_year
    lam = np.asarray(rate_draws, dtype=float)
    lam = lam + (np.asarray(extra_rate_draws, dtype=float) if extra_rate_draws is not None else extra_rate_per_year)
    loc, sigma = posterior.chain_params(chain, lam.size, rng)
    fam = posterior.fit.family
    law = posterior.law(chain)
    mean_d = law.mean()
    draws = _figures(lam, loc, sigma, fam, horizon_s)
    point = _figures(lam_hat, 0.0, 1.0, fam, horizon_s)
    point["duration_p50_s"], point["duration_p90_s"], point["duration_p99_s"] = law.ppf([0.5, 0.9, 0.99])
    point["mttr_s"] = mean_d
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        down = lam_hat * mean_d / YEAR_S if lam_hat > 0 else 0.0
        point["downtime_min_per_year"] = down * YEAR_S / 60.0
        point["availability"] = float(np.clip(1.0 - down, 0.0, 1.0))
        point["availability_nines"] = -np.log10(min(down, 1.0)) if down > 0 else np.inf
    if p_none is not None:
        point["p_at_least_one"] = 1.0 - p_none
    a = (1 - level) / 2
    out: dict[str, dict[str, Any]] = {}
    for k, unit in FIGURES.items():
        d = draws[k]
        lo, hi = np.quantile(d, [a, 1 - a], method="inverted_cdf")
        out[k] = {"estimate": float(point[k]), "low": float(lo), "high": float(hi), "unit": unit}
    out["horizon_days"] = {"estimate": horizon_s / DAY_S, "low": horizon_s / DAY_S, "high": horizon_s / DAY_S,
                           "unit": "days"}
    return out
