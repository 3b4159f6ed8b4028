"""Reorg repair in every entry point: after a reorg found by a continuing run, a ``--from`` run that starts
inside the orphaned range, or a ``--follow`` round (with and without confirmations), the store equals the
node's canonical chain, block for block, with no hole, and the reorg is recorded once with its true depth."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from integration.anvil import Anvil
from seqrisk.cli.app import app
from seqrisk.ingest import Ingestor
from seqrisk.rpc import RpcClient
from seqrisk.store import Home

pytestmark = pytest.mark.integration

STORED = 500   # blocks 0..500 stored before the reorg
DEPTH = 10     # the node replaces 491..500
NEW = 5        # and then mines 501..505
CHAIN = "arbitrum"


def canonical(node: Anvil, head: int) -> list[tuple[int, int, str, str]]:
    out = []
    for n in range(head + 1):
        b = node.block(n)
        out.append((n, int(b["timestamp"], 16), b["hash"], b["parentHash"]))
    return out


def stored(home: Path) -> list[tuple[int, int, str, str]]:
    t = Home(home).blocks().read(CHAIN, columns=("number", "timestamp", "hash", "parent_hash"))
    return [(r["number"], r["timestamp"], "0x" + r["hash"].hex(), "0x" + r["parent_hash"].hex()) for r in t.to_pylist()]


def cli(*args: str) -> dict:  # type: ignore[type-arg]
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, (r.output, r.exception)
    return json.loads(r.output)  # type: ignore[no-any-return]


def reorged(anvil_factory: Callable[..., Anvil], base: Path) -> tuple[Anvil, int]:
    """A node whose blocks 0..500 are in ``base`` (a home), then reorganised at depth 10 and grown by 5."""
    node = anvil_factory(chain_id=42161)
    node.rpc("anvil_mine", hex(STORED), hex(2))
    with RpcClient([node.url], batch_size=100) as c:
        Ingestor(c, Home(base), CHAIN, chunk_blocks=128).run(0, STORED)
    old = {n: node.block(n)["hash"] for n in range(STORED - DEPTH, STORED + 1)}
    sender = node.accounts()[0]
    node.rpc("anvil_reorg", DEPTH, [[{"from": sender, "to": "0x00000000000000000000000000000000000000aa",
                                      "value": "0x7"}, 0]])
    node.rpc("anvil_mine", hex(NEW), hex(2))
    changed = [n for n in old if node.block(n)["hash"] != old[n]]
    assert changed == list(range(STORED - DEPTH + 1, STORED + 1)), changed  # the node really replaced 491..500
    return node, node.head()


def check(home: Path, node: Anvil, head: int) -> None:
    assert stored(home) == canonical(node, head)
    assert Home(home).blocks().ranges(CHAIN) == [(0, head)]
    with Home(home).state() as st:
        (ev,) = st.events(chain=CHAIN, type="reorg")
        assert st.cursor(CHAIN) == (head + 1, node.block(head)["hash"])
    assert ev.evidence["depth"] == DEPTH and ev.evidence["first_orphaned"] == STORED - DEPTH + 1


def test_continuing_ingest_repairs_a_reorg_below_its_start(anvil_factory: Callable[..., Anvil], tmp_path: Path) -> None:
    home = tmp_path / "home"
    node, head = reorged(anvil_factory, home)
    doc = cli("--home", str(home), "ingest", CHAIN, "--rpc", node.url, "--json")  # from the cursor (501)
    (run,) = doc["runs"]
    assert [r["depth"] for r in run["reorgs"]] == [DEPTH]
    assert (run["from"], run["to"], run["written"]) == (STORED - DEPTH + 1, head, DEPTH + NEW)
    check(home, node, head)


def test_from_inside_the_orphaned_range_repairs_from_the_ancestor(anvil_factory: Callable[..., Anvil],
                                                                  tmp_path: Path) -> None:
    home = tmp_path / "home"
    node, head = reorged(anvil_factory, home)
    doc = cli("--home", str(home), "ingest", CHAIN, "--rpc", node.url, "--from", str(STORED - 5), "--json")
    assert [r["depth"] for r in doc["runs"][0]["reorgs"]] == [DEPTH]
    check(home, node, head)


def test_a_reorg_without_new_blocks_is_found_by_a_continuing_run(anvil_factory: Callable[..., Anvil],
                                                                 tmp_path: Path) -> None:
    """The node's height did not change (anvil_reorg keeps it): the stored head is checked all the same."""
    home = tmp_path / "home"
    node = anvil_factory(chain_id=42161)
    node.rpc("anvil_mine", hex(100), hex(2))
    cli("--home", str(home), "ingest", CHAIN, "--rpc", node.url, "--from", "0", "--json")
    node.rpc("anvil_reorg", 4, [[{"from": node.accounts()[0], "to": "0x00000000000000000000000000000000000000aa",
                                  "value": "0x9"}, 1]])
    doc = cli("--home", str(home), "ingest", CHAIN, "--rpc", node.url, "--json")
    assert [r["depth"] for r in doc["runs"][0]["reorgs"]] == [4]
    assert stored(home) == canonical(node, 100)


@pytest.mark.parametrize("confirmations", [0, 3])
def test_follow_repairs_a_reorg_from_the_ancestor(anvil_factory: Callable[..., Anvil], tmp_path: Path,
                                                  confirmations: int) -> None:
    home = tmp_path / "home"
    node, head = reorged(anvil_factory, home)
    rounds = []
    with RpcClient([node.url], batch_size=100) as c:
        Ingestor(c, Home(home), CHAIN, chunk_blocks=128).follow(
            poll_s=0.0, confirmations=confirmations, stop=lambda: len(rounds) >= 1, sleep=lambda s: None,
            on_round=rounds.append)
    assert [e.evidence["depth"] for e in rounds[0].reorgs] == [DEPTH]
    if confirmations == 0:
        check(home, node, head)
    else:  # the store stops `confirmations` blocks behind the head, and equals the node's chain up to there
        assert stored(home) == canonical(node, head - confirmations)
        assert Home(home).blocks().ranges(CHAIN) == [(0, head - confirmations)]


def test_a_copy_of_the_store_before_the_reorg_repairs_the_same_way(anvil_factory: Callable[..., Anvil],
                                                                   tmp_path: Path) -> None:
    """Two stores from the same pre-reorg state, one repaired by a continuing run and one by --from 0, agree."""
    a = tmp_path / "a"
    node, head = reorged(anvil_factory, a)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    cli("--home", str(a), "ingest", CHAIN, "--rpc", node.url, "--json")
    cli("--home", str(b), "ingest", CHAIN, "--rpc", node.url, "--from", "0", "--json")
    assert stored(a) == stored(b) == canonical(node, head)
