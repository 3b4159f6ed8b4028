"""End to end: a real `seqrisk monitor` watches an anvil chain, a real `seqrisk serve` on the same home serves the
dashboard, and Debian's chromium (Playwright, offline: every request elsewhere is blocked) shows the overview.

The chain mines a block a second; the test stops mining through anvil's RPC (``evm_setIntervalMining 0``): the
monitor marks the chain down with its probability, and the open page follows through server-sent events, without
a reload; mining resumes and the page shows the chain healthy again. Every wait is on a condition (the test's
pytest timeout bounds it), never on the clock's speed. About a quarter of a minute: three real processes and a
browser, and the status model's own time to be 90 % sure a one-second chain is down.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("playwright")

from integration.anvil import REPO, Anvil, free_port
from integration.monitor_parts import MonitorProcess
from serve_util import start

from .browser import poll_until, served_page

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

#: a chain mining every second, and a status model told so; down from P(down) >= 90 %; a prior of frequent outages
#: (thousands a year) makes the model sure of one after seconds of silence rather than tens
STATUS = {"block_time_s": 1.0, "prior_slow_mean_s": 1.0, "down_at": 0.9, "downtime_rate_per_year": 5000.0}
MODEL = REPO / "examples" / "outage-model.json"  # the monitor's model from a file: no fit at its start
ROW = "document.querySelector('tr[data-chain=\"base\"]')"


def _label_is(label: str) -> str:
    return f"() => {ROW}.getAttribute('data-label') === '{label}'"


def _shown_p(page: Any) -> float:
    """The overview's P(down) cell of base, as a fraction."""
    text = page.locator('tr[data-chain="base"] [data-field="p_down"]').inner_text()
    assert text.endswith("%"), text
    return float(text[:-1]) / 100


def test_the_overview_follows_a_real_monitor_marking_an_anvil_chain_down_and_up(
        anvil_factory: Callable[..., Anvil], tmp_path: Path) -> None:
    node = anvil_factory(chain_id=8453, args=("--block-time", "1"))
    node.rpc("anvil_mine", hex(30))
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(yaml.safe_dump({
        "interval_s": "0.5s", "timeout_s": "0.5s", "status": STATUS,
        "nowcast": {"paths": 200, "model": str(MODEL)},
        "chains": [{"id": "base", "endpoints": [node.url], "feed": "none", "inbox": "none"}]}))
    home = tmp_path / "home"
    mon = MonitorProcess(home, cfg, free_port(), tmp_path / "monitor.log", {})
    srv = None
    try:
        mon.start()
        srv = start(home, "--workers", "0", env={"SEQRISK_SERVE_STATUS_POLL_S": "0.5s"})
        with served_page(srv.base) as (page, seen):
            resp = page.goto(srv.base + "/", wait_until="load")
            assert resp is not None and resp.status == 200
            poll_until(page, "() => document.getElementById('stream-state').textContent.startsWith('live')")
            poll_until(page, _label_is("healthy"))  # the monitor's rounds, as they come
            page.evaluate("() => { window.seqriskSameLoad = true; }")  # gone if the page reloads
            healthy_p = _shown_p(page)
            assert healthy_p < STATUS["down_at"]

            node.rpc("evm_setIntervalMining", 0)  # the sequencer stops
            stopped = node.head()
            poll_until(page, _label_is("down"))
            down_p = _shown_p(page)
            assert down_p >= STATUS["down_at"] > healthy_p
            assert page.locator('tr[data-chain="base"] [data-field="label"]').inner_text() == "down"
            assert page.evaluate("() => window.seqriskSameLoad === true")  # followed by the stream
            api = json.loads(page.evaluate("() => fetch('/api/v1/status/base').then(r => r.text())"))
            live = api["status"]
            assert live["label"] == "down" and live["head_number"] == stopped, api
            assert live["p_down"] >= STATUS["down_at"] and api["nowcast"]["chain"] == "base"
            assert api["transitions"][0]["to"] == "down"  # the change the monitor recorded

            node.rpc("evm_setIntervalMining", 1)  # mining resumes
            poll_until(page, _label_is("healthy"))
            assert _shown_p(page) < STATUS["down_at"]
            assert page.evaluate("() => window.seqriskSameLoad === true")
            assert seen == {"blocked": [], "errors": []}, seen
    finally:
        if srv is not None:
            srv.stop()
        code = mon.stop()
    mon.ended_cleanly(code)
