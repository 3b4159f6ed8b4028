"""``seqrisk fit``: fit the outage model (rates, durations, shocks, clustering, coupling) and show or save it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli import checks
from seqrisk.cli.app import app, state
from seqrisk.cli.decide_inputs import DEFAULT_HORIZON
from seqrisk.cli.modeling import AsOfOpt, DeliberateOpt, DetectedOpt, PlannedOpt, detected_events, fitted_model
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, messages, output_format, table
from seqrisk.exceptions import UsageError
from seqrisk.units import format_duration, parse_datetime

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
    include_deliberate: DeliberateOpt = False,
    include_planned: PlannedOpt = False,
    detected: DetectedOpt = False,
    as_of: AsOfOpt = None,
    since: Annotated[str | None, typer.Option("--since", help="Start every chain's exposure window here "
                                              "instead of at its launch (YYYY-MM-DD).")] = None,
    horizon: Annotated[str, typer.Option("--horizon", metavar="DURATION", help="Horizon of P(at least one "
                                         "outage), e.g. 30d, 1y.")] = DEFAULT_HORIZON,
    as_json: JsonOpt = False,
    save: Annotated[Path | None, typer.Option("--save", metavar="FILE", help="Write the model file the engine "
                                              "reads (.json).")] = None,
    plots: Annotated[Path | None, typer.Option("--plots", metavar="DIR", help="Write Kaplan-Meier and forest "
                                               "plots (self-contained HTML) into this directory.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Fit outage rates, durations, common shocks, clustering and volatility coupling per chain."""
    from seqrisk.stats import MODELLED_TYPES
    from seqrisk.stats.summary import statistics_doc

    types = [checks.event_type(t, "--type") for t in dict.fromkeys(type_ or (list(MODELLED_TYPES) if as_json
                                                                              else ["downtime"]))]
    if save is not None:
        output_format(save, "--save", {".json": "json"})
    horizon_s = checks.duration(horizon, "--horizon")
    cat = state.catalog
    chains = [cat.chain(c).id for c in chain] if chain else None
    events, exposures = detected_events() if detected else (None, None)
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
        from seqrisk.stats.forecast import predictive_checks
        from seqrisk.stats.plots import checks_figure, forest_figure, km_figure

        try:
            plots.mkdir(parents=True, exist_ok=True)
            figs = [(f"{name}-{t}.html", fig) for t in types
                    for name, fig in (("km", km_figure(stats, t)), ("forest", forest_figure(stats, t)))]
            figs.append(("checks.html", checks_figure(predictive_checks(stats)[0])))
            for name, fig in figs:
                p = plots / name
                fig.write_html(str(p), include_plotlyjs=True, full_html=True)
                written.append(str(p))
        except OSError as exc:
            raise UsageError(f"cannot write the plots: {exc.strerror or exc}", field="--plots",
                             file=str(plots)) from None
    if as_json:
        if save is not None:
            doc["saved_model"] = str(save)
        doc["plots"] = written
        echo_json("fit", doc, prov)
        return
    console().print(prov.header())
    _print(doc, stats, types)
    msg = messages()
    if save is not None:
        msg.print(f"model file written: {save}", markup=False)
    for w in written:
        msg.print(f"plot written: {w}", markup=False)


