"""``seqrisk compare``: levers against the baseline on the same random numbers, advice to one party at a time.

``--perspective holder`` (default) shows the holder's attributable loss and
recommends the holder's own levers; ``--perspective venue`` shows the venue's
bad debt and recommends the venue's. Holder and venue losses are never added.
``--sweep`` varies one parameter of a lever and reports both parties' curves and
the optimum of the deciding party on its own loss (or for a weighting the user states).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli.app import app
from seqrisk.cli.backend_opts import BackendOpt, SchedulerOpt, WorkersOpt, engine_backend
from seqrisk.cli.decide_inputs import (
    BOOK_FILE,
    MODEL_HELP,
    HorizonOpt,
    OutageOpt,
    book_arg,
    diff_doc,
    est_doc,
    finite,
    load_model,
    load_scenario_for,
    pm,
    pp,
)
from seqrisk.cli.modeling import AsOfOpt
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, table
from seqrisk.exceptions import UsageError
from seqrisk.provenance import Provenance
from seqrisk.units import format_duration, format_usd

__all__: list[str] = []

_WHO = {"holder": "the holder's attributable loss", "venue": "the venue's bad debt"}


@app.command("compare")
def compare_cmd(
    portfolio: Annotated[Path, typer.Argument(help=f"{BOOK_FILE}, e.g. examples/desk.yaml.")],
    mitigation: Annotated[list[str] | None, typer.Option(
        "--mitigation", "-m", help="A strategy, e.g. grace=1h or buffer=0.1 or margin-rules,maintenance=0.03 or "
        "forced-inclusion or move=arbitrum:base:0.5 or insure=indemnity,deductible=10k; join levers with '+'. "
        "Repeatable.")] = None,
    perspective: Annotated[str | None, typer.Option(
        "--perspective", help="Whose loss and levers: holder (default) or venue. For a sweep, default: the "
        "party that controls the swept lever.")] = None,
    sweep_spec: Annotated[str | None, typer.Option(
        "--sweep", help="Vary one parameter: PARAM=LO:HI:N with PARAM in grace, qmax, response, sigma, buffer, "
        "maintenance, penalty, fraction, l1, rate, dur (e.g. grace=0:4h:9); the first --mitigation is the "
        "template.")] = None,
    weight: Annotated[float | None, typer.Option(
        "--weight", help="Sweep: weight of the other party's expected loss in the deciding party's objective, "
        "stated in the output (default 0: its own loss only; the table shows each value's range of weights).",
        min=0)] = None,
    with_cost: Annotated[bool, typer.Option("--with-cost", help="Sweep: add the deciding party's cost of the "
                                            "lever to its objective.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Scenario file (YAML/JSON).")] = None,
    model: Annotated[Path | None, typer.Option("--model", help=MODEL_HELP)] = None,
    paths: Annotated[int | None, typer.Option("--paths", help="Monte Carlo paths per strategy.", min=2)] = 5000,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (fixes every number).", min=0)] = None,
    horizon: HorizonOpt = None,
    outage: OutageOpt = None,
    fi_baseline: Annotated[bool, typer.Option("--forced-inclusion-baseline", help="Let the baseline use "
                                              "forced inclusion (default: off, so it is a lever).")] = False,
    backend: BackendOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Compare levers with the baseline on the same random numbers; advice to the holder or the venue."""
    from seqrisk.decide import advise, compare, parse_strategy, parse_sweep, sweep, sweep_factory
    from seqrisk.decide.base import check_party

    if perspective is not None:
        check_party(perspective, "--perspective")
    book = book_arg(portfolio)
    sc = load_scenario_for(config, paths, seed, horizon, outage, book=book, forced_inclusion=bool(fi_baseline))
    om, prov = load_model(model, as_of, sc.seed)
    if sweep_spec:
        key, values = parse_sweep(sweep_spec)
        make = sweep_factory(key, mitigation[0] if mitigation else None)
        owner = make(values[0]).party
        party = perspective or (owner if owner in ("holder", "venue") else "holder")
        with engine_backend(backend, scheduler, workers):
            res = sweep(book, om, sc, key, values, make, perspective=party, weight=weight or 0.0,
                        with_cost=with_cost)
        _sweep_out(res, book.name, sc, owner, as_json, prov)
        return
    if weight is not None or with_cost:
        raise UsageError("--weight and --with-cost go with --sweep", field="--weight" if weight is not None
                         else "--with-cost")
    if not mitigation:
        raise UsageError("give at least one --mitigation (or --sweep)", field="--mitigation")
    party = perspective or "holder"
    strategies = [parse_strategy(m) for m in mitigation]
    with engine_backend(backend, scheduler, workers):
        cmp = compare(book, om, sc, strategies)
    advice = advise(cmp, party)
    if as_json:
        echo_json("compare", {"book": book.name, "perspective": party,
                   "horizon_s": sc.horizon_s, "paths": sc.paths, "seed": sc.seed,
                   "strategies": [{"name": r.name, "description": r.description, "controlled_by": r.party,
                                   "levers": list(r.levers),
                                   "costs": [{"item": c.item, "usd": c.usd, "paid_by": c.payer} for c in r.costs],
                                   "costs_usd": r.costs_usd,
                                   "cost_usd": {p: r.cost_usd(p) for p in ("holder", "venue")},
                                   "measures": {k: est_doc(e) for k, e in r.measures.items()},
                                   "diffs": {k: diff_doc(d) for k, d in r.diffs.items()},
                                   "reduction_per_usd": {k: finite(r.reduction_per_usd(k)) for k in
                                                         ("holder.el", "holder.es99", "venue.el", "venue.es99")}}
                                  for r in cmp.results],
                   "advice": {"party": party, "recommended": [e.strategy for e in advice.recommended],
                              "lines": advice.lines()}}, prov)
        return
    console().print(prov.header())
    _compare_tables(cmp, advice, book.name, sc)


