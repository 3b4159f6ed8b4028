"""The risk report: one self-contained HTML file a desk can read, forward and act on.

:func:`build_report` takes what the CLI computed (book, fitted statistics,
simulation result, stress grids, mitigation comparison) and renders the page.
It computes nothing random itself, so the page is a pure function of its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from seqrisk._version import __version__
from seqrisk.catalog import Catalog
from seqrisk.engine import Scenario, SimulationResult
from seqrisk.exceptions import UsageError
from seqrisk.outage import OutageModel
from seqrisk.portfolio import Book
from seqrisk.provenance import Provenance
from seqrisk.report import figures as F
from seqrisk.report.decisions import mitigations_section, what_to_do
from seqrisk.report.html import Page, esc, html_table
from seqrisk.report.stress import liquidation_for_book, stress_for_book, stress_section
from seqrisk.units import format_duration, format_usd

__all__ = ["ReportInputs", "build_report"]

Z95 = 1.959963984540054


@dataclass
class ReportInputs:
    """Everything the page shows. The CLI fills it; in a notebook :meth:`of` builds it from a run.

    ``book_path`` and ``command`` are what the method table states as the book file and the command
    (empty from a notebook); ``version`` is seqrisk's.
    """

    book: Book
    scenario: Scenario
    model: OutageModel
    result: SimulationResult
    catalog: Catalog
    book_path: str = ""
    command: str = ""
    version: str = __version__
    statistics: Any | None = None               # seqrisk.stats.OutageStatistics
    stress: Mapping[str, pd.DataFrame] = field(default_factory=dict)   # chain -> stress_grid rows
    liquidation: pd.DataFrame | None = None     # liquidation_probability rows
    mitigations: Any | None = None              # seqrisk.report.mitigations.MitigationSection
    mitigation_note: str | None = None
    extra_notes: list[str] = field(default_factory=list)
    provenance: Provenance | None = None        # default: the catalog, the model's as-of, the scenario's seed

    @classmethod
    def of(cls, result: SimulationResult, model: OutageModel, catalog: Catalog, *, statistics: Any | None = None,
           stress: bool = True, mitigations: Any | None = None, **fields: Any) -> ReportInputs:
        """The inputs of the report on ``result`` (a run of ``model``, fitted on ``catalog``): its book and
        scenario, the stress grid of every chain and the liquidation curves (computed here, deterministic;
        ``stress=False`` leaves them out). ``statistics`` (:func:`seqrisk.stats.fit_outage_statistics`) adds
        the fitted rates and survival plots; ``mitigations`` a
        :class:`~seqrisk.report.mitigations.MitigationSection`; other ``fields`` are set as given."""
        book, sc = result.prep.book, result.scenario
        return cls(book=book, scenario=sc, model=model, result=result, catalog=catalog, statistics=statistics,
                   stress=stress_for_book(book, sc) if stress else {},
                   liquidation=liquidation_for_book(book, sc) if stress else None, mitigations=mitigations,
                   mitigation_note=None if mitigations is not None else "not compared (no mitigations given).",
                   **fields)

    def stated(self) -> Provenance:
        """The provenance the page states."""
        return self.provenance or Provenance.of_model(self.catalog, self.model.meta, seed=self.scenario.seed)


def _ci(v: float, se: float) -> str:
    if not math.isfinite(se) or se == 0:
        return "exact" if se == 0 else "no error estimate"
    return f"95% CI {format_usd(max(v - Z95 * se, 0.0))} to {format_usd(v + Z95 * se)}"


def _kpi(label: str, v: float, se: float) -> str:
    return (f'<div class="kpi"><div class="label">{esc(label)}</div><div class="value">{esc(format_usd(v))}</div>'
            f'<div class="ci">± {esc(format_usd(se))} (s.e.), {esc(_ci(v, se))}</div></div>')


def _summary(page: Page, d: ReportInputs) -> None:
    r = d.result
    hz = format_duration(d.scenario.horizon_s)
    sec = page.section("summary", "Summary")
    cards = []
    for persp, who in (("holder", "Holder"), ("venue", "Venue (bad debt)")):
        el, el_se = r.value("expected_loss", perspective=persp)
        es, es_se = r.value("es", perspective=persp, level=0.99)
        cards.append(_kpi(f"{who}: expected loss over {hz}", el, el_se))
        cards.append(_kpi(f"{who}: ES 99% over {hz}", es, es_se))
    pl, pl_se = r.value("p_liquidation")
    sec.text(f'<p class="lead">What sequencer outages can cost <b>{esc(d.book.name)}</b> over {esc(hz)}: losses '
             "attributable to outages (the same market path with and without the outage), from "
             f"{r.n_paths:,} simulated paths, seed {d.scenario.seed}. Every figure carries its Monte Carlo "
             "standard error.</p>")
    sec.text(f'<div class="kpis">{"".join(cards)}</div>')
    pos = r.positions.sort_values("expected_loss_usd", ascending=False)
    bullets = [f"Probability that an outage liquidates at least one position: <b>{pl:.3g}</b> ± {pl_se:.2g}."]
    for persp, col, what in (("holder", "holder_expected_loss_usd", "holder's expected loss"),
                             ("venue", "venue_expected_loss_usd", "venue's expected bad debt")):
        ch = r.chains.sort_values(col, ascending=False)
        total = float(ch[col].clip(lower=0).sum())
        if len(ch) and total > 0:
            top = ch.iloc[0]
            bullets.append(f"For the {persp}, most of the risk sits on <b>{esc(top.chain)}</b>: "
                           f"{format_usd(top[col])} of the {what} ({max(top[col], 0.0) / total:.0%} of it).")
    bullets.append("Largest positions by the holder's expected loss: " + ", ".join(
        f"<b>{esc(p.id)}</b> ({esc(p.chain)}, {esc(format_usd(p.expected_loss_usd))}, "
        f"P(liquidation) {p.p_liquidation:.2g})" for p in pos.head(3).itertuples()) + ".")
    if d.mitigations is not None:
        bullets += what_to_do(d.mitigations)
    else:
        bullets.append("Mitigations: " + esc(d.mitigation_note or "not compared."))
    h_el = r.value("expected_loss", perspective="holder")[0]
    if h_el < 0:
        bullets.append("The holder figure is negative: for loans an outage defers liquidations that would have "
                       "happened while the chain was up, and some do not recur before the horizon end "
                       "(docs/engine.md, loans). The venue's bad debt is not affected.")
    sec.text("<ul>" + "".join(f"<li>{b}</li>" for b in bullets) + "</ul>")


def _chains(page: Page, d: ReportInputs) -> None:
    sec = page.section("chains", "Chains: incidents and fitted outage rates")
    book_chains = list(d.book.chains)
    incs = [i for i in d.catalog.incidents if i.chain in book_chains]
    sec.text(f'<p class="lead">Reported incidents of the book\'s chains ({len(incs)} of '
             f"{len(d.catalog.incidents)} in the catalog) and the outage model the simulation used. Rates are "
             "outages per year; pooled rates borrow strength across all chains (empirical-Bayes gamma-Poisson), "
             "which matters because most chains have a handful of incidents.</p>")
    sec.figure(F.incident_timeline(incs))
    rows = []
    st = d.statistics
    raw = st.rates["downtime"].summary() if st is not None and "downtime" in st.rates else None
    for c in book_chains:
        law = d.model.chains.get(c)
        rate = law.rates_per_year.get("downtime", 0.0) if law else 0.0
        lo, hi = (law.rate_intervals.get("downtime", (math.nan, math.nan)) if law else (math.nan, math.nan))
        dur = law.durations.get("downtime") if law else None
        p50 = format_duration(float(dur.ppf(0.5))) if dur else "n/a"
        p99 = format_duration(float(dur.ppf(0.99))) if dur else "n/a"
        chain = d.catalog.chain(c)
        fi = format_duration(chain.forced_inclusion_delay_s) if chain.forced_inclusion_delay_s else (
            chain.forced_inclusion or "unknown")
        if raw is not None and c in raw.index:
            rr = raw.loc[c]
            raw_txt = f"{rr.raw_rate_per_year:.2f} [{rr.raw_low:.2f}, {rr.raw_high:.2f}] ({int(rr.events)} in " \
                      f"{rr.exposure_years:.1f} y)"
        else:
            raw_txt = "n/a"
        rows.append([c, raw_txt, f"{rate:.2f} [{lo:.2f}, {hi:.2f}]", p50, p99, fi])
    sec.text("<h3>Downtime rates and durations</h3>" + html_table(
        ["chain", "raw rate /yr [95% CI]", "pooled rate /yr [95% CI]", "median outage", "p99 outage",
         "forced inclusion"], rows))
    if st is not None:
        try:
            from seqrisk.stats import plots as sp

            sec.figure(sp.forest_plot(st, "downtime"))
            sec.figure(sp.survival_plot(st, "downtime"))
        except (ImportError, AttributeError, KeyError) as exc:  # plots are optional in the page
            sec.text(f'<p class="note">Statistics plots unavailable: {esc(exc)}</p>')
    beta = d.model.beta
    bi = d.model.beta_interval
    sec.text(f'<p class="note">Volatility coupling beta = {beta:.2f}'
             + (f" (95% CI {bi[0]:.2f} to {bi[1]:.2f})" if bi else "")
             + "; intensity scales as (sigma / sigma_ref)^beta. Common-shock groups in the model: "
             + (", ".join(f"{esc(s.group)} ({s.rate_per_year:.2f}/yr: {', '.join(s.members)})"
                          for s in d.model.shocks if set(s.members) & set(book_chains)) or "none touching the book")
             + ".</p>")


def _losses(page: Page, d: ReportInputs) -> None:
    r = d.result
    sec = page.section("losses", "Loss distribution")
    sec.text('<p class="lead">Exceedance probability of the attributable loss over the horizon (log scales), with '
             "VaR and ES marked, their 95% intervals shaded. Tail measures come from exact order statistics of "
             "the simulated paths; the table gives each with its standard error.</p>")
    for persp in ("holder", "venue"):  # the weighted distribution: exact tail plus a bounded sample of the body
        try:
            sec.figure(r.plot(persp))
        except UsageError:
            sec.text(f'<p class="note">{persp.capitalize()}: no simulated path carries an attributable '
                     "loss of a dollar or more.</p>")
    rows = []
    for persp in ("holder", "venue"):
        for basis in ("attributable", "total"):
            cells = [persp, basis]
            for meas, lvl in (("expected_loss", None), ("var", 0.95), ("var", 0.99), ("var", 0.999), ("es", 0.99),
                              ("es", 0.999)):
                v, se = r.value(meas, perspective=persp, basis=basis, level=lvl)
                cells.append(f"{format_usd(v)} ± {format_usd(se)}")
            rows.append(cells)
    sec.text(html_table(["perspective", "basis", "EL", "VaR 95%", "VaR 99%", "VaR 99.9%", "ES 99%", "ES 99.9%"],
                        rows, numeric=(2, 3, 4, 5, 6, 7)))
    comp = r.components
    sec.text("<h3>By cost component (expected, USD)</h3>" + html_table(
        ["component", "holder", "venue"],
        [[c.component, f"{format_usd(c.holder_expected_loss_usd)} ± {format_usd(c.holder_std_error)}",
          f"{format_usd(c.venue_expected_loss_usd)} ± {format_usd(c.venue_std_error)}"] for c in comp.itertuples()],
        numeric=(1, 2)))
    pos = r.positions.sort_values("expected_loss_usd", ascending=False)
    sec.text("<h3>By position</h3>" + html_table(
        ["position", "chain", "P(liquidation)", "expected loss", "expected bad debt"],
        [[p.id, p.chain, f"{p.p_liquidation:.3g} ± {p.p_liquidation_std_error:.2g}", format_usd(p.expected_loss_usd),
          format_usd(p.expected_bad_debt_usd)] for p in pos.itertuples()], numeric=(2, 3, 4)))


def _grace_text(sc: Scenario) -> str:
    """The scenario's grace period in words."""
    if sc.grace_period_s <= 0:
        return "none (liquidation at the restart)"
    return (f"{format_duration(sc.grace_period_s)} after a restart: of the {sc.top_up_share_max:.0%} of holders who "
            f"would top up at all, those who respond in time (response lognormal, median "
            f"{format_duration(sc.response_median_s)}, log-sigma {sc.response_sigma:g}) do: "
            f"{sc.grace_saved_share:.0%} of the positions at stake are saved")


