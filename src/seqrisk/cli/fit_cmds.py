"""``seqrisk fit``: fit the outage model (rates, durations, shocks, clustering, coupling) and show or save it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli.app import app, state
from seqrisk.cli.modeling import AsOfOpt, fitted_model
from seqrisk.cli.render import console, echo_json, table
from seqrisk.exceptions import UsageError
from seqrisk.units import format_duration, parse_datetime, parse_duration

__all__: list[str] = []


def _num(x: float | None, fmt: str = ".2f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(x, fmt)


def _dur(x: float | None) -> str:
    return "inf" if x is None else format_duration(x)


def _nines(d: dict[str, Any]) -> str:
    e, lo, hi = d["estimate"], d["low"], d["high"]
    return f"{_num(e, '.1f')} [{_num(lo, '.1f')}-{_num(hi, '.1f')}]"


@app.command("fit")
def fit_cmd(
    chain: Annotated[list[str] | None, typer.Option("--chain", "-c", help="Show only these chains "
                                                    "(repeatable; the fit always pools all chains).")] = None,
    type_: Annotated[list[str] | None, typer.Option("--type", "-t", help="Event types to show per chain "
                                                    "(repeatable; default downtime, all with --json).")] = None,
    include_deliberate: Annotated[bool, typer.Option("--include-deliberate", help="Count deliberate halts "
                                                     "and censorship as events.")] = False,
    include_planned: Annotated[bool, typer.Option("--include-planned", help="Count planned maintenance "
                                                  "as events.")] = False,
    detected: Annotated[bool, typer.Option("--detected", help="Use the events detected from block data in the "
                                           "store, over each chain's ingested window.")] = False,
    as_of: AsOfOpt = None,
    since: Annotated[str | None, typer.Option("--since", help="Start every chain's exposure window here "
                                              "instead of at its launch (YYYY-MM-DD).")] = None,
    horizon: Annotated[str, typer.Option("--horizon", help="Horizon of P(at least one outage), e.g. 30d, "
                                         "1y.")] = "1y",
    as_json: Annotated[bool, typer.Option("--json", help="JSON output (layout in docs/statistics.md).")] = False,
    save: Annotated[Path | None, typer.Option("--save", help="Write the model file (JSON) the engine "
                                              "reads.")] = None,
    plots: Annotated[Path | None, typer.Option("--plots", help="Write Kaplan-Meier and forest plots "
                                               "(self-contained HTML) into this directory.")] = None,
) -> None:
    """Fit outage rates, durations, common shocks, clustering and volatility coupling per chain."""
    from seqrisk.stats import MODELLED_TYPES
    from seqrisk.stats.summary import statistics_doc

    types = list(dict.fromkeys(type_ or (list(MODELLED_TYPES) if as_json else ["downtime"])))
    for t in types:
        if t not in MODELLED_TYPES:
            raise UsageError(f"unknown or unmodelled event type (modelled: {', '.join(MODELLED_TYPES)})",
                             field="--type", value=t)
    horizon_s = parse_duration(horizon, field="--horizon")
    if horizon_s <= 0:
        raise UsageError("horizon must be > 0", field="--horizon", value=horizon)
    cat = state.catalog
    chains = [cat.chain(c).id for c in chain] if chain else None
    events = None
    exposures = None
    if detected:
        from seqrisk.ingest.events import events_for_fit

        events, exposures = events_for_fit(state.home)
        if not exposures:  # no block data: merge the store's events over the catalog windows
            exposures = None
            with state.home.state() as st:
                events = st.events()
    start = parse_datetime(since, field="--since") if since else None
    _, fitted, prov = fitted_model(None, as_of, statistics=True, include_deliberate=include_deliberate,
                                   include_planned=include_planned, events=events, exposures=exposures, since=start)
    assert fitted is not None
    stats = fitted
    missing = [t for t in types if t not in stats.rates]
    if missing and type_:
        raise UsageError("no events of this type in the data (before the as-of date)", field="--type",
                         value=missing[0])
    types = [t for t in types if t in stats.rates]
    doc = statistics_doc(stats, chains=chains, types=types, horizon_s=horizon_s)
    if save is not None:
        try:
            stats.model.save(save)
        except OSError as exc:
            raise UsageError(f"cannot write the model file: {exc.strerror or exc}", field="--save",
                             file=str(save)) from None
    written = []
    if plots is not None:
        from seqrisk.stats.plots import forest_figure, km_figure

        try:
            plots.mkdir(parents=True, exist_ok=True)
            for t in types:
                for name, fig in (("km", km_figure(stats, t)), ("forest", forest_figure(stats, t))):
                    p = plots / f"{name}-{t}.html"
                    fig.write_html(str(p), include_plotlyjs=True, full_html=True)
                    written.append(str(p))
        except OSError as exc:
            raise UsageError(f"cannot write the plots: {exc.strerror or exc}", field="--plots",
                             file=str(plots)) from None
    if as_json:
        if save is not None:
            doc["saved_model"] = str(save)
        doc["plots"] = written
        echo_json(doc, prov)
        return
    console().print(prov.header())
    _print(doc, stats, types)
    out = console()
    if save is not None:
        out.print(f"model file written: {save}")
    for w in written:
        out.print(f"plot written: {w}")


def _print(doc: dict[str, Any], stats: Any, types: list[str]) -> None:
    out = console()
    incl = [n for n, v in (("deliberate", doc["include_deliberate"]), ("planned", doc["include_planned"])) if v]
    out.print(f"[bold]Outage model[/] fitted on {doc['n_events']} events of {len(stats.chains)} chains, as of "
              f"{doc['as_of'][:10]} ({'incl. ' + ' and '.join(incl) if incl else 'failures only'}); "
              "intervals 95%.")
    tt = table("\nEvent types (rates per chain-year; durations pooled over chains)", "type", "events",
               "prior/yr", "family", "median", "p99", "source", right=("events", "prior/yr", "median", "p99"))
    for t, p in stats.rates.items():
        f = stats.durations[t]
        med, p99 = f.quantile(0.5)[0], f.quantile(0.99)[0]
        tt.add_row(t, str(int(p.counts_.sum())), f"{p.prior_mean_per_year_:.3f}", f.family, _dur(med), _dur(p99),
                   stats.duration_source[t])
    out.print(tt)
    for t in types:
        ct = table(f"\n{t}: per chain (rate per year; p50/p99 of duration; availability nines over "
                   f"{doc['horizon_days']:.0f}d)", "chain", "n", "yrs", "raw/yr", "pooled/yr [95%]", "p50",
                   "p99", "nines [95%]", right=("n", "yrs", "raw/yr", "p50", "p99"))
        for c, cd in doc["chains"].items():
            d = cd["types"][t]
            dv = d["derived"]
            lo, hi = d["interval"]
            ct.add_row(c[:14], str(d["events"]), f"{cd['exposure_years']:.1f}", _num(d["raw_rate_per_year"]),
                       f"{d['rate_per_year']:.2f} [{lo:.2f}-{hi:.2f}]", _dur(dv["duration_p50_s"]["estimate"]),
                       _dur(dv["duration_p99_s"]["estimate"]), _nines(dv["availability_nines"]))
        out.print(ct)
        info = doc["types"][t]["duration"]
        law = info["law"]
        params = ", ".join(f"{k}={format_duration(v) if k.endswith('_s') else format(v, '.3g')}"
                           for k, v in law["params"].items())
        out.print(f"{t} durations: {info['family']} ({params}); chain effect sd tau={info['tau']:.2f} (log s); "
                  f"n exact {info['n']['exact']}, interval {info['n']['interval'] + info['n']['left']}, "
                  f"right-censored {info['n']['right']}, unknown (no duration information) {info['n']['missing']}")
        at = table(None, "family", "loglik", "AIC", "dAIC", "weight", right=("loglik", "AIC", "dAIC", "weight"))
        for row in info["comparison"]:
            at.add_row(row["family"], _num(row["loglik"], ".2f"), _num(row["aic"], ".2f"),
                       _num(row["delta_aic"], ".2f"), _num(row["akaike_weight"], ".2f"))
        out.print(at)
    st = table("\nCommon-failure groups (joint = events on >= 2 members within 1 day; own = joint events "
               "counted as this group's shock)", "group", "members", "events", "joint", "own", "share",
               "rate/yr [95%]", right=("members", "events", "joint", "own", "share"))
    elsewhere = []
    for s in doc["shocks"]:
        st.add_row(s["group"], str(len(s["members"])), str(s["member_events"]), str(s["joint_among_members"]),
                   str(s["joint_events"]), f"{s['share']:.2f}", f"{s['rate_per_year']:.2f} [{s['interval'][0]:.2f}-"
                   f"{_num(s['interval'][1]) if s['interval'][1] is not None else 'inf'}]")
        if s["counted_under"]:
            elsewhere.append(f"{s['group']} ({s['joint_among_members'] - s['joint_events']} under "
                             f"{', '.join(s['counted_under'])})")
    out.print(st)
    if elsewhere:
        out.print("A joint event is one group's shock only (the group named in its cause, else the smallest); "
                  f"joint events counted under another group: {'; '.join(elsewhere)}.")
    cp = doc["coupling"]
    if cp:
        out.print(f"\nVolatility coupling: beta = {cp['beta']:.2f} [{cp['interval'][0]:.2f}, {cp['interval'][1]:.2f}]"
                  f" (profile 95%), LR test of beta = 0: p = {cp['p_value']:.3f}; sigma_ref = "
                  f"{cp['sigma_ref']:.0%}/yr (ETH); {cp['events']} events over {cp['chain_days']:,.0f} chain-days")
    for key, label in (("hawkes", "within chains"), ("hawkes_pooled", "all chains pooled")):
        hk = doc[key]
        if hk:
            bl, bh = hk["intervals"]["branching"]
            where = ("in" if hk["in_model"] else "not in") if "in_model" in hk else "reported, not in"
            out.print(f"Clustering (Hawkes, {label}): branching {hk['branching']:.2f} [{bl:.2f}, {bh:.2f}], "
                      f"decay {hk['decay_per_day']:.3g}/day, LR test vs Poisson p = {hk['p_value']:.3g}; "
                      f"{where} the model")
    for n in doc["notes"]:
        if not n.startswith("as-of "):  # shown on stderr with the provenance
            out.print(f"note: {n}")
