"""``seqrisk report PORTFOLIO``: fit, simulate, stress and write one self-contained HTML report."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli import checks
from seqrisk.cli.app import app, state
from seqrisk.cli.backend_opts import BackendOpt, SchedulerOpt, WorkersOpt, engine_backend
from seqrisk.cli.decide_inputs import BOOK_FILE, HorizonOpt, OutageOpt, book_arg, load_scenario_for
from seqrisk.cli.modeling import AsOfOpt, fitted_model
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, messages, output_format, table
from seqrisk.exceptions import UsageError
from seqrisk.units import format_duration, format_usd

__all__: list[str] = []


@app.command("report")
def report_cmd(
    portfolio: Annotated[Path, typer.Argument(help=f"{BOOK_FILE}, e.g. examples/desk.yaml.")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE", help="HTML file to write (.html).")
                   ] = Path("report.html"),
    horizon: HorizonOpt = None,
    paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths.", min=100)] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed (fixes every number).", min=0)] = 0,
    config: Annotated[Path | None, typer.Option("--config", help="Scenario file (YAML/JSON).")] = None,
    outage: OutageOpt = None,
    model: Annotated[Path | None, typer.Option("--model", help="Outage model file (default: fitted from the "
                                                "catalog).")] = None,
    mitigations: Annotated[bool, typer.Option("--mitigations/--no-mitigations",
                                              help="Compare the standard levers on the same paths.")] = True,
    backend: BackendOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    as_of: AsOfOpt = None,
    parameter_uncertainty: Annotated[bool, typer.Option(
        "--parameter-uncertainty/--point-estimates", help="Draw each path's outage parameters from their "
        "posterior (default) or use point estimates.")] = True,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write a risk report a desk can act on: summary, chains, loss tail, stress grid, mitigations, method."""
    from seqrisk import __version__
    from seqrisk.report import ReportInputs, build_report
    from seqrisk.report.analysis import analyse_book, report_summary

    t0 = time.perf_counter()
    output_format(out, "--out", {".html": "html", ".htm": "html"})
    out_c = console()
    msg = messages()
    cat = state.catalog
    book = book_arg(portfolio)
    sc = load_scenario_for(config, paths, seed, horizon, outage, book=book, parameter_uncertainty=parameter_uncertainty)
    checks.fits_memory(sc.paths, "--paths", n_chains=len(book.chains), keep_paths=True)
    with msg.status("fitting the outage model to the incident catalog"):
        om, statistics, prov = fitted_model(model, as_of, seed=sc.seed, statistics=True)
    if sc.parameter_uncertainty and not om.has_posterior_draws:
        sc = sc.model_copy(update={"parameter_uncertainty": False})
        msg.print("note: the model file has no posterior draws (hand-written): point estimates, no parameter "
                  "uncertainty", markup=False)
    with engine_backend(backend, scheduler, workers):
        an = analyse_book(book, om, sc, cat, mitigations=mitigations, stage=lambda text: msg.status(text))
    res = an.result
    argv = sys.argv[1:] if sys.argv[0].endswith("seqrisk") else \
        ["report", str(portfolio), "--horizon", horizon or format_duration(sc.horizon_s), "--paths", str(paths),
         "--seed", str(seed)]
    command = "seqrisk " + " ".join(shlex.quote(portable_arg(a)) for a in argv)
    html = build_report(ReportInputs(
        book=book, book_path=portable_arg(str(portfolio)), scenario=sc, model=om, result=res, catalog=cat,
        command=command,
        version=__version__, statistics=statistics, stress=an.stress, liquidation=an.liquidation,
        mitigations=an.mitigations, mitigation_note=an.mitigation_note, provenance=prov, extra_notes=[an.dependence]))
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write the report: {exc.strerror or exc}", field="--out", file=str(out)) from None
    if as_json:
        echo_json("report", report_summary(an, book.name, sc, str(out.resolve()), out.stat().st_size), prov)
        return
    out_c.print(prov.header())
    _print_summary(res, book.name, sc, an.mitigations)
    out_c.print(an.dependence, highlight=False)
    msg.print(f"\nreport written to [bold]{out.resolve()}[/] ({out.stat().st_size / 1e6:.1f} MB, "
              f"{time.perf_counter() - t0:.0f} s); open it in a browser, it works offline.")


def _print_summary(res: Any, name: str, sc: Any, section: Any) -> None:
    c = console()
    c.print(f"[bold]{name}[/]: sequencer risk over {format_duration(sc.horizon_s)}, {res.n_paths:,} paths, "
            f"seed {sc.seed}")
    t = table(None, "attributable", "EL", "ES 99%", "ES 99.9%", right=("EL", "ES 99%", "ES 99.9%"))
    for persp in ("holder", "venue"):
        cells = []
        for meas, lvl in (("expected_loss", None), ("es", 0.99), ("es", 0.999)):
            v, se = res.value(meas, perspective=persp, level=lvl)
            cells.append(f"{format_usd(v)} ± {format_usd(se)}")
        t.add_row(persp, *cells)
    c.print(t)
    pl, pl_se = res.value("p_liquidation")
    c.print(f"P(any liquidation) {pl:.3g} ± {pl_se:.2g}")
    if section is None:
        return
    for party, adv in section.advice.items():
        rec = adv.recommended
        if not rec:
            c.print(f"{party}: none of its levers compared cuts its EL or ES {adv.level}% by more than 2 s.e.")
        for e in rec[:3]:
            c.print(f"{party}: {e.sentence(adv.level)}")


def portable_arg(arg: str) -> str:
    """A command-line argument as the page may show it: an absolute path becomes relative to the working
    directory when it lies below it, else its file name (a report names no folder of the machine it ran on)."""
    head, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    p = Path(value)
    if not p.is_absolute():
        return arg
    try:
        shown = str(p.relative_to(Path.cwd()))
    except ValueError:
        shown = p.name
    return f"{head}{eq}{shown}" if eq else shown
