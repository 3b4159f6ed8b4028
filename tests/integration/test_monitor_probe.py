"""``seqrisk monitor`` through an outage on anvil: probe transactions, the refreshed now-cast, recovery.

One anvil mining a block every second stands for ``base``. The monitor sends it probe transactions signed
beforehand with consecutive nonces (anvil signs them for its first account, ``eth_signTransaction``) and
looks for their receipts. When the test stops mining (anvil's ``evm_setIntervalMining 0``) the chain is
"down": a probe is accepted but not included, and the status weighs it. Receivers: one that checks
signatures (the seqrisk document), one in Alertmanager's form. The outage lasts long enough for the
now-cast to be refreshed several times (``refresh_s`` 1 s), then mining resumes. The test runs the real
monitor process through a real stall, which is why it takes some 30 to 60 s; every wait is on a condition.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from Crypto.Hash import keccak

from integration.anvil import REPO, Anvil, free_port
from integration.monitor_parts import MonitorProcess, Receiver, receivers, seqrisk_cli, wait_for

pytestmark = pytest.mark.integration

SECRET = "probe-secret"
PROBES = 120  # more than the run can use at one a second: one is always left to wait in the pool


def signed_probes(node: Anvil, n: int) -> tuple[list[str], list[str]]:
    """``n`` zero-value self-transfers of the node's first account, consecutive nonces; (raw, hash)."""
    acc = node.accounts()[0]
    nonce = int(node.rpc("eth_getTransactionCount", acc, "latest"), 16)
    raws = [node.rpc("eth_signTransaction", {"from": acc, "to": acc, "value": "0x0", "nonce": hex(nonce + i),
                                             "gas": hex(21000), "maxFeePerGas": hex(100 * 10**9),
                                             "maxPriorityFeePerGas": hex(10**9), "chainId": hex(node.chain_id)})
            for i in range(n)]
    hashes = ["0x" + keccak.new(digest_bits=256, data=bytes.fromhex(r[2:])).hexdigest() for r in raws]
    return raws, hashes


def firing(am: Receiver, alertname: str) -> list[dict[str, Any]]:
    """Every firing alert named ``alertname`` the Alertmanager receiver got, in order."""
    return [a for r in list(am.got) for a in r.json() if a["labels"]["alertname"] == alertname and "endsAt" not in a]


def test_probe_inclusion_and_the_nowcast_refreshed_through_an_outage(anvil_factory: Callable[..., Anvil],
                                                                    tmp_path: Path) -> None:
    node = anvil_factory(chain_id=8453, args=("--block-time", "1"))
    raws, hashes = signed_probes(node, PROBES)

    def included(h: str) -> bool:
        return node.rpc("eth_getTransactionReceipt", h) is not None

    with receivers(Receiver(secret=SECRET.encode()), Receiver()) as (ok, am):
        cfg = tmp_path / "monitor.yaml"
        cfg.write_text(yaml.safe_dump({
            "interval_s": "0.5s", "timeout_s": "0.5s",
            "chains": [{"id": "base", "endpoints": [node.url], "feed": "none", "inbox": "none",
                        "probe": {"raw_tx": raws, "every_s": "1s", "timeout_s": "1s"}}],
            "status": {"block_time_s": 1.0, "prior_slow_mean_s": 1.0},
            "alerts": {"raise_rounds": 2, "clear_rounds": 2, "webhooks": [
                {"url": ok.url, "name": "ok", "secret_env": "HOOK_SECRET"},
                {"url": am.url, "name": "am", "format": "alertmanager"}]},
            "nowcast": {"books": [str(REPO / "examples" / "desk.yaml")], "paths": 500, "refresh_s": "1s"}}))
        home = tmp_path / "home"
        mon = MonitorProcess(home, cfg, free_port(), tmp_path / "monitor.log", {"HOOK_SECRET": SECRET})
        try:
            mon.start()
            # the sequencer includes the probes the monitor sends
            wait_for("two probes included", lambda: included(hashes[1]))
            assert mon.metric("seqrisk_probe_ok", chain="base") == 1.0
            assert mon.metric("seqrisk_status_state", chain="base", state="healthy") == 1.0
            assert ok.got == [] and am.got == []

            # the sequencer stops: the next probe is accepted and waits, and the status weighs the wait
            node.rpc("evm_setIntervalMining", 0)
            stopped = node.head()
            (down,) = wait_for("the down alert", lambda: ok.alerts("base", "down"), timeout_s=180)
            assert all(r.signature_ok for r in ok.got)
            assert down["p_down"] >= 0.9 and down["status"]["head_number"] == stopped
            assert any(r.startswith("probe transaction accepted, not included") for r in down["status"]["reasons"])
            waiting = [h for h in hashes if not included(h)]
            assert len(waiting) < PROBES - 1  # probes were used
            pending = node.rpc("eth_getTransactionByHash", waiting[0])
            assert pending is not None and pending["blockNumber"] is None  # sent by the monitor, in the pool
            assert (mon.metric("seqrisk_probe_pending_seconds", chain="base") or 0) > 0
            # the alert carries the now-cast and the book's conditional loss
            nc = down["nowcast"]
            assert nc["chain"] == "base" and nc["down_for_s"] == pytest.approx(down["status"]["down_for_s"])
            ps = [r["p"] for r in nc["p_still_down"][:3]]
            assert all(1 >= a >= b > 0 for a, b in itertools.pairwise(ps))
            (book,) = nc["books"]
            assert book["book"] == "desk" and book["es_usd"] >= book["expected_loss_usd"] > 0
            assert 0 <= book["p_liquidation"] <= 1

            # while the outage lasts the now-cast is refreshed and the firing alert re-posted to Alertmanager
            first = firing(am, "L2SequencerDown")[0]
            assert json.loads(first["annotations"]["nowcast"])["down_for_s"] == nc["down_for_s"]
            later = wait_for("two refreshed firing alerts", lambda: firing(am, "L2SequencerDown")[2:])
            fresh = [json.loads(a["annotations"]["nowcast"]) for a in later if "nowcast" in a["annotations"]]
            assert fresh and all(f["down_for_s"] > nc["down_for_s"] for f in fresh)
            assert all(a["startsAt"] == first["startsAt"] for a in later)  # the same alert, not a new incident
            # the store holds the latest now-cast for the CLI
            st = seqrisk_cli(home, "monitor", "status", "--json")
            assert st.returncode == 3, st.stderr
            (row,) = json.loads(st.stdout)["chains"]
            assert row["alerted_state"] == "down" and row["nowcast"]["down_for_s"] > nc["down_for_s"]
            assert (mon.metric("seqrisk_nowcast_p_still_down", chain="base", horizon="+15m") or 0) > 0

            # mining resumes: the waiting probe is included, the alert resolves in both forms
            node.rpc("evm_setIntervalMining", 1)
            wait_for("the resolution", lambda: ok.alerts("base", "resolved"), timeout_s=120)
            assert included(waiting[0])
            wait_for("Alertmanager told the alert ended", lambda: any(
                a["labels"]["alertname"] == "L2SequencerDown" and "endsAt" in a for r in list(am.got)
                for a in r.json()))
            wait_for("no probe waiting", lambda: mon.metric("seqrisk_probe_pending_seconds", chain="base") == 0.0)
            assert len(ok.alerts("base", "down")) == 1
        finally:
            code = mon.stop()
    assert "probe transaction" in mon.ended_cleanly(code)
