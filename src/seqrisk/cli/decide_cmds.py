"""``seqrisk compare``, ``seqrisk insure``, ``seqrisk allocate``, ``seqrisk score``: the decision layer.

Every figure is shown with its Monte Carlo standard error (``±``); differences
against the baseline carry the paired error of common random numbers. The
mitigation spec syntax is documented in ``seqrisk.decide.spec`` and
docs/mitigations.md.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli.app import app, state
from seqrisk.cli.modeling import AsOfOpt, fitted_model
from seqrisk.cli.render import JSON_SCHEMA, console, echo_json, table
from seqrisk.exceptions import UsageError
from seqrisk.provenance import Provenance
from seqrisk.units import YEAR_S, format_duration, format_usd, parse_duration

__all__: list[str] = []

_MODEL_HELP = "Outage model file (default: fitted from the catalog)."


def _usd2(x: float) -> str:
    """A standard error in USD to two significant digits, without the ``$``: ``2.9k``."""
    r = float(f"{abs(x):.2g}")  # two significant digits, then the unit: 115 -> 120, 995000 -> 1M
    for suffix, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if r >= size:
            return f"{r / size:g}{suffix}"
    return f"{r:g}"


def _pm(v: float, se: float) -> str:
    """``$1.23k±310`` (USD with its standard error, in USD)."""
    if not math.isfinite(v):
        return "n/a"
    return f"{format_usd(v)}±{_usd2(se) if math.isfinite(se) else 'n/a'}"


def _pp(v: float, se: float) -> str:
    """A probability with its standard error."""
    if not math.isfinite(v):
        return "n/a"
    return f"{v:.3g}±{se:.1g}" if math.isfinite(se) else f"{v:.3g}"


def _model(path: Path | None, as_of: str | None, seed: int | None) -> tuple[Any, Provenance]:
    """The outage model (``--model`` file or fitted as of ``--as-of``) and the provenance it states."""
    om, _, prov = fitted_model(path, as_of, seed=seed)
    return om, prov


def _scenario(config: Path | None, paths: int | None, seed: int | None, horizon: str | None,
              outage: list[str] | None = None, **fixed: Any) -> Any:
    from seqrisk.engine import StressOutage, load_scenario

    over: dict[str, Any] = {"paths": paths, "seed": seed,
                            "horizon_s": parse_duration(horizon, field="--horizon") if horizon else None}
    if outage:
        over["stress_outages"] = [StressOutage.parse(o).model_dump() for o in outage]
    over.update({k: v for k, v in fixed.items() if v is not None})
    return load_scenario(config, **over)


def _book(path: Path) -> Any:
    from seqrisk.portfolio import load_book

    return load_book(path, chains=state.catalog.chain_ids())


def _f(x: float) -> float | None:
    """JSON has no inf or nan: None."""
    return x if math.isfinite(x) else None


def _est(e: Any) -> dict[str, float | None]:
    return {"value": _f(e.value), "std_error": _f(e.se)}


def _diff(d: Any) -> dict[str, float | None]:
    return {"value": _f(d.value), "std_error": _f(d.se), "std_error_unpaired": _f(d.se_unpaired)}


# --- compare ---------------------------------------------------------------------------------------


@app.command("compare")
def compare_cmd(
    portfolio: Annotated[Path, typer.Argument(help="Book file (YAML or JSON), e.g. examples/desk.yaml.")],
    mitigation: Annotated[list[str] | None, typer.Option(
        "--mitigation", "-m", help="A strategy, e.g. grace=1h,q=0.5 or buffer=0.1 or forced-inclusion or "
        "move=arbitrum:base:0.5 or insure=indemnity,deductible=10k; join levers with '+'. Repeatable.")] = None,
    sweep_spec: Annotated[str | None, typer.Option(
        "--sweep", help="Vary one parameter: PARAM=LO:HI:N with PARAM in grace, q, buffer, fraction, l1, rate, "
        "dur (e.g. grace=0:4h:9); the first --mitigation is the template.")] = None,
    objective: Annotated[str, typer.Option("--objective", help="Sweep objective: total (venue bad debt + "
                                           "holder loss), holder or venue expected loss.")] = "total",
    with_cost: Annotated[bool, typer.Option("--with-cost", help="Add each strategy's cost to the sweep "
                                            "objective.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Scenario file (YAML/JSON).")] = None,
    model: Annotated[Path | None, typer.Option("--model", help=_MODEL_HELP)] = None,
    paths: Annotated[int | None, typer.Option("--paths", help="Monte Carlo paths per strategy.", min=2)] = 5000,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (fixes every number).", min=0)] = None,
    horizon: Annotated[str | None, typer.Option("--horizon", help="Horizon, e.g. 1d, 30d, 1y.")] = None,
    outage: Annotated[list[str] | None, typer.Option("--outage", help="Stress: CHAIN=DURATION[@TIME], "
                                                     "repeatable.")] = None,
    fi_baseline: Annotated[bool, typer.Option("--forced-inclusion-baseline", help="Let the baseline use "
                                              "forced inclusion (default: off, so it is a lever).")] = False,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes per run (numbers do "
                                                "not change).", min=1)] = None,
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Compare mitigation strategies with the baseline on the same random numbers."""
    from seqrisk.decide import compare, parse_strategy, parse_sweep, sweep, sweep_factory

    book = _book(portfolio)
    sc = _scenario(config, paths, seed, horizon, outage, forced_inclusion=bool(fi_baseline), workers=workers)
    om, prov = _model(model, as_of, sc.seed)
    if sweep_spec:
        key, values = parse_sweep(sweep_spec)
        if objective not in ("total", "holder", "venue"):
            raise UsageError("objective is total, holder or venue", field="--objective", value=objective)
        template = mitigation[0] if mitigation else None
        res = sweep(book, om, sc, key, values, sweep_factory(key, template), objective=f"{objective}.el",
                    with_cost=with_cost)
        _sweep_out(res, book.name, sc, as_json, prov)
        return
    if not mitigation:
        raise UsageError("give at least one --mitigation (or --sweep)", field="--mitigation")
    cmp = compare(book, om, sc, [parse_strategy(m) for m in mitigation])
    if as_json:
        echo_json({"schema": JSON_SCHEMA, "kind": "seqrisk.comparison", "book": book.name,
                   "horizon_s": sc.horizon_s, "paths": sc.paths, "seed": sc.seed,
                   "strategies": [{"name": r.name, "levers": list(r.levers), "cost_usd": r.cost_usd,
                                   "costs_usd": dict(r.costs_usd),
                                   "measures": {k: _est(e) for k, e in r.measures.items()},
                                   "diffs": {k: _diff(d) for k, d in r.diffs.items()},
                                   "reduction_per_usd": {k: _f(r.reduction_per_usd(k))
                                                         for k in ("total.el", "total.es99")}}
                                  for r in cmp.results]}, prov)
        return
    console().print(prov.header())
    _compare_tables(cmp, book.name, sc)