def _per(v: float) -> str:
    if math.isinf(v):
        return "free" if v > 0 else "-"
    return "n/a" if not math.isfinite(v) else f"{v:.3g}"


def _compare_tables(cmp: Any, advice: Any, name: str, sc: Any) -> None:
    party = advice.party
    c = console()
    c.print(f"[bold]{name}[/]: {sc.paths:,} paths per strategy, horizon {format_duration(sc.horizon_s)}, "
            f"seed {sc.seed}, common random numbers. Perspective: {party} ({_WHO[party]}; --perspective "
            f"{'venue' if party == 'holder' else 'holder'} for the other party).")
    for i, r in enumerate(cmp.results):
        who = f" [{r.party}'s lever]" if r.party else ""
        c.print(f"  {i}  {r.description}{who}")
    m0 = "holder loss" if party == "holder" else "venue bad debt"
    t = table(f"\n{m0.capitalize()} over the horizon (USD ± s.e.); cost: paid by the {party}", "#", "cost", "EL",
              "VaR 99%", "ES 99%", "ES 99.9%", "P(liq.)",
              right=("#", "cost", "EL", "VaR 99%", "ES 99%", "ES 99.9%", "P(liq.)"))
    for i, r in enumerate(cmp.results):
        m = r.measures
        t.add_row(str(i), format_usd(r.cost_usd(party)),
                  *(pm(m[f"{party}.{k}"].value, m[f"{party}.{k}"].se) for k in ("el", "var99", "es99", "es99.9")),
                  pp(m["p_liquidation"].value, m["p_liquidation"].se))
    c.print(t)
    d = table("\nChange against the baseline 0 (paired s.e.); cut per dollar of the cost", "#", "ΔEL", "ΔES 99%",
              "ΔES 99.9%", "EL cut/$", "ES cut/$", right=("#", "ΔEL", "ΔES 99%", "ΔES 99.9%", "EL cut/$",
                                                        "ES cut/$"))
    for i, r in enumerate(cmp.results[1:], 1):
        x = r.diffs
        d.add_row(str(i), *(pm(x[f"{party}.{k}"].value, x[f"{party}.{k}"].se) for k in ("el", "es99", "es99.9")),
                  _per(r.reduction_per_usd(f"{party}.el")), _per(r.reduction_per_usd(f"{party}.es99")))
    c.print(d)
    pairs = [(r.name, r.diffs[f"{party}.el"]) for r in cmp.results[1:] if r.diffs[f"{party}.el"].se_unpaired > 0]
    if pairs:
        nm, df = pairs[0]
        c.print(f"Common random numbers: the s.e. of ΔEL for {nm} is {df.se / df.se_unpaired:.0%} of the "
                "unpaired one.")
    c.print("")
    for line in advice.lines():
        c.print(line)


