"""``seqrisk backtest``: score the outage forecasts on later events against naive pooling and raw rates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqrisk.cli import checks
from seqrisk.cli.app import app, state
from seqrisk.cli.backend_opts import BackendOpt, SchedulerOpt, WorkersOpt, engine_backend
from seqrisk.cli.modeling import DeliberateOpt, DetectedOpt, PlannedOpt, catalog_provenance, detected_events
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, messages, output_format, table
from seqrisk.exceptions import DataError, UsageError
from seqrisk.units import parse_datetime

__all__: list[str] = []


@app.command("backtest")
def backtest_cmd(
    train_until: Annotated[str, typer.Option("--train-until", help="First forecast origin: the model is fitted "
                                             "on data before it (YYYY-MM-DD).")],
    test_until: Annotated[str | None, typer.Option("--test-until", help="End of the evaluation (default: the "
                                                   "catalog's coverage date).")] = None,
    step: Annotated[str, typer.Option("--step", help="Forecast window and distance between origins "
                                      "(e.g. 6mo as 182d, 1y).")] = "1y",
    type_: Annotated[str, typer.Option("--type", "-t", help="Event type to forecast.")] = "downtime",
    include_deliberate: DeliberateOpt = False,
    include_planned: PlannedOpt = False,
    detected: DetectedOpt = False,
    as_json: JsonOpt = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the PIT histograms and scores as a "
                                              "self-contained HTML page (.html).")] = None,
    quiet: QuietOpt = False,
    backend: BackendOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Rolling-origin backtest of the predictive outage counts and durations (log score, PIT, coverage)."""
    from seqrisk.stats.backtest import COUNT_MODELS, backtest

    checks.event_type(type_, "--type")
    if plot is not None:
        output_format(plot, "--plot", {".html": "html", ".htm": "html"})
    step_s = checks.duration(step, "--step")
    train = parse_datetime(train_until, field="--train-until")
    end = parse_datetime(test_until, field="--test-until") if test_until else None
    events, exposures = detected_events() if detected else (None, None)
    with engine_backend(backend, scheduler, workers, progress=False) as be:
        from seqrisk.engine.backend import current_progress

        err = messages()  # silent under --quiet
        outer = current_progress()  # a job's worker running the command: the origins are the job's progress

        def progress(done: int, total: int) -> None:  # one line per refitted origin when the work is spread
            if be is not None:
                err.print(f"backtest: {done}/{total} origins refitted", markup=False)
            if outer is not None:
                outer(done, total)

        bt = backtest(state.catalog, train_until=train, test_until=end, step_s=step_s, type_=type_,
                      include_deliberate=include_deliberate, include_planned=include_planned, events=events,
                      exposures=exposures, backend=be, progress=progress)
    if not bt.rows:
        raise DataError("no chain was observed in the test windows: nothing to score", field="--train-until",
                        value=train_until)
    prov = catalog_provenance()
    written = None
    if plot is not None:
        from seqrisk.stats.plots import backtest_figure

        try:
            backtest_figure(bt).write_html(str(plot), include_plotlyjs=True, full_html=True)
        except OSError as exc:
            raise UsageError(f"cannot write the plot: {exc.strerror or exc}", field="--plot",
                             file=str(plot)) from None
        written = str(plot)
    if as_json:
        echo_json("backtest", {**bt.to_dict(), "plot": written}, prov)
        return
    out = console()
    out.print(prov.header())
    summ = bt.summary()
    out.print(f"Backtest of {type_} counts: {len(bt.origins)} origin(s) from {bt.origins[0].date()} every "
              f"{step}, to {bt.test_until.date()}; {summ['model']['windows']} chain-windows, "
              f"{summ['model']['events']} events. Each origin refits on the data before it.")
    t = table("Predictive counts (log score: higher is better; PIT deciles, flat when calibrated)", "model",
              "expected", "log score", "per window", "90% cover", "PIT histogram",
              right=("expected", "log score", "per window", "90% cover"))
    for m in COUNT_MODELS:
        s = summ[m]
        t.add_row(m, f"{s['expected_events']:.1f}", f"{s['log_score']:.2f}", f"{s['mean_log_score']:.3f}",
                  f"{s['coverage_90']:.2f}", " ".join(str(x) for x in s["pit_histogram"]))
    out.print(t)
    ds = bt.duration_summary()
    if ds["model"]["durations"]:
        out.print(f"Durations of the {ds['model']['durations']} {type_} events in the windows (log score of log "
                  f"duration): predictive {ds['model']['log_score']:.2f}, plug-in {ds['plug-in']['log_score']:.2f}")
    best = max(COUNT_MODELS, key=lambda m: summ[m]["log_score"])
    diff = summ["model"]["log_score"] - max(summ[m]["log_score"] for m in COUNT_MODELS if m != "model")
    out.print(f"Best log score: {best}; model minus the best naive forecast: {diff:+.2f} (a log Bayes factor).")
    if written:
        messages().print(f"plot written: {written}", markup=False)
