"""Running one job: the library called the way the CLI calls it, with progress, cancellation and a model memo.

``simulate`` and ``report`` call the engine directly, reporting progress after
every chunk of paths (one place a cancellation is noticed; the engine's
checkpoints are the other, for every kind). The decision
kinds (``compare``, ``insure``, ``allocate``, ``score``) run the command itself,
``seqrisk <command> ... --json``, inside the worker on the job's book and
scenario written to a private temporary directory: the result is the
command's own JSON document, so the API and the CLI cannot drift apart.

Every result document has the layout of the CLI's ``--json`` output
(``schema``, ``kind``, ``provenance`` first). The outage model comes from the
home's model cache, the one ``seqrisk fit``, ``report`` and the decision
commands use (:mod:`seqrisk.store.cache`: keyed by the catalog's content, the
as-of date, the fit options and the code; the statistics signed): a model any
worker or command fitted is read back, not refitted, and a damaged or
tampered entry is refitted. A worker also keeps the last model it used in memory.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqrisk.catalog import Catalog
from seqrisk.exceptions import DataError, SeqriskError
from seqrisk.provenance import Provenance
from seqrisk.service.requests import KINDS, JobRequest
from seqrisk.units import parse_datetime

__all__ = ["Cancelled", "Outcome", "RunContext", "document", "run_job"]

#: progress(done, total, stage) -> None; raises :class:`Cancelled` when the job is to stop
Progress = Callable[[float | None, float | None, str], None]


class Cancelled(Exception):
    """Raised by a progress callback: the job was cancelled (or the server is stopping)."""

    def __init__(self, why: str = "cancelled") -> None:
        super().__init__(why)
        self.why = why


@dataclass
class Outcome:
    """A finished job's result document and artifacts ``(name, media type, bytes)``."""

    result: dict[str, Any]
    artifacts: list[tuple[str, str, bytes]] = field(default_factory=list)


def document(doc: Mapping[str, Any], provenance: Provenance) -> dict[str, Any]:
    """``doc`` with its ``provenance`` block after ``schema`` and ``kind`` (the CLI's ``--json`` layout)."""
    head = {k: doc[k] for k in ("schema", "kind") if k in doc}
    return {**head, "provenance": provenance.to_dict(), **{k: v for k, v in doc.items() if k not in head}}


@dataclass
class RunContext:
    """What a worker keeps between jobs: its home, the catalog, the models it fitted, its Dask connection.

    ``scheduler`` set: every engine run of a job goes to the Dask cluster at that address (the connection is
    opened at the first job and kept; a lost scheduler fails the job with the reason and the next job connects
    again). The numbers are the local backend's: only where the blocks run changes.
    """

    home: Path
    catalog_dir: Path | None
    catalog: Catalog
    models: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    scheduler: str | None = None
    _dask: Any = None

    @contextlib.contextmanager
    def engine(self) -> Iterator[None]:
        """Run the engine inside on this worker's backend (this process, or the Dask cluster)."""
        if self.scheduler is None:
            yield
            return
        from seqrisk.engine.backend import use_backend
        from seqrisk.exceptions import BackendError

        if self._dask is None:
            from seqrisk.distributed import DaskBackend

            self._dask = DaskBackend(self.scheduler).open()
        try:
            with use_backend(self._dask):
                yield
        except BackendError:
            self.close()
            raise

    def close(self) -> None:
        if self._dask is not None:
            be, self._dask = self._dask, None
            be.close()

    def statistics(self, as_of: str | None, *, with_statistics: bool) -> Any:
        """The fitted outage model (``with_statistics``: every fitted piece,
        :class:`~seqrisk.stats.OutageStatistics`) as of ``as_of``: memoised per catalog, as-of and kind, and read
        from the home's cache (:mod:`seqrisk.store.cache`, the one the commands use) when anyone fitted the same
        before; fitted otherwise, and cached for the next worker and command."""
        key = (self.catalog.version, as_of, with_statistics)
        if key not in self.models:
            from seqrisk.store.cache import cached_model, cached_statistics

            when = parse_datetime(as_of, field="as_of") if as_of else None
            fit = cached_statistics if with_statistics else cached_model
            self.models.clear()  # one catalog and as-of at a time is the common case; keep memory flat
            self.models[key] = fit(self.home / "cache", self.catalog, when, {}, refit=_refit)
        return self.models[key]


def _refit(what: str, path: Path, why: str) -> None:
    print(f"seqrisk serve: the cached {what} {path.name} was not used ({why}); fitting again", file=sys.stderr,
          flush=True)


