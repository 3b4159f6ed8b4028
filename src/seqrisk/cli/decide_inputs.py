"""What the decision commands share: loading their inputs and printing figures with their errors.

Every figure is shown with its Monte Carlo standard error (``±``, in the
figure's unit); JSON gets ``{value, std_error}`` with None for inf and nan.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli import checks
from seqrisk.cli.app import state
from seqrisk.exceptions import UsageError, ValidationError
from seqrisk.provenance import Provenance
from seqrisk.units import format_usd, parse_duration

__all__ = ["BOOK_FILE", "DEFAULT_HORIZON", "MODEL_HELP", "HorizonOpt", "OutageOpt", "book_arg", "diff_doc", "est_doc",
           "finite", "load_model", "load_scenario_for", "pm", "pp", "usd_se"]

MODEL_HELP = "Outage model file (default: fitted from the catalog)."

#: What every book argument's help says a book file is (the suffixes :func:`seqrisk.portfolio.load_book` reads).
BOOK_FILE = ("Book file: YAML, JSON, CSV or Parquet (a table of positions takes its assets from "
             "<stem>.market.yaml beside it)")

#: Every command's horizon when neither ``--horizon`` nor the ``--config`` file gives one.
DEFAULT_HORIZON = "1y"

HorizonOpt = Annotated[str | None, typer.Option(
    "--horizon", metavar="DURATION", help="Horizon, e.g. 1d, 30d, 1y.",
    show_default=f"{DEFAULT_HORIZON}, or the --config file's horizon_s")]
#: Given outages (stress mode), on chains the book holds: checked by :func:`load_scenario_for` with the book.
OutageOpt = Annotated[list[str] | None, typer.Option(
    "--outage", help="Stress: CHAIN=DURATION[@TIME], repeatable (e.g. arbitrum=2h), on a chain the book holds.")]


def usd_se(x: float) -> str:
    """A standard error in USD to two significant digits, without the ``$``: ``2.9k``."""
    r = float(f"{abs(x):.2g}")  # two significant digits, then the unit: 115 -> 120, 995000 -> 1M
    for suffix, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if r >= size:
            return f"{r / size:g}{suffix}"
    return f"{r:g}"


def pm(v: float, se: float) -> str:
    """``$1.23k±310`` (USD with its standard error, in USD)."""
    if not math.isfinite(v):
        return "n/a"
    return f"{format_usd(v)}±{usd_se(se) if math.isfinite(se) else 'n/a'}"


def pp(v: float, se: float) -> str:
    """A probability with its standard error."""
    if not math.isfinite(v):
        return "n/a"
    return f"{v:.3g}±{se:.1g}" if math.isfinite(se) else f"{v:.3g}"


def load_model(path: Path | None, as_of: str | None, seed: int | None) -> tuple[Any, Provenance]:
    """The outage model (``--model`` file or fitted as of ``--as-of``) and the provenance it states."""
    from seqrisk.cli.modeling import fitted_model

    om, _, prov = fitted_model(path, as_of, seed=seed)
    return om, prov


def load_scenario_for(config: Path | None, paths: int | None, seed: int | None, horizon: str | None,
                      outage: list[str] | None = None, *, book: Any = None, **fixed: Any) -> Any:
    """The scenario of a command: the ``--config`` file (or the defaults) with the command's options over it; the
    horizon is ``--horizon``, else the file's ``horizon_s``, else :data:`DEFAULT_HORIZON` (one year). With
    ``book``, a given outage (``--outage`` or the file's ``stress_outages``) on a chain the book does not hold is
    refused."""
    from seqrisk.engine import StressOutage, load_scenario
    from seqrisk.engine.scenario import check_stress_chains

    if config is not None and not config.is_file():
        raise UsageError("no such scenario file", field="--config", file=str(config))
    over: dict[str, Any] = {"paths": paths, "seed": seed,
                            "horizon_s": parse_duration(horizon, field="--horizon") if horizon else None}
    if outage:
        over["stress_outages"] = [StressOutage.parse(o).model_dump() for o in outage]
    over.update({k: v for k, v in fixed.items() if v is not None})
    try:
        sc = load_scenario(config, **over)
    except ValidationError as exc:
        if "file" in exc.context:  # the --config file's value: bad data
            raise
        raise UsageError(exc.message, **exc.context) from None  # an option's value: a usage error (exit 2)
    if "horizon_s" not in sc.model_fields_set:
        sc = sc.replace(horizon_s=parse_duration(DEFAULT_HORIZON))
    checks.fits_memory(sc.paths, "--paths", keep_paths=True)  # paths a scenario file sets as well
    if book is not None:
        check_stress_chains(book, sc.stress_outages, field="--outage")
    return sc


def book_arg(path: Path) -> Any:
    """The book named on the command line (a file that does not exist is a usage error)."""
    from seqrisk.portfolio import load_book

    if not path.exists():
        raise UsageError("no such book file", field="PORTFOLIO", file=str(path))
    return load_book(path, chains=state.catalog.chain_ids())


def finite(x: float) -> float | None:
    """JSON has no inf or nan: None."""
    return x if math.isfinite(x) else None


def est_doc(e: Any) -> dict[str, float | None]:
    return {"value": finite(e.value), "std_error": finite(e.se)}


def diff_doc(d: Any) -> dict[str, float | None]:
    return {"value": finite(d.value), "std_error": finite(d.se), "std_error_unpaired": finite(d.se_unpaired)}
