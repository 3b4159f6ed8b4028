"""The report's advice and mitigation section: one party at a time, on EL and ES, levers in words.

Rendering only: the figures come from a
:class:`~seqrisk.report.mitigations.MitigationSection` computed on the headline
run's random numbers. Holder loss and venue bad debt are shown side by side,
never added; each party is advised only on the levers it controls.
"""

from __future__ import annotations

import math
from typing import Any

from seqrisk.report.html import Page, esc, html_table
from seqrisk.units import format_duration, format_usd

__all__ = ["mitigations_section", "what_to_do"]

_PARTY = {"holder": ("holder", "the holder's attributable loss"), "venue": ("venue", "the venue's bad debt")}


def _pm(d: Any) -> str:
    return f"{format_usd(d.value)} ± {format_usd(d.se)}"


def _per(v: float) -> str:
    if math.isinf(v):
        return "free" if v > 0 else "-"
    return "n/a" if not math.isfinite(v) else f"{v:.2g}"


def _lever_html(e: Any, level: str) -> str:
    cost = "at no cost to it" if e.cost_usd <= 0 else f"for {format_usd(e.cost_usd)}"
    per = ""
    if e.cost_usd > 0:
        per = f" (per dollar: ES cut {_per(e.es_cut_per_usd)}, EL cut {_per(e.el_cut_per_usd)}"
        per += "; on average it costs more than it saves)" if e.el_cut_per_usd < 1 else ")"
    return (f"<b>{esc(e.description)}</b>: ES {level}% {esc(_pm(e.es))}, EL {esc(_pm(e.el))}, {esc(cost)}"
            f"{esc(per)}")


def what_to_do(section: Any) -> list[str]:
    """The summary's advice, one bullet per party: its own levers that cut its EL or ES by > 2 paired s.e."""
    out = []
    for party, adv in section.advice.items():
        who, loss = _PARTY[party]
        rec = adv.recommended
        head = (f"What the <b>{who}</b> can do about {esc(loss)} (baseline EL {esc(_pm(adv.baseline_el))}, "
                f"ES {adv.level}% {esc(_pm(adv.baseline_es))})")
        if rec:
            out.append(f"{head}: " + "; ".join(_lever_html(e, adv.level) for e in rec[:3]) + ".")
        else:
            out.append(f"{head}: none of its levers compared cuts its EL or ES by more than two standard errors.")
    g = section.grace
    if g is not None:
        lo, hi = g.best_interval
        basis = ("on its own bad debt" if g.weight == 0 else
                 f"when a dollar of holders' unfair liquidation loss weighs {g.weight:g} dollar of bad debt")
        i = g.values.index(g.best_value)
        there = (f"; there the venue's bad debt is {_pm(g.venue[i])} and the holders' EL {_pm(g.holder[i])}, "
                 f"against {_pm(g.venue[0])} and {_pm(g.holder[0])} with {format_duration(g.values[0])}"
                 if i > 0 else "")
        if len(g.near_best) == len(g.values):  # a flat objective: no grace period is told apart
            out.append(f"Grace period (the venue's setting): from {esc(format_duration(g.values[0]))} to "
                       f"{esc(format_duration(g.values[-1]))} none changes its objective ({esc(g.objective)}) by "
                       f"more than two standard errors; the holders' EL goes from {esc(_pm(g.holder[0]))} to "
                       f"{esc(_pm(g.holder[-1]))}; see " '<a href="#mitigations">Mitigations</a>.')
        else:
            out.append(f"Grace period (the venue's setting): best {esc(format_duration(g.best_value))} (90% interval "
                       f"{esc(format_duration(lo))} to {esc(format_duration(hi))}) {esc(basis)}{esc(there)}; for "
                       'other weightings see <a href="#mitigations">Mitigations</a>.')
    return out


def _party_table(adv: Any) -> str:
    rows = []
    for e in (*adv.own, *adv.others):
        rows.append([e.description, e.party or "-", format_usd(e.cost_usd), _pm(e.el), _pm(e.es),
                     _per(e.el_cut_per_usd), _per(e.es_cut_per_usd),
                     "yes" if e in adv.recommended else ("not its lever" if e.party != adv.party else "no")])
    return html_table(["lever", "controlled by", "cost to it", "change of EL", f"change of ES {adv.level}%",
                       "EL cut per $", "ES cut per $", "recommended"], rows, numeric=(2, 3, 4, 5, 6))


def mitigations_section(page: Page, section: Any, note: str | None) -> None:
    """The page's mitigation section: levers compared per party, and the grace-period trade-off."""
    sec = page.section("mitigations", "Mitigations")
    if section is None:
        sec.text(f'<p class="note">{esc(note or "Mitigation comparison not requested.")}</p>')
        return
    cmp = section.comparison
    sec.text('<p class="lead">Each lever re-run on the random numbers of the headline figures (the baseline '
             f"is the run above, {cmp.baseline.n_paths:,} paths), so each change carries a small paired standard "
             "error. Every party is advised on its own loss only, on expected loss and on expected shortfall; a "
             "paid lever is judged per dollar of what that party pays. Holder loss and venue bad debt are never "
             "added.</p>")
    sec.text("<ul>" + "".join(f"<li>{esc(r.description)} (controlled by the {esc(r.party or 'no one')})</li>"
                              for r in cmp.results[1:]) + "</ul>")
    for party, adv in section.advice.items():
        who, loss = _PARTY[party]
        sec.text(f"<h3>For the {who}: {esc(loss)}</h3>" + _party_table(adv))
    g = section.grace
    if g is None:
        return
    import plotly.graph_objects as go

    xs = [v / 3600.0 for v in g.values]
    fig = go.Figure()
    for name, est in (("holders' loss (unfair liquidations)", g.holder), ("venue bad debt", g.venue)):
        fig.add_trace(go.Scatter(x=xs, y=[e.value for e in est], mode="lines+markers", name=name,
                                 error_y={"type": "data", "array": [1.96 * e.se for e in est], "visible": True}))
    fig.add_vline(x=g.best_value / 3600.0, line_dash="dot", annotation_text=f"optimum at weight {g.weight:g}",
                  annotation_position="top")
    fig.update_layout(title="Grace period: holders' loss against the venue's bad debt (expected, USD; 95% bars)",
                      xaxis_title="grace period (hours)", yaxis_title="USD over the horizon",
                      template="plotly_white", height=380)
    sec.figure(fig)
    lo, hi = g.best_interval
    rows = []
    for v, h, vn, wr in zip(g.values, g.holder, g.venue, g.weight_ranges, strict=True):
        best = "optimum" if v == g.best_value else ""
        wtxt = "never" if wr is None else (f"{wr[0]:.2g} and above" if math.isinf(wr[1])
                                           else f"{wr[0]:.2g} to {wr[1]:.2g}")
        rows.append([format_duration(v), _pm(h), _pm(vn), wtxt, best])
    sec.text(f"<p>The venue's objective: {esc(g.objective)}. Optimum {esc(format_duration(g.best_value))}, 90% "
             f"interval {esc(format_duration(lo))} to {esc(format_duration(hi))} (paired bootstrap); the last "
             "column gives, for each grace period, the weights of holders' loss under which it would be the "
             "best.</p>" + html_table(["grace period", "holders' EL", "venue bad debt (EL)",
                                       "best for weights", ""], rows, numeric=(1, 2)))
