"""The runs behind a report, made in one place for ``seqrisk report`` and the service's report jobs.

:func:`analyse_book` runs what the page shows beyond the fitted model: the
headline simulation (its paths kept when the levers are compared, so they pair
with it), the same book with the chains independent at the same rates (the
dependence note), the stress grid and liquidation curves, and the standard
levers compared on the headline's paths. :func:`report_summary` is the summary
of the page as a JSON document (``seqrisk report --json``'s layout, and a
report job's result).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from seqrisk.catalog import Catalog
    from seqrisk.engine import Scenario
    from seqrisk.engine.results import SimulationResult
    from seqrisk.outage import OutageModel
    from seqrisk.portfolio.models import Book
    from seqrisk.report.mitigations import MitigationSection

__all__ = ["NO_MITIGATIONS", "ReportAnalysis", "analyse_book", "dependence_note", "report_summary"]

#: The page's note when the levers were not compared.
NO_MITIGATIONS = "mitigations not requested (--no-mitigations)."


@dataclass(frozen=True)
class ReportAnalysis:
    """Every run a report shows beyond the model (see the module doc)."""

    result: SimulationResult
    dependence: str
    stress: dict[str, pd.DataFrame]
    liquidation: pd.DataFrame
    mitigations: MitigationSection | None
    mitigation_note: str | None


def analyse_book(book: Book, model: OutageModel, scenario: Scenario, catalog: Catalog, *, mitigations: bool = True,
                 stage: Callable[[str], AbstractContextManager[Any]] | None = None,
                 progress: Callable[[int, int, str], None] | None = None) -> ReportAnalysis:
    """The report's runs of ``book`` under ``model`` and ``scenario`` (the levers compared when ``mitigations``).

    ``stage(text)`` is entered around each stage after the headline run (a spinner, a progress line);
    ``progress(done_paths, total_paths, text)`` follows the two simulations (without it they report to the
    enclosing :func:`~seqrisk.engine.backend.use_backend` block's default, if any).
    """
    from seqrisk.decide.paths import with_paths
    from seqrisk.engine import simulate
    from seqrisk.engine.backend import use_backend
    from seqrisk.report.stress import liquidation_for_book, stress_for_book

    def step(text: str) -> AbstractContextManager[Any]:
        return stage(text) if stage is not None else nullcontext()

    def runs(text: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(done, total, text))

    res = simulate(book, model, with_paths(scenario) if mitigations else scenario, progress=runs("simulating paths"))
    with step("the same book with chains independent (same rates)"):
        indep = simulate(book, model.independent(), scenario, progress=runs("the same book with chains independent"))
    with step("stress grid and liquidation curves"):
        stress = stress_for_book(book, scenario)
        liquidation = liquidation_for_book(book, scenario)
    section = None
    if mitigations:
        from seqrisk.report.mitigations import standard_comparison

        # the stage shows this part's progress: no per-run progress beside it
        with step("comparing levers on the same paths"), use_backend(None):
            worst = str(res.chains.assign(el=res.chains.holder_expected_loss_usd).sort_values("el").iloc[-1].chain)
            section = standard_comparison(book, model, scenario, catalog, worst_chain=worst, baseline=res)
    return ReportAnalysis(res, dependence_note(res, indep), stress, liquidation, section,
                          None if mitigations else NO_MITIGATIONS)


def report_summary(analysis: ReportAnalysis, name: str, scenario: Scenario, file: str, size: int
                   ) -> dict[str, Any]:
    """The figures of the report's summary (the page has the rest) and the file written (``file``, ``size``
    bytes): ``seqrisk report --json``'s layout, and a report job's result."""
    from seqrisk.stats.summary import finite

    res, section = analysis.result, analysis.mitigations

    def est(v: float, se: float) -> dict[str, float | None]:
        return {"value": finite(float(v)), "std_error": finite(float(se))}

    measures = {f"{persp}.{key}": est(*res.value(meas, perspective=persp, level=lvl))
                for persp in ("holder", "venue")
                for key, meas, lvl in (("el", "expected_loss", None), ("es99", "es", 0.99), ("es99.9", "es", 0.999))}
    measures["p_liquidation"] = est(*res.value("p_liquidation"))
    advice = {} if section is None else {
        party: {"recommended": [e.sentence(adv.level) for e in adv.recommended[:3]], "level": adv.level}
        for party, adv in section.advice.items()}
    return {"book": name, "file": file, "bytes": size, "horizon_s": scenario.horizon_s,
            "paths": res.n_paths, "seed": scenario.seed, "parameter_uncertainty": scenario.parameter_uncertainty,
            "attributable": measures, "advice": advice, "dependence": analysis.dependence}


def dependence_note(res: SimulationResult, indep: SimulationResult) -> str:
    """One sentence: holder ES 99% under the model against the same chains independent at the same rates."""
    from seqrisk.units import format_usd

    w, w_se = (float(x) for x in res.value("es", perspective="holder", level=0.99))
    i, i_se = (float(x) for x in indep.value("es", perspective="holder", level=0.99))
    d, d_se = w - i, (w_se ** 2 + i_se ** 2) ** 0.5
    head = (f"Cross-chain dependence (common shocks incl. the Ethereum-wide group, cross-chain excitation): holder "
            f"ES 99% {format_usd(w)} ± {format_usd(w_se)} under the model against {format_usd(i)} ± "
            f"{format_usd(i_se)} with the same chains independent at the same rates")
    if abs(d) < 2 * d_se:
        return head + "; the difference is within Monte Carlo error at this number of paths."
    return head + (f": the dependence {'adds' if d > 0 else 'removes'} {format_usd(abs(d))} ± {format_usd(d_se)} "
                   f"({abs(d) / w:.0%} of ES 99%), the part of the diversification benefit it takes away.")
