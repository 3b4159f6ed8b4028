"""The HTML report in a real browser (Debian chromium via Playwright), offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from integration.browser import PLOT_CHECK, open_offline
from seqrisk.cli.app import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"


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
    visit = open_offline(out, ARTIFACTS / "report.png", PLOT_CHECK)
    assert visit.blocked == [], f"requests left the machine: {visit.blocked}"
    assert visit.console_errors == []
    plots = visit.checks["plots"]
    assert len(plots) >= 8
    for p in plots:
        assert p["svg"] >= 1, f"{p['id']} has no SVG"
        assert p["traces"] >= 1 and p["points"] >= 1, f"{p['id']} has an empty trace"
    assert visit.checks["sections"][:4] == ["Summary", "Chains: incidents and fitted outage rates",
                                             "Loss distribution", "Stress grid: outage duration against price move"]
    text = visit.checks["text"]
    assert "EXPECTED LOSS" in text.upper() and "ES 99%" in text
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
