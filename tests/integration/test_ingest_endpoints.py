"""Endpoint quirks against a real node behind a rewriting proxy: an inconsistent replica, a node behind the
store, refused block tags, and a stalled chain seen through confirmations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from integration.anvil import Anvil, running_node
from integration.faultproxy import FaultProxy
from seqrisk.cli.app import app
from seqrisk.detect import DetectConfig
from seqrisk.ingest import Ingestor, NodeBehindError, run_detection
from seqrisk.rpc import RpcClient
from seqrisk.store import Home

pytestmark = pytest.mark.integration
HEAD = 400


@pytest.fixture(scope="module")
def node(anvil_binary: Path) -> Iterator[Anvil]:
    with running_node(HEAD, interval_s=2, chain_id=42161) as n:
        yield n


def blocks_of(calls: list[dict[str, Any]], doc: Any) -> list[dict[str, Any]]:
    """The block objects of a batch answer (those asked by number)."""
    if not isinstance(doc, list):
        return []
    return [d["result"] for d in doc if isinstance(d.get("result"), dict) and "parentHash" in d["result"]]


def test_an_inconsistent_replica_fails_over_to_the_next_endpoint(node: Anvil, tmp_path: Path) -> None:
    """A replica serves block 250 with a wrong parent hash, every time: the range is fetched from the next
    --rpc and the store equals the node's chain (the old client failed the run after three refetches)."""
    def bad_parent(calls: list[dict[str, Any]], doc: Any) -> Any:
        for b in blocks_of(calls, doc):
            if b["number"] == hex(250):
                b["parentHash"] = "0x" + "ee" * 32
        return doc
    home = Home(tmp_path / "home")
    ref = Home(tmp_path / "ref")
    with RpcClient([node.url]) as c:
        Ingestor(c, ref, "arbitrum").run(0, HEAD)
    with FaultProxy(node.url, rewrite=bad_parent) as replica, \
            RpcClient([replica.url, node.url], batch_size=50, seed=1) as c:
        r = Ingestor(c, home, "arbitrum", chunk_blocks=100, sleep=lambda s: None).run(0, HEAD)
        assert r.written == HEAD + 1 and c.failovers >= 1 and c.preferred == 1
    assert home.blocks().read("arbitrum").equals(ref.blocks().read("arbitrum"))
    # with that replica alone, the run stops with one line naming the block, and stores nothing wrong
    with FaultProxy(node.url, rewrite=bad_parent) as replica, RpcClient([replica.url], batch_size=50) as c:
        lone = Home(tmp_path / "lone")
        with pytest.raises(Exception, match="parent links keep breaking") as ei:
            Ingestor(c, lone, "arbitrum", chunk_blocks=100, sleep=lambda s: None).run(0, HEAD)
        assert ei.value.context["block"] == 250  # type: ignore[attr-defined]
        assert lone.blocks().read("arbitrum").equals(ref.blocks().read("arbitrum", 0, 199))


def behind_by(k: int) -> Callable[[list[dict[str, Any]], Any], Any]:
    """A replica ``k`` blocks behind: its eth_blockNumber and its ``latest`` are ``k`` lower."""
    def rewrite(calls: list[dict[str, Any]], doc: Any) -> Any:
        for c in calls:
            d = next((d for d in doc if d.get("id") == c["id"]), None) if isinstance(doc, list) else None
            if d is not None and c["method"] == "eth_blockNumber":
                d["result"] = hex(int(d["result"], 16) - k)
        return doc
    return rewrite


