"""The fitted statistics as one JSON-ready document (layout in docs/statistics.md).

Non-finite numbers (an infinite MTBF, an unbounded interval) become ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from seqrisk.stats.durations import model_label, std_ppf
from seqrisk.stats.forecast import CHECKS, forecast_counts, predictive_checks
from seqrisk.stats.model import OutageStatistics
from seqrisk.units import DAY_S, YEAR_S

__all__ = ["STATS_SCHEMA", "finite", "statistics_doc"]

#: Version of the ``seqrisk fit --json`` layout.
STATS_SCHEMA = 2


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
    post = stats.duration_posteriors[t]
    law = post.law(None)
    loc, sig = post.chain_params(None, 4000, np.random.default_rng(0))
    q = {}
    for p in (0.5, 0.9, 0.99):
        own = np.exp(loc + sig * float(std_ppf(f.family, p)))
        q[f"p{int(p * 100)}_s"] = [float(law.ppf(p)), *np.quantile(own, [0.025, 0.975]).tolist()]
    tau_med, tau_lo, tau_hi = post.tau_summary()
    return {
        "family": f.family, "chain_effect": f.chain_effect, "model": model_label(f.family, f.chain_effect),
        "source": stats.duration_source[t], "law": f.law().to_dict(),
        "mu_log_s": f.mu_, "sigma": f.sigma_, "tau": f.tau_, "tau_posterior": [tau_med, tau_lo, tau_hi],
        "cov_mu_logsigma": f.cov_.tolist(), "loglik": f.loglik_, "aic": f.aic_, "posterior_draws": post.n_draws,
        "quantiles": q, "mean_s": law.mean(),
        "n": {"exact": f.n_exact_, "interval": f.n_interval_, "right": f.n_right_, "left": f.n_left_,
              "zero": f.n_zero_, "missing": f.n_missing_},
        "comparison": [{"model": name, **{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}}
                       for name, row in stats.duration_comparison[t].to_dict("index").items()],
    }


def statistics_doc(stats: OutageStatistics, *, chains: Sequence[str] | None = None,
                   types: Sequence[str] | None = None, horizon_s: float = YEAR_S, n_boot: int = 2000,
                   seed: int = 0, n_forecast: int = 10000, n_checks: int = 2000) -> dict[str, Any]:
    """Everything ``seqrisk fit --json`` prints: per type, per chain (with derived figures), shocks, time
    structure, forecasts, predictive checks, coupling, Hawkes, notes and the model file itself."""
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
                "total_rate_per_year": p.rates_per_year_[i] + stats.shock_rate_per_year(c, t),
                "duration_law": law.durations[t].to_dict(),
                "derived": stats.derived(c, t, horizon_s=horizon_s, n_boot=n_boot, seed=seed),
            }
        doc["chains"][c] = cd
    sm = stats.shock_model
    for s in stats.shocks:
        doc["shocks"].append({
            "group": s.group, "members": list(s.members), "member_events": s.member_events,
            "joint_events": s.joint_events, "joint_among_members": s.joint_among_members,
            "counted_under": list(s.counted_under), "share": s.share, "exposure_years": s.exposure_years,
            "raw_rate_per_year": s.rate_per_year, "raw_interval": [s.low, s.high],
            "rate_per_year": sm.rate(s.group) if sm else 0.0,
            "interval": list(sm.interval(s.group)) if sm else [0.0, 0.0], "wide": s.wide,
            "in_model": any(x.group == s.group for x in m.shocks), "hit_sizes": [list(h) for h in s.hit_sizes],
            "joint": [list(j) for j in s.joint_sources]})
    doc["shock_model"] = None if sm is None else {
        "extra_hit_probability": sm.extra_hit_probability, "q_beta_posterior": [sm.q_alpha, sm.q_beta],
        "type_mix": dict(sm.type_mix),
        "pooling": "named groups pooled (gamma-Poisson); wide groups Jeffreys Gamma(k + 1/2, T)"}
    cp = stats.coupling
    doc["coupling"] = None if cp is None else {
        "beta": cp.beta_, "interval": list(cp.interval_), "se": cp.se_, "lr_stat": cp.lr_stat_,
        "p_value": cp.p_value_, "sigma_ref": cp.sigma_ref_, "events": cp.n_events_,
        "chain_days": cp.n_chain_days_, "asset": "eth", "covariate": "log realized vol of the previous UTC day"}

    def hk(h: Any) -> dict[str, Any]:
        return {"mu_per_day": h.mu_, "branching": h.branching_, "decay_per_day": h.decay_per_day_,
                "intervals": {k: list(v) for k, v in h.intervals_.items()}, "lr_stat": h.lr_stat_,
                "p_value": h.p_value_, "events": h.n_events_}

    doc["hawkes"] = None if stats.hawkes is None else {**hk(stats.hawkes), "scope": "within each chain"}
    doc["hawkes_pooled"] = None if stats.hawkes_pooled is None else {
        **hk(stats.hawkes_pooled), "scope": "all chains as one process (reported)"}
    doc["hawkes_groups"] = {g: hk(h) for g, h in stats.hawkes_groups.items()}
    hc = stats.hawkes_cross
    doc["hawkes_cross"] = None if hc is None else {
        "branching_within": hc.branching_within_, "branching_cross": hc.branching_cross_,
        "decay_per_day": hc.decay_per_day_, "intervals": {k: list(v) for k, v in hc.intervals_.items()},
        "lr_stat": hc.lr_stat_, "p_value": hc.p_value_, "p_value_cross": hc.p_value_cross_, "events": hc.n_events_,
        "in_model": m.hawkes is not None,
        "scope": "pooled multichain: follow-ons within the chain and on other chains; shock events are parents"}
    tr = stats.trend
    doc["time_structure"] = None if tr is None else {
        "kept": list(tr.covariates),
        "coefficients": {c: {"estimate": tr.coefficient(c), "interval": list(tr.interval(c)),
                             "rate_ratio": float(np.exp(tr.coefficient(c)))} for c in tr.covariates},
        "lr_tests": {c: {"stat": v[0], "p_value": v[1]} for c, v in tr.lr_tests.items()},
        "comparison": [{"covariates": name, **{k: (v.item() if isinstance(v, np.generic) else v)
                                               for k, v in row.items()}}
                       for name, row in tr.table.to_dict("index").items()],
        "note": "fitted on own events of all modelled types; calendar time is not extrapolated past the as-of "
                "date; counts are lower bounds (short stalls go unreported)"}
    fc = forecast_counts(stats, horizon_s=horizon_s, n_reps=n_forecast, seed=seed, chains=chains)
    doc["forecast"] = {"horizon_days": horizon_s / DAY_S, "replicates": n_forecast, "chains": {}}
    for f in fc:
        if f.type in types:
            doc["forecast"]["chains"].setdefault(f.chain, {})[f.type] = {
                "mean": f.mean, "interval_90": list(f.interval_90), "interval_95": list(f.interval_95),
                "p_at_least_one": f.p_at_least_one, "mc_se": f.mc_se}
    checks, _ = predictive_checks(stats, n_reps=n_checks, seed=seed)
    doc["checks"] = [{"name": c.name, "label": CHECKS[c.name], "observed": c.observed, "mean": c.mean,
                      "interval_90": list(c.interval_90), "p_upper": c.p_upper, "p_lower": c.p_lower,
                      "p_value": c.p_value} for c in checks]
    doc["model"] = json.loads(m.to_json())
    return finite(doc)
