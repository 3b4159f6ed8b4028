"""The dashboard in Debian's chromium (Playwright), served by a real `seqrisk serve` on loopback, offline.

Every request that does not go to the server is blocked and recorded (plotly comes from the server, not a CDN).
Each page loads without a console error and draws its charts; the overview's live status follows the store
through server-sent events (the test writes the monitor's rounds here; test_serve_monitor_browser.py runs a real
monitor on an anvil chain); the chain page shows the fitted rates with
intervals and, once the chain is down, its now-cast; a book uploaded through the form runs and its page shows the
figures `seqrisk simulate` prints with the same seed; a full analysis shows the stress grid and the levers per
party and its report downloads.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("playwright")

from seqrisk.units import format_usd
from serve_util import BOOK, Server, cli, start, token

from .browser import poll_until, served_page

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PLOTS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => ({
  svg: d.querySelectorAll('svg.main-svg').length, traces: (d._fullData || []).length}))"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    home = tmp_path_factory.mktemp("dash-home")
    secret = token(home, "write")
    with start(home, "--workers", "1") as srv:
        yield srv, secret


def _observe(home: Path, chain: str, at: float, label: str, lag_s: float) -> None:
    """One round of the monitor, as `seqrisk monitor` writes it to the store."""
    db = sqlite3.connect(home / "state.sqlite")
    with db:
        db.execute("INSERT INTO observations(chain, observed_utc, head_number, head_time_utc, lag_s, status) "
                   "VALUES (?,?,?,?,?,?)", (chain, at, 100, at - lag_s, lag_s, label))
    db.close()


@pytest.fixture(scope="module")
def browser_page(served: tuple[Server, str]) -> Iterator[tuple[Any, dict[str, list[str]]]]:
    with served_page(served[0].base) as (page, seen):
        yield page, seen


def _load(page: Any, seen: dict[str, list[str]], url: str, plots: int) -> list[dict[str, int]]:
    """Open ``url``; no console error, nothing blocked, at least ``plots`` charts drawn."""
    resp = page.goto(url, wait_until="load")
    assert resp is not None and resp.status == 200, url
    csp = resp.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp.split(
        "script-src")[1].split(";")[0]
    assert resp.headers.get("x-content-type-options") == "nosniff"
    if plots:
        poll_until(page, f"() => document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= {plots}")
    drawn = page.evaluate(PLOTS)
    assert len(drawn) >= plots and all(d["svg"] > 0 and d["traces"] > 0 for d in drawn), drawn
    assert seen["errors"] == [] and seen["blocked"] == [], seen
    return list(drawn)


def test_overview_and_chain_pages_with_live_status(served: tuple[Server, str], browser_page: Any) -> None:
    srv, _ = served
    page, seen = browser_page
    _observe(srv.home, "base", 1000.0, "healthy", 2.0)
    _load(page, seen, srv.base + "/", plots=1)
    row = page.locator('tr[data-chain="base"]')
    assert row.locator('[data-field="label"]').inner_text() == "healthy"
    poll_until(page, "() => document.getElementById('stream-state').textContent.startsWith('live')")
    # the monitor marks base down: the page follows without a reload (server-sent events)
    _observe(srv.home, "base", 1060.0, "down", 3600.0)
    poll_until(page, "() => document.querySelector('tr[data-chain=\"base\"]').getAttribute('data-label') === 'down'")
    assert row.locator('[data-field="label"]').inner_text() == "down"
    assert page.locator('tr[data-chain="arbitrum"] [data-field="label"]').inner_text() == "not watched"
    # the chain page: design and risk entries, the incident timeline, fitted rates with intervals, the now-cast
    _load(page, seen, srv.base + "/chains/base", plots=1)
    assert page.locator("#risk tbody tr").count() > 0 and page.locator("#incidents tbody tr").count() > 0
    fit = page.locator("#fit tbody tr").first.inner_text()
    assert "[" in fit and "-" in fit  # estimate [low-high]
    api = json.loads(page.evaluate("() => fetch('/api/v1/status/base').then(r => r.text())"))
    n = api["nowcast"]
    assert n["down_for_s"] == 3600.0 and 0 <= n["p_still_down"][0]["p"] <= 1
    cells = page.locator("#nowcast tbody td.num").all_inner_texts()
    assert cells[0] == f"{n['p_still_down'][0]['p'] * 100:.1f}%"


def _submit_book(page: Any, seen: dict[str, list[str]], base: str, kind: str, paths: int, seed: int,
                 horizon: str) -> str:
    _load(page, seen, base + "/book", plots=0)
    page.set_input_files("#book-file", str(BOOK))
    page.select_option("#kind", kind)
    page.fill("#paths", str(paths))
    page.fill("#seed", str(seed))
    page.fill("#horizon", horizon)
    page.click("#run")
    page.wait_for_url("**/jobs/job_*")
    page.wait_for_selector("#job[data-status='done']", timeout=600_000)  # the page reloads when the job ends
    return str(page.locator("#job").get_attribute("data-job"))


def test_a_book_uploaded_through_the_form_shows_the_cli_figures(served: tuple[Server, str], browser_page: Any,
                                                              tmp_path: Path) -> None:
    srv, secret = served
    page, seen = browser_page
    page.goto(srv.base + "/login")
    page.fill("#token", secret)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(srv.base + "/")
    _submit_book(page, seen, srv.base, "simulate", 2000, 11, "30d")
    assert seen["errors"] == [] and seen["blocked"] == [], seen
    ref = cli(tmp_path, "simulate", str(BOOK), "--paths", "2000", "--seed", "11", "--horizon", "30d", "--json")
    assert ref.returncode == 0, ref.stderr
    measures = {f"{m['perspective']}.{m['basis']}.{m['measure']}" + (f".{m['level']:g}" if m.get("level") is not None
                                                                     else ""): m
                for m in json.loads(ref.stdout)["measures"]}
    shown = page.locator("#measures td[data-measure]")
    assert shown.count() == 16
    checked = 0
    for i in range(shown.count()):
        td = shown.nth(i)
        m = measures[str(td.get_attribute("data-measure"))]
        assert float(str(td.get_attribute("data-value"))) == m["value"]
        assert td.inner_text() == f"{format_usd(m['value'])} ± {format_usd(m['std_error'])}"
        checked += 1
    assert checked == 16 and any(m["value"] > 0 for m in measures.values())
    assert page.locator("#positions tbody tr").count() > 0


def test_a_full_analysis_shows_stress_levers_and_downloads_its_report(served: tuple[Server, str],
                                                                      browser_page: Any) -> None:
    srv, _ = served
    page, seen = browser_page
    job = _submit_book(page, seen, srv.base, "report", 1000, 3, "30d")
    poll_until(page, "() => document.querySelectorAll('#stress .js-plotly-plot svg.main-svg').length > 0")
    drawn = page.evaluate(PLOTS)
    assert len(drawn) >= 2 and all(d["svg"] > 0 for d in drawn)
    assert page.locator("ul.advice[data-party='holder'] li").count() > 0
    assert page.locator("ul.advice[data-party='venue'] li").count() > 0
    assert page.locator("#levers tbody tr").count() > 1
    # the page draws the analysis the API serves beside the result (the result is `seqrisk report --json`'s)
    api = json.loads(page.evaluate(f"() => fetch('/api/v1/jobs/{job}/analysis').then(r => r.text())"))
    assert api["kind"] == "seqrisk.analysis" and api["stress"] and api["mitigations"]["strategies"]
    assert page.locator("#levers tbody tr").count() == len(api["mitigations"]["strategies"])
    res = json.loads(page.evaluate(f"() => fetch('/api/v1/jobs/{job}/result').then(r => r.text())"))
    assert res["schema"] == "seqrisk.report/1" and res["dependence"] == api["dependence"]
    with page.expect_download() as dl:
        page.click("#report-link")
    path = dl.value.path()
    assert dl.value.suggested_filename == f"seqrisk-report-{job}.html"
    html = Path(path).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    assert seen["errors"] == [] and seen["blocked"] == [], seen
    # the jobs page lists both jobs of the module, done, each linking to its page
    _load(page, seen, srv.base + "/jobs", plots=0)
    rows = page.locator("#jobs tbody tr").all_inner_texts()
    assert any(job in r and "report" in r and "done" in r for r in rows), rows
    assert sum("simulate" in r and "done" in r for r in rows) == 1, rows
