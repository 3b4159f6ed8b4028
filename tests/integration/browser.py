"""Open a local HTML file in Debian's chromium (Playwright, no browser download), offline.

Every request that is not ``file:``, ``data:`` or ``blob:`` is blocked and
recorded, so a test can assert that nothing left the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """Debian's chromium: ``$SEQRISK_CHROMIUM``, else ``chromium`` on PATH; fail clearly if absent."""
    exe = os.environ.get("SEQRISK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(exe).exists():
        pytest.fail("chromium not found: `make test` installs Debian's chromium (apt-get install chromium)")
    return exe


@dataclass
class PageVisit:
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)


def open_offline(html_path: Path, screenshot: Path, script: str) -> PageVisit:
    """Load ``html_path``, run ``script`` (a JS expression) in the page, screenshot it."""
    from playwright.sync_api import Route, sync_playwright

    visit = PageVisit()

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            visit.blocked.append(url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", guard)
            page.on("console", lambda m: visit.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: visit.console_errors.append(str(e)))
            # a generous timeout: a loaded test machine (several suites at once) parses the inlined plotly slowly
            page.goto(html_path.resolve().as_uri(), wait_until="load", timeout=300_000)
            page.wait_for_timeout(500)
            visit.checks = page.evaluate(script)
            page.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    return visit


#: JS that inspects every plotly div: its SVG, its trace count and points.
PLOT_CHECK = """() => {
  const out = {plots: []};
  for (const d of document.querySelectorAll('.plotly-graph-div')) {
    const data = d._fullData || [];
    let points = 0;
    for (const t of data) {
      const n = (t.x && t.x.length) || (t.z && t.z.length) || (t.y && t.y.length) || 0;
      points += n;
    }
    out.plots.push({id: d.id, svg: d.querySelectorAll('svg.main-svg').length, traces: data.length, points});
  }
  out.title = document.title;
  out.sections = Array.from(document.querySelectorAll('section h2')).map(h => h.textContent);
  out.text = document.body.innerText.slice(0, 4000);
  return out;
}"""


def poll_until(page: Any, fn: str) -> None:
    """Poll ``fn`` (a JS function) in the page until it returns true. Playwright's wait_for_function evaluates a
    string with eval(), which the dashboard's Content Security Policy refuses, as it should. A page that never gets
    there is stopped by the test's own timeout (pytest-timeout), not by a clock here."""
    while not page.evaluate(fn):
        page.wait_for_timeout(200)


@contextlib.contextmanager
def served_page(base: str) -> Iterator[tuple[Any, dict[str, list[str]]]]:
    """A chromium page that may reach the server at ``base`` only (every other request is blocked and recorded in
    ``seen["blocked"]``; console errors in ``seen["errors"]``): ``(page, seen)``."""
    from playwright.sync_api import Route, sync_playwright

    seen: dict[str, list[str]] = {"blocked": [], "errors": []}

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith((base + "/", "data:", "blob:")):
            route.continue_()
        else:
            seen["blocked"].append(url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            ctx.route("**/*", guard)
            page = ctx.new_page()
            page.set_default_timeout(300_000)  # a loaded test machine parses plotly slowly
            page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            yield page, seen
        finally:
            browser.close()
