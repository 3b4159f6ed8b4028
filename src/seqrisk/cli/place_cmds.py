"""``seqrisk allocate`` and ``seqrisk score``: where a book should sit, for one party, with the uncertainty.

Shares of a split come with 95 % intervals from independent replications,
rounded to what their error supports, interchangeable chains named, and the
split's ES on fresh paths next to the in-sample figure. Chain ranks come with
rank intervals and ties. Each is for one party (``--perspective``): the
holder's attributable loss or the venue's bad debt, never their sum.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli.app import app, state
from seqrisk.cli.backend_opts import BackendOpt, SchedulerOpt, WorkersOpt, engine_backend
from seqrisk.cli.decide_inputs import (
    BOOK_FILE,
    DEFAULT_HORIZON,
    MODEL_HELP,
    HorizonOpt,
    book_arg,
    est_doc,
    load_model,
    load_scenario_for,
    pm,
)
from seqrisk.cli.modeling import AsOfOpt
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, table
from seqrisk.exceptions import UsageError
from seqrisk.units import YEAR_S, format_duration, format_usd, parse_duration

__all__: list[str] = []

_LOSS = {"holder": "the holder's attributable loss", "venue": "the venue's bad debt"}


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


def _pct(x: float, step: float) -> str:
    digits = 0 if step >= 0.01 else 1
    return f"{x * 100:.{digits}f}%"


def _share_doc(s: Any) -> dict[str, float]:
    return {"value": s.value, "std_error": s.se, "low": s.low, "high": s.high, "shown": s.shown, "step": s.step}


@app.command("allocate")
def allocate_cmd(
    portfolio: Annotated[Path, typer.Argument(help=f"{BOOK_FILE}: the whole book is split across "
                                                  "the chains.")],
    chains: Annotated[str, typer.Option("--chains", help="Comma-separated candidate chains, e.g. "
                                        "arbitrum,base,optimism.")],
    perspective: Annotated[str, typer.Option("--perspective", help="Whose loss to minimise: holder (default) "
                                             "or venue (bad debt).")] = "holder",
    method: Annotated[str, typer.Option("--method", help="averaged (default): the average of the replications' "
                                        "optima, steady across seeds; optimum: the one optimum on all paths.")
                      ] = "averaged",
    replications: Annotated[int, typer.Option("--replications", help="Independent replications (batches of "
                                              "paths) behind the intervals.", min=2, max=100)] = 10,
    min_w: Annotated[list[str] | None, typer.Option("--min", help="Minimum share: 0.1 for all, or "
                                                    "CHAIN=0.1 (repeatable).")] = None,
    max_w: Annotated[list[str] | None, typer.Option("--max", help="Maximum share: 0.5 for all, or "
                                                    "CHAIN=0.5 (repeatable).")] = None,
    cost: Annotated[list[str] | None, typer.Option("--cost", help="Cost of placing the whole book on a chain "
                                                   "over the horizon: CHAIN=USD (repeatable).")] = None,
    level: Annotated[float, typer.Option("--level", help="ES level.", min=0.5, max=0.9999)] = 0.99,
    config: Annotated[Path | None, typer.Option("--config", help="Scenario file (YAML/JSON).")] = None,
    model: Annotated[Path | None, typer.Option("--model", help=MODEL_HELP)] = None,
    paths: Annotated[int | None, typer.Option("--paths", help="Monte Carlo paths.", min=2)] = 10_000,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed.", min=0)] = None,
    horizon: HorizonOpt = None,
    backend: BackendOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Split a book across chains to minimise ES of one party's loss, with intervals and an out-of-sample check."""
    from seqrisk.decide.base import check_party
    from seqrisk.decide.placement import allocate_book
    from seqrisk.decide.spec import parse_usd

    check_party(perspective, "--perspective")
    ids = [state.catalog.chain(c.strip()).id for c in chains.split(",") if c.strip()]
    book = book_arg(portfolio)
    sc = load_scenario_for(config, paths, seed, horizon)
    om, prov = load_model(model, as_of, sc.seed)
    costs = _per_chain(cost, "--cost", lambda v: parse_usd(v, field="--cost"))
    if costs is not None and not isinstance(costs, dict):
        raise UsageError("--cost takes CHAIN=USD", field="--cost")
    lo, hi = _per_chain(min_w, "--min", float), _per_chain(max_w, "--max", float)
    with engine_backend(backend, scheduler, workers):
        res = allocate_book(book, om, sc, ids, perspective=perspective, alpha=level, method=method,
                            replications=replications, min_weight=lo, max_weight=hi, costs_usd=costs)
    if as_json:
        echo_json("allocate", {"book": book.name, "level": level,
                   "perspective": perspective, "method": res.method, "replications": res.replications,
                   "horizon_s": sc.horizon_s, "paths": sc.paths, "seed": sc.seed,
                   "seed_out_of_sample": res.seed_out_of_sample, "weights": res.weights,
                   "shares": {c: _share_doc(s) for c, s in res.shares.items()},
                   "replication_shares": res.replication_shares.tolist(),
                   "ties": [{"chains": [a, b], "together": _share_doc(s)} for a, b, s in res.ties],
                   "es_in_sample": est_doc(res.es_in_sample), "es_out_of_sample": est_doc(res.es_out_of_sample),
                   "el_out_of_sample": est_doc(res.el_out_of_sample),
                   "other_method_es_out_of_sample": est_doc(res.other_method_es_out_of_sample),
                   "equal_split_es": est_doc(res.equal_split_es),
                   "equal_split_es_out_of_sample": est_doc(res.equal_split_es_out_of_sample), "cost_usd": res.cost_usd,
                   "single_chain_el": {c: est_doc(e) for c, e in res.single_chain_el.items()},
                   "single_chain_es": {c: est_doc(e) for c, e in res.single_chain_es.items()}}, prov)
        return
    c = console()
    c.print(prov.header())
    lv = f"{level * 100:g}%"
    c.print(f"[bold]{book.name}[/] split across {len(ids)} chains to minimise ES {lv} of {_LOSS[perspective]}, "
            f"horizon {format_duration(sc.horizon_s)}, {sc.paths:,} paths, seed {sc.seed}.")
    how = ("average of the optima of" if res.method == "averaged" else "optimum on all paths; interval: the spread "
           "of the optima of")
    t = table(f"Split ({how} {res.replications} independent replications; 95% intervals)", "chain", "share",
              "interval", "EL if all here", f"ES {lv} if all here",
              right=("share", "interval", "EL if all here", f"ES {lv} if all here"))
    for ch in ids:
        s = res.shares[ch]
        t.add_row(ch, _pct(s.shown, s.step), f"{_pct(s.low, s.step)}-{_pct(s.high, s.step)}",
                  pm(res.single_chain_el[ch].value, res.single_chain_el[ch].se),
                  pm(res.single_chain_es[ch].value, res.single_chain_es[ch].se))
    c.print(t)
    steps = sorted({s.step for s in res.shares.values()})
    c.print("Shares rounded to what their error supports (steps of "
            + ", ".join(f"{x:.0%}" for x in steps) + "); they may not add up to 100%.")
    for a, b, s in res.ties:
        c.print(f"Tied: the split between {a} and {b} changes with the seed; together they take "
                f"{_pct(s.shown, s.step)} ({_pct(s.low, s.step)}-{_pct(s.high, s.step)}).")
    other = "optimum" if res.method == "averaged" else "averaged"
    c.print(f"ES {lv} of the split: {pm(res.es_in_sample.value, res.es_in_sample.se)} on the paths that chose it, "
            f"{pm(res.es_out_of_sample.value, res.es_out_of_sample.se)} on {sc.paths:,} fresh paths (seed "
            f"{res.seed_out_of_sample}). On the same fresh paths: the {other} split "
            f"{pm(res.other_method_es_out_of_sample.value, res.other_method_es_out_of_sample.se)}, the equal split "
            f"{pm(res.equal_split_es_out_of_sample.value, res.equal_split_es_out_of_sample.se)} (in sample "
            f"{pm(res.equal_split_es.value, res.equal_split_es.se)})"
            + (f"; cost {format_usd(res.cost_usd)}" if res.cost_usd else "") + ".")


