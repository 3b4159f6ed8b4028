"""The report page: built from a real (small) simulation, its numbers are the result's numbers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
    method = html[html.index('id="method"'):]
    assert "volatility regimes" in method and "grace period" in method
    stress = html[html.index('id="stress"'):html.index('id="mitigations"')]
    assert "not monotone in the move" in stress and "eth-long (10x long) is liquidated from" in stress
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
    first_chain = inputs.result.chains.sort_values("holder_expected_loss_usd").iloc[-1].chain
    assert re.search(rf"For the holder, most of the risk sits on <b>{first_chain}</b>", summary)
    assert "holder + venue" not in html


def test_exceedance_curve_uses_probability_masses() -> None:
    # two outcomes with masses 0.01 and 0.001 (the rest is the no-outage mass at 0)
    fig = loss_distribution(np.array([100.0, 1000.0]), np.array([0.01, 0.001]), {}, "t")
    ys = list(fig.data[0].y)
    assert ys == pytest.approx([0.001, 0.011])


def test_markers_are_labelled_where_the_log_axis_puts_them() -> None:
    """On a log axis an annotation's x is log10 of the value: a label at the value itself lands off the chart."""
    marks = {"VaR 99% $500": (500.0, 20.0), "ES 99% $800": (800.0, 50.0)}
    fig = loss_distribution(np.array([100.0, 1000.0]), np.array([0.01, 0.001]), marks, "t")
    anns = {a.text: a.x for a in fig.layout.annotations}
    assert anns == {"VaR 99% $500": pytest.approx(np.log10(500.0)), "ES 99% $800": pytest.approx(np.log10(800.0))}
    lo, hi = fig.layout.xaxis.range
    assert all(lo <= x <= hi for x in anns.values())
    assert sorted(s.x0 for s in fig.layout.shapes if s.type == "line") == [500.0, 800.0]


def test_stress_grid_explains_where_the_holder_loss_turns_into_bad_debt() -> None:
    """One 10x long perp: liquidated from about -5.3% (maintenance 5%), margin gone from -10%: the holder's loss
    peaks in between and is zero past -10%, where the venue's bad debt starts."""
    from seqrisk.engine import stress_grid
    from seqrisk.portfolio import book_from_dict
    from seqrisk.report.stress import thresholds

    book = book_from_dict({"assets": {"ETH": {"spot_usd": 2000.0, "vol": 0.8, "depth_usd": 1e12}}, "positions": [
        {"id": "p", "chain": "arbitrum", "type": "perp", "asset": "ETH", "side": "long", "notional_usd": 1e6,
         "leverage": 10}]}, chains=["arbitrum"])
    [(pid, what, liq, gone)] = thresholds(book, "arbitrum")
    assert (pid, what) == ("p", "10x long") and liq == pytest.approx(0.9 / 0.95 - 1) and gone == pytest.approx(-0.1)
    g = stress_grid(book, "arbitrum", [3600.0], [liq + 0.001, liq - 0.001, gone + 0.001, gone - 0.001, -0.3])
    h, v = g.holder_loss_usd.to_numpy(), g.venue_loss_usd.to_numpy()
    assert h[0] == 0 and h[1] > 0 and h[2] > 0 and h[3] == 0 and h[4] == 0  # not monotone, by construction
    assert v[2] == 0 and v[3] > 0 and v[4] > v[3]  # past the wipe-out the venue takes the loss
    assert h[1] > h[2]  # the equity left at the restart caps the holder's loss


def test_liquidation_curves_use_the_stressed_volatility() -> None:
    from seqrisk.engine import liquidation_probability
    from seqrisk.report.stress import liquidation_regime

    book = load_book(EXAMPLES / "desk.yaml")
    assert liquidation_regime(book) == "stressed"
    sc = Scenario()
    got = liquidation_for_book(book, sc, (3600.0,))
    want = liquidation_probability(book, (3600.0,), regime="stressed")
    calm = liquidation_probability(book, (3600.0,), regime="calm")
    assert got.p_liquidation.to_numpy() == pytest.approx(want.p_liquidation.to_numpy())
    assert (want.p_liquidation.to_numpy() >= calm.p_liquidation.to_numpy()).all()
    assert (want.p_liquidation.to_numpy() > calm.p_liquidation.to_numpy()).any()


def _result(name: str, party: str | None, cost: float, cuts: dict[str, float], se: float = 100.0) -> Any:
    from seqrisk.decide import Cost, Estimate, PairedDiff, StrategyResult

    keys = [f"{p}.{m}" for p in ("holder", "venue") for m in ("el", "var99", "es99", "var99.9", "es99.9")]
    return StrategyResult(
        name=name, levers=(name,), n_paths=1000, costs=(Cost("fees", cost, "holder"),) if cost else (),
        measures={k: Estimate(1e4, se) for k in [*keys, "p_liquidation"]},
        diffs={k: PairedDiff(-cuts.get(k, 0.0), se, 2 * se) for k in [*keys, "p_liquidation"]} if party else {},
        description=f"lever {name}", party=party)


