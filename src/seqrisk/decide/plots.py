"""Plotly figures of decisions (plotly is imported on use): what ``Comparison.plot`` and ``SweepResult.plot``
return. The figures read the results by their attributes, so this module imports no other decision module."""

from __future__ import annotations

from typing import Any

from seqrisk.engine.plots import layout

__all__ = ["Z95", "effects_figure", "sweep_figure"]

#: Two-sided 95% normal quantile of the error bars.
Z95 = 1.959963984540054


def effects_figure(comparison: Any, key: str = "es99") -> Any:
    """Forest plot of each strategy's change of ``key`` (``el``, ``es99`` ...) against the baseline, one row
    per strategy and a marker per party, with 95% intervals from the paired standard errors (USD)."""
    import plotly.graph_objects as go

    rows = comparison.results[1:]
    fig = go.Figure()
    for shift, (party, colour) in zip((0.15, -0.15), (("holder", "#2f5fd0"), ("venue", "#b3261e")), strict=True):
        d = [r.diffs[f"{party}.{key}"] for r in rows]
        fig.add_trace(go.Scatter(x=[x.value for x in d], y=[i + shift for i in range(len(rows))], mode="markers",
                                 marker={"color": colour}, name=f"{party}: change of {key}, 95% (paired)",
                                 error_x={"type": "data", "array": [Z95 * x.se for x in d]}))
    fig.add_vline(x=0.0, line_dash="dot")
    return layout(fig, f"Change of {key} against the baseline (USD over the horizon; left of 0 is a cut)",
                  height=max(300, 40 * len(rows) + 140), xaxis_title="strategy - baseline (USD)",
                  yaxis={"tickvals": list(range(len(rows))), "ticktext": [r.name for r in rows], "automargin": True})


def sweep_figure(sweep: Any) -> Any:
    """Both parties' expected loss and the deciding party's objective along the swept parameter, 95% error
    bars (USD), the optimum and its 90% bootstrap interval shaded."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, series in (("holder EL", sweep.holder), ("venue EL", sweep.venue), ("objective", sweep.curve)):
        fig.add_trace(go.Scatter(x=list(sweep.values), y=[e.value for e in series], mode="lines+markers",
                                 name=name, error_y={"type": "data", "array": [Z95 * e.se for e in series]}))
    lo, hi = sweep.best_interval
    if hi > lo:
        fig.add_vrect(x0=lo, x1=hi, fillcolor="#2f5fd0", opacity=0.12, line_width=0)
    fig.add_vline(x=sweep.best_value, line_dash="dot", annotation_text=f"best {sweep.best_value:g}")
    return layout(fig, f"{sweep.param}: {sweep.objective} ({sweep.perspective} decides)",
                  xaxis_title=sweep.param, yaxis_title="USD over the horizon")
