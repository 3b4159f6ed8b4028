"""``seqrisk nowcast CHAIN --down-for 7m [BOOK ...]``: how long an ongoing outage lasts and what it costs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli.app import app, state
from seqrisk.cli.decide_inputs import BOOK_FILE, load_scenario_for
from seqrisk.cli.modeling import AsOfOpt, fitted_model
from seqrisk.cli.notes import negative_loss_note
from seqrisk.cli.render import JsonOpt, console, echo_json, set_quiet, table
from seqrisk.exceptions import UsageError
from seqrisk.units import format_duration, format_usd, parse_duration

__all__: list[str] = []

_WITH_UNIT = re.compile(r"^(\d+(\.\d+)?\s*[a-z]+\s*)+$")


def parse_down_for(text: str) -> float:
    """Seconds from ``7m``, ``1h30m`` ...: a unit is required (a bare number is ambiguous), never negative."""
    s = text.strip().lower()
    if s.startswith("-"):
        raise UsageError("down-for must not be negative", field="--down-for", value=text)
    if not _WITH_UNIT.match(s):
        raise UsageError("down-for needs a unit (s, m, h, d), e.g. 7m or 1h30m", field="--down-for", value=text)
    return parse_duration(s, field="--down-for")


def _pct(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.1%}" if p >= 0.01 or p == 0 else f"{p:.2%}" if p >= 5e-5 else "<0.01%"


def _dur(x: float | None) -> str:
    return "unbounded" if x is None else format_duration(x)


@app.command("nowcast")
def nowcast_cmd(
    chain: Annotated[str, typer.Argument(help="Chain id that is down now, e.g. arbitrum.")],
    books: Annotated[list[Path] | None, typer.Argument(help=f"{BOOK_FILE}, one or more: the outage is "
                                                       "priced for each.", show_default=False)] = None,
    down_for: Annotated[str, typer.Option("--down-for", help="How long the chain has been down, with a unit: "
                                          "7m, 1h30m.")] = "",
    model: Annotated[Path | None, typer.Option("--model", help="Outage model file (default: fitted from the "
                                                "catalog).")] = None,
    paths: Annotated[int, typer.Option("--paths", min=16, help="Monte Carlo paths per book.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed (fixes every number).")] = 0,
    es_level: Annotated[float, typer.Option("--es-level", help="Level of the expected shortfall.")] = 0.99,
    config: Annotated[Path | None, typer.Option("--config", help="Scenario file for the books' runs (grace "
                                                "period, cost of capital ...; its horizon, paths and outages are "
                                                "the now-cast's).")] = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", callback=set_quiet, help="Only the figures: no header, "
                                        "no tables; nothing on stderr but errors.")] = False,
) -> None:
    """Now-cast an ongoing outage: P(still down) ahead, remaining time, and each book's conditional loss."""
    from seqrisk.engine.scenario import Scenario
    from seqrisk.monitor.nowcast import nowcast
    from seqrisk.portfolio import load_book

    if not down_for:
        raise UsageError("--down-for is required, e.g. --down-for 7m", field="--down-for")
    a = parse_down_for(down_for)
    cat = state.catalog
    cid = cat.chain(chain).id
    loaded = [load_book(b, chains=cat.chain_ids()) for b in books or []]
    om, _, prov = fitted_model(model, as_of, seed=seed)
    sc = load_scenario_for(config, None, None, None) if config is not None else None
    nc = nowcast(cid, a, model=om, books=loaded, paths=paths, seed=seed, es_level=es_level, catalog=cat,
                 scenario=sc)
    doc = nc.to_dict()
    if as_json:
        echo_json("nowcast", doc, prov)
        return
    c = console()
    if not quiet:
        c.print(prov.header())
    ahead = ", ".join(f"{lab} {_pct(p)}" for lab, _, p in nc.p_still_down)
    if nc.forced_inclusion_delay_s is not None:
        ahead += (f", at forced inclusion ({format_duration(nc.forced_inclusion_delay_s)}) "
                  f"{_pct(nc.p_still_down_at_forced_inclusion)}")
    c.print(f"{cid} down for {format_duration(a)} ({nc.downtime_rate_per_year:.2g} outages a year)")
    c.print(f"P(still down): {ahead}")
    c.print(f"remaining: expected {_dur(doc['expected_remaining_s'])}, median {_dur(doc['median_remaining_s'])}, "
            f"90% within {_dur(doc['p90_remaining_s'])}")
    for book, b in zip(loaded, nc.books, strict=True):
        if b.note:
            c.print(f"{b.book}: {b.note}")
            continue
        c.print(f"{b.book} ({b.paths:,} paths; holder loss from this outage, USD):")
        c.print(f"  EL {format_usd(b.expected_loss_usd)} ± {format_usd(b.expected_loss_se_usd)} · ES "
                f"{b.es_level:.0%} {format_usd(b.es_usd)} ± {format_usd(b.es_se_usd)} · P(liquidation) "
                f"{_pct(b.p_liquidation)} ± {_pct(b.p_liquidation_se)}")
        if b.expected_loss_usd < 0 and not quiet:
            c.print(f"  note: {negative_loss_note(book)}")
        if quiet or not b.positions:
            continue
        c.print("  most at risk; a top-up of 10% of the position's notional saves:")
        t = table(None, "  id", "P(liq)", "EL", "top-up", "saves", right=("P(liq)", "EL", "top-up", "saves"))
        for p in b.positions:
            saves: Any = "n/a" if p.saved_usd is None else (f"{format_usd(p.saved_usd)} ± "
                                                            f"{format_usd(p.saved_se_usd or 0.0)}")
            t.add_row(f"  {p.id}", _pct(p.p_liquidation), format_usd(p.expected_loss_usd),
                      "n/a" if p.top_up_usd is None else format_usd(p.top_up_usd), saves)
        c.print(t)
        if any(p.saved_usd is not None and p.saved_usd < 0 for p in b.positions):
            coc = (sc or Scenario()).cost_of_capital
            c.print(f"  a negative saving: the added collateral is frozen with the rest (cost of capital {coc:.0%} "
                    "a year over the outage) and costs more than the liquidations it avoids")