_SHORT_SEQ = {"centralized": "central", "centralized-ha": "central+HA", "decentralized": "decentr.",
              "based": "based"}


@app.command("score")
def score_cmd(
    book_file: Annotated[Path | None, typer.Option("--book", help=f"{BOOK_FILE}: score with this whole book "
                                                   "(positions and markets) copied to each chain (default: the "
                                                   "reference book).")] = None,
    chain: Annotated[list[str] | None, typer.Option("--chain", "-c", help="Score only these chains "
                                                    "(repeatable).")] = None,
    perspective: Annotated[str, typer.Option("--perspective", help="Whose loss ranks the chains: holder "
                                             "(default) or venue (bad debt).")] = "holder",
    by: Annotated[str, typer.Option("--by", help="Rank by es99 (default) or el.")] = "es99",
    model: Annotated[Path | None, typer.Option("--model", help=MODEL_HELP)] = None,
    paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths.", min=100)] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed.", min=0)] = 0,
    horizon: Annotated[str, typer.Option("--horizon", metavar="DURATION", help="Horizon (scores are per this "
                                         "period).")] = DEFAULT_HORIZON,
    backend: BackendOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Rank chains by what sequencer risk costs a book there, with rank intervals and ties."""
    from seqrisk.decide.base import check_party
    from seqrisk.decide.scoring import score_chains

    check_party(perspective, "--perspective")
    if by not in ("es99", "el"):
        raise UsageError("rank by es99 or el", field="--by", value=by)
    cat = state.catalog
    om, prov = load_model(model, as_of, seed)
    tmpl = book_arg(book_file) if book_file else None
    ids = [cat.chain(c).id for c in chain] if chain else None
    h = parse_duration(horizon, field="--horizon")
    with engine_backend(backend, scheduler, workers):
        s = score_chains(om, cat, chains=ids, book=tmpl, paths=paths, seed=seed, horizon_s=h,
                         perspective=perspective, by=by)
    if as_json:
        echo_json("score", {"book": s.book, "horizon_s": s.horizon_s,
                   "paths": s.n_paths, "seed": s.seed, "perspective": s.perspective, "by": s.by,
                   "separation_z": s.z,
                   "chains": [{"rank": r.rank, "rank_low": r.rank_low, "rank_high": r.rank_high, "chain": r.chain,
                               "tied_with_above": r.tied_above, "tied_with": list(r.tied_with),
                               "forced_inclusion_delay_s": cat.chain(r.chain).forced_inclusion_delay_s,
                               "holder_el": est_doc(r.holder_el), "holder_es99": est_doc(r.holder_es99),
                               "venue_el": est_doc(r.venue_el), "venue_es99": est_doc(r.venue_es99),
                               "downtime_hours": vars(r.downtime_hours), "availability": vars(r.availability),
                               "risk": [e.model_dump(mode="json") for e in r.risk]}
                              for r in s.rows]}, prov)
        return
    c = console()
    c.print(prov.header())
    per = "per year" if abs(h - YEAR_S) < 1 else f"per {format_duration(h)}"
    measure = "ES 99%" if by == "es99" else "EL"
    c.print(f"Chain scores: {_LOSS[perspective]} of {'the reference book' if tmpl is None else s.book} on each "
            f"chain {per} (USD ± s.e.), {s.n_paths:,} paths, seed {s.seed}; ranked by {measure}, lowest first")
    t = table(None, "rank", "range", "chain", "EL", "ES 99%", "down h/y", "sequencer",
              right=("rank", "range", "EL", "ES 99%", "down h/y"))
    for r in s.rows:
        rng = str(r.rank_low) if r.rank_low == r.rank_high else f"{r.rank_low}-{r.rank_high}"
        seq = next(e.value for e in r.risk if e.name == "sequencer_failure")
        el, es = r.el(perspective), r.es99(perspective)
        t.add_row(("=" if r.tied_above else "") + str(r.rank), rng, r.chain, pm(el.value, el.se), pm(es.value, es.se),
                  f"{r.downtime_hours.value:.1f}", _SHORT_SEQ.get(seq, seq))
    c.print(t)
    ties = sum(r.tied_above for r in s.rows)
    c.print(f"range: the ranks a chain can take (two chains are told apart when their {measure} differ by more "
            f"than {s.z:.2g} paired s.e., all pairs at once at 95%); '=': tied with the chain above, not told "
            f"apart from it ({ties} of {len(s.rows)} chains at {s.n_paths:,} paths). down h/y: expected "
            "downtime hours per year. Reference book: 10x ETH perps, $500k long + $500k short, and a short 1-year "
            "ATM ETH call on $1M, delta-hedged (docs/mitigations.md). Intervals of downtime, forced inclusion, "
            "availability, DA and proof entries: --json.")
