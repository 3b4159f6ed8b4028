"""The HTML report in a real browser (Debian chromium via Playwright), offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from integration.browser import PLOT_CHECK, open_offline
from seqrisk import __version__
from seqrisk.catalog import load_catalog
from seqrisk.cli.app import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"


#: the plots, and the labels of the markers on the loss charts (text, box relative to the plot, plot width)
CHECKS = """() => {
  const out = (""" + PLOT_CHECK + """)();
  out.labels = Array.from(document.querySelectorAll('#losses .plotly-graph-div')).map(d => {
    const r = d.getBoundingClientRect();
    return {w: r.width, anns: Array.from(d.querySelectorAll('.annotation')).map(a => {
      const b = a.getBoundingClientRect();
      return {text: a.textContent, x: b.x - r.x, w: b.width, h: b.height};
    })};
  });
  const txt = sel => { const e = document.querySelector(sel); return e ? e.innerText : ""; };
  out.header = txt('header');
  out.summary = txt('#summary');
  out.mitigations = txt('#mitigations');
  out.method = txt('#method');
  return out;
}"""


@pytest.mark.integration
def test_report_renders_offline_with_every_chart(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    r = CliRunner().invoke(app, ["--home", str(home), "report", str(EXAMPLES / "desk.yaml"), "--out", str(out),
                                 "--paths", "1500", "--horizon", "1y", "--seed", "7"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "report written to" in r.output
    html = out.read_text()
    assert "<script src=" not in html and "<link " not in html  # nothing loaded from elsewhere
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert str(tmp_path) not in html and str(EXAMPLES) not in html  # no folder of this machine on the page
    visit = open_offline(out, ARTIFACTS / "report.png", CHECKS)
    assert visit.blocked == [], f"requests left the machine: {visit.blocked}"
    assert visit.console_errors == []
    plots = visit.checks["plots"]
    assert len(plots) >= 8
    for p in plots:
        assert p["svg"] >= 1, f"{p['id']} has no SVG"
        assert p["traces"] >= 1 and p["points"] >= 1, f"{p['id']} has an empty trace"
    assert visit.checks["sections"][:4] == ["Summary", "Chains: incidents and fitted outage rates",
                                             "Loss distribution", "Stress grid: outage duration against price move"]
    # the VaR and ES markers of the loss charts carry visible labels inside the plot
    labels = visit.checks["labels"]
    assert len(labels) == 2
    for chart in labels:
        shown = {a["text"].split(" $")[0] for a in chart["anns"] if a["w"] > 0 and a["h"] > 0
                 and a["x"] >= 0 and a["x"] + a["w"] <= chart["w"]}
        assert {"VaR 99%", "ES 99%", "ES 99.9%"} <= shown, chart
    text = visit.checks["text"]
    assert "EXPECTED LOSS" in text.upper() and "ES 99%" in text
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    # as read in the browser: the as-of date and the versions at the top, the advice one party at a time on EL and
    # ES, levers in words (not their spec syntax), each party's table on its own loss, one baseline
    header, summary, mit = visit.checks["header"], visit.checks["summary"], visit.checks["mitigations"]
    cat = load_catalog()
    assert "as of " in header and f"catalog {cat.version}" in header and f"seqrisk {__version__}" in header
    advice = {p: next(line for line in summary.splitlines() if f"What the {p} can do" in line)
              for p in ("holder", "venue")}
    for line in advice.values():
        assert "baseline EL $" in line and "ES 99% $" in line, line
    assert "Grace period (the venue's setting): best" in summary
    for text in (summary, mit):
        assert "grace=" not in text and "buffer=" not in text and "insure=" not in text
    assert "an oracle grace period of 1h" in mit and "extra margin of 25% of notional" in mit
    assert "For the holder: the holder's attributable loss" in mit and "For the venue: the venue's bad debt" in mit
    assert "never added" in mit
