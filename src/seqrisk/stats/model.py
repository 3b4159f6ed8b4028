"""Fit the whole outage model: rates, durations, common shocks, clustering, volatility coupling.

:func:`fit_outage_model` returns the :class:`~seqrisk.outage.OutageModel` the
engine samples; :func:`fit_outage_statistics` returns every fitted piece
(:class:`OutageStatistics`) for reports, the CLI and plots. Neither
bootstraps: derived figures are computed on request
(:meth:`OutageStatistics.derived`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import pandas as pd

from seqrisk.cancel import checkpoint
from seqrisk.catalog import Catalog
from seqrisk.display import Displayed, Shown
from seqrisk.exceptions import DataError, UsageError
from seqrisk.outage import ChainOutageLaw, CommonShock, Hawkes, OutageModel, rate_draws
from seqrisk.stats.coupling import VolatilityCoupling
from seqrisk.stats.crosschain import CrossHawkesFitter
from seqrisk.stats.derived import derived_figures
from seqrisk.stats.durations import DurationFitter, compare_models
from seqrisk.stats.events import MODELLED_TYPES, SHORT_STALL_S, EventLike, EventSet, Window, build_event_set
from seqrisk.stats.hawkes import HawkesFitter
from seqrisk.stats.predictive import POSTERIOR_DRAWS, DurationPosterior, duration_posterior
from seqrisk.stats.prices import daily_realized_vol
from seqrisk.stats.rates import GammaPoissonPooling
from seqrisk.stats.shocks import GroupShock, ShockModel, common_shocks, fit_shock_model
from seqrisk.stats.trend import TrendFit, fit_trend
from seqrisk.units import DAY_S, YEAR_S, format_duration

__all__ = ["L1_GROUP", "OutageStatistics", "fit_outage_model", "fit_outage_statistics", "settling_on_ethereum"]

#: The L1-wide common-cause group: every chain settling (directly or through its L2) on Ethereum.
L1_GROUP = "ethereum-l1"

#: p-value below which the Hawkes self-excitation is put into the model.
HAWKES_ALPHA = 0.05
#: Fewest events for a Hawkes fit (pooled or per group).
HAWKES_MIN_EVENTS = 8


@dataclass(repr=False)
class OutageStatistics(Displayed):
    """Every fitted piece of the outage model (see docs/statistics.md).

    Shows as a table per event type (events, rates, duration law, median duration); :meth:`to_frame` gives
    the rates per chain and type, :meth:`plot` the survival curves and the forest plot of chain rates.
    """

    events: EventSet
    chains: list[str]
    rates: dict[str, GammaPoissonPooling]
    durations: dict[str, DurationFitter]
    duration_fits: dict[str, dict[str, DurationFitter]]
    duration_comparison: dict[str, pd.DataFrame]
    duration_source: dict[str, str]
    shocks: list[GroupShock]
    joint_event_indices: set[int]
    hawkes: HawkesFitter | None
    hawkes_groups: dict[str, HawkesFitter]
    hawkes_pooled: HawkesFitter | None
    coupling: VolatilityCoupling | None
    model: OutageModel
    notes: list[str] = field(default_factory=list)
    duration_posteriors: dict[str, DurationPosterior] = field(default_factory=dict)
    shock_model: ShockModel | None = None
    trend: TrendFit | None = None
    hawkes_cross: CrossHawkesFitter | None = None

    def _shock_terms(self, chain: str, type_: str) -> list[tuple[str, float]]:
        """(group, share of the group's events that hit ``chain`` with an event of ``type_``)."""
        sm = self.shock_model
        if sm is None:
            return []
        out = [(s.group, s.hit_probability() * s.mix.get(type_, 0.0)) for s in self.model.shocks
               if chain in s.members and s.group in sm.groups]
        return [(g, c) for g, c in out if c > 0]

    def shock_rate_per_year(self, chain: str, type_: str) -> float:
        """Rate (per year, posterior mean) of common-shock events of ``type_`` that hit ``chain``."""
        sm = self.shock_model
        if sm is None:
            return 0.0
        return float(sum(sm.rate(g) * c for g, c in self._shock_terms(chain, type_)))

    def to_frame(self) -> pd.DataFrame:
        """Per event type and chain: events, exposure (years), raw rate (Garwood interval) and pooled rate
        (posterior interval), events per year."""
        frames = [pool.summary().reset_index().assign(type=t) for t, pool in self.rates.items()]
        df = pd.concat(frames, ignore_index=True)
        return df[["type", *[c for c in df.columns if c != "type"]]]

    def _shown(self) -> Shown:
        rows: dict[str, dict[str, Any]] = {}
        for t, pool in self.rates.items():
            fit = self.durations[t]
            med, lo, hi = fit.quantile(0.5)
            rows[t] = {"events": sum(1 for e in self.events.events if e.type == t),
                       "pooled_rate_per_chain_year": round(float(pool.rates_per_year_.mean()), 4),
                       "duration_law": fit.family + ("" if self.duration_source[t] == "own" else " (all types)"),
                       "median_duration": f"{format_duration(med)} ({format_duration(lo)} to {format_duration(hi)})"}
        m = self.model
        notes = [f"{len(m.shocks)} common-shock group(s); self-excitation "
                 + (f"branching {m.hawkes.branching:.2f}" if m.hawkes else "not in the model")
                 + f"; volatility coupling beta {m.beta:.2f}.",
                 "Rates: mean over chains of the pooled rate (events per chain-year); median duration with its 95% "
                 "interval. More: .to_frame(), .plot('survival' | 'forest', type_).", *self.notes]
        return Shown(f"OutageStatistics: {len(self.events.events)} events on {len(self.chains)} chains, as of "
                     f"{str(m.meta.get('as_of', '?'))[:10]}", pd.DataFrame.from_dict(rows, orient="index"),
                     tuple(notes))

    def plot(self, kind: str = "survival", type_: str = "downtime") -> Any:
        """``survival``: Turnbull and Kaplan-Meier of ``type_`` durations against the fitted laws; ``forest``:
        raw and pooled rates per chain. A plotly figure."""
        from seqrisk.stats import plots

        if kind == "survival":
            return plots.km_figure(self, type_)
        if kind == "forest":
            return plots.forest_figure(self, type_)
        raise UsageError("no such plot (survival or forest)", field="kind", value=kind)

    def derived(self, chain: str, type_: str = "downtime", *, horizon_s: float = YEAR_S, n_boot: int = 2000,
                seed: int = 0) -> dict[str, dict[str, Any]]:
        """Derived figures of ``chain`` and ``type_`` (own rate plus its common shocks), with intervals."""
        if type_ not in self.rates:
            raise DataError("no events of this type in the data", field="type", value=type_)
        pool = self.rates[type_]
        i = self.chains.index(chain)
        rng = np.random.default_rng([seed, i])
        draws = pool.sample(rng, n_boot, chain=i)
        h = horizon_s / YEAR_S
        p_none = float(pool.predictive_zero_probability(h)[i])
        extra_draws = np.zeros(n_boot)
        sm = self.shock_model
        for g, share in self._shock_terms(chain, type_):
            assert sm is not None
            extra_draws += share * sm.sample(g, rng, n_boot)
            p_none *= sm.zero_probability(g, h, share)
        return derived_figures(float(pool.rates_per_year_[i]), draws, self.duration_posteriors[type_], chain=chain,
                               horizon_s=horizon_s, seed=seed, extra_rate_per_year=self.shock_rate_per_year(
                                   chain, type_), extra_rate_draws=extra_draws, p_none=p_none)


def _utc(d: datetime) -> datetime:
    """A naive datetime is UTC (as everywhere in seqrisk); aware ones are converted."""
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _observed_until(exposures: Mapping[str, Window] | None) -> datetime | None:
    """The latest end of the block-data windows (None without any)."""
    ends: list[datetime] = []
    for win in (exposures or {}).values():
        pairs: list[tuple[datetime, datetime]] = (
            [cast(tuple[datetime, datetime], win)] if len(win) == 2 and isinstance(win[0], datetime)
            else list(cast(Sequence[tuple[datetime, datetime]], win)))
        ends += [_utc(b) for _, b in pairs]
    return max(ends, default=None)


def settling_on_ethereum(catalog: Catalog) -> tuple[str, ...]:
    """Chains whose settlement layer is Ethereum, directly or through the chains they settle on."""
    by_id = {c.id: c for c in catalog.chains}
    out = []
    for c in catalog.chains:
        seen, cur = {c.id}, c.settles_on
        while cur in by_id and cur not in seen:
            seen.add(cur)
            cur = by_id[cur].settles_on
        if cur == "ethereum":
            out.append(c.id)
    return tuple(out)


def _fit_time_structure(catalog: Catalog, es: EventSet, chains: list[str], skip: set[int]) -> TrendFit:
    """Age, calendar and design covariates of the own event rates (all modelled types together)."""
    cat = {c.id: c for c in catalog.chains}
    starts = {c: cat[c].exposure_start() if c in cat else None for c in chains}
    launch = {c: (d.timestamp() if d is not None else None) for c, d in starts.items()}
    zk = {c: bool(c in cat and cat[c].proof_system == "validity") for c in chains}
    own = [e for j, e in enumerate(es.events) if j not in skip]
    k = np.zeros(len(chains))
    for e in own:
        k[chains.index(e.chain)] += 1
    return fit_trend(chains, k, [e.chain for e in own], [e.start_utc for e in own], es.windows, launch, zk,
                     es.as_of_utc)


def _counts(es: EventSet, chains: list[str], type_: str, skip: set[int]) -> np.ndarray:
    k = np.zeros(len(chains))
    pos = {c: i for i, c in enumerate(chains)}
    for j, e in enumerate(es.events):
        if e.type == type_ and j not in skip:
            k[pos[e.chain]] += 1
    return k


#: Fewest informative durations for a type's own duration fit (else the all-types fit is used).
MIN_OWN_DURATIONS = 3
#: Fewest informative durations, and chains holding them, for a chain effect on the location to be considered.
MIN_CHAIN_EFFECT_DURATIONS = 6
MIN_CHAIN_EFFECT_CHAINS = 3


def _fit_durations(low: np.ndarray, high: np.ndarray, chains: list[str],
                   min_n: int = 2) -> tuple[dict[str, DurationFitter], pd.DataFrame]:
    """Every family with and without a chain effect (the latter only with enough durations on two chains),
    compared by AIC; the table's first row is the chosen model."""
    info = [c for c, lo, hi in zip(chains, low, high, strict=True) if not (lo <= 0 and hi == np.inf)]
    if len(info) < min_n:
        raise DataError(f"{len(info)} informative duration(s), fewer than {min_n}")
    effect = len(set(info)) >= MIN_CHAIN_EFFECT_CHAINS and len(info) >= MIN_CHAIN_EFFECT_DURATIONS
    fits, table = compare_models(low, high, chains=chains, effects=(False, True) if effect else (False,))
    if not fits:
        raise DataError("; ".join(sorted(set(table["error"]))))
    return fits, table


def _live_counts(es: EventSet, times: np.ndarray) -> np.ndarray:
    """Number of chains live at each of ``times`` (epoch s)."""
    out = np.zeros(times.size)
    for w in es.windows.values():
        for a, b in w:
            out += (times >= a) & (times < b)
    return out


def _fit_hawkes(es: EventSet, idx: list[int], chains: Sequence[str]) -> HawkesFitter | None:
    """Hawkes fit of the events ``idx`` with the number of live ``chains`` as baseline shape."""
    sub = EventSet(es.events, {c: es.windows[c] for c in chains}, es.as_of_utc)
    t_s = np.array(sorted(es.events[i].start_utc for i in idx))
    if t_s.size < HAWKES_MIN_EVENTS:
        return None
    starts = [a for c in chains for a, _ in es.windows[c]]
    t0 = min(starts)
    grid = np.arange(t0, es.as_of_utc, DAY_S)
    live = _live_counts(sub, grid)
    integral = float(live.sum())  # chain-days
    w_ev = _live_counts(sub, t_s)
    if np.any(w_ev <= 0):
        return None
    try:
        return HawkesFitter().fit((t_s - t0) / DAY_S, (es.as_of_utc - t0) / DAY_S, baseline_at_events=w_ev,
                                  baseline_integral=integral)
    except DataError:
        return None


def _fit_hawkes_per_chain(es: EventSet, idx: list[int], chains: list[str],
                          rates: dict[str, GammaPoissonPooling]) -> HawkesFitter | None:
    """Self-excitation within each chain (what the engine samples: offspring of the same chain).

    Shared ``(mu, n, beta)``; each chain's baseline is ``mu`` times its pooled
    rate relative to the mean (so rate differences between chains are not read
    as clustering); chain ``c`` is observed over its exposure windows.
    """
    if len(idx) < HAWKES_MIN_EVENTS:
        return None
    total = sum(p.rates_per_year_ for p in rates.values())
    rel = {c: float(total[i] / total.mean()) for i, c in enumerate(chains)}
    starts = [a for c in chains for a, _ in es.windows[c]]
    t0 = min(starts)
    ev = [es.events[i] for i in idx]
    t = np.array([(e.start_utc - t0) / DAY_S for e in ev])
    end = np.array([(max(b for _, b in es.windows[e.chain]) - t0) / DAY_S for e in ev])
    integral = sum(rel[c] * sum(b - a for a, b in es.windows[c]) / DAY_S for c in chains)
    try:
        return HawkesFitter().fit(t, (es.as_of_utc - t0) / DAY_S, baseline_at_events=[rel[e.chain] for e in ev],
                                  baseline_integral=integral, marks=[e.chain for e in ev], end_days=end)
    except DataError:
        return None


def _fit_hawkes_cross(es: EventSet, joint: set[int], chains: list[str],
                      rates: dict[str, GammaPoissonPooling]) -> CrossHawkesFitter | None:
    """Within- and cross-chain excitation (:mod:`seqrisk.stats.crosschain`); shock member events are parents."""
    if len(es.events) - len(joint) < HAWKES_MIN_EVENTS:
        return None
    total = sum(p.rates_per_year_ for p in rates.values())
    rel = {c: float(total[i] / total.mean()) for i, c in enumerate(chains)}
    t0 = min(a for w in es.windows.values() for a, _ in w)
    win = {c: [((a - t0) / DAY_S, (b - t0) / DAY_S) for a, b in es.windows[c]] for c in chains if es.windows[c]}
    ev = [(j, e) for j, e in enumerate(es.events) if e.chain in win]
    try:
        return CrossHawkesFitter().fit([(e.start_utc - t0) / DAY_S for _, e in ev], [e.chain for _, e in ev],
                                       [j not in joint for j, _ in ev], rel, win)
    except DataError:
        return None


def _fit_coupling(es: EventSet, chains: list[str], skip: set[int]) -> VolatilityCoupling:
    vol = daily_realized_vol("eth")
    days = vol.index  # covariate of day d is the realized vol of day d-1 (known at the day's start)
    x = np.log(vol.to_numpy()[:-1])
    day0 = days[1:]
    start = np.array([d.timestamp() for d in day0])
    end = start + DAY_S
    expo = np.zeros((len(chains), start.size))
    counts = np.zeros_like(expo)
    pos = {c: i for i, c in enumerate(chains)}
    for c, wins in es.windows.items():
        for a, b in wins:
            expo[pos[c]] += np.clip(np.minimum(end, b) - np.maximum(start, a), 0, DAY_S) / DAY_S
    # a missing day in the vol series breaks the d-1 lag: drop such days
    consecutive = (day0 - days[:-1]) == pd.Timedelta(days=1)
    expo[:, ~consecutive] = 0.0
    for j, e in enumerate(es.events):
        if j in skip or e.start_precision_s > DAY_S:
            continue
        d = int(np.searchsorted(start, e.start_utc, side="right")) - 1
        if 0 <= d < start.size and e.start_utc < end[d] and expo[pos[e.chain], d] > 0:
            counts[pos[e.chain], d] += 1
    return VolatilityCoupling().fit(x, expo, counts)


def fit_outage_statistics(
    catalog: Catalog,
    *,
    as_of: datetime | None = None,
    include_deliberate: bool = False,
    include_planned: bool = False,
    events: Sequence[EventLike] | None = None,
    exposures: Mapping[str, Window] | None = None,
    group_hawkes: bool = True,
    since: datetime | None = None,
) -> OutageStatistics:
    """Fit every piece of the outage model to the catalog (and detected events); see the module doc.

    ``group_hawkes`` also fits a Hawkes process per common-failure group (for
    reports; the model file carries the pooled fit only). ``since`` starts every
    chain's exposure window at that date instead of its launch. ``as_of``
    defaults to the catalog's coverage date (or the end of the block data in
    ``exposures`` when later), never the clock; a later one is moved back to it,
    with a note.

    The fit runs with one BLAS thread: multi-threaded BLAS sums in an order that depends on the thread count,
    which moved fitted figures in the eighth digit between a laptop, a server and a Dask worker (whose
    nanny runs one thread); with one thread the same inputs give the same bits on every machine and backend.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_outage_statistics(catalog, as_of=as_of, include_deliberate=include_deliberate,
                                      include_planned=include_planned, events=events, exposures=exposures,
                                      group_hawkes=group_hawkes, since=since)


def _fit_outage_statistics(catalog: Catalog, *, as_of: datetime | None, include_deliberate: bool,
                           include_planned: bool, events: Sequence[EventLike] | None,
                           exposures: Mapping[str, Window] | None, group_hawkes: bool,
                           since: datetime | None) -> OutageStatistics:
    as_of, moved = catalog.resolve_as_of(as_of, observed_until=_observed_until(exposures))
    since = _utc(since) if since is not None else None
    es = build_event_set(catalog, as_of=as_of, include_deliberate=include_deliberate,
                         include_planned=include_planned, events=events, exposures=exposures, since=since)
    if not es.events:
        raise DataError("no events of a modelled type before the as-of date: nothing to fit",
                        value=as_of.date().isoformat())
    checkpoint()  # between the stages of the fit (and its types and groups): a cancelled job stops here
    chains = es.chains
    expo = np.array([es.exposure_years(c) for c in chains])
    notes: list[str] = [moved] if moved else []
    if es.short_stalls:
        notes.append(f"{sum(es.short_stalls.values())} detected stall(s) shorter than {SHORT_STALL_S:.0f} s not "
                     "counted as downtime (" + ", ".join(f"{c} {n}" for c, n in sorted(es.short_stalls.items()))
                     + ")")
    groups = {g: m for g, m in catalog.groups().items()}
    l1 = settling_on_ethereum(catalog)
    if len(l1) >= 2:
        groups[L1_GROUP] = l1
    shocks, joint = common_shocks(es, groups, wide=(L1_GROUP,))
    # a joint event counts once, as its group's (common-shock) event: not in its members' own counts
    skip_rates = set(joint)
    types = [t for t in MODELLED_TYPES if any(e.type == t for e in es.events)]
    trend = _fit_time_structure(catalog, es, chains, skip_rates)
    checkpoint()
    eff_expo = trend.exposure_years()
    now = trend.factor_at(es.as_of_utc)
    rates: dict[str, GammaPoissonPooling] = {}
    for t in types:
        checkpoint()
        k = _counts(es, chains, t, skip_rates)
        if k.sum() == 0:
            notes.append(f"{t}: every event was a joint group event; own rates fitted on all events")
            k = _counts(es, chains, t, set())
        rates[t] = GammaPoissonPooling().fit(k, eff_expo, labels=chains, raw_exposures_years=expo).scale_rates(now)
    # durations: own fit per type; fall back to all modelled types pooled when a type cannot identify a law
    all_ev = list(es.events)
    low_all = np.array([e.low_s for e in all_ev])
    high_all = np.array([e.high_s for e in all_ev])
    ch_all = [e.chain for e in all_ev]
    family_fits: dict[str, dict[str, DurationFitter]] = {}
    comparison: dict[str, pd.DataFrame] = {}
    source: dict[str, str] = {}
    pooled_all: tuple[dict[str, DurationFitter], pd.DataFrame] | None = None
    for t in types:
        checkpoint()
        sel = [i for i, e in enumerate(all_ev) if e.type == t]
        try:
            family_fits[t], comparison[t] = _fit_durations(low_all[sel], high_all[sel], [ch_all[i] for i in sel],
                                                           MIN_OWN_DURATIONS)
            source[t] = "own"
        except DataError as exc:
            if pooled_all is None:
                try:
                    pooled_all = _fit_durations(low_all, high_all, ch_all)
                except DataError as exc_all:
                    raise DataError(f"too little duration data to fit any duration law ({exc_all.message}); "
                                    "add incidents with known durations or a later --as-of",
                                    value=as_of.date().isoformat()) from None
            family_fits[t], comparison[t] = pooled_all
            source[t] = "all-types"
            notes.append(f"{t}: durations cannot identify a law alone ({exc.message}); "
                         "using the fit pooled over all modelled types")
    durations = {t: family_fits[t][str(comparison[t].index[0])] for t in types}
    posteriors: dict[int, DurationPosterior] = {}
    for t in types:  # types on the all-types fit share one posterior
        if id(durations[t]) not in posteriors:
            posteriors[id(durations[t])] = duration_posterior(durations[t])
    dur_post = {t: posteriors[id(durations[t])] for t in types}
    # clustering: pooled failure events, a joint group event counted once
    first_of_joint = {min(s_idx) for s in shocks for s_idx in s.joint_indices}
    idx = [i for i in range(len(all_ev)) if i not in joint or i in first_of_joint]
    checkpoint()
    hawkes_pooled = _fit_hawkes(es, idx, chains)
    checkpoint()
    hawkes = _fit_hawkes_per_chain(es, [i for i in range(len(all_ev)) if i not in joint], chains, rates)
    checkpoint()
    hawkes_cross = _fit_hawkes_cross(es, joint, chains, rates)
    hawkes_groups: dict[str, HawkesFitter] = {}
    for s in shocks if group_hawkes else []:
        checkpoint()
        gi = [i for i in idx if all_ev[i].chain in s.members]
        hg = _fit_hawkes(es, gi, list(s.members))
        if hg is not None:
            hawkes_groups[s.group] = hg
    checkpoint()
    try:
        coupling: VolatilityCoupling | None = _fit_coupling(es, chains, skip=set(joint) - first_of_joint)
    except DataError as exc:
        coupling = None
        notes.append(f"volatility coupling not estimable ({exc.message}); beta = 0")
    # the model file
    fid = {c.id: c.forced_inclusion_delay_s for c in catalog.chains}
    laws = {}
    own_draws = {t: rates[t].posterior_draws(POSTERIOR_DRAWS, seed=2) for t in types}
    for i, c in enumerate(chains):
        laws[c] = ChainOutageLaw(
            chain=c,
            rates_per_year={t: float(rates[t].rates_per_year_[i]) for t in types},
            durations={t: dur_post[t].law(c) for t in types},
            forced_inclusion_delay_s=fid.get(c),
            rate_intervals={t: (float(rates[t].intervals_[i, 0]), float(rates[t].intervals_[i, 1]))
                            for t in types},
            rate_draws={t: rate_draws(own_draws[t][0][:, i], own_draws[t][1][:, i]) for t in types})
    type_weights = {t: float(sum(e.type == t for e in es.events)) for t in types}
    shock_model = fit_shock_model(shocks, type_weights, POSTERIOR_DRAWS)
    model_shocks = []
    if shock_model.groups:
        for g in shock_model.groups:
            sh = next(x for x in shocks if x.group == g)
            mix = {t: w for t, w in shock_model.type_mix.items() if t in dur_post and w > 0}
            tot = sum(mix.values())
            mix = {t: w / tot for t, w in mix.items()}
            main = max(mix, key=lambda t: mix[t])
            model_shocks.append(CommonShock(
                g, sh.members, shock_model.rate(g), dur_post[main].law(), main, type_mix=mix,
                durations={t: dur_post[t].law() for t in mix},
                extra_hit_probability=shock_model.extra_hit_probability, rate_interval=shock_model.interval(g),
                rate_draws=rate_draws(shock_model.shape[g], shock_model.rate_years[g])))
    hc = hawkes_cross
    use_hawkes = hc is not None and hc.p_value_ < HAWKES_ALPHA
    meta: dict[str, Any] = {
        "fitted_by": "seqrisk.stats.fit_outage_model",
        "as_of": as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "catalog": {"version": catalog.version, "digest": catalog.digest,
                    "coverage_date": catalog.coverage_date.isoformat() if catalog.coverage_date else None},
        "since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since else None,
        "include_deliberate": include_deliberate, "include_planned": include_planned,
        "n_events": len(all_ev), "detected_events": sum(1 for e in all_ev if e.source.startswith("detected:")),
        "duration_family": {t: durations[t].family for t in types},
        "duration_chain_effect": {t: durations[t].chain_effect for t in types},
        "duration_law": "predictive: mixture over posterior draws of the duration model and the chain's effect",
        "duration_source": source,
        "beta_p_value": coupling.p_value_ if coupling else None,
        "hawkes_p_value": hc.p_value_ if hc else None,
        "hawkes_scope": "pooled over chains and types: follow-ons within the chain (branching) and on other chains "
                        "(cross_branching); rates_per_year are mean rates (follow-ons included)",
        "shock_pooling": "joint-event rates pooled across groups (gamma-Poisson); a joint event hits two members "
                         "and each other member with extra_hit_probability; hit chains' types from type_mix",
        "notes": notes,
    }
    model = OutageModel(
        chains=laws, shocks=tuple(model_shocks),
        beta=coupling.beta_ if coupling else 0.0,
        beta_interval=coupling.interval_ if coupling else None,
        sigma_ref=coupling.sigma_ref_ if coupling else 0.6,
        hawkes=Hawkes(hc.branching_within_, hc.decay_per_day_, hc.branching_cross_,
                      tuple((float(a), float(b), float(c)) for a, b, c in hc.draws_))
        if use_hawkes and hc is not None else None,
        meta=meta)
    return OutageStatistics(es, chains, rates, durations, family_fits, comparison, source, shocks, joint, hawkes,
                            hawkes_groups, hawkes_pooled, coupling, model, notes, dur_post, shock_model, trend,
                            hawkes_cross)


def fit_outage_model(
    catalog: Catalog,
    *,
    as_of: datetime | None = None,
    include_deliberate: bool = False,
    include_planned: bool = False,
    events: Sequence[EventLike] | None = None,
    exposures: Mapping[str, Window] | None = None,
) -> OutageModel:
    """The fitted :class:`~seqrisk.outage.OutageModel` of ``catalog`` (plus detected ``events``).

    Every chain gets a pooled (empirical-Bayes) rate and a duration law for each
    modelled event type with data; common shocks for groups with joint events;
    ``beta``, its interval and ``sigma_ref`` from the volatility coupling;
    ``hawkes`` (self-excitation within a chain) when the LR test rejects Poisson
    at 5%. ``as_of`` defaults to the catalog's coverage date (see
    :meth:`seqrisk.catalog.Catalog.resolve_as_of`).
    """
    return fit_outage_statistics(catalog, as_of=as_of, include_deliberate=include_deliberate,
                                 include_planned=include_planned, events=events, exposures=exposures,
                                 group_hawkes=False).model
