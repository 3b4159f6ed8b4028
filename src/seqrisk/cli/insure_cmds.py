"""``seqrisk insure``: price an outage cover and show what it does to the buyer's (the holder's) tail.

Every figure is shown with its Monte Carlo standard error (``±``); the buyer's
changes carry the paired error of common random numbers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli.app import app, state
from seqrisk.cli.backend_opts import BackendOpt, SchedulerOpt, WorkersOpt, engine_backend
from seqrisk.cli.decide_inputs import (
    BOOK_FILE,
    DEFAULT_HORIZON,
    MODEL_HELP,
    book_arg,
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
from seqrisk.units import format_duration, format_usd, parse_positive_duration

__all__: list[str] = []


@app.command("insure")
def insure_cmd(
    portfolio: Annotated[Path | None, typer.Argument(help=f"{BOOK_FILE}: quote a cover against its "
                                                     "simulated loss and show the buyer's tail. Without it: parametric "
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
    period: Annotated[str, typer.Option("--period", metavar="DURATION", help="Cover period, e.g. 30d, 1y (the "
                                        "horizon of the simulation).")] = DEFAULT_HORIZON,
    loading: Annotated[float, typer.Option("--loading", help="Loading on the expected payout.", min=0)] = 0.2,
    coc: Annotated[float, typer.Option("--coc", help="Insurer's cost of capital per year.", min=0)] = 0.1,
    level: Annotated[float, typer.Option("--level", help="ES level of the insurer's capital.", min=0.5,
                                         max=0.9999)] = 0.99,
    model: Annotated[Path | None, typer.Option("--model", help=MODEL_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Scenario file (indemnity).")] = None,
    paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths.", min=100)] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed.", min=0)] = 0,
    sampler: Annotated[str, typer.Option("--sampler", help="Parametric book of covers: 'engine' (the loss "
                                         "engine's outage paths: clustering, coupling) or 'poisson'.")] = "engine",
    backend: BackendOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Quote an outage cover: parametric (closed form) or indemnity (on the simulated loss)."""
    from seqrisk.decide.insurance import Pricing
    from seqrisk.decide.spec import parse_usd

    pricing = Pricing(loading=loading, cost_of_capital_per_year=coc, es_level=level)
    period_s = parse_positive_duration(period, field="--period", what="cover period")
    trigger_s = parse_positive_duration(trigger, field="--trigger")
    om, prov = load_model(model, as_of, seed)
    if portfolio is None:
        if not chain:
            raise UsageError("give a PORTFOLIO (indemnity cover) or --chain (parametric cover)", field="--chain")
        if sampler not in ("engine", "poisson"):
            raise UsageError("sampler is engine or poisson", field="--sampler", value=sampler)
        _parametric(om, [state.catalog.chain(c).id for c in chain], parse_usd(payout, field="--payout"),
                    trigger_s, period_s, pricing, paths, seed, as_json, sampler,
                    prov)
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
    from seqrisk.decide.paths import longest_downtime_s, with_paths
    from seqrisk.engine import simulate

    book = book_arg(portfolio)
    if chain:
        from seqrisk.decide.insurance import check_covered

        check_covered(book, [state.catalog.chain(c).id for c in chain], field="--chain")
    om, sc = effective_inputs(om, load_scenario_for(config, paths, seed, None, horizon_s=period_s))
    with engine_backend(backend, scheduler, workers):
        out = to_outcome(simulate(book, om, with_paths(sc)))
    doc: dict[str, Any]
    if chain:  # parametric covers bought by the book's holder: payouts on the engine's own outage paths
        ids = [state.catalog.chain(c).id for c in chain]
        x, h = parse_usd(payout, field="--payout"), trigger_s
        names, longest, _ = longest_downtime_s(book, om, sc)  # the book's chains (check_covered above)
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
        echo_json("insure", {"book": book.name, **doc,
                   "period_s": period_s, "paths": sc.paths, "seed": sc.seed, "quote": _quote_doc(q),
                   "buyer": {"level": level, "el_before": bt.el_before, "el_before_se": bt.el_before_se,
                             "el_after": bt.el_after, "el_after_se": bt.el_after_se, "el_change_se": bt.el_diff_se,
                             "es_before": bt.es_before, "es_before_se": bt.es_before_se,
                             "es_after": bt.es_after, "es_after_se": bt.es_after_se, "es_change_se": bt.es_diff_se,
                             "es_reduction_per_usd": finite(bt.es_reduction_per_usd),
                             "el_cut_per_usd": finite(bt.el_cut_per_usd)}}, prov)
        return
    c = console()
    c.print(prov.header())
    c.print(f"[bold]{book.name}[/]: {label}, period {format_duration(period_s)}, {sc.paths:,} paths, "
            f"seed {sc.seed}")
    _quote_table(q, "Quote (USD for the period)")
    lv = f"{level * 100:g}%"
    t = table("\nBuyer's loss (USD ± s.e.; after = loss - payout + premium)", "", "before", "after",
              "change (paired)", right=("before", "after", "change (paired)"))
    t.add_row("EL", pm(bt.el_before, bt.el_before_se), pm(bt.el_after, bt.el_after_se),
              pm(bt.el_after - bt.el_before, bt.el_diff_se))
    t.add_row(f"ES {lv}", pm(bt.es_before, bt.es_before_se), pm(bt.es_after, bt.es_after_se),
              pm(bt.es_after - bt.es_before, bt.es_diff_se))
    c.print(t)
    c.print(f"Per dollar of premium: ES {lv} falls by {bt.es_reduction_per_usd:.3g} (premium included); the cover "
            f"pays {bt.el_cut_per_usd:.3g} on average"
            + (" (below 1: it costs more than it pays on average, a price for a thinner tail)."
               if bt.el_cut_per_usd < 1 else "."))
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
    t.add_row("P(payout)", pp(q.p_payout, q.p_payout_se))
    t.add_row("expected payout", pm(q.expected_payout_usd, q.expected_payout_se))
    t.add_row(f"ES {q.pricing.es_level * 100:g}% of payout (capital)", pm(q.es_payout_usd, q.es_payout_se))
    cap_se = q.capital_cost_usd * q.es_payout_se / q.es_payout_usd if q.es_payout_usd > 0 else 0.0
    t.add_row(f"capital cost ({q.pricing.cost_of_capital_per_year:.0%}/y)", pm(q.capital_cost_usd, cap_se))
    t.add_row(f"premium (loading {q.pricing.loading:.0%})", pm(q.premium_usd, q.premium_se))
    console().print(t)


