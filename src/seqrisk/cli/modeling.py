"""The outage model every fitting command uses, and the provenance it states.

``fit``, ``simulate``, ``compare``, ``insure``, ``allocate``, ``score`` and
``report`` get their model here: from ``--model FILE``, or fitted to the
catalog as of ``--as-of`` (default: the catalog's coverage date, never the
clock). Each returns the :class:`~seqrisk.provenance.Provenance` its output
states; notes (an as-of moved back to the coverage date, a model file fitted
on another catalog) go to stderr, one line each. A fitted model is kept in the
store's model cache (:mod:`seqrisk.store.cache`), and the statistics ``fit`` and
``report`` show in its statistics cache, so every command fits once per
catalog, as-of date and options, not on every run.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqrisk.cli.app import state
from seqrisk.exceptions import UsageError
from seqrisk.provenance import Provenance
from seqrisk.units import parse_datetime

if TYPE_CHECKING:
    from seqrisk.outage import OutageModel
    from seqrisk.stats import OutageStatistics

__all__ = ["AsOfOpt", "DeliberateOpt", "DetectedOpt", "PlannedOpt", "cached_fit", "cached_statistics",
           "catalog_provenance", "detected_events", "fitted_model", "show_notes"]

AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="Fit the outage model on data up to this date (YYYY-MM-DD or ISO time, UTC; default: the "
    "catalog's coverage date, so the same inputs give the same numbers on any day).")]


DeliberateOpt = Annotated[bool, typer.Option("--include-deliberate", help="Count deliberate halts and censorship "
                                                                      "as events.")]
PlannedOpt = Annotated[bool, typer.Option("--include-planned", help="Count planned maintenance as events.")]
DetectedOpt = Annotated[bool, typer.Option("--detected", help="Use the events detected from block data in the store, "
                                           "over each chain's ingested window.")]


def detected_events() -> tuple[Any, Any]:
    """The store's detected events and each ingested chain's observed window(s), as the fitters take them; with
    no block data in the store, its events alone (merged over the catalog windows) and no windows."""
    from seqrisk.ingest.events import events_for_fit

    events, exposures = events_for_fit(state.home)
    if exposures:
        return events, exposures
    with state.home.state() as st:
        return st.events(), None


def catalog_provenance() -> Provenance:
    """Provenance of a command that reads the catalog but fits nothing."""
    return Provenance.of_catalog(state.catalog)


def fitted_model(model_file: Path | None, as_of: str | None, *, seed: int | None = None,
                 statistics: bool = False, **fit: Any) -> tuple[OutageModel, OutageStatistics | None, Provenance]:
    """The outage model (from ``model_file`` or fitted), its statistics when asked and fitted, and provenance.

    ``fit`` goes to :func:`seqrisk.stats.fit_outage_statistics` (``include_deliberate``,
    ``events``, ``exposures``, ``since`` ...). Notes are shown on stderr.
    """
    cat = state.catalog
    if model_file is not None:
        if as_of is not None:
            raise UsageError("--as-of applies when fitting; a model file keeps the as-of it was fitted to",
                             field="--as-of", value=as_of)
        from seqrisk.outage import OutageModel

        if not model_file.is_file():
            raise UsageError("no such model file", field="--model", file=str(model_file))
        om = OutageModel.load(model_file)
        prov = Provenance.of_model(cat, om.meta, seed=seed, model_file=str(model_file))
        show_notes(prov)
        return om, None, prov
    when = parse_datetime(as_of, field="--as-of") if as_of else None
    fit = {k: v for k, v in fit.items() if v is not None and v is not False}  # a default is no option: one key
    if statistics:  # the commands that show the statistics (fit, report) fit them
        stats = cached_statistics(when, fit)
        prov = Provenance.of_model(cat, stats.model.meta, seed=seed)
        show_notes(prov)
        return stats.model, stats, prov
    om = cached_fit(when, fit)
    prov = Provenance.of_model(cat, om.meta, seed=seed)
    show_notes(prov)
    return om, None, prov


def cached_fit(when: datetime | None, fit: dict[str, Any]) -> OutageModel:
    """The outage model fitted to the catalog as of ``when`` with the options ``fit``: from the store's model
    cache (:func:`seqrisk.store.cache.cached_model`) when an earlier command or job fitted the same."""
    from seqrisk.store.cache import cached_model

    return cached_model(state.home.root / "cache", state.catalog, when, fit, refit=_refit_note)


def cached_statistics(when: datetime | None, fit: dict[str, Any]) -> OutageStatistics:
    """Every fitted piece of the model (with the per-group Hawkes fits ``fit`` and ``report`` show), as of
    ``when`` with the options ``fit``: from the store's statistics cache
    (:func:`seqrisk.store.cache.cached_statistics`) when an earlier command or job fitted the same."""
    from seqrisk.store.cache import cached_statistics as cached

    return cached(state.home.root / "cache", state.catalog, when, fit, refit=_refit_note)


def _refit_note(what: str, path: Path, damaged: str) -> None:
    """One line on stderr when a cache entry was present but not used."""
    from seqrisk.cli.render import messages

    messages().print(f"note: the cached {what} {path} was not used ({damaged}); fitting again", markup=False)


def show_notes(prov: Provenance) -> None:
    """Each provenance note as one line on stderr."""
    from seqrisk.cli.render import messages

    err = messages()
    for n in prov.notes:
        err.print(f"note: {n}", markup=False)
