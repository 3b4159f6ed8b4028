"""Plotly figures for the report, built from catalog data and simulation arrays.

Every axis says its unit. Functions return ``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqrisk.catalog import Incident

__all__ = ["incident_timeline", "liquidation_curves", "loss_distribution", "stress_heatmap"]

_TYPE_COLOURS = {"downtime": "#b3261e", "degraded": "#e08a00", "censorship": "#7b3fb5", "reorg": "#2f5fd0",
                 "da_delay": "#188a8d", "other": "#7d8796"}


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _layout(fig: Any, title: str, **kw: Any) -> Any:
    fig.update_layout(title={"text": title, "x": 0.01}, template="plotly_white", height=kw.pop("height", 380),
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.2}, **kw)
    return fig


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


def loss_distribution(losses_usd: np.ndarray, masses: np.ndarray, marks: dict[str, tuple[float, float]],
                      title: str) -> Any:
    """Exceedance curve P(L > x) on log axes (USD).

    ``masses`` is the probability each sample stands for (they may sum to less
    than one: the rest is the no-outage outcome, a loss of 0). Each mark
    ``label -> (value, std_error)`` is drawn as a line with its 95% interval shaded.
    """
    go = _go()
    x = np.asarray(losses_usd, dtype=float)
    w = np.asarray(masses, dtype=float)
    pos = x > 0
    fig = go.Figure()
    order = np.argsort(x[pos])[::-1]
    xs = x[pos][order]
    ex = np.cumsum(w[pos][order])
    keep = np.unique(np.linspace(0, len(xs) - 1, min(len(xs), 2000)).astype(int))
    fig.add_trace(go.Scatter(x=xs[keep], y=ex[keep], mode="lines", name="P(loss > x)", line={"width": 2}))
    for i, (label, (value, se)) in enumerate(marks.items()):
        if value > 0:
            lo, hi = max(value - 1.96 * se, value * 1e-3), value + 1.96 * se
            if hi > lo:
                fig.add_vrect(x0=lo, x1=hi, fillcolor="#2f5fd0", opacity=0.12, line_width=0)
            fig.add_vline(x=value, line_dash="dot", line_color="#1d2330")
            # on a log axis an annotation's x is log10 of the value (shapes take the value itself); labels are
            # stepped down so neighbouring markers do not overwrite each other
            fig.add_annotation(x=float(np.log10(value)), xref="x", y=1.0 - 0.09 * i, yref="paper", text=label,
                               showarrow=False, xanchor="right", xshift=-4, font={"size": 11},
                               bgcolor="rgba(255,255,255,0.8)")
    x_lo = max(1.0, float(xs.max()) * 1e-6)
    return _layout(fig, title, xaxis={"type": "log", "title": "loss over the horizon (USD)",
                                      "range": [np.log10(x_lo), np.log10(float(xs.max()) * 1.5)]},
                   yaxis={"type": "log", "title": "probability of exceeding"})


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
