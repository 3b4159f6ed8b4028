"""Ingestion, detection and the adaptive scan against a real node (anvil): exactly the injected events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from integration.anvil import Anvil, ChainBuilder, build_backfilled_chain, build_l1_postings, build_outage_chain
from seqrisk.catalog import load_catalog
from seqrisk.cli.app import app
from seqrisk.ingest import Ingestor, chain_history, config_for_chain, events_for_fit, run_detection
from seqrisk.rpc import RpcClient
from seqrisk.schemas import output_schema
from seqrisk.store import Home

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chain_a(anvil_binary: Path) -> Iterator[tuple[Anvil, dict[str, int]]]:
    node = Anvil(chain_id=42161)
    try:
        node.start()
        yield node, build_outage_chain(node)
    finally:
        node.stop()


def ts(node: Anvil, n: int) -> float:
    return float(int(node.block(n)["timestamp"], 16))


def cli(*args: str) -> dict:  # type: ignore[type-arg]
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, (r.output, r.exception)
    if "--json" not in args:
        return {"output": r.output}
    doc = json.loads(r.stdout)
    layout = output_schema(doc["schema"].split("/")[0].removeprefix("seqrisk."))  # its published JSON Schema
    assert doc["schema"] == layout["$id"] and Draft202012Validator(layout).is_valid(doc), doc["schema"]
    return doc


def test_outages_and_reorg_detected_exactly(chain_a: tuple[Anvil, dict[str, int]], tmp_path: Path) -> None:
    node, k = chain_a
    home = Home(tmp_path / "home")
    with RpcClient([node.url], batch_size=100) as c:
        ing = Ingestor(c, home, "arbitrum", chunk_blocks=256)
        r1 = ing.run(0, k["head"])
        assert r1.written == k["head"] + 1 and r1.reorgs == []
        # a reorg of depth 3 with a transaction (hashes really change), then new blocks
        old = {n: node.block(n)["hash"] for n in range(k["head"] - 3, k["head"] + 1)}
        b = ChainBuilder(node)
        node.rpc("anvil_reorg", 3, [[{"from": b.sender, "to": b.to, "value": "0x2"}, 1]])
        b.t = int(ts(node, k["head"] - 3)) + 6  # keep the original cadence after the replaced blocks
        b.tx_blocks(20, [1, 2, 3])
        r2 = ing.run(0, node.head())
    assert [e.evidence["depth"] for e in r2.reorgs] == [3]
    assert r2.written == 3 + 20
    stored = home.blocks().read("arbitrum")
    assert stored.num_rows == node.head() + 1
    for n in range(k["head"] - 3, k["head"] + 1):
        new = node.block(n)["hash"]
        assert "0x" + stored.column("hash")[n].as_py().hex() == new
        assert (new != old[n]) == (n > k["head"] - 3)
    hashes = stored.column("hash").to_pylist()
    assert stored.column("parent_hash").to_pylist()[1:] == hashes[:-1]

    cfg = config_for_chain(load_catalog().chain("arbitrum"), bucket_s=60.0)
    run_detection(home, "arbitrum", cfg)
    with home.state() as st:
        events = st.events(chain="arbitrum")
    got = sorted((e.type, e.detector) for e in events)
    assert got == [("degraded", "throughput"), ("downtime", "gap"), ("downtime", "gap"), ("reorg", "ingest-reorg")]
    gaps = [e for e in events if e.detector == "gap"]
    assert [(e.start_utc, e.end_utc) for e in gaps] == [
        (ts(node, 200), ts(node, 201)), (ts(node, 300), ts(node, 301))]
    assert gaps[0].evidence["rules"] == ["absolute", "relative"] and gaps[1].evidence["rules"] == ["relative"]
    (deg,) = [e for e in events if e.type == "degraded"]
    assert abs(deg.start_utc - ts(node, k["empty_first"] - 1)) <= 60
    assert abs(deg.end_utc - ts(node, k["empty_last"] + 1)) <= 60  # type: ignore[operator]
    (reorg,) = [e for e in events if e.type == "reorg"]
    assert reorg.evidence["first_orphaned"] == k["head"] - 2 and reorg.confidence == 1.0
    # detection again: the same events, not twice
    run_detection(home, "arbitrum", cfg)
    with home.state() as st:
        assert len(st.events(chain="arbitrum")) == 4
    # the statistics' view: detected events and the exposure window
    evs, window = chain_history(home, "arbitrum")
    assert len(evs) == 4 and window is not None
    assert window[0].timestamp() == ts(node, 0) and window[1].timestamp() == ts(node, node.head())
    evs2, exposures = events_for_fit(home)
    assert set(exposures) == {"arbitrum"} and len(evs2) == 4


def test_ingest_is_idempotent_and_observes_heads(chain_a: tuple[Anvil, dict[str, int]], tmp_path: Path) -> None:
    node, _ = chain_a
    home = Home(tmp_path / "home")
    with RpcClient([node.url], batch_size=64, concurrency=2) as c:
        ing = Ingestor(c, home, "arbitrum", chunk_blocks=300)
        head = node.head()
        assert ing.run(0, head).written == head + 1
        parts = home.blocks().partitions("arbitrum")
        again = ing.run(0, head)
        assert again.written == 0 and home.blocks().partitions("arbitrum") == parts
        obs = ing.observe()
    assert obs.head_number == head and obs.best is not None and obs.best.observation.safe_number == head - 32
    assert obs.best.observation.safe_time_utc == ts(node, head - 32) and obs.verdict in ("healthy", "stalled")
    with home.state() as st:
        assert st.cursor("arbitrum") == (head + 1, node.block(head)["hash"])


def test_scan_on_a_real_node(chain_a: tuple[Anvil, dict[str, int]], home: Path) -> None:
    node, k = chain_a
    doc = cli("scan", "arbitrum", "--rpc", node.url, "--from", "0", "--to", str(k["head"]),
              "--threshold", "120s", "--block-time", "2", "--full", "--json")
    assert [g["block"] for g in doc["gaps"]] == [200] and doc["full_scan_agrees"] is True
    assert doc["calls"] < doc["full_scan_calls"] / 10
    doc = cli("scan", "arbitrum", "--rpc", node.url, "--from", "0", "--to", str(k["head"]),
              "--threshold", "30s", "--min-interval", "1", "--full", "--json")
    assert [g["block"] for g in doc["gaps"]] == [200, 300] and doc["full_scan_agrees"] is True


def test_backfilled_stall_and_l1_posting_delay_via_cli(anvil_factory: Callable[..., Anvil], home: Path) -> None:
    l2 = anvil_factory(chain_id=8453)
    l1 = anvil_factory(chain_id=1)
    kb = build_backfilled_chain(l2)
    kl = build_l1_postings(l1)
    from integration.anvil import INBOX
    run = cli("ingest", "base", "--rpc", l2.url, "--from", "0", "--chunk", "128", "--l1-rpc", l1.url,
              "--batch-inbox", INBOX, "--l1-from", "0", "--json")
    assert run["runs"][0]["written"] == kb["head"] + 1 and run["l1"]["postings"] == 40
    doc = cli("detect", "base", "--system-txs", "0", "--bucket", "60s", "--posting-gap", "10m", "--json")
    got = [(e["type"], e["detector"]) for e in doc["events"]]
    assert sorted(got) == [("da_delay", "batch-cadence"), ("downtime", "backfill")]
    stall = next(e for e in doc["events"] if e["detector"] == "backfill")
    assert stall["evidence"]["first_empty_block"] == kb["empty_first"]
    assert stall["evidence"]["last_empty_block"] == kb["empty_last"]
    assert stall["duration_s"] == ts(l2, kb["empty_last"] + 1) - ts(l2, kb["empty_first"] - 1)
    assert stall["confidence"] > 0.99
    delay = next(e for e in doc["events"] if e["type"] == "da_delay")
    assert delay["duration_s"] == ts(l1, kl["first_after_gap"]) - ts(l1, kl["last_before_gap"])
    text = cli("detect", "base", "--system-txs", "0", "--bucket", "60s", "--posting-gap", "10m")["output"]
    assert "Events detected on base" in text and "backfill" in text and "batch-cadence" in text
    # the same chain without the catalog's back-fill flag: the empty run is only a throughput collapse
    doc2 = cli("detect", "base", "--system-txs", "0", "--bucket", "60s", "--posting-gap", "10m",
               "--not-backfilled", "--no-write", "--json")
    assert sorted(e["type"] for e in doc2["events"]) == ["da_delay", "degraded"]


def test_since_resume_and_follow(anvil_factory: Callable[..., Anvil], home: Path) -> None:
    node = anvil_factory()
    b = ChainBuilder(node)
    b.tx_blocks(120, 5)
    since = ts(node, 70)
    from datetime import UTC, datetime
    iso = datetime.fromtimestamp(since - 2, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = cli("ingest", "optimism", "--rpc", node.url, "--chain-id", "31337", "--since", iso, "--to", "100",
              "--json")["runs"][0]
    assert (run["from"], run["to"], run["written"]) == (70, 100, 31)
    # no range: resume from the cursor to the head; then again: up to date
    run = cli("ingest", "optimism", "--rpc", node.url, "--chain-id", "31337", "--json")["runs"][0]
    assert (run["from"], run["written"]) == (101, 20)
    run = cli("ingest", "optimism", "--rpc", node.url, "--chain-id", "31337", "--json")["runs"][0]
    assert (run["from"], run["written"]) == (121, 0)
    # follow: new blocks before each round; two rounds
    b.tx_blocks(7, 5)
    heads: list[int] = []
    with RpcClient([node.url]) as c:
        ing = Ingestor(c, Home(home), "optimism")

        def on_round(r: object) -> None:
            heads.append(int(Home(home).blocks().head("optimism") or -1))
            b.tx_blocks(7, 5)
        ing.follow(poll_s=0.0, stop=lambda: len(heads) >= 2, sleep=lambda s: None, on_round=on_round)
    assert heads == [127, 134]
    t = Home(home).blocks().read("optimism")
    assert t.column("number").to_pylist() == list(range(70, 135))
    with Home(home).state() as st:
        assert st._conn.execute("SELECT COUNT(*) FROM head_observations WHERE chain='optimism'").fetchone()[0] >= 1


def test_bad_l1_options_stop_before_any_request(tmp_path: Path) -> None:
    from seqrisk.exceptions import UsageError

    dead = "http://127.0.0.1:9"  # nothing listens: a request would fail with a transport error (exit 1)
    base = ["--home", str(tmp_path), "ingest", "base", "--rpc", dead, "--from", "0", "--chain-id", "31337"]
    for extra, match in ((["--l1-rpc", dead], "need --batch-inbox (a private network has no catalog addresses)"),
                         (["--batch-inbox", "0x" + "00" * 20], "L1 postings need --l1-rpc"),
                         (["--l1-rpc", "notaurl", "--batch-inbox", "0x" + "00" * 20], "http:// or https://")):
        r = CliRunner().invoke(app, base + extra)
        assert isinstance(r.exception, UsageError) and r.exception.exit_code == 2, r.output
        assert match in str(r.exception)


def test_scan_and_ingest_ranges_past_the_head_are_usage_errors(chain_a: tuple[Anvil, dict[str, int]],
                                                               tmp_path: Path) -> None:
    from seqrisk.exceptions import UsageError

    node, _ = chain_a
    home = ["--home", str(tmp_path)]
    local = ["--chain-id", "42161"]  # chain_a serves Arbitrum's id (the catalog's, once it has registry facts)
    for args, match in ((["scan", "arbitrum", "--rpc", node.url, *local, "--since", "2100-01-01"],
                         "no block at or after"),
                        (["ingest", "arbitrum", "--rpc", node.url, *local, "--since", "2100-01-01"],
                         "no block at or after"),
                        (["scan", "arbitrum", "--rpc", node.url, *local, "--from", "100", "--to", "50"], "is empty"),
                        (["scan", "arbitrum", "--rpc", "http://127.0.0.1:9", "--from", "0", "--threshold", "30s",
                          "--min-interval", "30"], "--threshold > --min-interval")):
        r = CliRunner().invoke(app, home + args)
        assert isinstance(r.exception, UsageError), (args, r.output, r.exception)
        assert match in str(r.exception), args
    assert not (tmp_path / "blocks" / "arbitrum").exists() or not any((tmp_path / "blocks" / "arbitrum").iterdir())