def _compare_tables(cmp: Any, name: str, sc: Any) -> None:
    c = console()
    c.print(f"[bold]{name}[/]: {sc.paths:,} paths per strategy, horizon {format_duration(sc.horizon_s)}, "
            f"seed {sc.seed}, common random numbers")
    for i, r in enumerate(cmp.results):
        c.print(f"  {i}  {r.name}" + (f"  (cost {', '.join(f'{k} {format_usd(v)}' for k, v in r.costs_usd.items())})"
                                      if r.costs_usd else ""))
    t = table("\nHolder loss + venue bad debt over the horizon (USD ± s.e.)", "#", "cost", "EL", "VaR 99%",
              "ES 99%", "VaR 99.9%", "ES 99.9%", right=("#", "cost", "EL", "VaR 99%", "ES 99%", "VaR 99.9%",
                                                        "ES 99.9%"))
    for i, r in enumerate(cmp.results):
        m = r.measures
        t.add_row(str(i), format_usd(r.cost_usd), *(_pm(m[f"total.{k}"].value, m[f"total.{k}"].se)
                                                    for k in ("el", "var99", "es99", "var99.9", "es99.9")))
    c.print(t)
    h = table("\nBy perspective (USD ± s.e.)", "#", "holder EL", "holder ES 99%", "bad debt", "P(liquidation)",
              right=("#", "holder EL", "holder ES 99%", "bad debt", "P(liquidation)"))
    for i, r in enumerate(cmp.results):
        m = r.measures
        h.add_row(str(i), _pm(m["holder.el"].value, m["holder.el"].se), _pm(m["holder.es99"].value,
                                                                             m["holder.es99"].se),
                  _pm(m["venue.el"].value, m["venue.el"].se), _pp(m["p_liquidation"].value, m["p_liquidation"].se))
    c.print(h)
    d = table("\nChange against the baseline 0 (paired s.e.)", "#", "ΔEL", "ΔES 99%", "Δbad debt", "ΔP(liq.)",
              "ΔES/$", right=("#", "ΔEL", "ΔES 99%", "Δbad debt", "ΔP(liq.)", "ΔES/$"))
    for i, r in enumerate(cmp.results[1:], 1):
        x = r.diffs
        per = r.reduction_per_usd("total.es99")
        pl = x["p_liquidation"]
        d.add_row(str(i), _pm(x["total.el"].value, x["total.el"].se), _pm(x["total.es99"].value, x["total.es99"].se),
                  _pm(x["venue.el"].value, x["venue.el"].se),
                  _pp(pl.value, pl.se if math.isfinite(pl.se) else pl.se_unpaired),
                  "free" if math.isinf(per) and per > 0 else ("n/a" if not math.isfinite(per) else f"{per:.3g}"))
    c.print(d)
    c.print("ΔES/$: ES 99% reduction per dollar of cost ('free': helps at no cost).")
    if any(not math.isfinite(r.diffs["p_liquidation"].se) for r in cmp.results[1:]):
        c.print("ΔP(liq.) carries the unpaired s.e. (the engine run kept no per-path liquidation flag).")
    pairs = [(r.name, r.diffs["total.el"]) for r in cmp.results[1:] if r.diffs["total.el"].se_unpaired > 0]
    if pairs:
        nm, df = pairs[0]
        c.print(f"Common random numbers: the s.e. of ΔEL for {nm} is {df.se / df.se_unpaired:.0%} of the "
                "unpaired one.")
    sig = {r.name for r in cmp.results[1:] if r.diffs["total.es99"].value < -2 * r.diffs["total.es99"].se}
    ranked = [(n, v) for n, v in cmp.best_levers("total.es99") if n in sig]
    free = [n for n, v in ranked if math.isinf(v)]
    paid = [(n, v) for n, v in ranked if math.isfinite(v) and v > 0]
    if free:
        c.print("Cut ES 99% by more than 2 s.e. at no cost: " + ", ".join(free))
    if paid:
        c.print("Best levers per dollar (ES 99% cut > 2 s.e.): " + ", ".join(f"{n} ({v:.3g})" for n, v in paid[:3]))


