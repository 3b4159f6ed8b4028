"""``seqrisk simulate PORTFOLIO``: the Monte Carlo loss engine from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli import checks
from seqrisk.cli.app import app
from seqrisk.cli.backend_opts import BackendOpt, SchedulerOpt, WorkersOpt, engine_backend
from seqrisk.cli.decide_inputs import BOOK_FILE, HorizonOpt, OutageOpt, book_arg, load_scenario_for
from seqrisk.cli.modeling import AsOfOpt, fitted_model
from seqrisk.cli.notes import negative_loss_note
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, json_text, messages, output_format, table
from seqrisk.exceptions import UsageError
from seqrisk.units import format_duration, format_usd

#: ``--out`` formats by suffix: the measures table, with the positions, chains and components tables beside it.
OUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".json": "json"}

__all__: list[str] = []


def _fmt(v: float, se: float, money: bool = True) -> str:
    if money:
        return f"{format_usd(v)} ± {format_usd(se)}"
    return f"{v:.4g} ± {se:.2g}"


@app.command("simulate")
def simulate_cmd(
    portfolio: Annotated[Path, typer.Argument(help=f"{BOOK_FILE}, e.g. examples/desk.yaml.")],
    config: Annotated[Path | None, typer.Option("--config", help="Scenario file (YAML/JSON).")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="Outage model file (default: fitted from the "
                                                "catalog).")] = None,
    paths: Annotated[int | None, typer.Option("--paths", help="Monte Carlo paths.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (fixes every number).")] = None,
    horizon: HorizonOpt = None,
    outage: OutageOpt = None,
    backend: BackendOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    out: Annotated[Path | None, typer.Option("--out", metavar="FILE", help="Write the measures to FILE, in the "
                                             "format of its suffix: .parquet or .csv (with FILE-stem.positions, "
                                             ".chains and .components beside it), or .json (the --json "
                                             "object).")] = None,
    quiet: QuietOpt = False,
    parameter_uncertainty: Annotated[bool | None, typer.Option(
        "--parameter-uncertainty/--point-estimates", help="Draw each path's outage parameters from their "
        "posterior (and show the share of ES it adds, from a second run at point estimates); default: the "
        "scenario's setting (point estimates).")] = None,
) -> None:
    """Simulate what sequencer outages cost a book: expected loss, VaR, ES, liquidations, bad debt."""
    from seqrisk.engine import simulate

    out_fmt = output_format(out, "--out", OUT_FORMATS) if out is not None else None
    book = book_arg(portfolio)
    sc = load_scenario_for(config, paths, seed, horizon, outage, book=book,
                           parameter_uncertainty=parameter_uncertainty)
    checks.fits_memory(sc.paths, "--paths", n_chains=len(book.chains), keep_paths=sc.keep_paths)
    om, _, prov = fitted_model(model, as_of, seed=sc.seed)
    if not as_json:
        console().print(prov.header())
    with engine_backend(backend, scheduler, workers):
        res = simulate(book, om, sc)
        share = None
        if sc.parameter_uncertainty:
            point = simulate(book, om, sc.model_copy(update={"parameter_uncertainty": False}))
            share = _es_share(res, point)
    doc = res.to_dict()
    if share is not None:
        doc["parameter_uncertainty"] = share
    if out is not None and out_fmt is not None:
        _write_out(res, out, out_fmt, doc, prov)
    if as_json:
        echo_json("simulate", doc, prov)
        return
    _render(res, book, sc)
    if share is not None:
        h = share["holder_attributable_es99"]
        verdict = ("within Monte Carlo error: more paths are needed to see it" if abs(h["difference"])
                   < 2 * h["difference_se"] else f"{h['share']:.0%} of it from what the data cannot pin down")
        console().print(f"Parameter uncertainty: holder ES 99% {_fmt(h['with'], h['with_se'])} against "
                        f"{_fmt(h['point'], h['point_se'])} at point estimates (same seed); difference "
                        f"{_fmt(h['difference'], h['difference_se'])}: {verdict}.")


def _write_out(res: Any, out: Path, fmt: str, doc: dict[str, Any], prov: Any) -> None:
    """``--out FILE`` in the format of its suffix; a file that cannot be written is a usage error."""
    try:
        if fmt == "parquet":
            res.to_parquet(out)
        elif fmt == "csv":
            res.measures.to_csv(out, index=False)
            for name in ("positions", "chains", "components"):
                getattr(res, name).to_csv(out.with_name(f"{out.stem}.{name}.csv"), index=False)
        else:
            out.write_text(json_text("simulate", doc, prov), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the file: {exc.strerror or exc}", field="--out", file=str(out)) from None
    messages().print(f"measures written to {out}", markup=False)


def _es_share(res: Any, point: Any) -> dict[str, dict[str, float]]:
    """ES 99% with parameter uncertainty and at point estimates (attributable, USD, with standard errors), their
    difference (error from the two errors, the runs treated as independent) and its share of the former."""
    out = {}
    for persp in ("holder", "venue"):
        w, w_se = (float(x) for x in res.value("es", perspective=persp, level=0.99))
        p, p_se = (float(x) for x in point.value("es", perspective=persp, level=0.99))
        out[f"{persp}_attributable_es99"] = {"with": w, "with_se": w_se, "point": p, "point_se": p_se,
                                             "difference": w - p, "difference_se": (w_se ** 2 + p_se ** 2) ** 0.5,
                                             "share": (w - p) / w if w > 0 else 0.0}
    return out


def _render(res: Any, book: Any, sc: Any) -> None:
    c = console()
    stress = ", ".join(f"{s.chain} {'down' if s.type == 'downtime' else s.type} {format_duration(s.duration_s)}"
                       + (f" from +{format_duration(s.start_s)}" if s.start_s else "") for s in sc.stress_outages)
    c.print(f"[bold]{book.name}[/]: {res.n_paths:,} paths, horizon {format_duration(sc.horizon_s)}, seed {sc.seed}"
            + (f", stress: {stress}" if stress else ""))
    t = table("Loss per path over the horizon (USD ± standard error)", "", "EL", "VaR 99%", "ES 99%",
              "ES 99.9%")
    for persp in ("holder", "venue"):
        for basis in ("attributable", "total"):
            el = res.value("expected_loss", perspective=persp, basis=basis)
            var = res.value("var", perspective=persp, basis=basis, level=0.99)
            es = res.value("es", perspective=persp, basis=basis, level=0.99)
            es9 = res.value("es", perspective=persp, basis=basis, level=0.999)
            t.add_row(f"{persp} {'attrib.' if basis == 'attributable' else basis}", _fmt(*el), _fmt(*var),
                      _fmt(*es), _fmt(*es9))
    c.print(t)
    if res.value("expected_loss")[0] < 0:
        c.print(f"[yellow]note:[/] {negative_loss_note(book)}")
    pl = res.value("p_liquidation")
    ln = res.value("expected_liquidated_notional")
    bd = res.value("expected_bad_debt", perspective="venue")
    c.print(f"P(any liquidation) {_fmt(pl[0], pl[1], money=False)}; expected liquidated notional {_fmt(*ln)}; "
            f"expected bad debt {_fmt(*bd)}")
    ch = table("By chain (attributable, USD)", "chain", "holder EL", "venue EL")
    for r in res.chains.itertuples():
        ch.add_row(r.chain, _fmt(r.holder_expected_loss_usd, r.holder_std_error),
                   _fmt(r.venue_expected_loss_usd, r.venue_std_error))
    c.print(ch)
    comp = table("By component (total, USD)", "component", "holder EL", "venue EL")
    for r in res.components.itertuples():
        comp.add_row(r.component, _fmt(r.holder_expected_loss_usd, r.holder_std_error),
                     _fmt(r.venue_expected_loss_usd, r.venue_std_error))
    c.print(comp)
    top = res.positions.sort_values("expected_loss_usd", ascending=False).head(10)
    pt = table("Positions (top 10 by expected loss)", "id", "chain", "P(liq)", "EL", "bad debt")
    for r in top.itertuples():
        pt.add_row(r.id, r.chain, f"{r.p_liquidation:.3g} ± {r.p_liquidation_std_error:.1g}",
                   format_usd(r.expected_loss_usd), format_usd(r.expected_bad_debt_usd))
    c.print(pt)
    if res.unmodelled_chains and not sc.stress_outages:
        c.print(f"[yellow]note:[/] the outage model has no events for {', '.join(res.unmodelled_chains)}: "
                "no random outage is simulated there")
    d = res.diagnostics
    c.print(f"rare-event sampling: paths carry P(outage) {d['mean_p_event']:.3g} on average; "
            f"effective sample size {d['effective_sample_size']:,.0f} "
            f"(= {d['plain_mc_equivalent_paths']:,.0f} plain Monte Carlo paths); "
            f"max cascade rounds {d['max_rounds']:.0f}, cap hits {d['cap_hits']:.0f}")