def _scenario(req: Any) -> Any:
    """The request's scenario; its horizon is the request's, else the scenario's ``horizon_s``, else the CLI's
    default (one year), so a job and the command it stands for give the same numbers."""
    from seqrisk.cli.decide_inputs import DEFAULT_HORIZON
    from seqrisk.engine import Scenario, StressOutage
    from seqrisk.units import parse_duration

    data: dict[str, Any] = dict(req.scenario)
    data.update(paths=req.n_paths, seed=req.seed)
    horizon = req.horizon if req.horizon is not None else (None if "horizon_s" in data else DEFAULT_HORIZON)
    if horizon is not None:
        data["horizon_s"] = parse_duration(horizon, field="horizon")
    if req.stress:
        data["stress_outages"] = [StressOutage.parse(s).model_dump() for s in req.stress]
    return Scenario.model_validate(data)


def _book(req: JobRequest, ctx: RunContext) -> Any:
    from seqrisk.portfolio import book_from_dict

    return book_from_dict(dict(req.book or {}), chains=ctx.catalog.chain_ids())


def _simulate(req: Any, ctx: RunContext, progress: Progress) -> Outcome:
    from seqrisk.engine import simulate

    book = _book(req, ctx)
    sc = _scenario(req)
    progress(None, None, "fitting the outage model")
    om = ctx.statistics(req.as_of_text(), with_statistics=False)
    prov = Provenance.of_model(ctx.catalog, om.meta, seed=sc.seed)
    res = simulate(book, om, sc, progress=lambda d, t: progress(d, t, "simulating paths"))
    from seqrisk.schemas import output_id

    body = {k: v for k, v in res.to_dict().items() if k not in ("schema", "kind")}
    return Outcome(document({"schema": output_id("simulate"), **body}, prov))  # `seqrisk simulate --json`'s layout