def _sweep_out(res: Any, name: str, sc: Any, as_json: bool, prov: Provenance) -> None:
    dur = res.param in ("grace", "l1")
    show = (lambda v: format_duration(v)) if dur else (lambda v: f"{v:g}")
    rows = res.comparison.results[1:]
    if as_json:
        echo_json({"schema": JSON_SCHEMA, "kind": "seqrisk.sweep", "book": name, "param": res.param,
                   "objective": res.objective, "with_cost": res.with_cost, "horizon_s": sc.horizon_s,
                   "paths": sc.paths, "seed": sc.seed, "best_value": res.best_value,
                   "near_best": list(res.near_best),
                   "curve": [{"value": v, "strategy": r.name, "objective": _est(e), "vs_best": _diff(d),
                              "holder_el": _est(r.measures["holder.el"]), "venue_el": _est(r.measures["venue.el"]),
                              "p_liquidation": _est(r.measures["p_liquidation"]), "cost_usd": r.cost_usd}
                             for v, r, e, d in zip(res.values, rows, res.curve, res.vs_best, strict=True)]},
                  prov)
        return
    c = console()
    c.print(prov.header())
    c.print(f"[bold]{name}[/]: sweep of {res.param}, {sc.paths:,} paths per point, horizon "
            f"{format_duration(sc.horizon_s)}, seed {sc.seed}")
    obj = res.objective.split(".")[0] + " EL" + (" + cost" if res.with_cost else "")
    t = table(f"Objective: {obj} (USD ± s.e.)", res.param, "holder EL", "bad debt", "objective", "vs best",
              right=("holder EL", "bad debt", "objective", "vs best"))
    for v, r, e, d in zip(res.values, rows, res.curve, res.vs_best, strict=True):
        mark = " *" if v == res.best_value else ""
        t.add_row(show(v) + mark, _pm(r.measures["holder.el"].value, r.measures["holder.el"].se),
                  _pm(r.measures["venue.el"].value, r.measures["venue.el"].se), _pm(e.value, e.se),
                  "-" if v == res.best_value else _pm(d.value, d.se))
    c.print(t)
    c.print(f"minimiser: {res.param} = {show(res.best_value)}; within 2 paired s.e. of it: "
            + ", ".join(show(v) for v in res.near_best))