def _regimes_text(book: Book, sc: Scenario) -> str:
    """Regimes of the run, their switching rates and each asset's volatility in them."""
    names = [r.name for r in sc.regimes]
    switch = "; ".join(f"{r.name} to {o} {rate:g}/yr" for r in sc.regimes
                       for o, rate in r.switch_rates_per_year.items())
    def vol(a: str, n: str) -> str:
        try:
            return f"{book.assets[a].vol_in(n):.0%} {n}"
        except KeyError:
            return f"none given for {n}"

    vols = "; ".join(f"{a} " + ", ".join(vol(a, n) for n in names) for a in book.asset_names)
    return f"{', '.join(names)}" + (f" (switching {switch})" if switch else "") + f"; volatility {vols}"


def _stress_unused(book: Book, sc: Scenario) -> str | None:
    """A note when the book gives a stressed volatility the run's regimes never use."""
    given = {n for a in book.assets.values() if isinstance(a.vol, dict) for n in a.vol}
    unused = sorted(given - {r.name for r in sc.regimes})
    if not unused:
        return None
    return (f"The book gives volatilities for the regime(s) {', '.join(unused)} that this run's scenario does not "
            "have, so the headline figures use the other regimes only; a scenario with them (as in "
            "examples/scenario.yaml) uses them. The liquidation curves use the stressed volatility.")


