"""A fault-injecting HTTP proxy between the client and a real node: ingestion ends with correct data or
stops with a clear error; it never stores a wrong block."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from integration.anvil import Anvil, running_node
from integration.faultproxy import FAULTS, FaultProxy
from seqrisk.cli.app import main
from seqrisk.exceptions import RpcError
from seqrisk.ingest import Ingestor
from seqrisk.rpc import ChainIdMismatchError, RpcClient, RpcTransportError
from seqrisk.store import Home

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node(anvil_binary: Path) -> Iterator[Anvil]:
    with running_node(600) as n:
        yield n


def reference(node: Anvil, tmp_path: Path) -> pa.Table:
    home = Home(tmp_path / "reference")
    with RpcClient([node.url]) as c:
        Ingestor(c, home, "arbitrum").run(0, node.head())
    return home.blocks().read("arbitrum")


def fast_client(urls: list[str], **kw: Any) -> RpcClient:
    opts: dict[str, Any] = {"batch_size": 40, "concurrency": 3, "timeout_s": 0.5, "max_retries": 8,
                            "backoff_base_s": 0.01, "backoff_max_s": 0.05, "seed": 3}
    opts.update(kw)
    return RpcClient(urls, **opts)


def test_random_faults_end_with_exactly_the_right_blocks(node: Anvil, tmp_path: Path) -> None:
    rng = random.Random(2024)
    order = list(FAULTS)

    def policy(i: int, calls: list[dict[str, Any]]) -> str | None:
        # every fault kind in turn on about every other request, in a seeded random order
        if i % 2 == 0 or rng.random() < 0.2:
            return None
        if (i // 2) % len(order) == 0:
            rng.shuffle(order)
        return order[(i // 2) % len(order)]
    home = Home(tmp_path / "home")
    with FaultProxy(node.url, policy, delay_s=0.8) as proxy, fast_client([proxy.url], batch_size=20) as c:
        r = Ingestor(c, home, "arbitrum", chunk_blocks=97).run(0, node.head())
        assert r.written == node.head() + 1
    assert set(proxy.injected) == set(FAULTS), proxy.injected
    assert home.blocks().read("arbitrum").equals(reference(node, tmp_path))
    assert c.retries >= sum(proxy.injected.values()) - proxy.injected["shuffled"] - 5


def test_persistent_failure_stops_with_a_clear_error_and_a_correct_prefix(node: Anvil, tmp_path: Path) -> None:
    served = Counter[str]()

    def policy(i: int, calls: list[dict[str, Any]]) -> str | None:
        # four header batches (one chunk of 80) get through, then the endpoint fails for good
        if calls[0]["method"] != "eth_getBlockByNumber":
            return None
        if served["blocks"] >= 4:
            return "500"
        served["blocks"] += 1
        return None
    home = Home(tmp_path / "home")
    with FaultProxy(node.url, policy) as proxy, fast_client([proxy.url], max_retries=2, timeout_s=10.0) as c, \
            pytest.raises(RpcTransportError) as ei:
        Ingestor(c, home, "arbitrum", chunk_blocks=80).run(0, node.head())
    assert ei.value.context["endpoint"] == proxy.url and ei.value.context["method"] == "eth_getBlockByNumber"
    assert isinstance(ei.value.context["block"], int) and "HTTP 500" in str(ei.value)
    got = home.blocks().read("arbitrum")
    ref = reference(node, tmp_path)
    assert 0 < got.num_rows < ref.num_rows and got.equals(ref.slice(0, got.num_rows))
    with home.state() as st:
        assert st.cursor("arbitrum") == (got.num_rows, "0x" + got.column("hash")[-1].as_py().hex())


def test_failover_to_a_healthy_endpoint(node: Anvil, tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    with FaultProxy(node.url, lambda i, c: "drop") as dead, fast_client([dead.url, node.url], max_retries=1) as c:
        Ingestor(c, home, "arbitrum", chunk_blocks=200).run(0, node.head())
        assert c.failovers >= 1
    assert home.blocks().read("arbitrum").equals(reference(node, tmp_path))


def test_wrong_chain_id_stops_before_storing(node: Anvil, tmp_path: Path, home: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with FaultProxy(node.url, lambda i, c: "wrong_chain") as proxy:
        # an expected id given by the user
        h = Home(tmp_path / "h1")
        with fast_client([proxy.url], chain_id=31337) as c, pytest.raises(ChainIdMismatchError):
            Ingestor(c, h, "arbitrum").run(0, 10)
        assert h.blocks().head("arbitrum") is None
        # the id recorded by an earlier ingest of the same chain
        with RpcClient([node.url]) as c:
            Ingestor(c, Home(home), "arbitrum").run(0, 10)
        with pytest.raises(SystemExit) as ex:
            main(["ingest", "arbitrum", "--rpc", proxy.url, "--chain-id", "31337", "--from", "0", "--to", "50", "-q"])
        assert ex.value.code == 1
        err = capsys.readouterr().err
        assert "serves chain id 1, expected 31337" in err and proxy.url in err and len(err.strip().splitlines()) <= 2
        assert "nothing was stored" in err
        assert Home(home).blocks().head("arbitrum") == 10
        assert issubclass(ChainIdMismatchError, RpcError)
