"""Registry facts drive ingest on a real node: default endpoint and chain id; a node of another chain is refused
before anything is stored; ``--chain-id`` reads a private network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from integration.anvil import Anvil, ChainBuilder
from seqrisk.cli.app import main
from seqrisk.store import Home

pytestmark = pytest.mark.integration

CHAIN = """
- id: devnet
  name: Team Devnet
  stack: op-stack
  layer: L2
  settles_on: ethereum
  mainnet_launch_date: 2025-01-01
  sources: [https://example.org/devnet]
  confidence: low
"""


def _catalog(d: Path, chain_id: int, url: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "chains.yaml").write_text(CHAIN)
    (d / "registry.csv").write_text("chain,field,value,sources,as_of,confidence,note\n"
                                    f"devnet,evm_chain_id,{chain_id},https://example.org/devnet,,high,\n"
                                    f"devnet,rpc_public,{url},https://example.org/devnet,,high,\n")
    return d


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_registry_endpoint_and_chain_id_are_the_defaults(anvil_factory: Callable[..., Anvil], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    node = anvil_factory(chain_id=31337)
    ChainBuilder(node).tx_blocks(30, 1)
    cat = _catalog(tmp_path / "cat", 31337, node.url)
    home = tmp_path / "home"
    code, _, err = _run(capsys, "--home", str(home), "--catalog-dir", str(cat), "ingest", "devnet", "--from", "0",
                        "--to", "20", "-q", "--json")
    assert code == 0, err
    assert Home(home).blocks().head("devnet") == 20
    with Home(home).state() as st:
        meta = dict(st._conn.execute("SELECT key, value FROM meta").fetchall())
    assert meta["chain_id:devnet"] == "31337" and node.url.removesuffix("/") in meta["endpoints:devnet"]


def test_a_node_of_another_chain_is_refused_before_anything_is_stored(
        anvil_factory: Callable[..., Anvil], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = anvil_factory(chain_id=31337)
    ChainBuilder(node).tx_blocks(30, 1)
    cat = _catalog(tmp_path / "cat", 8453, node.url)  # the catalog says 8453; the node serves 31337
    home = tmp_path / "home"
    for extra in ([], ["--rpc", node.url], ["--since", "2020-01-01"]):
        code, _, err = _run(capsys, "--home", str(home), "--catalog-dir", str(cat), "ingest", "devnet",
                            *(extra or ["--from", "0"]), "-q")
        assert code == 1
        assert err.strip().count("\n") == 0, err
        assert "refused: the node serves chain id 31337, expected 8453 (the catalog's devnet)" in err
        assert Home(home).blocks().head("devnet") is None
    code, _, err = _run(capsys, "--home", str(home), "--catalog-dir", str(cat), "scan", "devnet", "--from", "0")
    assert code == 1 and "serves chain id 31337, expected 8453" in err
    # --chain-id reads it as a private network (the catalog's endpoints do not apply then)
    code, _, err = _run(capsys, "--home", str(home), "--catalog-dir", str(cat), "ingest", "devnet", "--from", "0",
                        "--chain-id", "31337", "-q")
    assert code == 2 and "--rpc" in err
    code, _, err = _run(capsys, "--home", str(home), "--catalog-dir", str(cat), "ingest", "devnet", "--from", "0",
                        "--to", "10", "--chain-id", "31337", "--rpc", node.url, "-q")
    assert code == 0, err
    assert Home(home).blocks().head("devnet") == 10
    # detect refuses the stored headers under the catalog's id, and reads them with --chain-id
    code, _, err = _run(capsys, "--home", str(home), "--catalog-dir", str(cat), "detect", "devnet", "--no-write")
    assert code == 1 and "stored headers of devnet are from chain id 31337, the catalog says 8453" in err
    code, _, err = _run(capsys, "--home", str(home), "--catalog-dir", str(cat), "detect", "devnet", "--no-write",
                        "--chain-id", "31337")
    assert code == 0, err