def _method(page: Page, d: ReportInputs) -> None:
    sec = page.section("method", "Method and reproducibility")
    sc = d.scenario
    diag = d.result.diagnostics
    meta = dict(d.model.meta)
    prov = d.stated()
    cov = prov.coverage_date.isoformat() if prov.coverage_date else "not stated"
    rows = [
        ["seqrisk version", d.version],
        ["as of", f"{prov.as_of or 'unknown'} (the outage model is fitted to the data up to this date)"],
        ["catalog version", f"{prov.catalog_version} (content digest of the catalog read"
                            f"{', your files included' if prov.user_files else ''}; complete up to {cov})"],
        ["command", d.command],
        ["book", d.book_path],
        ["horizon", format_duration(sc.horizon_s)],
        ["paths", f"{d.result.n_paths:,}"],
        ["seed", str(sc.seed)],
        ["outage parameters", "drawn per path from their posterior (parameter uncertainty in every figure)"
         if sc.parameter_uncertainty else "point estimates (parameter uncertainty not included)"],
        ["rare-event method", "paths conditioned on at least one outage, weighted by its probability"
         if sc.conditional_sampling else "plain Monte Carlo"],
        ["effective sample size", f"{diag.get('effective_sample_size', float('nan')):,.0f} "
         f"(= {diag.get('plain_mc_equivalent_paths', float('nan')):,.0f} plain Monte Carlo paths)"],
        ["grace period", _grace_text(sc)],
        ["volatility regimes", _regimes_text(d.book, sc)],
        ["forced inclusion", f"{'on' if sc.forced_inclusion else 'off'}, L1 inclusion "
                             f"{format_duration(sc.l1_inclusion_s)}"],
        ["expiry settlement in downtime", sc.settlement],
        ["volatility coupling beta", f"{d.model.beta:.3f}"],
        ["outage model", str(meta.get("source", "fitted from the bundled catalog"))],
        ["incident catalog", f"{len(d.catalog.incidents)} incidents, {len(d.catalog.chains)} chains "
                             "(public post-mortems, status pages, L2BEAT configs; sources per row)"],
        ["price history", "Binance spot ETHUSDT/BTCUSDT hourly and daily candles (see PRICES-SOURCE.md)"],
    ]
    sec.text(html_table(["item", "value"], rows))
    prow = []
    for c in d.book.chains:
        law = d.model.chains.get(c)
        if law is None:
            continue
        for t, rate in sorted(law.rates_per_year.items()):
            dl = law.durations.get(t)
            params = ", ".join(f"{k}={v:.4g}" for k, v in dl.params.items()) if dl else "-"
            prow.append([c, t, f"{rate:.3f}", dl.family if dl else "-", params])
    sec.text("<h3>Outage model parameters (the book's chains)</h3>" + html_table(
        ["chain", "event type", "rate /yr", "duration law", "parameters (seconds)"], prow, numeric=(2,)))
    meta_notes = [str(n) for n in meta.get("notes", [])]
    unused = _stress_unused(d.book, sc)
    notes = list(d.extra_notes) + ([unused] if unused else []) + [n for n in prov.notes if n not in meta_notes] \
        + meta_notes[:6]
    if notes:
        sec.text("<h3>Notes</h3><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    sec.text("<h3>Sources of the book's chains</h3><ul>" + "".join(
        f'<li>{esc(c)}: ' + ", ".join(f"<code>{esc(s.url)}</code>" for s in d.catalog.chain(c).sources) + "</li>"
        for c in d.book.chains) + "</ul>")


def build_report(d: ReportInputs) -> str:
    """Render the report as one self-contained HTML string (write it to a ``.html`` file; it works offline).

    From a notebook: ``build_report(ReportInputs.of(result, model, catalog))``.
    """
    prov = d.stated()
    as_of = (prov.as_of or "unknown")[:10]
    page = Page(title=f"seqrisk report: {d.book.name}",
                subtitle=f"Layer-2 sequencer risk over {format_duration(d.scenario.horizon_s)}, "
                         f"{d.result.n_paths:,} paths, seed {d.scenario.seed}, as of {as_of}, "
                         f"catalog {prov.catalog_version}, seqrisk {d.version}")
    _summary(page, d)
    _chains(page, d)
    _losses(page, d)
    stress_section(page, d.book, d.scenario, dict(d.stress), d.liquidation)
    mitigations_section(page, d.mitigations, d.mitigation_note)
    _method(page, d)
    return page.render()