def _frame(df: Any) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-safe dicts (NaN and infinities as None)."""
    import math

    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
            for r in json.loads(df.to_json(orient="records", double_precision=15))]


def _report(req: Any, ctx: RunContext, progress: Progress, command: str) -> Outcome:
    """``seqrisk report``'s run (the same :func:`~seqrisk.report.analysis.analyse_book`): its HTML report, its
    ``--json`` document as the result, and the analysis behind the report (simulation, stress grid, liquidation
    curves, levers per party) as the artifact ``analysis.json`` the book page draws."""
    from seqrisk import __version__
    from seqrisk.report import ReportInputs, build_report
    from seqrisk.report.analysis import analyse_book, report_summary
    from seqrisk.schemas import output_id

    book = _book(req, ctx)
    sc = _scenario(req).replace(parameter_uncertainty=req.parameter_uncertainty)  # as the command's option does
    progress(None, None, "fitting the outage model")
    stats = ctx.statistics(req.as_of_text(), with_statistics=True)
    om = stats.model
    if sc.parameter_uncertainty and not om.has_posterior_draws:
        sc = sc.model_copy(update={"parameter_uncertainty": False})
    prov = Provenance.of_model(ctx.catalog, om.meta, seed=sc.seed)

    def stage(text: str) -> contextlib.nullcontext[None]:
        progress(None, None, text)
        return contextlib.nullcontext()

    an = analyse_book(book, om, sc, ctx.catalog, mitigations=req.mitigations, stage=stage, progress=progress)
    progress(None, None, "writing the report")
    html = build_report(ReportInputs(
        book=book, book_path=f"{book.name} (uploaded)", scenario=sc, model=om, result=an.result, catalog=ctx.catalog,
        command=command, version=__version__, statistics=stats, stress=an.stress, liquidation=an.liquidation,
        mitigations=an.mitigations, mitigation_note=an.mitigation_note, provenance=prov,
        extra_notes=[an.dependence])).encode("utf-8")
    section = an.mitigations
    mit: dict[str, Any] | None = None
    if section is not None:
        mit = {"strategies": _frame(section.comparison.summary()),
               "advice": {p: {"recommended": [e.strategy for e in a.recommended], "lines": a.lines()}
                          for p, a in section.advice.items()}}
    analysis = {"schema": 1, "kind": "seqrisk.analysis", "book": book.name, "simulation": an.result.to_dict(),
                "stress": {c: _frame(df) for c, df in an.stress.items()}, "liquidation": _frame(an.liquidation),
                "mitigations": mit, "mitigation_note": an.mitigation_note, "dependence": an.dependence}
    summary = report_summary(an, book.name, sc, "report.html", len(html))
    return Outcome(document({"schema": output_id("report"), **summary}, prov),  # `seqrisk report --json`'s layout
                   [("report.html", "text/html; charset=utf-8", html),
                    ("analysis.json", "application/json",
                     json.dumps(document(analysis, prov), allow_nan=False).encode("utf-8"))])


class _Runs:
    """A command's fraction done from the progress ``(done, total)`` of its successive runs (engine runs, or a
    backtest's origins): run ``k`` of the ``planned`` ones at ``done / total`` is ``(k - 1 + done / total) /
    planned``, never going back, at most 1."""

    def __init__(self, planned: int, command: str, progress: Progress) -> None:
        self.planned, self.command, self.progress = max(planned, 1), command, progress
        self.run, self.last, self.fraction = 0, (0, -1), 0.0

    def __call__(self, done: int, total: int) -> None:
        if done <= self.last[0] or total != self.last[1]:  # a new run
            self.run += 1
        self.last = (done, total)
        now = (self.run - 1 + (done / total if total else 1.0)) / self.planned
        self.fraction = max(self.fraction, min(now, 1.0))
        self.progress(self.fraction, 1.0, f"running seqrisk {self.command}: run {self.run} of {self.planned}"
                      if self.planned > 1 else f"running seqrisk {self.command}")


def _cli(argv: list[str], ctx: RunContext, progress: Progress, planned: int = 1) -> Outcome:
    """Run ``seqrisk ARGV --json`` in this process; its JSON document (the layout ``seqrisk.<command>/<version>``
    of :mod:`seqrisk.schemas`) is the result. The command's runs report to ``progress`` as the fraction done of
    the ``planned`` runs."""
    import click

    from seqrisk.cli.app import app
    from seqrisk.engine.backend import use_backend

    cmd = ["--home", str(ctx.home)] + (["--catalog-dir", str(ctx.catalog_dir)] if ctx.catalog_dir else [])
    progress(0.0, 1.0, f"running seqrisk {argv[0]}")
    out, err = io.StringIO(), io.StringIO()
    try:
        import typer.main

        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                use_backend(None, progress=_Runs(planned, argv[0], progress)):
            typer.main.get_command(app).main(args=[*cmd, *argv, "--json"], prog_name="seqrisk",
                                             standalone_mode=False)
    except click.ClickException as exc:
        raise DataError(f"seqrisk {argv[0]} refused the request: {exc.format_message()}") from None
    try:
        doc = json.loads(out.getvalue())
    except ValueError:
        raise DataError(f"seqrisk {argv[0]} wrote no JSON document") from None
    notes = [ln.removeprefix("note: ") for ln in err.getvalue().splitlines() if ln.startswith("note: ")]
    if notes:
        doc.setdefault("notes", notes)
    return Outcome(doc)


def command_line(kind: str, request: Mapping[str, Any]) -> str:
    """The ``seqrisk`` command that computes the same result as a job (book and scenario as files)."""
    req = KINDS[kind].model_validate(dict(request))
    has_book = req.book_doc is not None
    cfg = getattr(req, "scenario", None)
    return "seqrisk " + shlex.join(req.argv("book.json" if has_book else None,
                                            "scenario.json" if cfg else None)) + (" --json" if kind != "report"
                                                                                   else " --out report.html")


def run_job(kind: str, request: Mapping[str, Any], ctx: RunContext, progress: Progress) -> Outcome:
    """Run a job of ``kind`` on its stored ``request``; raises :class:`~seqrisk.exceptions.SeqriskError` for bad
    input and :class:`Cancelled` when the progress callback says so."""
    if kind not in KINDS:
        raise DataError("unknown job kind", field="kind", value=kind)
    req = KINDS[kind].model_validate(dict(request))
    if kind == "simulate":
        return _simulate(req, ctx, progress)
    if kind == "report":
        return _report(req, ctx, progress, command_line(kind, request))
    with tempfile.TemporaryDirectory(prefix="seqrisk-job-") as tmp:
        book_path = cfg_path = None
        if req.book_doc is not None:
            book_path = str(Path(tmp) / "book.json")
            Path(book_path).write_text(json.dumps(req.book_doc), encoding="utf-8")
        scenario = getattr(req, "scenario", None)
        if scenario:
            cfg_path = str(Path(tmp) / "scenario.json")
            Path(cfg_path).write_text(json.dumps(scenario), encoding="utf-8")
        try:
            return _cli(req.argv(book_path, cfg_path), ctx, progress, req.planned_runs())
        except SeqriskError as exc:  # name the request's fields, not the temporary files
            for k in ("file",):
                exc.context.pop(k, None)
            raise