def test_advice_is_per_party_on_el_and_es() -> None:
    from seqrisk.decide import Comparison, advise
    from seqrisk.report.decisions import what_to_do
    from seqrisk.report.mitigations import MitigationSection

    results = (_result("baseline", None, 0.0, {}),
               _result("grace", "venue", 0.0, {"holder.el": 5000.0, "holder.es99": 9000.0, "venue.el": -800.0}),
               _result("noise", "holder", 0.0, {"holder.el": 50.0}),
               _result("cover", "holder", 4e4, {"holder.el": 8000.0, "holder.es99": 3e5}))
    cmp = Comparison(results, ())
    section = MitigationSection(cmp, {p: advise(cmp, p) for p in ("holder", "venue")}, None)
    holder, venue = what_to_do(section)
    assert "<b>holder</b>" in holder and "lever cover" in holder and "ES 99%" in holder and "EL" in holder
    assert "lever grace" not in holder and "noise" not in holder  # the venue's lever; a change within the noise
    assert "on average it costs more than it saves" in holder  # $8k of EL for $40k of premium
    assert "<b>venue</b>" in venue and "none of its levers" in venue  # the grace period raises its bad debt
    assert "baseline EL" in venue and "ES 99%" in venue  # its own baseline on both measures all the same
    assert all("holder + venue" not in b for b in (holder, venue))


def test_report_mitigations_share_the_headline_baseline(inputs: ReportInputs) -> None:
    from seqrisk.report.mitigations import standard_comparison

    d = inputs
    section = standard_comparison(d.book, d.model, d.scenario, d.catalog, baseline=d.result,
                                  grace_values_s=(0.0, 3600.0))
    base = section.comparison.baseline.measures
    for party in ("holder", "venue"):
        el, _ = d.result.value("expected_loss", perspective=party)
        es, _ = d.result.value("es", perspective=party, level=0.99)
        assert base[f"{party}.el"].value == pytest.approx(el, rel=1e-9, abs=1e-9)
        assert base[f"{party}.es99"].value == pytest.approx(es, rel=1e-6, abs=1e-6)
    html = build_report(ReportInputs(**{**vars(d), "mitigations": section}))
    summary = html[html.index('id="summary"'):html.index('id="chains"')]
    assert "What the <b>holder</b> can do" in summary and "What the <b>venue</b> can do" in summary
    mit = html[html.index('id="mitigations"'):html.index('id="method"')]
    assert "For the holder" in mit and "For the venue" in mit and "an oracle grace period" in mit
    assert "grace=1h" not in mit  # levers in words, not in the spec syntax


def test_bad_option_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqrisk.cli.app import main

    with pytest.raises(SystemExit) as exc:
        main(["--home", str(tmp_path), "report", str(EXAMPLES / "desk.yaml"), "--horizon", "0s",
              "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "field=--horizon" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


def test_paths_on_the_page_name_no_folder_of_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from seqrisk.cli.report_cmds import portable_arg

    monkeypatch.chdir(tmp_path)
    assert portable_arg(str(tmp_path / "books" / "desk.yaml")) == "books/desk.yaml"
    assert portable_arg("/somewhere/else/report.html") == "report.html"
    assert portable_arg("--out=/somewhere/else/report.html") == "--out=report.html"
    assert portable_arg("examples/desk.yaml") == "examples/desk.yaml" and portable_arg("1y") == "1y"


def test_grace_advice_states_the_trade_off_or_that_nothing_is_told_apart() -> None:
    from types import SimpleNamespace

    from seqrisk.decide.measures import Estimate
    from seqrisk.report.decisions import what_to_do

    def grace(venue: list[float], near: tuple[float, ...], best: float) -> Any:
        return SimpleNamespace(values=(0.0, 3600.0, 7200.0), near_best=near, best_value=best,
                               best_interval=(3600.0, 7200.0), weight=0.0, objective="venue bad debt",
                               holder=tuple(Estimate(h, 100.0) for h in (9000.0, 5000.0, 4000.0)),
                               venue=tuple(Estimate(v, 50.0) for v in venue))

    line = what_to_do(SimpleNamespace(advice={}, grace=grace([800.0, 300.0, 900.0], (3600.0,), 3600.0)))[0]
    assert "best 1h (90% interval 1h to 2h) on its own bad debt" in line
    assert "bad debt is $300 ± $50 and the holders&#x27; EL $5k ± $100, against $800 ± $50 and $9k ± $100" in line
    flat = what_to_do(SimpleNamespace(advice={}, grace=grace([0.0, 0.0, 0.0], (0.0, 3600.0, 7200.0), 0.0)))[0]
    assert "none changes its objective (venue bad debt) by more than two standard errors" in flat
    assert "best" not in flat and "$9k ± $100 to $4k ± $100" in flat