def _print(doc: dict[str, Any], stats: Any, types: list[str]) -> None:
    out = console()
    incl = [n for n, v in (("deliberate", doc["include_deliberate"]), ("planned", doc["include_planned"])) if v]
    out.print(f"[bold]Outage model[/] fitted on {doc['n_events']} events of {len(stats.chains)} chains, as of "
              f"{doc['as_of'][:10]} ({'incl. ' + ' and '.join(incl) if incl else 'failures only'}); "
              "intervals 95%.")
    tt = table("\nEvent types (rates per chain-year; durations: predictive law of a new chain)", "type",
               "events", "prior/yr", "family", "median", "p99", "source",
               right=("events", "prior/yr", "median", "p99"))
    for t, p in stats.rates.items():
        f = stats.durations[t]
        med, p99 = stats.duration_posteriors[t].law(None).ppf([0.5, 0.99])
        tt.add_row(t, str(int(p.counts_.sum())), f"{p.prior_mean_per_year_:.3f}",
                   f.family + ("+u" if f.chain_effect else ""), _dur(med), _dur(p99), stats.duration_source[t])
    out.print(tt)
    for t in types:
        ct = table(f"\n{t}: per chain (events per year: own pooled rate [95%], common shocks, total; p99 of "
                   f"the predictive duration; availability nines over {doc['horizon_days']:.0f}d)", "chain", "n",
                   "yrs", "own [95%]", "shock", "total", "p99", "nines [95%]",
                   right=("n", "yrs", "shock", "total", "p99"))
        for c, cd in doc["chains"].items():
            d = cd["types"][t]
            dv = d["derived"]
            lo, hi = d["interval"]
            ct.add_row(c[:13], str(d["events"]), f"{cd['exposure_years']:.1f}",
                       f"{d['rate_per_year']:.2f} [{lo:.2f}-{hi:.2f}]", f"{d['shock_rate_per_year']:.2f}",
                       f"{d['total_rate_per_year']:.2f}", _dur(dv["duration_p99_s"]["estimate"]),
                       _nines(dv["availability_nines"]))
        out.print(ct)
        fc = doc["forecast"]
        out.print(f"\n{t}: outages in the next {fc['horizon_days']:.0f}d, predictive ({fc['replicates']:,} "
                  "replicates; own, shock and follow-on outages, every parameter from its posterior)")
        ft = table(None, "chain", "mean", "90%", "95%", "P(>=1)", right=("mean", "P(>=1)"))
        for c, fd in fc["chains"].items():
            if t in fd:
                f = fd[t]
                ft.add_row(c[:14], f"{f['mean']:.2f}", f"{f['interval_90'][0]}-{f['interval_90'][1]}",
                           f"{f['interval_95'][0]}-{f['interval_95'][1]}", f"{f['p_at_least_one']:.3f}")
        out.print(ft)
        info = doc["types"][t]["duration"]
        law = info["law"]
        params = ", ".join(f"{k}={format_duration(v) if k.endswith('_s') else format(v, '.3g')}"
                           for k, v in law["params"].items())
        eff = (f"chain effect sd tau={info['tau']:.2f} (log s), posterior median {info['tau_posterior'][0]:.2f} "
               f"[{info['tau_posterior'][1]:.2f}, {info['tau_posterior'][2]:.2f}]" if info["chain_effect"]
               else "no chain effect (AIC)")
        q = info["quantiles"]
        out.print(f"{t} durations: {info['model']} ({params}); {eff}; n exact {info['n']['exact']}, interval "
                  f"{info['n']['interval'] + info['n']['left']}, right-censored {info['n']['right']}, unknown "
                  f"(no duration information) {info['n']['missing']}. Predictive law of a new chain "
                  f"({info['posterior_draws']} posterior draws): median {_dur(q['p50_s'][0])}, p99 "
                  f"{_dur(q['p99_s'][0])}, mean {_dur(info['mean_s'])}")
        at = table(None, "model", "loglik", "k", "AIC", "dAIC", "weight",
                   right=("loglik", "k", "AIC", "dAIC", "weight"))
        for row in info["comparison"]:
            at.add_row(row["model"], _num(row["loglik"], ".2f"), str(row["n_params"]), _num(row["aic"], ".2f"),
                       _num(row["delta_aic"], ".2f"), _num(row["akaike_weight"], ".2f"))
        out.print(at)
    st = table("\nCommon-failure groups (joint = events on >= 2 members within 1 day, any types; own = joint "
               "events counted as this group's shock; rate of its joint events per year, pooled)", "group",
               "members", "events", "joint", "own", "raw/yr", "pooled/yr [95%]",
               right=("members", "events", "joint", "own", "raw/yr"))
    elsewhere = []
    for s in doc["shocks"]:
        hi = s["interval"][1]
        st.add_row(s["group"] + (" (L1)" if s["wide"] else ""), str(len(s["members"])), str(s["member_events"]),
                   str(s["joint_among_members"]), str(s["joint_events"]), f"{s['raw_rate_per_year']:.2f}",
                   f"{s['rate_per_year']:.2f} [{s['interval'][0]:.2f}-{_num(hi) if hi is not None else 'inf'}]")
        if s["counted_under"]:
            elsewhere.append(f"{s['group']} ({s['joint_among_members'] - s['joint_events']} under "
                             f"{', '.join(s['counted_under'])})")
    out.print(st)
    if elsewhere:
        out.print("A joint event is one group's shock only (the group named in its cause, else the smallest, the "
                  f"L1-wide group last); joint events counted under another group: {'; '.join(elsewhere)}.")
    shm = doc.get("shock_model")
    if shm:
        mix = ", ".join(f"{k} {v:.2f}" for k, v in shm["type_mix"].items() if v >= 0.01)
        out.print(f"A joint event hits two members and each other member with probability "
                  f"{shm['extra_hit_probability']:.3f}; a hit chain's event type: {mix}.")
    ts = doc.get("time_structure")
    if ts:
        tt2 = table("\nTime structure of the own rates (covariates in the pooled rate model, all types; kept by "
                    "AIC)", "covariates", "loglik", "AIC", "dAIC", "weight",
                    right=("loglik", "AIC", "dAIC", "weight"))
        for row in ts["comparison"]:
            tt2.add_row(row["covariates"], f"{row['loglik']:.2f}", f"{row['aic']:.2f}", f"{row['delta_aic']:.2f}",
                        f"{row['akaike_weight']:.2f}")
        out.print(tt2)
        kept = ", ".join(f"{c} x{v['rate_ratio']:.2f}" for c, v in ts["coefficients"].items()) or "none"
        lr = "; ".join(f"{c} p = {v['p_value']:.2f}" for c, v in ts["lr_tests"].items())
        out.print(f"Kept: {kept} (LR tests, each against the full model without it: {lr}). Counts are lower "
                  "bounds: short stalls go unreported.")
    pc = doc.get("checks")
    if pc:
        ck = table("\nPosterior predictive checks (the observed history replicated from the fitted model)",
                   "statistic", "observed", "predicted [90%]", "P(>=obs)", "P(<=obs)",
                   right=("observed", "P(>=obs)", "P(<=obs)"))
        for c in pc:
            ck.add_row(c["label"], f"{c['observed']:.0f}", f"{c['mean']:.1f} [{c['interval_90'][0]:.0f}-"
                       f"{c['interval_90'][1]:.0f}]", f"{c['p_upper']:.2f}", f"{c['p_lower']:.2f}")
        out.print(ck)
    cp = doc["coupling"]
    if cp:
        out.print(f"\nVolatility coupling: beta = {cp['beta']:.2f} [{cp['interval'][0]:.2f}, {cp['interval'][1]:.2f}]"
                  f" (profile 95%), LR test of beta = 0: p = {cp['p_value']:.3f}; sigma_ref = "
                  f"{cp['sigma_ref']:.0%}/yr (ETH); {cp['events']} events over {cp['chain_days']:,.0f} chain-days")
    for key, label in (("hawkes", "within chains alone"), ("hawkes_pooled", "all chains as one process")):
        hk = doc[key]
        if hk:
            bl, bh = hk["intervals"]["branching"]
            out.print(f"Clustering (Hawkes, {label}): branching {hk['branching']:.2f} [{bl:.2f}, {bh:.2f}], "
                      f"decay {hk['decay_per_day']:.3g}/day, LR test vs Poisson p = {hk['p_value']:.3g}; reported")
    hc = doc.get("hawkes_cross")
    if hc:
        iw, ix = hc["intervals"]["branching_within"], hc["intervals"]["branching_cross"]
        out.print(f"Excitation (multichain Hawkes, the model's): follow-ons per outage on its own chain "
                  f"{hc['branching_within']:.2f} [{iw[0]:.2f}, {iw[1]:.2f}], on other chains "
                  f"{hc['branching_cross']:.2f} [{ix[0]:.2f}, {ix[1]:.2f}], decay {hc['decay_per_day']:.3g}/day; "
                  f"LR test vs Poisson p = {hc['p_value']:.3g}, of cross-chain follow-ons p = "
                  f"{hc['p_value_cross']:.3g}; {'in' if hc['in_model'] else 'not in'} the model (p < 0.05 needed)")
    for n in doc["notes"]:
        if not n.startswith("as-of "):  # shown on stderr with the provenance
            out.print(f"note: {n}")
