"""Plotly figures of the outage statistics (pure: they build figures, the CLI writes them).

* :func:`survival_figure` (``DurationFitter.plot``) and :func:`km_figure`
  (``OutageStatistics.plot("survival")``, one event type, all chains):
  Turnbull's NPMLE (exact under interval censoring) and Kaplan-Meier at
  interval midpoints with its 95% band, against each fitted family's survival
  curve (marginal over the chain effect).
* :func:`rate_forest` (``GammaPoissonPooling.plot``) and :func:`forest_figure`
  (``OutageStatistics.plot("forest")``): per chain, the raw rate with its
  Garwood interval and the pooled (empirical-Bayes) rate with its posterior
  interval.

The figures take fitted objects by their attributes (``sf``, ``aic_``,
``rates_per_year_`` ...), so the fitters can offer ``.plot()`` without an
import circle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from seqrisk.exceptions import DataError
from seqrisk.stats.survival import kaplan_meier, km_points_from_bounds, turnbull
from seqrisk.units import HOUR_S

__all__ = ["backtest_figure", "checks_figure", "forest_figure", "forest_plot", "km_figure", "rate_forest",
           "survival_figure", "survival_plot"]

_COLOURS = {"lognormal": "#1f77b4", "weibull": "#d62728", "loglogistic": "#2ca02c"}


def km_figure(stats: Any, type_: str = "downtime") -> go.Figure:
    """Kaplan-Meier of ``type_`` durations (hours, log axis) against the fitted families; ``stats`` is an
    :class:`~seqrisk.stats.OutageStatistics`."""
    if type_ not in stats.durations:
        raise DataError("no fitted durations for this type", field="type", value=type_)
    ev = [e for e in stats.events.events if e.type == type_]
    if stats.duration_source[type_] != "own":
        ev = list(stats.events.events)
    fits = stats.duration_fits[type_]
    chosen = next((f for f, fit in fits.items() if fit is stats.durations[type_]), None)
    src = "" if stats.duration_source[type_] == "own" else " (all modelled types pooled)"
    return survival_figure([e.low_s for e in ev], [e.high_s for e in ev], fits, chosen,
                           f"{type_} durations: Turnbull and Kaplan-Meier vs fitted laws{src}",
                           stats.duration_posteriors[type_].law(None))


def survival_figure(low_s: Sequence[float], high_s: Sequence[float], fits: Mapping[str, Any], chosen: str | None,
                    title: str, predictive: Any = None) -> go.Figure:
    """Turnbull and Kaplan-Meier of durations given as bounds (seconds; shown in hours, log axis) against the
    survival curves of ``fits`` (label -> a fitted :class:`~seqrisk.stats.DurationFitter`; ``chosen`` drawn
    bold, fits with a chain effect dotted) and, when given, the ``predictive`` law of a new chain."""
    ev_low, ev_high = np.asarray(low_s, dtype=float), np.asarray(high_s, dtype=float)
    t, obs = km_points_from_bounds(ev_low, ev_high)
    fig = go.Figure()
    x_max = 1.0
    if t.size:
        km = kaplan_meier(t, obs)
        x = np.concatenate([[t.min() * 0.5], km["time_s"].to_numpy()]) / HOUR_S
        s = np.concatenate([[1.0], km["survival"].to_numpy()])
        lo = np.concatenate([[1.0], km["low"].to_numpy()])
        hi = np.concatenate([[1.0], km["high"].to_numpy()])
        fig.add_trace(go.Scatter(x=x, y=hi, mode="lines", line={"shape": "hv", "width": 0},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=lo, mode="lines", line={"shape": "hv", "width": 0}, fill="tonexty",
                                 fillcolor="rgba(0,0,0,0.10)", name="95% band (Greenwood, log-log)"))
        fig.add_trace(go.Scatter(x=x, y=s, mode="lines", line={"shape": "hv", "color": "#7f7f7f", "dash": "dot"},
                                 name=f"Kaplan-Meier at interval midpoints (n={t.size}, {int((~obs).sum())} "
                                      "censored)"))
        tb = turnbull(ev_low, ev_high)
        xs, ys = [float(tb["left_s"].iloc[0]) * 0.5 / HOUR_S], [1.0]
        prev = 1.0
        for q, p_, sv in zip(tb["left_s"], tb["right_s"], tb["survival"], strict=True):
            p_ = p_ if np.isfinite(p_) else 3.0 * max(q, 1.0)  # mass beyond the last censoring time
            xs += [max(q, 1.0) / HOUR_S, max(p_, 1.0) / HOUR_S]  # the drop lies somewhere in (left, right]
            ys += [prev, sv]
            prev = sv
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "black"},
                                 name="Turnbull NPMLE (interval-censored)"))
        x_max = float(t.max()) * 3 / HOUR_S
    grid = np.geomspace(60.0 / HOUR_S, max(x_max, 2.0), 200)
    for label, fit in fits.items():
        is_chosen = label == chosen
        mark = " (chosen by AIC)" if is_chosen and len(fits) > 1 else ""
        fig.add_trace(go.Scatter(x=grid, y=fit.sf(grid * HOUR_S), mode="lines",
                                 line={"color": _COLOURS.get(fit.family), "width": 2.5 if is_chosen else 1.2,
                                       "dash": "dot" if getattr(fit, "chain_effect", False) else "solid"},
                                 name=f"{label}, AIC {fit.aic_:.1f}{mark}"))
    if predictive is not None:
        fig.add_trace(go.Scatter(x=grid, y=predictive.sf(grid * HOUR_S), mode="lines",
                                 line={"color": "#9467bd", "width": 3},
                                 name="predictive law of a new chain (parameters and chain effect integrated)"))
    fig.update_layout(title=title,
                      xaxis={"title": "duration (hours)", "type": "log"},
                      yaxis={"title": "P(duration > t)", "range": [0, 1.02]}, template="plotly_white")
    return fig


def forest_figure(stats: Any, type_: str = "downtime") -> go.Figure:
    """Raw (Garwood) vs pooled (posterior) rates per chain of ``type_``, events per year, 95% intervals;
    ``stats`` is an :class:`~seqrisk.stats.OutageStatistics`."""
    if type_ not in stats.rates:
        raise DataError("no events of this type", field="type", value=type_)
    return rate_forest(stats.rates[type_], f"{type_}: raw vs pooled rates (events per year)")


def rate_forest(p: Any, title: str) -> go.Figure:
    """Raw (Garwood) vs pooled (posterior) rate per chain of a fitted
    :class:`~seqrisk.stats.GammaPoissonPooling`, events per year, with their intervals."""
    order = np.argsort(p.rates_per_year_)
    labels = [f"{p.labels_[i]} ({int(p.counts_[i])} in "
              f"{getattr(p, 'raw_exposures_years_', p.exposures_years_)[i]:.1f}y)" for i in order]
    raw = np.nan_to_num(p.raw_rates_per_year_[order], nan=0.0)
    fig = go.Figure()
    y = np.arange(order.size)
    fig.add_trace(go.Scatter(
        x=raw, y=y + 0.18, mode="markers", marker={"symbol": "square-open", "color": "#7f7f7f"},
        name="raw rate, Garwood 95%",
        error_x={"type": "data", "symmetric": False,
                 "array": np.where(np.isfinite(p.raw_intervals_[order, 1]), p.raw_intervals_[order, 1] - raw, 0),
                 "arrayminus": raw - p.raw_intervals_[order, 0]}))
    fig.add_trace(go.Scatter(
        x=p.rates_per_year_[order], y=y - 0.18, mode="markers", marker={"color": "#1f77b4"},
        name="pooled (hierarchical gamma-Poisson), 95% posterior",
        error_x={"type": "data", "symmetric": False,
                 "array": p.intervals_[order, 1] - p.rates_per_year_[order],
                 "arrayminus": p.rates_per_year_[order] - p.intervals_[order, 0]}))
    fig.add_vline(x=p.prior_mean_per_year_, line_dash="dot",
                  annotation_text=f"prior mean {p.prior_mean_per_year_:.2f}/yr")
    x_hi = float(max(p.intervals_[:, 1].max(), p.prior_mean_per_year_) * 1.8)
    clipped = bool(np.nanmax(np.where(np.isfinite(p.raw_intervals_[:, 1]), p.raw_intervals_[:, 1], 0)) > x_hi)
    fig.update_layout(title=title,
                      xaxis={"title": "events per year" + (" (axis clipped: raw intervals run further)"
                                                           if clipped else ""), "range": [0, x_hi]},
                      yaxis={"tickvals": y, "ticktext": labels, "automargin": True},
                      height=max(400, 22 * order.size + 120), template="plotly_white")
    return fig


#: Aliases under the names the report builder uses.
survival_plot = km_figure
forest_plot = forest_figure


def checks_figure(checks: Sequence[Any]) -> go.Figure:
    """Posterior predictive checks (:class:`seqrisk.stats.forecast.Check`): each statistic's replicated distribution
    against the observed value."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(checks), subplot_titles=[c.label for c in checks])
    for i, c in enumerate(checks, start=1):
        fig.add_trace(go.Histogram(x=c.replicates, marker={"color": "#1f77b4"}, opacity=0.7, showlegend=i == 1,
                                   name="replicated from the fitted model"), row=1, col=i)
        fig.add_vline(x=c.observed, line={"color": "#d62728", "width": 3}, row=1, col=i,
                      annotation_text=f"observed {c.observed:.0f} (P(>=) {c.p_upper:.2f})")
    fig.update_layout(title="Posterior predictive checks: the observed history against replicates of it",
                      template="plotly_white", height=420, width=360 * len(checks))
    return fig


