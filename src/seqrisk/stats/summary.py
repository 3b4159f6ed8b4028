"""The fitted statistics as one JSON-ready document (layout in docs/statistics.md).

Non-finite numbers (an infinite MTBF, an unbounded interval) become ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from seqrisk.stats.model import OutageStatistics
from seqrisk.units import DAY_S, YEAR_S

__all__ = ["STATS_SCHEMA", "finite", "statistics_doc"]

#: Version of the ``seqrisk fit --json`` layout.
STATS_SCHEMA = 1


def finite(x: Any) -> Any:
    """Recursively replace non-finite floats by None and numpy scalars by Python ones."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [finite(v) for v in x]
    if isinstance(x, np.ndarray):
        return finite(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _duration_doc(stats: OutageStatistics, t: str) -> dict[str, Any]:
    f = stats.durations[t]
    q = {f"p{int(p * 100)}_s": list(f.quantile(p)) for p in (0.5, 0.9, 0.99)}
    return {
        "family": f.family, "source": stats.duration_source[t], "law": f.law().to_dict(),
        "mu_log_s": f.mu_, "sigma": f.sigma_, "tau": f.tau_, "cov_mu_logsigma": f.cov_.tolist(),
        "loglik": f.loglik_, "aic": f.aic_, "quantiles": q,
        "n": {"exact": f.n_exact_, "interval": f.n_interval_, "right": f.n_right_, "left": f.n_left_,
              "zero": f.n_zero_, "missing": f.n_missing_},
        "comparison": [{"family": fam, **{k: (v.item() if isinstance(v, np.generic) else v)
                                          for k, v in row.items()}}
                       for fam, row in stats.duration_comparison[t].to_dict("index").items()],
    }


def statistics_doc(stats: OutageStatistics, *, chains: Sequence[str] | None = None,
                   types: Sequence[str] | None = None, horizon_s: float = YEAR_S, n_boot: int = 2000,
                   seed: int = 0) -> dict[str, Any]:
    """Everything ``seqrisk fit --json`` prints: per type, per chain (with derived figures), shocks,
    coupling, Hawkes, notes and the model file itself."""
    types = [t for t in (types or list(stats.rates)) if t in stats.rates]
    chains = list(chains or stats.chains)
    m = stats.model
    doc: dict[str, Any] = {
        "schema": STATS_SCHEMA, "kind": "seqrisk.fit", "as_of": m.meta.get("as_of"), "level": 0.95,
        "include_deliberate": m.meta.get("include_deliberate"), "include_planned": m.meta.get("include_planned"),
        "horizon_days": horizon_s / DAY_S, "n_events": len(stats.events.events),
        "types": {}, "chains": {}, "shocks": [], "notes": list(stats.notes),
    }
    for t in types:
        p = stats.rates[t]
        doc["types"][t] = {
            "events": int(p.counts_.sum()), "prior_mean_per_year": p.prior_mean_per_year_,
            "prior_weight_years": p.prior_weight_years_, "prior_weight_capped": p.at_weight_cap_,
            "pooled_rate_per_year": p.pooled_rate_per_year_, "pooled_interval": list(p.pooled_interval_),
            "duration": _duration_doc(stats, t),
        }
    for c in chains:
        i = stats.chains.index(c)
        law = m.chains[c]
        cd: dict[str, Any] = {"exposure_years": stats.events.exposure_years(c),
                              "forced_inclusion_delay_s": law.forced_inclusion_delay_s, "types": {}}
        for t in types:
            p = stats.rates[t]
            cd["types"][t] = {
                "events": int(p.counts_[i]), "raw_rate_per_year": p.raw_rates_per_year_[i],
                "raw_interval": p.raw_intervals_[i].tolist(), "rate_per_year": p.rates_per_year_[i],
                "interval": p.intervals_[i].tolist(), "shrinkage": p.shrinkage_[i],
                "shock_rate_per_year": stats.shock_rate_per_year(c, t),
                "duration_law": law.durations[t].to_dict(),
                "derived": stats.derived(c, t, horizon_s=horizon_s, n_boot=n_boot, seed=seed),
            }
        doc["chains"][c] = cd
    for s in stats.shocks:
        doc["shocks"].append({
            "group": s.group, "members": list(s.members), "member_events": s.member_events,
            "joint_events": s.joint_events, "joint_among_members": s.joint_among_members,
            "counted_under": list(s.counted_under), "share": s.share, "exposure_years": s.exposure_years,
            "rate_per_year": s.rate_per_year, "interval": [s.low, s.high], "type": s.type,
            "in_model": s.joint_events > 0, "joint": [list(j) for j in s.joint_sources]})
    cp = stats.coupling
    doc["coupling"] = None if cp is None else {
        "beta": cp.beta_, "interval": list(cp.interval_), "se": cp.se_, "lr_stat": cp.lr_stat_,
        "p_value": cp.p_value_, "sigma_ref": cp.sigma_ref_, "events": cp.n_events_,
        "chain_days": cp.n_chain_days_, "asset": "eth", "covariate": "log realized vol of the previous UTC day"}

    def hk(h: Any) -> dict[str, Any]:
        return {"mu_per_day": h.mu_, "branching": h.branching_, "decay_per_day": h.decay_per_day_,
                "intervals": {k: list(v) for k, v in h.intervals_.items()}, "lr_stat": h.lr_stat_,
                "p_value": h.p_value_, "events": h.n_events_}

    doc["hawkes"] = None if stats.hawkes is None else {**hk(stats.hawkes), "in_model": m.hawkes is not None,
                                                       "scope": "within each chain"}
    doc["hawkes_pooled"] = None if stats.hawkes_pooled is None else {
        **hk(stats.hawkes_pooled), "scope": "all chains pooled (not in the model)"}
    doc["hawkes_groups"] = {g: hk(h) for g, h in stats.hawkes_groups.items()}
    doc["model"] = json.loads(m.to_json())
    return finite(doc)