def _weights(rng: tuple[float, float] | None) -> str:
    if rng is None:
        return "never"
    lo, hi = rng
    return f"{lo:.2g}+" if math.isinf(hi) else f"{lo:.2g}-{hi:.2g}"


def _sweep_out(res: Any, name: str, sc: Any, owner: str | None, as_json: bool, prov: Provenance) -> None:
    dur = res.param in ("grace", "l1", "response")
    show = (lambda v: format_duration(v)) if dur else (lambda v: f"{v:g}")
    rows = res.comparison.results[1:]
    if as_json:
        echo_json("compare.sweep", {"book": name, "param": res.param,
                   "controlled_by": owner, "perspective": res.perspective, "weight": res.weight,
                   "with_cost": res.with_cost, "objective": res.objective, "horizon_s": sc.horizon_s,
                   "paths": sc.paths, "seed": sc.seed, "best_value": res.best_value,
                   "best_interval_90": list(res.best_interval), "near_best": list(res.near_best),
                   "curve": [{"value": v, "strategy": r.name, "description": r.description,
                              "holder_el": est_doc(h), "venue_el": est_doc(vn), "objective": est_doc(e),
                              "vs_best": diff_doc(d), "p_liquidation": est_doc(r.measures["p_liquidation"]),
                              "cost_usd": {p: r.cost_usd(p) for p in ("holder", "venue")},
                              "optimal_for_weights": None if wr is None else [wr[0], finite(wr[1])]}
                             for v, r, h, vn, e, d, wr in zip(res.values, rows, res.holder, res.venue, res.curve,
                                                              res.vs_best, res.weight_ranges, strict=True)]}, prov)
        return
    c = console()
    c.print(prov.header())
    c.print(f"[bold]{name}[/]: sweep of {res.param} ({owner or 'no one'} controls it), {sc.paths:,} paths per "
            f"point, horizon {format_duration(sc.horizon_s)}, seed {sc.seed}, common random numbers.")
    c.print(f"The {res.perspective}'s decision; objective: {res.objective} (--weight, --with-cost).")
    t = table("Expected loss over the horizon (USD ± s.e.)", res.param, "holder EL", "bad debt", "objective",
              "vs best", "best if w in", right=("holder EL", "bad debt", "objective", "vs best", "best if w in"))
    for v, h, vn, e, d, wr in zip(res.values, res.holder, res.venue, res.curve, res.vs_best, res.weight_ranges,
                                  strict=True):
        best = v == res.best_value
        t.add_row(show(v) + (" *" if best else ""), pm(h.value, h.se), pm(vn.value, vn.se), pm(e.value, e.se),
                  "-" if best else pm(d.value, d.se), _weights(wr))
    c.print(t)
    lo, hi = res.best_interval
    if len(res.near_best) == len(res.values):
        c.print(f"No optimum: every {res.param} is within 2 paired s.e. of the lowest objective (lowest at "
                f"{show(res.best_value)}): the objective does not tell them apart.")
    else:
        c.print(f"optimum: {res.param} = {show(res.best_value)} (90% interval {show(lo)} to {show(hi)}); within 2 "
                "paired s.e. of it: " + ", ".join(show(v) for v in res.near_best))
    c.print("best if w in: the weights of the other party's loss under which the value is the optimum.")
    if any(h.value < 0 for h in res.holder):
        c.print("A negative holder loss: the outage and the grace period defer liquidations that would have "
                "happened while the chain was up, and some do not happen again before the horizon ends (lending "
                "books; docs/engine.md).")
