"""Plotly figures for the report, built from catalog data and simulation arrays.

Every axis says its unit. Functions return ``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqrisk.catalog import Incident
from seqrisk.engine.plots import layout as _layout
from seqrisk.engine.plots import loss_distribution

__all__ = ["incident_timeline", "liquidation_curves", "loss_distribution", "stress_heatmap"]

_TYPE_COLOURS = {"downtime": "#b3261e", "degraded": "#e08a00", "censorship": "#7b3fb5", "reorg": "#2f5fd0",
                 "da_delay": "#188a8d", "other": "#7d8796"}


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def incident_timeline(incidents: Sequence[Incident]) -> Any:
    """Each incident as a marker at its start, one row per chain, size by duration (minutes)."""
    go = _go()
    fig = go.Figure()
    for etype, colour in _TYPE_COLOURS.items():
        rows = [i for i in incidents if i.type == etype]
        if not rows:
            continue
        dur_min = np.array([(i.duration_s or 0.0) / 60.0 for i in rows])
        size = 8 + 10 * np.log10(1 + dur_min)
        fig.add_trace(go.Scatter(
            x=[i.start_utc.isoformat() for i in rows], y=[i.chain for i in rows], mode="markers", name=etype,
            marker={"size": size, "color": colour, "opacity": 0.8, "line": {"width": 0.5, "color": "#222"}},
            text=[f"{i.id}<br>{i.type}, {'%.0f min' % (i.duration_s / 60) if i.duration_s else 'duration unknown'}"
                  f"<br>{i.cause[:80]}" for i in rows],
            hovertemplate="%{text}<extra></extra>"))
    chains = sorted({i.chain for i in incidents})
    return _layout(fig, "Incident timeline (marker size grows with duration)", height=max(320, 26 * len(chains) + 120),
                   xaxis_title="start (UTC)", yaxis={"categoryorder": "category descending", "title": "chain"})


def stress_heatmap(durations_s: Sequence[float], moves: Sequence[float], holder: np.ndarray, venue: np.ndarray,
                   liquidated: np.ndarray, title: str) -> Any:
    """Outage duration (rows) against price move (columns): the holder's loss (left) and the venue's bad debt
    (right), each coloured on its own scale (USD); the hover adds the liquidated notional."""
    go = _go()
    from plotly.subplots import make_subplots

    labels = [_dur_label(d) for d in durations_s]
    cols = [f"{m:+.0%}" for m in moves]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("holder's loss", "venue's bad debt"),
                        horizontal_spacing=0.1)
    for i, (z, scale, x0) in enumerate(((holder, "Blues", 0.445), (venue, "Reds", 1.0)), 1):
        top = float(np.nanmax(z)) if np.size(z) else 0.0
        bottom = min(0.0, float(np.nanmin(z))) if np.size(z) else 0.0
        text = [[_money(v) for v in row] for row in z]
        hover = [[f"{_money(v)}; liquidated notional {_money(q)}" for v, q in zip(zr, qr, strict=True)]
                 for zr, qr in zip(z, liquidated, strict=True)]
        fig.add_trace(go.Heatmap(z=z, x=cols, y=labels, text=text, texttemplate="%{text}", textfont={"size": 9},
                                 customdata=hover, colorscale=scale, zmin=bottom, zmax=max(top, bottom + 1.0),
                                 colorbar={"title": "USD", "x": x0, "len": 0.9, "thickness": 12},
                                 hovertemplate="outage %{y}, move %{x}<br>%{customdata}<extra></extra>"),
                      row=1, col=i)
    fig.update_xaxes(title_text="price move of the book's assets over the outage")
    fig.update_yaxes(title_text="outage duration", col=1)
    fig.update_yaxes(showticklabels=False, col=2)
    return _layout(fig, title, height=140 + 40 * len(labels))


def liquidation_curves(durations_s: Sequence[float], curves: dict[str, np.ndarray], title: str) -> Any:
    """P(liquidation at restart) against outage duration, one line per position."""
    go = _go()
    fig = go.Figure()
    xs = np.asarray(durations_s, dtype=float) / 3600.0
    for name, p in curves.items():
        fig.add_trace(go.Scatter(x=xs, y=p, mode="lines+markers", name=name))
    return _layout(fig, title, xaxis={"type": "log", "title": "outage duration (hours)"},
                   yaxis={"title": "probability of liquidation", "range": [0, 1]})


def _dur_label(s: float) -> str:
    return f"{s / 3600:g} h" if s >= 3600 else f"{s / 60:g} min"


def _money(v: float) -> str:
    a = abs(v)
    sign = "-" if v < 0 else ""
    if a >= 1e6:
        return f"{sign}${a / 1e6:.2f}M"
    if a >= 1e3:
        return f"{sign}${a / 1e3:.1f}k"
    return f"{sign}${a:.0f}"
