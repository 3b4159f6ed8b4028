"""``seqrisk monitor`` against real anvil chains, Chainlink's uptime feed, webhook receivers and a scrape.

Chains (each an anvil mining a block every second): ``base`` served by a primary, a replica 40 blocks
behind that never catches up, and an endpoint nobody listens on, with a feed address that holds no code;
``optimism`` with Chainlink's uptime feed deployed and flipped; an L1 where ``base`` posts batches to its
inbox. Receivers: one that checks signatures and takes everything, one that answers 500 forever. Every wait
is on a condition with a generous timeout, never on the clock's speed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.anvil import REPO, Anvil, free_port
from integration.monitor_parts import (
    MonitorProcess,
    Receiver,
    deploy_uptime_feed,
    flip_uptime_feed,
    receivers,
    seqrisk_cli,
    wait_for,
)

pytestmark = pytest.mark.integration

SECRET = "integration-secret"
L1_SENDER = "0x000000000000000000000000000000000000bEEF"
INBOX = "0xfF00000000000000000000000000000000008453"
NO_CODE = "0x00000000000000000000000000000000DeaDBeef"
#: A chain mining every second, and a status model told so (its prior for slow blocks a second too).
STATUS = {"block_time_s": 1.0, "prior_slow_mean_s": 1.0}


def write_config(path: Path, chains: list[dict[str, Any]], hooks: list[dict[str, Any]], **extra: Any) -> Path:
    doc = {"interval_s": "0.5s", "timeout_s": "0.5s", "chains": chains, "status": STATUS,
           "alerts": {"raise_rounds": 2, "clear_rounds": 2, "webhooks": hooks,
                      "dead_letter": str(path.parent / "dead.jsonl")},
           "nowcast": {"books": [str(REPO / "examples" / "desk.yaml")], "paths": 2000}, **extra}
    path.write_text(yaml.safe_dump(doc))
    return path


def test_monitor_watches_anvil_chains_flags_the_stall_alerts_once_and_survives_a_restart(
        anvil_factory: Callable[..., Anvil], tmp_path: Path) -> None:
    base = anvil_factory(chain_id=8453, args=("--block-time", "1"))
    base.rpc("anvil_mine", hex(60))
    replica = anvil_factory(chain_id=8453, args=("--no-mining",))
    replica.rpc("anvil_mine", hex(20))  # 40+ blocks behind the primary, and stays there
    op = anvil_factory(chain_id=10, args=("--block-time", "1"))
    l1 = anvil_factory(chain_id=1, args=("--block-time", "1"))
    feed = deploy_uptime_feed(op, L1_SENDER)
    l1.rpc("eth_sendTransaction", {"from": l1.accounts()[0], "to": INBOX, "value": "0x0"})
    dead_port = free_port()
    with receivers(Receiver(secret=SECRET.encode()), Receiver(status=500)) as (ok, broken):
        cfg = write_config(tmp_path / "monitor.yaml", [
            {"id": "base", "endpoints": [base.url, replica.url, f"http://127.0.0.1:{dead_port}"], "feed": NO_CODE,
             "inbox": INBOX.lower(), "posters": [l1.accounts()[0]]},
            {"id": "optimism", "endpoints": [op.url], "feed": feed, "inbox": "none"},
        ], [{"url": ok.url, "name": "ok", "secret_env": "HOOK_SECRET"},
            {"url": broken.url, "name": "broken", "retries": 2, "backoff_s": "0.1s"}],
            l1={"endpoints": [l1.url], "interval_s": "0.5s", "lookback_blocks": 200})
        home = tmp_path / "home"
        mon = MonitorProcess(home, cfg, free_port(), tmp_path / "monitor.log", {"HOOK_SECRET": SECRET})
        try:
            mon.start()
            # healthy, despite a lagging replica, a dead endpoint and a feed address without code
            wait_for("both chains scored healthy", lambda: all(
                mon.metric("seqrisk_status_state", chain=c, state="healthy") == 1.0 for c in ("base", "optimism")))
            wait_for("the lagging replica's lag", lambda: (mon.metric(
                "seqrisk_replica_lag_blocks", chain="base", endpoint=replica.url) or 0) > 6)
            assert mon.metric("seqrisk_endpoint_up", chain="base", endpoint=f"http://127.0.0.1:{dead_port}") == 0.0
            wait_for("feed failures counted", lambda: (mon.metric("seqrisk_feed_failures_total", chain="base")
                                                       or 0) >= 2)
            wait_for("the L1 batch age", lambda: mon.metric("seqrisk_l1_batch_age_seconds", chain="base") is not None)
            wait_for("the feed read", lambda: mon.metric("seqrisk_uptime_feed_answer", chain="optimism") == 0.0)

            # Chainlink's feed flipped to down while optimism's head keeps moving: read, and scored degraded
            flip_uptime_feed(op, feed, L1_SENDER, True, int(op.block("latest")["timestamp"], 16))
            wait_for("the feed's down answer", lambda: mon.metric("seqrisk_uptime_feed_answer", chain="optimism")
                     == 1.0)
            wait_for("optimism degraded by the feed", lambda: mon.metric(
                "seqrisk_status_state", chain="optimism", state="degraded") == 1.0)
            flip_uptime_feed(op, feed, L1_SENDER, False, int(op.block("latest")["timestamp"], 16))
            wait_for("the feed back up", lambda: mon.metric("seqrisk_uptime_feed_answer", chain="optimism") == 0.0)

            # base's sequencer stops: flagged down with a probability, alerted once, signed, with the now-cast
            assert ok.alerts("base") == []
            base.rpc("evm_setIntervalMining", 0)
            stopped_head = base.head()
            (down,) = wait_for("base's down alert", lambda: ok.alerts("base", "down"), timeout_s=180)
            assert all(r.signature_ok for r in ok.got)
            assert down["p_down"] >= 0.9 and down["status"]["head_number"] == stopped_head
            assert 0 < down["detection_latency_s"] < 120  # Chainlink's rule alone would wait 120 s
            nc = down["nowcast"]
            assert nc["chain"] == "base" and [r["at"] for r in nc["p_still_down"]][:3] == ["+15m", "+1h", "+6h"]
            (book,) = nc["books"]
            assert book["book"] == "desk" and book["es_usd"] >= book["expected_loss_usd"] > 0
            assert down["alertmanager"][-1]["labels"]["alertname"] == "L2SequencerDown"
            assert ok.alerts("optimism", "down") == []
            wait_for("metrics of the alert", lambda: (mon.metric("seqrisk_alerts_sent_total", receiver="ok") or 0) >= 1
                     and (mon.metric("seqrisk_alerts_failed_total", receiver="broken") or 0) >= 1)
            assert mon.metric("seqrisk_detection_latency_seconds", chain="base") == pytest.approx(
                down["detection_latency_s"], abs=0.01)
            assert mon.metric("seqrisk_status_p_down", chain="base") >= 0.9
            wait_for("the dead letter", lambda: (tmp_path / "dead.jsonl").exists())
            dead = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines()]
            assert {d["receiver"] for d in dead} == {"broken"} and all(d["attempts"] == 3 for d in dead)

            # the CLI reads the store while the monitor writes it
            st = seqrisk_cli(home, "monitor", "status", "--json")
            assert st.returncode == 3, st.stderr
            doc = json.loads(st.stdout)
            assert doc["schema"] == "seqrisk.monitor.status/1"
            by = {c["chain"]: c for c in doc["chains"]}
            assert by["base"]["alerted_state"] == "down" and by["optimism"]["alerted_state"] in ("healthy", "degraded")

            # restart while base is still down: no second down alert
            assert mon.stop() == 0
            rows_before = _observations(home)
            mon.start()
            wait_for("rounds after the restart", lambda: _observations(home) >= rows_before + 10)
            assert len(ok.alerts("base", "down")) == 1
            base.rpc("evm_setIntervalMining", 1)
            wait_for("base resolved", lambda: ok.alerts("base", "resolved"), timeout_s=120)
            assert len(ok.alerts("base", "down")) == 1
        finally:
            code = mon.stop()
        assert "ALERT down base" in mon.ended_cleanly(code)
    with_events = seqrisk_cli(home, "monitor", "status", "--json")
    assert with_events.returncode == 0  # everything cleared
    events = _events(home)
    assert len(events) == 1 and events[0][1] is not None and events[0][1] > events[0][0]


def _observations(home: Path) -> int:
    import sqlite3

    con = sqlite3.connect(home / "state.sqlite")
    try:
        return int(con.execute("SELECT COUNT(*) FROM observations WHERE chain='base'").fetchone()[0])
    finally:
        con.close()


def _events(home: Path) -> list[tuple[float, float | None]]:
    import sqlite3

    con = sqlite3.connect(home / "state.sqlite")
    try:
        return [(float(r[0]), r[1]) for r in con.execute(
            "SELECT start_utc, end_utc FROM events WHERE detector='monitor' AND chain='base'")]
    finally:
        con.close()


def test_a_reorg_raises_nothing_and_a_back_filled_stall_is_caught_by_the_observers_clock(
        anvil_factory: Callable[..., Anvil], tmp_path: Path) -> None:
    node = anvil_factory(chain_id=8453, args=("--block-time", "1"))
    node.rpc("anvil_mine", hex(30))  # history deep enough to reorg
    with receivers(Receiver(secret=SECRET.encode())) as (ok,):
        cfg = write_config(tmp_path / "monitor.yaml", [{"id": "base", "endpoints": [node.url], "feed": "none",
                                                        "inbox": "none"}],
                           [{"url": ok.url, "name": "ok", "secret_env": "HOOK_SECRET"}],
                           nowcast={"paths": 200})
        home = tmp_path / "home"
        mon = MonitorProcess(home, cfg, free_port(), tmp_path / "monitor.log", {"HOOK_SECRET": SECRET})
        try:
            mon.start()
            wait_for("base healthy", lambda: mon.metric("seqrisk_status_state", chain="base", state="healthy") == 1)
            # a reorg of the last 5 blocks: the head is replaced, not stalled
            before = node.head()
            node.rpc("anvil_reorg", 5, [])
            wait_for("the head past the reorg", lambda: (mon.metric("seqrisk_head_number", chain="base") or 0)
                     >= before + 5)
            assert ok.got == [] and mon.metric("seqrisk_status_state", chain="base", state="healthy") == 1
            # the sequencer stalls; when it comes back it back-fills the missed blocks, a second apart
            node.rpc("evm_setIntervalMining", 0)
            last = node.block("latest")
            n0, t0 = int(last["number"], 16), int(last["timestamp"], 16)
            wait_for("the down alert", lambda: ok.alerts("base", "down"), timeout_s=180)
            silent = mon.metric("seqrisk_head_age_seconds", chain="base", clock="observer") or 0
            for k in range(1, int(silent) + 2):
                node.rpc("evm_mine", t0 + k)
            node.rpc("evm_setIntervalMining", 1)
            wait_for("the resolution", lambda: ok.alerts("base", "resolved"), timeout_s=120)
        finally:
            assert mon.stop() == 0
    # the block timestamps show no gap at all across the stall ...
    times = [int(node.block(n)["timestamp"], 16) for n in range(n0, n0 + int(silent) + 2)]
    assert max(b - a for a, b in itertools.pairwise(times)) <= 1
    # ... yet the monitor saw the head stand still and stored the outage as a detected event
    ((start, end),) = _events(home)
    assert end is not None and end - start >= silent - 1
    assert [d["kind"] for d in ok.alerts("base")].count("down") == 1