def backtest_figure(bt: Any) -> go.Figure:
    """Backtest: the PIT histogram of each count forecast (flat when calibrated) and their log scores."""
    from plotly.subplots import make_subplots

    summ = bt.summary()
    models = list(summ)  # the count forecasts in display order
    bins = len(summ[models[0]]["pit_histogram"])
    fig = make_subplots(rows=1, cols=len(models) + 1,
                        subplot_titles=[*(f"PIT: {m}" for m in models), "log score (higher is better)"])
    centres = (np.arange(bins) + 0.5) / bins
    for i, m in enumerate(models, start=1):
        h = np.asarray(summ[m]["pit_histogram"], float)
        fig.add_trace(go.Bar(x=centres, y=h, width=1.0 / bins, name=m, showlegend=False), row=1, col=i)
        fig.add_hline(y=h.sum() / bins, line={"dash": "dot", "color": "#888"}, row=1, col=i)
    fig.add_trace(go.Bar(x=list(models), y=[summ[m]["log_score"] for m in models], showlegend=False,
                         marker={"color": "#1f77b4"}), row=1, col=len(models) + 1)
    fig.update_layout(title=f"Backtest of {bt.type} counts from {bt.train_until.date()} to {bt.test_until.date()}",
                      template="plotly_white", height=420, width=320 * (len(models) + 1))
    return fig
