"""Plotly figures of a simulation's loss distribution (pure: they build figures; plotly is imported on use).

:func:`loss_distribution` draws the exceedance curve ``P(L > x)`` with marks
(VaR, ES) and their 95% intervals (``SimulationResult.plot`` and the report
use it); :func:`layout` is the house layout of seqrisk's figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MARKS", "layout", "loss_distribution"]

#: The tail measures marked on a loss distribution: (measure, level, label).
MARKS = (("var", 0.99, "VaR 99%"), ("es", 0.99, "ES 99%"), ("es", 0.999, "ES 99.9%"))


def layout(fig: Any, title: str, **kw: Any) -> Any:
    """The house layout: white template, title at the left, legend below, ``height`` 380 px unless given."""
    fig.update_layout(title={"text": title, "x": 0.01}, template="plotly_white", height=kw.pop("height", 380),
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.2}, **kw)
    return fig


def loss_distribution(losses_usd: np.ndarray, masses: np.ndarray, marks: dict[str, tuple[float, float]],
                      title: str) -> Any:
    """Exceedance curve P(L > x) on log axes (USD).

    ``masses`` is the probability each sample stands for (they may sum to less
    than one: the rest is the no-outage outcome, a loss of 0). Each mark
    ``label -> (value, std_error)`` is drawn as a line with its 95% interval shaded.
    """
    import plotly.graph_objects as go

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
    return layout(fig, title, xaxis={"type": "log", "title": "loss over the horizon (USD)",
                                      "range": [np.log10(x_lo), np.log10(float(xs.max()) * 1.5)]},
                   yaxis={"type": "log", "title": "probability of exceeding"})