def test_a_node_behind_the_store_gets_a_plain_message_or_a_failover(node: Anvil, tmp_path: Path) -> None:
    home = tmp_path / "home"
    CliRunner().invoke(app, ["--home", str(home), "ingest", "arbitrum", "--rpc", node.url, "--from", "0", "-q"])
    before = Home(home).blocks().read("arbitrum")
    with FaultProxy(node.url, rewrite=behind_by(30)) as lagging:
        r = CliRunner().invoke(app, ["--home", str(home), "ingest", "arbitrum", "--rpc", lagging.url, "-q"])
        assert isinstance(r.exception, NodeBehindError), r.output
        assert "behind the stored head 400" in str(r.exception) and f"{lagging.url} at 370" in str(r.exception)
        assert "block range must satisfy" not in str(r.exception)
        assert Home(home).blocks().read("arbitrum").equals(before)
        # with a second endpoint that is not behind, the run uses it
        r = CliRunner().invoke(app, ["--home", str(home), "ingest", "arbitrum", "--rpc", lagging.url, "--rpc",
                                     node.url, "--json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["runs"][0]["written"] == 0
        # follow mode waits (reports it) instead of failing
        waits: list[str] = []
        rounds = []
        with RpcClient([lagging.url]) as c:
            Ingestor(c, Home(home), "arbitrum").follow(poll_s=0, stop=lambda: len(waits) >= 2, sleep=lambda s: None,
                                                       on_wait=lambda e: waits.append(str(e)), on_round=rounds.append)
        assert rounds == [] and len(waits) == 2 and "behind the stored head" in waits[0]
        with RpcClient([lagging.url]) as c, pytest.raises(NodeBehindError):
            Ingestor(c, Home(home), "arbitrum").run(401)


def test_refused_block_tags_are_asked_once_per_endpoint(node: Anvil, tmp_path: Path) -> None:
    """A node that knows no safe/finalized tags answers with an error; observing three times asks each tag
    once, and nothing waits for a retry (it used to cost 5.6 s of backoff every round)."""
    def refuse_tags(calls: list[dict[str, Any]], doc: Any) -> Any:
        for c in calls:
            if c["method"] == "eth_getBlockByNumber" and c["params"][0] in ("safe", "finalized"):
                for d in doc:
                    if d.get("id") == c["id"]:
                        d.pop("result", None)
                        d["error"] = {"code": -32000, "message": "unknown block tag"}
        return doc
    slept: list[float] = []
    with FaultProxy(node.url, rewrite=refuse_tags) as old_node, \
            RpcClient([old_node.url, node.url], sleep=slept.append) as c:
        ing = Ingestor(c, Home(tmp_path / "home"), "arbitrum")
        for _ in range(3):
            h = ing.observe()
        tag_calls = [c for batch in old_node.seen for c in batch
                     if c["method"] == "eth_getBlockByNumber" and c["params"][0] in ("safe", "finalized")]
    assert len(tag_calls) == 2 and slept == []
    assert c.refused_tags == {old_node.url: {"safe", "finalized"}}
    a, b = h.endpoints
    assert (a.observation.safe_number, b.observation.safe_number) == (None, HEAD - 32)
    assert a.head_number == b.head_number == HEAD


def test_follow_with_confirmations_reports_a_stalled_chain(anvil_factory: Callable[..., Anvil],
                                                           tmp_path: Path) -> None:
    """The store stays 5 blocks behind the head; the chain stops producing blocks; the observer's clock
    moves 60 s per round. Detection reports an ongoing downtime from the node's head block (not the
    stored one), with both ages."""
    node = anvil_factory(chain_id=42161, timestamp=1_800_000_000)
    node.rpc("anvil_mine", hex(100), hex(2))
    head_t = float(int(node.block("latest")["timestamp"], 16))
    now = [head_t + 10.0]
    home = Home(tmp_path / "home")
    seen = []
    with RpcClient([node.url]) as c:
        ing = Ingestor(c, home, "arbitrum", clock=lambda: now[0])
        ing.follow(from_block=0, confirmations=5, poll_s=60, stop=lambda: len(seen) >= 4,
                   sleep=lambda s: now.__setitem__(0, now[0] + s), on_observe=seen.append)
    assert home.blocks().head("arbitrum") == 95
    assert [h.verdict for h in seen] == ["healthy", "healthy", "stalled", "stalled"]  # 130 s old at round 3
    assert (seen[-1].age_block_s, seen[-1].age_observer_s) == (190.0, 180.0)
    ev = [e for e in run_detection(home, "arbitrum", DetectConfig()) if e.ongoing]
    assert len(ev) == 1 and ev[0].type == "downtime" and ev[0].start_utc == head_t
    assert ev[0].evidence["last_block"] == 100 and ev[0].evidence["stale_by"] == ["observer-clock", "block-clock"]
    assert (ev[0].evidence["head_age_s"], ev[0].evidence["head_age_observer_s"]) == (190.0, 180.0)


FOLLOW = """
import sys
from seqrisk.cli.app import main
main(sys.argv[1:])
"""


def test_cli_follow_with_confirmations_then_detect_shows_the_stall(anvil_factory: Callable[..., Anvil],
                                                                   tmp_path: Path) -> None:
    """The documented live setup, end to end with the real clock: `ingest --follow --confirmations 3`, a node
    that stops producing blocks, Ctrl-C, then `detect` (a 3 s threshold keeps the test short)."""
    node = anvil_factory(chain_id=42161, timestamp=int(time.time()) - 100)
    node.rpc("anvil_mine", hex(50), hex(1))
    node.rpc("evm_mine", int(time.time()))  # the head's timestamp is the wall clock
    home = tmp_path / "home"
    env = {**os.environ, "SEQRISK_HOME": str(home)}
    p = subprocess.Popen([sys.executable, "-c", FOLLOW, "ingest", "arbitrum", "--rpc", node.url, "--follow",
                          "--from", "0", "--confirmations", "3", "--poll", "1s"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(1.0)
            if Home(home).state_path.exists():
                with Home(home).state() as st:
                    n = st._conn.execute("SELECT COUNT(*) FROM head_observations").fetchone()[0]
                if n >= 6:
                    break
    finally:
        os.kill(p.pid, signal.SIGINT)
        _out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err.decode()
    assert b"Traceback" not in err
    r = CliRunner().invoke(app, ["--home", str(home), "detect", "arbitrum", "--gap-threshold", "3s", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    ongoing = [e for e in doc["events"] if e["ongoing"]]
    assert len(ongoing) == 1 and ongoing[0]["evidence"]["last_block"] == node.head()
    assert ongoing[0]["evidence"]["head_age_observer_s"] >= 3 and ongoing[0]["evidence"]["head_age_s"] >= 3
    assert doc["head"]["verdict"] == "stalled" and doc["head"]["number"] == node.head()
    assert Home(home).blocks().head("arbitrum") == node.head() - 3
