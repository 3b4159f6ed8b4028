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

from seqrisk.catalog import Catalog
from seqrisk.display import Displayed, Shown
from seqrisk.exceptions import DataError, UsageError
from seqrisk.outage import ChainOutageLaw, CommonShock, DurationLaw, Hawkes, OutageModel
from seqrisk.stats.coupling import VolatilityCoupling
from seqrisk.stats.derived import derived_figures
from seqrisk.stats.durations import DurationFitter, compare_families
from seqrisk.stats.events import MODELLED_TYPES, EventLike, EventSet, Window, build_event_set
from seqrisk.stats.hawkes import HawkesFitter
from seqrisk.stats.prices import daily_realized_vol
from seqrisk.stats.rates import GammaPoissonPooling
from seqrisk.stats.shocks import GroupShock, common_shocks
from seqrisk.units import DAY_S, YEAR_S, format_duration

__all__ = ["OutageStatistics", "fit_outage_model", "fit_outage_statistics"]

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

    def shock_rate_per_year(self, chain: str, type_: str) -> float:
        """Sum of the common-shock rates (per year) of type ``type_`` that hit ``chain``."""
        return sum(s.rate_per_year for s in self.model.shocks if s.type == type_ and chain in s.members)

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
        draws = pool.sample(np.random.default_rng([seed, i]), n_boot, chain=i)
        return derived_figures(float(pool.rates_per_year_[i]), draws, self.durations[type_], chain=chain,
                               horizon_s=horizon_s, seed=seed,
                               extra_rate_per_year=self.shock_rate_per_year(chain, type_))


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


def _counts(es: EventSet, chains: list[str], type_: str, skip: set[int]) -> np.ndarray:
    k = np.zeros(len(chains))
    pos = {c: i for i, c in enumerate(chains)}
    for j, e in enumerate(es.events):
        if e.type == type_ and j not in skip:
            k[pos[e.chain]] += 1
    return k


#: Fewest informative durations for a type's own duration fit (else the all-types fit is used).
MIN_OWN_DURATIONS = 3
#: Fewest informative durations (on at least two chains) for a chain effect on the location.
MIN_CHAIN_EFFECT_DURATIONS = 5


def _fit_durations(low: np.ndarray, high: np.ndarray, chains: list[str],
                   min_n: int = 2) -> tuple[dict[str, DurationFitter], pd.DataFrame]:
    info = [c for c, lo, hi in zip(chains, low, high, strict=True) if not (lo <= 0 and hi == np.inf)]
    if len(info) < min_n:
        raise DataError(f"{len(info)} informative duration(s), fewer than {min_n}")
    effect = len(set(info)) >= 2 and len(info) >= MIN_CHAIN_EFFECT_DURATIONS
    fits, table = compare_families(low, high, chains=chains, chain_effect=effect)
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
    """
    as_of, moved = catalog.resolve_as_of(as_of, observed_until=_observed_until(exposures))
    since = _utc(since) if since is not None else None
    es = build_event_set(catalog, as_of=as_of, include_deliberate=include_deliberate,
                         include_planned=include_planned, events=events, exposures=exposures, since=since)
    if not es.events:
        raise DataError("no events of a modelled type before the as-of date: nothing to fit",
                        value=as_of.date().isoformat())
    chains = es.chains
    expo = np.array([es.exposure_years(c) for c in chains])
    notes: list[str] = [moved] if moved else []
    groups = {g: m for g, m in catalog.groups().items()}
    shocks, joint = common_shocks(es, groups)
    # a joint event counts once, as its group's (common-shock) event: not in its members' own counts
    skip_rates = set(joint)
    types = [t for t in MODELLED_TYPES if any(e.type == t for e in es.events)]
    rates: dict[str, GammaPoissonPooling] = {}
    for t in types:
        k = _counts(es, chains, t, skip_rates)
        if k.sum() == 0:
            notes.append(f"{t}: every event was a joint group event; own rates fitted on all events")
            k = _counts(es, chains, t, set())
        rates[t] = GammaPoissonPooling().fit(k, expo, labels=chains)
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
    # clustering: pooled failure events, a joint group event counted once
    first_of_joint = {min(s_idx) for s in shocks for s_idx in s.joint_indices}
    idx = [i for i in range(len(all_ev)) if i not in joint or i in first_of_joint]
    hawkes_pooled = _fit_hawkes(es, idx, chains)
    hawkes = _fit_hawkes_per_chain(es, [i for i in range(len(all_ev)) if i not in joint], chains, rates)
    hawkes_groups: dict[str, HawkesFitter] = {}
    for s in shocks if group_hawkes else []:
        gi = [i for i in idx if all_ev[i].chain in s.members]
        hg = _fit_hawkes(es, gi, list(s.members))
        if hg is not None:
            hawkes_groups[s.group] = hg
    try:
        coupling: VolatilityCoupling | None = _fit_coupling(es, chains, skip=set(joint) - first_of_joint)
    except DataError as exc:
        coupling = None
        notes.append(f"volatility coupling not estimable ({exc.message}); beta = 0")
    # the model file
    fid = {c.id: c.forced_inclusion_delay_s for c in catalog.chains}
    laws = {}
    for i, c in enumerate(chains):
        laws[c] = ChainOutageLaw(
            chain=c,
            rates_per_year={t: float(rates[t].rates_per_year_[i]) for t in types},
            durations={t: durations[t].law(c) for t in types},
            forced_inclusion_delay_s=fid.get(c),
            rate_intervals={t: (float(rates[t].intervals_[i, 0]), float(rates[t].intervals_[i, 1]))
                            for t in types})
    model_shocks = tuple(
        CommonShock(s.group, s.members, s.rate_per_year,
                    durations[s.type].law() if s.type in durations else DurationLaw("fixed", {"duration_s": 3600.0}),
                    s.type)
        for s in shocks if s.joint_events > 0)
    use_hawkes = hawkes is not None and hawkes.p_value_ < HAWKES_ALPHA and hawkes.branching_ < 1
    meta: dict[str, Any] = {
        "fitted_by": "seqrisk.stats.fit_outage_model",
        "as_of": as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "catalog": {"version": catalog.version, "digest": catalog.digest,
                    "coverage_date": catalog.coverage_date.isoformat() if catalog.coverage_date else None},
        "since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since else None,
        "include_deliberate": include_deliberate, "include_planned": include_planned,
        "n_events": len(all_ev), "detected_events": sum(1 for e in all_ev if e.source.startswith("detected:")),
        "duration_family": {t: durations[t].family for t in types},
        "duration_source": source,
        "beta_p_value": coupling.p_value_ if coupling else None,
        "hawkes_p_value": hawkes.p_value_ if hawkes else None,
        "hawkes_scope": "within each chain, all modelled types; rates_per_year are mean rates (offspring "
                        "included): the immigrant rate is rate * (1 - branching)",
        "zero_joint_groups_upper_95": {s.group: s.high for s in shocks if s.joint_events == 0},
        "notes": notes,
    }
    model = OutageModel(
        chains=laws, shocks=model_shocks,
        beta=coupling.beta_ if coupling else 0.0,
        beta_interval=coupling.interval_ if coupling else None,
        sigma_ref=coupling.sigma_ref_ if coupling else 0.6,
        hawkes=Hawkes(hawkes.branching_, hawkes.decay_per_day_) if use_hawkes and hawkes else None,
        meta=meta)
    return OutageStatistics(es, chains, rates, durations, family_fits, comparison, source, shocks, joint, hawkes,
                            hawkes_groups, hawkes_pooled, coupling, model, notes)


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