def _parametric(om: Any, chains: list[str], payout_usd: float, trigger_s: float, period_s: float, pricing: Any,
                paths: int, seed: int, as_json: bool, sampler: str, prov: Provenance) -> None:
    from seqrisk.decide.insurance import ParametricCover, insurer_tail, price_parametric, trigger_rate_per_year

    covers = [ParametricCover(c, payout_usd, trigger_s, period_s) for c in chains]
    quotes = [price_parametric(om, cv, pricing) for cv in covers]
    book = insurer_tail(om, covers, pricing, n_paths=paths, seed=seed, sampler=sampler)
    if as_json:
        echo_json("insure.parametric", {"cover": "parametric", "payout_usd": payout_usd,
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
                  format_usd(q.premium_usd), pm(m.premium_usd, m.premium_se))
    c.print(t)
    if len(covers) > 1:
        lv = f"{pricing.es_level * 100:g}%"
        b = table(f"\nInsurer's book of {len(covers)} covers (USD ± s.e.)", "", "E(payout)", f"ES {lv}",
                  "premium", right=("E(payout)", f"ES {lv}", "premium"))
        for label, q in (("with common shocks", book.total), ("shocks independent", book.total_independent)):
            b.add_row(label, pm(q.expected_payout_usd, q.expected_payout_se), pm(q.es_payout_usd, q.es_payout_se),
                      pm(q.premium_usd, q.premium_se))
        c.print(b)
        c.print(f"Sum of the covers' own ES {lv}: {format_usd(book.sum_of_es_usd)}.")
    for note in sorted({n for q in quotes for n in q.notes}):
        c.print(f"note (closed form{'' if sampler == 'engine' else ' and Poisson MC'}): {note}")
