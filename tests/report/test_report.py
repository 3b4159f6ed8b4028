"""The report page: built from a real (small) simulation, its numbers are the result's numbers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from seqrisk.catalog import load_catalog
from seqrisk.engine import Scenario, simulate
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import load_book
from seqrisk.report import ReportInputs, build_report, liquidation_for_book, stress_for_book
from seqrisk.report.figures import loss_distribution
from seqrisk.units import format_usd

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def inputs() -> ReportInputs:
    cat = load_catalog()
    book = load_book(EXAMPLES / "first-steps.yaml", chains=cat.chain_ids())
    law = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.2})
    model = OutageModel(chains={c: ChainOutageLaw(c, {"downtime": 2.0}, {"downtime": law}) for c in book.chains})
    sc = Scenario(paths=2000, seed=3, horizon_s=30 * 86400.0)
    res = simulate(book, model, sc)
    return ReportInputs(book=book, book_path="examples/first-steps.yaml", scenario=sc, model=model, result=res,
                        catalog=cat, command="seqrisk report examples/first-steps.yaml", version="test",
                        stress=stress_for_book(book, sc, (600.0, 7200.0), (-0.2, 0.0, 0.2)),
                        liquidation=liquidation_for_book(book, sc, (600.0, 7200.0)))


def test_page_is_self_contained_and_has_every_section(inputs: ReportInputs) -> None:
    html = build_report(inputs)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script src=" not in html and "<link " not in html
    for title in ("Summary", "Chains: incidents and fitted outage rates", "Loss distribution",
                  "Stress grid: outage duration against price move", "Mitigations", "Method and reproducibility"):
        assert f"<h2>{title}</h2>" in html
    assert html.count('class="plotly-graph-div"') >= 4
    assert "seqrisk report examples/first-steps.yaml" in html


def test_page_states_as_of_and_catalog_version(inputs: ReportInputs) -> None:
    from dataclasses import replace

    from seqrisk.provenance import Provenance

    prov = Provenance.of_catalog(inputs.catalog, as_of="2026-01-01T00:00:00Z", seed=3)
    html = build_report(replace(inputs, provenance=prov))
    head = html[html.index("<header>"):html.index("</header>")]
    assert "as of 2026-01-01" in head and f"catalog {inputs.catalog.version}" in head and "seqrisk test" in head
    assert inputs.catalog.digest in html[html.index("Method and reproducibility"):]


def test_summary_shows_the_result_figures(inputs: ReportInputs) -> None:
    html = build_report(inputs)
    summary = html[html.index('id="summary"'):html.index('id="chains"')]
    el, el_se = inputs.result.value("expected_loss", perspective="holder")
    es, _ = inputs.result.value("es", perspective="holder", level=0.99)
    assert format_usd(el) in summary and format_usd(el_se) in summary and format_usd(es) in summary
    assert "not yet available" not in summary or "Mitigations" in summary
    ch = inputs.result.chains
    total = ch.assign(el=ch.holder_expected_loss_usd + ch.venue_expected_loss_usd)
    first_chain = total.sort_values("el").iloc[-1].chain
    assert re.search(rf"risk sits on <b>{first_chain}</b>", summary)


def test_exceedance_curve_uses_probability_masses() -> None:
    # two outcomes with masses 0.01 and 0.001 (the rest is the no-outage mass at 0)
    fig = loss_distribution(np.array([100.0, 1000.0]), np.array([0.01, 0.001]), {}, "t")
    ys = list(fig.data[0].y)
    assert ys == pytest.approx([0.001, 0.011])


def test_advice_lists_significant_free_levers_and_the_best_paid_one() -> None:
    import pandas as pd

    from seqrisk.report.build import _what_to_do

    m = pd.DataFrame([
        dict(strategy="baseline", cost_usd=0.0, reduction_usd=0.0, reduction_se=0.0, reduction_per_usd=float("nan")),
        dict(strategy="grace", cost_usd=0.0, reduction_usd=5000.0, reduction_se=500.0, reduction_per_usd=float("inf")),
        dict(strategy="noise", cost_usd=0.0, reduction_usd=300.0, reduction_se=200.0, reduction_per_usd=float("inf")),
        dict(strategy="buffer", cost_usd=1e5, reduction_usd=9000.0, reduction_se=600.0, reduction_per_usd=0.09),
        dict(strategy="insure", cost_usd=4e4, reduction_usd=8000.0, reduction_se=700.0, reduction_per_usd=0.2),
    ])
    text = _what_to_do(m)
    assert "<b>grace</b>" in text and "noise" not in text
    assert "best paid lever per dollar: <b>insure</b>" in text and "buffer" not in text
    assert "no standard lever" in _what_to_do(m[m.strategy.isin(["baseline", "noise"])])


def test_bad_option_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqrisk.cli.app import main

    with pytest.raises(SystemExit) as exc:
        main(["--home", str(tmp_path), "report", str(EXAMPLES / "desk.yaml"), "--horizon", "0s",
              "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "field=horizon_s" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()
