"""Decision results in a notebook: each shows a table of its own figures (USD ± standard error) and a frame."""

from __future__ import annotations

import re

import pytest

from seqrisk.catalog import load_catalog
from seqrisk.decide import GracePeriod, MarginBuffer, compare, score_chains, sweep
from seqrisk.display import pm_usd
from seqrisk.exceptions import UsageError
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import Book
from seqrisk.units import YEAR_S

from .conftest import ToyScenario, toy_simulate


def _rows(html: str) -> dict[str, list[str]]:
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    cells = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S) for r in body.split("</tr>") if "<t" in r]
    return {c[0]: c[1:] for c in cells}


def test_comparison_shows_each_strategy_with_paired_changes(book: Book, model: OutageModel) -> None:
    cmp = compare(book, model, ToyScenario(paths=4000), [MarginBuffer(0.02), GracePeriod(3600.0, 0.5)],
                  simulate=toy_simulate)
    html = cmp._repr_html_()
    head = re.findall(r"<th>(.*?)</th>", html[:html.index("<tbody>")])
    rows = _rows(html)
    assert list(rows) == [r.name for r in cmp.results]
    buf = cmp.results[1]
    row = dict(zip(head[1:], rows[buf.name], strict=True))
    assert row["holder ES 99%"] == pm_usd(buf.measures["holder.es99"].value, buf.measures["holder.es99"].se)
    d = buf.diffs["holder.es99"]
    assert row["holder ES 99% change"] == pm_usd(d.value, d.se)
    assert rows["baseline"][head.index("holder ES 99% change") - 1] == ""
    assert repr(cmp).startswith("Comparison: 2 strategies against the baseline on the same 4,000 paths")
    assert cmp.to_frame().equals(cmp.summary())


def test_sweep_shows_the_curves_and_its_optimum(book: Book, model: OutageModel) -> None:
    res = sweep(book, model, ToyScenario(paths=3000), "buffer", [0.0, 0.05, 0.1], MarginBuffer,
                perspective="holder", simulate=toy_simulate)
    text = repr(res)
    assert text.startswith(f"SweepResult: buffer for the holder, minimising {res.objective}; best {res.best_value:g}")
    frame = res.to_frame()
    assert frame["holder_el_usd"].tolist() == [e.value for e in res.holder]
    assert _rows(res._repr_html_())["0.05"][0] == pm_usd(res.holder[1].value, res.holder[1].se)


def test_scores_show_ranks_and_money() -> None:
    law = DurationLaw("lognormal", {"median_s": 7200.0, "sigma": 1.0})
    m = OutageModel(chains={c: ChainOutageLaw(c, {"downtime": r}, {"downtime": law})
                            for c, r in (("arbitrum", 0.5), ("base", 5.0))})
    s = score_chains(m, load_catalog(), chains=["arbitrum", "base"], paths=2000, seed=2, horizon_s=YEAR_S / 4)
    rows = _rows(s._repr_html_())
    assert list(rows) == [r.chain for r in s.rows]
    first = s.rows[0]
    assert rows[first.chain][0] == f"{first.rank} ({first.rank_low}-{first.rank_high})"
    assert rows[first.chain][1] == pm_usd(first.el("holder").value, first.el("holder").se)
    assert "Scores: chains ranked by the holder's es99" in repr(s) and s.to_frame().equals(s.summary())


def test_comparison_plot_is_a_forest_of_paired_changes(book: Book, model: OutageModel) -> None:
    cmp = compare(book, model, ToyScenario(paths=4000), [MarginBuffer(0.02), GracePeriod(3600.0, 0.5)],
                  simulate=toy_simulate)
    fig = cmp.plot("el")
    holder = fig.data[0]
    d = [r.diffs["holder.el"] for r in cmp.results[1:]]
    assert list(holder.x) == [x.value for x in d]
    assert list(holder.error_x.array) == [1.959963984540054 * x.se for x in d]
    assert list(fig.layout.yaxis.ticktext) == [r.name for r in cmp.results[1:]]
    with pytest.raises(UsageError, match="no such measure"):
        cmp.plot("median")


def test_sweep_plot_marks_the_optimum(book: Book, model: OutageModel) -> None:
    res = sweep(book, model, ToyScenario(paths=3000), "buffer", [0.0, 0.05, 0.1], MarginBuffer,
                perspective="holder", simulate=toy_simulate)
    fig = res.plot()
    objective = next(t for t in fig.data if t.name == "objective")
    assert list(objective.y) == [e.value for e in res.curve]
    assert any(s.type == "line" and s.x0 == res.best_value for s in fig.layout.shapes)
