"""The notebook API: results and fitters show as tables with units and errors, plot, give frames; a report is
built from public inputs. Each check compares what is shown with the object's own figures."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import seqrisk
from seqrisk.engine import Scenario, SimulationResult, simulate
from seqrisk.exceptions import UsageError
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import load_book
from seqrisk.stats import DurationFitter, GammaPoissonPooling, HawkesFitter, fit_outage_statistics, simulate_hawkes
from seqrisk.units import format_duration, format_usd

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def run() -> tuple[SimulationResult, OutageModel]:
    cat = seqrisk.load_catalog()
    book = load_book(EXAMPLES / "first-steps.yaml", chains=cat.chain_ids())
    law = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.2})
    model = OutageModel(chains={c: ChainOutageLaw(c, {"downtime": 2.0}, {"downtime": law}) for c in book.chains})
    return simulate(book, model, Scenario(paths=2000, seed=3, horizon_s=30 * 86400.0)), model


def _cells(html: str) -> list[list[str]]:
    """The rows of the first HTML table, header cell first."""
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in body.split("</tr>") if "<t" in row]


def test_result_shows_its_figures_with_units_and_errors(run) -> None:
    res, _ = run
    el, el_se = res.value("expected_loss", perspective="venue")
    es, es_se = res.value("es", level=0.99)
    text = repr(res)
    assert text.startswith(f"SimulationResult: {res.prep.book.name} over 30d, 2,000 paths, seed 3")
    assert f"{format_usd(el)} ± {format_usd(el_se)}" in text and f"{format_usd(es)} ± {format_usd(es_se)}" in text
    rows = {r[0]: r[1:] for r in _cells(res._repr_html_())}
    assert rows["expected loss"] == ["USD", *(f"{format_usd(v)} ± {format_usd(s)}" for v, s in (
        res.value("expected_loss"), res.value("expected_loss", perspective="venue")))]
    p, p_se = res.value("p_liquidation")
    assert rows["P(any liquidation)"][0] == "probability" and rows["P(any liquidation)"][1] == f"{p:.3g} ± {p_se:.2g}"
    assert set(rows) >= {"VaR 95%", "VaR 99%", "VaR 99.9%", "ES 99%", "ES 99.9%", "expected bad debt"}


def test_result_frames_are_copies_of_its_tables(run) -> None:
    res, _ = run
    for name in ("measures", "positions", "chains", "components"):
        df = res.to_frame(name)
        assert df.equals(getattr(res, name)) and df is not getattr(res, name)
    assert res.to_frame().equals(res.measures)
    with pytest.raises(UsageError, match="no such table"):
        res.to_frame("paths")


def test_result_plot_marks_var_and_es_on_the_exceedance_curve(run) -> None:
    res, _ = run
    fig = res.plot("holder")
    curve = fig.data[0]
    dist = res.loss_distribution("holder_attributable")
    np.testing.assert_allclose(curve.y, dist.exceedance(np.asarray(curve.x) - 1e-9), rtol=1e-9)
    order = np.argsort(curve.x)
    assert np.all(np.diff(np.asarray(curve.y)[order]) <= 0)  # P(L > x) falls as x grows
    lines = sorted(s.x0 for s in fig.layout.shapes if s.type == "line")
    want = sorted(res.value(m, level=lv)[0] for m, lv in (("var", 0.99), ("es", 0.99), ("es", 0.999)))
    np.testing.assert_allclose(lines, want)
    labels = {a.text for a in fig.layout.annotations}
    assert f"ES 99% {format_usd(res.value('es', level=0.99)[0])}" in labels
    with pytest.raises(UsageError, match="no such loss series"):
        res.plot("insurer")


def test_report_from_public_inputs(run) -> None:
    res, model = run
    html = seqrisk.build_report(seqrisk.ReportInputs.of(res, model, seqrisk.load_catalog(), stress=False))
    assert html.startswith("<!DOCTYPE html>") and res.prep.book.name in html
    assert f"seqrisk {seqrisk.__version__}" in html and "not compared (no mitigations given)" in html
    assert html.count('class="plotly-graph-div"') >= 2  # timeline and the loss distribution


def test_duration_fitter_shows_its_fit_and_plots_it() -> None:
    assert repr(DurationFitter()) == "<DurationFitter: not fitted>"
    rng = np.random.default_rng(5)
    x = rng.lognormal(np.log(5400.0), 1.1, 60)
    lo, hi = x.copy(), x.copy()
    hi[:10] = np.inf
    f = DurationFitter(family="weibull").fit(lo, hi)
    med, m_lo, m_hi = f.quantile(0.5)
    frame = f.to_frame()
    assert frame.loc["median_s", "estimate"] == med and frame.loc["median_s", "unit"] == "seconds"
    assert (frame.loc["median_s", "low"], frame.loc["median_s", "high"]) == (m_lo, m_hi)
    assert frame.loc["mu_log_s", "unit"] == "log seconds"
    text = repr(f)
    assert "60 informative durations (50 exact, 0 interval-, 10 right-, 0 left-censored" in text
    assert f"median duration {format_duration(med)}" in text and "<table" in f._repr_html_()
    fig = f.plot()
    fitted = next(t for t in fig.data if (t.name or "").startswith("weibull"))
    np.testing.assert_allclose(fitted.y, f.sf(np.asarray(fitted.x) * 3600.0))
    assert any((t.name or "").startswith("Turnbull") for t in fig.data)


def test_pooling_and_hawkes_show_tables_and_the_forest_plot() -> None:
    k, t = np.array([3.0, 0.0, 7.0, 1.0]), np.array([2.0, 1.5, 3.0, 0.5])
    pool = GammaPoissonPooling().fit(k, t, labels=["a", "b", "c", "d"])
    text = repr(pool)
    assert "11 events in 7.0 chain-years on 4 chains" in text
    assert pool.to_frame().equals(pool.summary())
    fig = pool.plot()
    pooled = fig.data[1]
    order = np.argsort(pool.rates_per_year_)
    np.testing.assert_allclose(pooled.x, pool.rates_per_year_[order])
    assert [lbl.split(" ")[0] for lbl in fig.layout.yaxis.ticktext] == [pool.labels_[i] for i in order]
    h = HawkesFitter().fit(simulate_hawkes(0.05, 0.5, 1.0, 2000.0, seed=1), 2000.0)
    assert f"LR test against Poisson p = {h.p_value_:.3g}" in repr(h)
    assert h.to_frame().loc["branching", "unit"] == "offspring per event"


@pytest.fixture(scope="module")
def statistics():
    return fit_outage_statistics(seqrisk.load_catalog(), group_hawkes=False)


def test_outage_statistics_table_frame_and_plots(statistics) -> None:
    st = statistics
    rows = {r[0]: r[1:] for r in _cells(st._repr_html_())}
    assert set(rows) == set(st.rates)
    n_down = sum(1 for e in st.events.events if e.type == "downtime")
    assert rows["downtime"][0] == str(n_down)
    df = st.to_frame()
    assert len(df) == len(st.chains) * len(st.rates)
    down = df[df.type == "downtime"].set_index("chain")
    np.testing.assert_allclose(down.rate_per_year.to_numpy(), st.rates["downtime"].rates_per_year_)
    assert st.plot("survival").layout.title.text.startswith("downtime durations")
    assert st.plot("forest", "downtime").layout.title.text.startswith("downtime: raw vs pooled")
    with pytest.raises(UsageError, match="no such plot"):
        st.plot("pie")


def test_loss_distribution_frame_and_table(run) -> None:
    res, _ = run
    dist = res.loss_distribution("holder_attributable")
    df = dist.to_frame()
    assert df.probability.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(df.exceedance, 1.0 - np.cumsum(df.probability), atol=1e-12)
    assert df.exact.iloc[-1] and (df.loss_usd >= dist.exact_from).equals(df.exact)
    text = repr(dist)
    assert re.search(rf"quantile 0.99 +{re.escape(format_usd(float(dist.quantile(0.99))))}\n", text), text
    assert f"mean {format_usd(dist.mean())}" in text