# --- insure ----------------------------------------------------------------------------------------


@app.command("insure")
def insure_cmd(
    portfolio: Annotated[Path | None, typer.Argument(help="Book file: quote a cover against its simulated "
                                                     "loss and show the buyer's tail. Without it: parametric "
                                                     "covers and the insurer's tail.")] = None,
    chain: Annotated[list[str] | None, typer.Option("--chain", "-c", help="Parametric: chain covered "
                                                    "(repeatable: a book of covers). With a PORTFOLIO: a "
                                                    "parametric instead of an indemnity cover.")] = None,
    payout: Annotated[str, typer.Option("--payout", help="Parametric: payout per cover, e.g. 100k.")] = "100k",
    trigger: Annotated[str, typer.Option("--trigger", help="Parametric: pays if an outage lasts longer, "
                                         "e.g. 2h.")] = "2h",
    deductible: Annotated[str, typer.Option("--deductible", help="Indemnity: deductible, e.g. 10k.")] = "0",
    limit: Annotated[str | None, typer.Option("--limit", help="Indemnity: limit, e.g. 1M.")] = None,
    coinsurance: Annotated[float, typer.Option("--coinsurance", help="Indemnity: share of the loss above "
                                               "the deductible the buyer keeps.", min=0, max=0.999)] = 0.0,
    period: Annotated[str, typer.Option("--period", help="Cover period, e.g. 30d, 1y.")] = "1y",
    loading: Annotated[float, typer.Option("--loading", help="Loading on the expected payout.", min=0)] = 0.2,
    coc: Annotated[float, typer.Option("--coc", help="Insurer's cost of capital per year.", min=0)] = 0.1,
    level: Annotated[float, typer.Option("--level", help="ES level of the insurer's capital.", min=0.5,
                                         max=0.9999)] = 0.99,
    model: Annotated[Path | None, typer.Option("--model", help=_MODEL_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Scenario file (indemnity).")] = None,
    paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths.", min=100)] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed.", min=0)] = 0,
    sampler: Annotated[str, typer.Option("--sampler", help="Parametric book of covers: 'engine' (the loss "
                                         "engine's outage paths: clustering, coupling) or 'poisson'.")] = "engine",
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Quote an outage cover: parametric (closed form) or indemnity (on the simulated loss)."""
    from seqrisk.decide.insurance import Pricing
    from seqrisk.decide.spec import parse_usd

    pricing = Pricing(loading=loading, cost_of_capital_per_year=coc, es_level=level)
    period_s = parse_duration(period, field="--period")
    if period_s <= 0:
        raise UsageError("cover period must be > 0", field="--period", value=period)
    om, prov = _model(model, as_of, seed)
    if portfolio is None:
        if not chain:
            raise UsageError("give a PORTFOLIO (indemnity cover) or --chain (parametric cover)", field="--chain")
        if sampler not in ("engine", "poisson"):
            raise UsageError("sampler is engine or poisson", field="--sampler", value=sampler)
        _parametric(om, [state.catalog.chain(c).id for c in chain], parse_usd(payout, field="--payout"),
                    parse_duration(trigger, field="--trigger"), period_s, pricing, paths, seed, as_json, sampler, prov)
        return
    import numpy as np

    from seqrisk.decide import to_outcome
    from seqrisk.decide.base import effective_inputs
    from seqrisk.decide.insurance import (
        IndemnityCover,
        ParametricCover,
        buyer_tail,
        price_indemnity,
        price_parametric,
        price_payouts,
    )
    from seqrisk.decide.paths import longest_downtime_s
    from seqrisk.engine import simulate

    book = _book(portfolio)
    om, sc = effective_inputs(om, _scenario(config, paths, seed, None, horizon_s=period_s))
    out = to_outcome(simulate(book, om, sc))
    doc: dict[str, Any]
    if chain:  # parametric covers bought by the book's holder: payouts on the engine's own outage paths
        ids = [state.catalog.chain(c).id for c in chain]
        x, h = parse_usd(payout, field="--payout"), parse_duration(trigger, field="--trigger")
        names, longest, _ = longest_downtime_s(book, om, sc)
        missing = [c for c in ids if c not in names]
        if missing:
            raise UsageError("the book has no position on this chain (cover a chain it holds)", chain=missing[0],
                             field="--chain")
        rows = np.asarray(out.extra["path"], np.int64)
        pays = sum(x * (longest[rows, names.index(c)] > h) for c in ids)
        cf = sum(price_parametric(om, ParametricCover(c, x, h, period_s), pricing).premium_usd for c in ids)
        # priced on the engine's paths (its full outage model: clustering, coupling, regimes); the Poisson
        # closed form is shown next to it
        q = price_payouts(np.asarray(pays, float), pricing, period_s, p_event=out.p_event)
        label = (f"parametric cover: {format_usd(x)} if a downtime on {', '.join(ids)} lasts longer than "
                 f"{format_duration(h)}")
        doc = {"cover": "parametric", "chains": ids, "payout_usd": x, "trigger_s": h,
               "closed_form_premium_usd": cf}
    else:
        ind = IndemnityCover(parse_usd(deductible, field="--deductible"),
                             parse_usd(limit, field="--limit") if limit else math.inf, coinsurance)
        pays = ind.payout(out.holder_usd)
        q = price_indemnity(out.holder_usd, ind, pricing, period_s=period_s, p_event=out.p_event)
        label = "indemnity cover on the attributable holder loss"
        doc = {"cover": "indemnity", "deductible_usd": ind.deductible_usd,
               "limit_usd": ind.limit_usd if math.isfinite(ind.limit_usd) else None, "coinsurance": ind.coinsurance}
    bt = buyer_tail(out.holder_usd, np.asarray(pays, float), q.premium_usd, level, p_event=out.p_event)
    if as_json:
        echo_json({"schema": JSON_SCHEMA, "kind": "seqrisk.quote", "book": book.name, **doc,
                   "period_s": period_s, "paths": sc.paths, "seed": sc.seed, "quote": _quote_doc(q),
                   "buyer": {"level": level, "el_before": bt.el_before, "el_before_se": bt.el_before_se,
                             "el_after": bt.el_after, "el_after_se": bt.el_after_se, "el_change_se": bt.el_diff_se,
                             "es_before": bt.es_before, "es_before_se": bt.es_before_se,
                             "es_after": bt.es_after, "es_after_se": bt.es_after_se, "es_change_se": bt.es_diff_se,
                             "es_reduction_per_usd": _f(bt.es_reduction_per_usd)}}, prov)
        return
    c = console()
    c.print(prov.header())
    c.print(f"[bold]{book.name}[/]: {label}, period {format_duration(period_s)}, {sc.paths:,} paths, "
            f"seed {sc.seed}")
    _quote_table(q, "Quote (USD for the period)")
    lv = f"{level * 100:g}%"
    t = table("\nBuyer's loss (USD ± s.e.; after = loss - payout + premium)", "", "before", "after",
              "change (paired)", right=("before", "after", "change (paired)"))
    t.add_row("EL", _pm(bt.el_before, bt.el_before_se), _pm(bt.el_after, bt.el_after_se),
              _pm(bt.el_after - bt.el_before, bt.el_diff_se))
    t.add_row(f"ES {lv}", _pm(bt.es_before, bt.es_before_se), _pm(bt.es_after, bt.es_after_se),
              _pm(bt.es_after - bt.es_before, bt.es_diff_se))
    c.print(t)
    c.print(f"ES {lv} reduction per dollar of premium: {bt.es_reduction_per_usd:.3g}")
    if "closed_form_premium_usd" in doc:
        c.print(f"Closed-form premium (Poisson outages at the fitted rates, no clustering or volatility "
                f"coupling): {format_usd(doc['closed_form_premium_usd'])}")


def _quote_doc(q: Any) -> dict[str, Any]:
    return {"method": q.method, "p_payout": q.p_payout, "p_payout_se": q.p_payout_se,
            "expected_payout_usd": q.expected_payout_usd, "expected_payout_se": q.expected_payout_se,
            "es_payout_usd": q.es_payout_usd, "es_payout_se": q.es_payout_se,
            "capital_cost_usd": q.capital_cost_usd, "premium_usd": q.premium_usd, "premium_se": q.premium_se,
            "loading": q.pricing.loading, "cost_of_capital_per_year": q.pricing.cost_of_capital_per_year,
            "es_level": q.pricing.es_level, "n_paths": q.n_paths, "notes": list(q.notes)}


def _quote_table(q: Any, title: str) -> None:
    t = table(title, "", "value", right=("value",))
    t.add_row("P(payout)", _pp(q.p_payout, q.p_payout_se))
    t.add_row("expected payout", _pm(q.expected_payout_usd, q.expected_payout_se))
    t.add_row(f"ES {q.pricing.es_level * 100:g}% of payout (capital)", _pm(q.es_payout_usd, q.es_payout_se))
    cap_se = q.capital_cost_usd * q.es_payout_se / q.es_payout_usd if q.es_payout_usd > 0 else 0.0
    t.add_row(f"capital cost ({q.pricing.cost_of_capital_per_year:.0%}/y)", _pm(q.capital_cost_usd, cap_se))
    t.add_row(f"premium (loading {q.pricing.loading:.0%})", _pm(q.premium_usd, q.premium_se))
    console().print(t)


def _parametric(om: Any, chains: list[str], payout_usd: float, trigger_s: float, period_s: float, pricing: Any,
                paths: int, seed: int, as_json: bool, sampler: str, prov: Provenance) -> None:
    from seqrisk.decide.insurance import ParametricCover, insurer_tail, price_parametric, trigger_rate_per_year

    covers = [ParametricCover(c, payout_usd, trigger_s, period_s) for c in chains]
    quotes = [price_parametric(om, cv, pricing) for cv in covers]
    book = insurer_tail(om, covers, pricing, n_paths=paths, seed=seed, sampler=sampler)
    if as_json:
        echo_json({"schema": JSON_SCHEMA, "kind": "seqrisk.quote", "cover": "parametric", "payout_usd": payout_usd,
                   "trigger_s": trigger_s, "period_s": period_s, "paths": paths, "seed": seed, "sampler": sampler,
                   "covers": [{"chain": cv.chain,
                               "trigger_rate_per_year": trigger_rate_per_year(om, cv.chain, trigger_s),
                               "closed_form": _quote_doc(q), "monte_carlo": _quote_doc(m)}
                              for cv, q, m in zip(covers, quotes, book.quotes, strict=True)],
                   "book": {"total": _quote_doc(book.total), "independent": _quote_doc(book.total_independent),
                            "sum_of_es_usd": book.sum_of_es_usd}}, prov)
        return
    c = console()
    c.print(prov.header())
    c.print(f"Parametric cover: pays {format_usd(payout_usd)} if an outage lasts longer than "
            f"{format_duration(trigger_s)} within {format_duration(period_s)}; premium = E(payout) x "
            f"{1 + pricing.loading:g} + {pricing.cost_of_capital_per_year:.0%}/y x ES "
            f"{pricing.es_level * 100:g}%")
    mc = "engine MC" if sampler == "engine" else "Poisson MC"
    t = table(f"Closed form (Poisson) and {mc} (± s.e.)", "chain", "rate >h /y", "P(pay)", "premium",
              mc, right=("rate >h /y", "P(pay)", "premium", mc))
    for cv, q, m in zip(covers, quotes, book.quotes, strict=True):
        t.add_row(cv.chain, f"{trigger_rate_per_year(om, cv.chain, trigger_s):.3g}", f"{q.p_payout:.3g}",
                  format_usd(q.premium_usd), _pm(m.premium_usd, m.premium_se))
    c.print(t)
    if len(covers) > 1:
        lv = f"{pricing.es_level * 100:g}%"
        b = table(f"\nInsurer's book of {len(covers)} covers (USD ± s.e.)", "", "E(payout)", f"ES {lv}",
                  "premium", right=("E(payout)", f"ES {lv}", "premium"))
        for label, q in (("with common shocks", book.total), ("shocks independent", book.total_independent)):
            b.add_row(label, _pm(q.expected_payout_usd, q.expected_payout_se), _pm(q.es_payout_usd, q.es_payout_se),
                      _pm(q.premium_usd, q.premium_se))
        c.print(b)
        c.print(f"Sum of the covers' own ES {lv}: {format_usd(book.sum_of_es_usd)}.")
    for note in sorted({n for q in quotes for n in q.notes}):
        c.print(f"note (closed form{'' if sampler == 'engine' else ' and Poisson MC'}): {note}")


# --- allocate --------------------------------------------------------------------------------------


def _per_chain(values: list[str] | None, field: str, parse: Any) -> float | dict[str, float] | None:
    if not values:
        return None
    out: dict[str, float] = {}
    for v in values:
        if "=" not in v:
            if len(values) > 1:
                raise UsageError("give CHAIN=VALUE when repeating the option", field=field, value=v)
            return float(parse(v))
        k, val = v.split("=", 1)
        out[state.catalog.chain(k.strip()).id] = float(parse(val))
    return out


@app.command("allocate")
def allocate_cmd(
    portfolio: Annotated[Path, typer.Argument(help="Book file: its positions are split across the chains.")],
    chains: Annotated[str, typer.Option("--chains", help="Comma-separated candidate chains, e.g. "
                                        "arbitrum,base,optimism.")],
    min_w: Annotated[list[str] | None, typer.Option("--min", help="Minimum share: 0.1 for all, or "
                                                    "CHAIN=0.1 (repeatable).")] = None,
    max_w: Annotated[list[str] | None, typer.Option("--max", help="Maximum share: 0.5 for all, or "
                                                    "CHAIN=0.5 (repeatable).")] = None,
    cost: Annotated[list[str] | None, typer.Option("--cost", help="Cost of placing the whole book on a chain "
                                                   "over the horizon: CHAIN=USD (repeatable).")] = None,
    level: Annotated[float, typer.Option("--level", help="ES level.", min=0.5, max=0.9999)] = 0.99,
    config: Annotated[Path | None, typer.Option("--config", help="Scenario file (YAML/JSON).")] = None,
    model: Annotated[Path | None, typer.Option("--model", help=_MODEL_HELP)] = None,
    paths: Annotated[int | None, typer.Option("--paths", help="Monte Carlo paths.", min=2)] = 10_000,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed.", min=0)] = None,
    horizon: Annotated[str | None, typer.Option("--horizon", help="Horizon, e.g. 30d, 1y.")] = "1y",
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Split a book across chains to minimise ES of the attributable loss (Rockafellar-Uryasev LP)."""
    from seqrisk.decide.allocation import allocate_book
    from seqrisk.decide.spec import parse_usd

    ids = [state.catalog.chain(c.strip()).id for c in chains.split(",") if c.strip()]
    book = _book(portfolio)
    sc = _scenario(config, paths, seed, horizon)
    om, prov = _model(model, as_of, sc.seed)
    costs = _per_chain(cost, "--cost", lambda v: parse_usd(v, field="--cost"))
    if costs is not None and not isinstance(costs, dict):
        raise UsageError("--cost takes CHAIN=USD", field="--cost")
    res = allocate_book(book, om, sc, ids, alpha=level, min_weight=_per_chain(min_w, "--min", float),
                        max_weight=_per_chain(max_w, "--max", float), costs_usd=costs)
    if as_json:
        echo_json({"schema": JSON_SCHEMA, "kind": "seqrisk.decide.allocation", "book": book.name, "level": level,
                   "horizon_s": sc.horizon_s, "paths": sc.paths, "seed": sc.seed, "weights": dict(res.weights),
                   "es_usd": res.es_usd, "es_se": res.es_se, "expected_loss_usd": res.expected_loss_usd,
                   "expected_loss_se": res.expected_loss_se, "cost_usd": res.cost_usd,
                   "single_chain_es_usd": dict(res.single_chain_es_usd),
                   "single_chain_es_se": {k: _f(v) for k, v in res.single_chain_es_se.items()},
                   "single_chain_el_usd": dict(res.single_chain_el_usd),
                   "single_chain_el_se": {k: _f(v) for k, v in res.single_chain_el_se.items()},
                   "equal_split_es_usd": res.equal_split_es_usd, "equal_split_es_se": _f(res.equal_split_es_se)},
                  prov)
        return
    c = console()
    c.print(prov.header())
    lv = f"{level * 100:g}%"
    c.print(f"[bold]{book.name}[/] split across {len(ids)} chains, horizon {format_duration(sc.horizon_s)}, "
            f"{sc.paths:,} paths, seed {sc.seed}; minimising ES {lv} of holder loss + bad debt")
    t = table("Split (USD over the horizon)", "chain", "share", "EL if all here", f"ES {lv} if all here",
              right=("share", "EL if all here", f"ES {lv} if all here"))
    for ch in ids:
        t.add_row(ch, f"{res.weights[ch]:.1%}",
                  _pm(res.single_chain_el_usd[ch], res.single_chain_el_se.get(ch, math.nan)),
                  _pm(res.single_chain_es_usd[ch], res.single_chain_es_se.get(ch, math.nan)))
    c.print(t)
    c.print(f"split: ES {lv} {_pm(res.es_usd, res.es_se)}, EL {_pm(res.expected_loss_usd, res.expected_loss_se)}"
            + (f", cost {format_usd(res.cost_usd)}" if res.cost_usd else "")
            + f"; equal split ES {lv} {_pm(res.equal_split_es_usd, res.equal_split_es_se)} (in-sample optimum: "
            "slightly optimistic)")


# --- score -----------------------------------------------------------------------------------------


@app.command("score")
def score_cmd(
    book_file: Annotated[Path | None, typer.Option("--book", help="Score with this book's positions copied to "
                                                   "each chain (default: the reference book).")] = None,
    chain: Annotated[list[str] | None, typer.Option("--chain", "-c", help="Score only these chains "
                                                    "(repeatable).")] = None,
    model: Annotated[Path | None, typer.Option("--model", help=_MODEL_HELP)] = None,
    paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths.", min=100)] = 4000,
    seed: Annotated[int, typer.Option("--seed", help="Seed.", min=0)] = 0,
    horizon: Annotated[str, typer.Option("--horizon", help="Horizon (scores are per this period).")] = "1y",
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Rank chains by what sequencer risk costs a standard book there per year, with intervals."""
    from seqrisk.decide.scoring import score_chains

    cat = state.catalog
    om, prov = _model(model, as_of, seed)
    tmpl = _book(book_file) if book_file else None
    ids = [cat.chain(c).id for c in chain] if chain else None
    h = parse_duration(horizon, field="--horizon")
    s = score_chains(om, cat, chains=ids, book=tmpl, paths=paths, seed=seed, horizon_s=h)
    if as_json:
        echo_json({"schema": JSON_SCHEMA, "kind": "seqrisk.scores", "book": s.book, "horizon_s": s.horizon_s,
                   "paths": s.n_paths, "seed": s.seed,
                   "chains": [{"rank": i, "chain": r.chain, "expected_loss": _est(r.expected_loss),
                               "es99": _est(r.es99), "holder_el": _est(r.holder_el), "venue_el": _est(r.venue_el),
                               "downtime_hours": vars(r.downtime_hours), "availability": vars(r.availability),
                               "risk": [e.model_dump(mode="json") for e in r.risk]}
                              for i, r in enumerate(s.rows, 1)]}, prov)
        return
    c = console()
    c.print(prov.header())
    per = "per year" if abs(h - YEAR_S) < 1 else f"per {format_duration(h)}"
    c.print(f"Chain scores: attributable loss of {'the reference book' if tmpl is None else s.book} on each chain "
            f"{per} (USD ± s.e.), {s.n_paths:,} paths, seed {s.seed}; lowest risk first")
    t = table(None, "chain", "EL", "ES 99%", "down h/y", "sequencer", "escape",
              right=("EL", "ES 99%", "down h/y"))
    short = {"centralized": "central", "centralized-ha": "central+HA", "decentralized": "decentr.",
             "based": "based"}
    for r in s.rows:
        ch = cat.chain(r.chain)
        mech = {"self-sequence": "self-seq", "force-via-l1": "via L1"}.get(ch.forced_inclusion or "?",
                                                                          ch.forced_inclusion or "?")
        fi_txt = (format_duration(ch.forced_inclusion_delay_s) if ch.forced_inclusion_delay_s is not None
                  else mech + (" ?" if mech in ("self-seq", "via L1") else ""))
        dt = r.downtime_hours
        down = f"{dt.value:.1f}" if f"{dt.low:.1f}" == f"{dt.high:.1f}" else \
            f"{dt.value:.1f} [{dt.low:.1f}-{dt.high:.1f}]"
        seq = next(e.value for e in r.risk if e.name == "sequencer_failure")
        t.add_row(r.chain, _pm(r.expected_loss.value, r.expected_loss.se), _pm(r.es99.value, r.es99.se),
                  down, short.get(seq, seq), fi_txt)
    c.print(t)
    c.print("down h/y: expected downtime hours per year (in brackets: from the pooled rate's interval); escape: forced "
            "inclusion delay. Reference book: 10x ETH perps, $500k long + $500k short, and a short 1-year ATM "
            "ETH call on $1M, delta-hedged (docs/mitigations.md). Availability, DA and proof entries: --json.")
