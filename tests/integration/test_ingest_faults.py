"""A fault-injecting HTTP proxy between the client and a real node: ingestion ends with correct data or
stops with a clear error; it never stores a wrong block."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from integration.anvil import Anvil
from seqrisk.cli.app import main
from seqrisk.exceptions import RpcError
from seqrisk.ingest import Ingestor
from seqrisk.rpc import ChainIdMismatchError, RpcClient, RpcTransportError
from seqrisk.store import Home

pytestmark = pytest.mark.integration

FAULTS = ("delay", "drop", "429", "500", "truncated", "null", "wrong_block", "shuffled")


class FaultProxy:
    """Forwards JSON-RPC to ``upstream``; ``policy(index, body) -> fault name | None`` picks the fault."""

    def __init__(self, upstream: str, policy: Callable[[int, list[dict[str, Any]]], str | None],
                 delay_s: float = 1.0) -> None:
        self.upstream = upstream
        self.policy = policy
        self.delay_s = delay_s
        self.injected: Counter[str] = Counter()
        self.count = 0
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                proxy.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._http.close()

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        for k, v in {"content-type": "application/json", "content-length": str(len(payload)),
                     **(headers or {})}.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        calls = json.loads(body)
        with self._lock:
            i = self.count
            self.count += 1
            fault = self.policy(i, calls if isinstance(calls, list) else [calls])
            if fault:
                self.injected[fault] += 1
        if fault == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "500":
            return self._send(h, 500, b"internal error")
        if fault == "429":
            return self._send(h, 429, b'{"error":"slow down"}', {"retry-after": "0.05"})
        if fault == "delay":
            time.sleep(self.delay_s)
        up = self._http.post(self.upstream, content=body, headers={"content-type": "application/json"})
        out = up.content
        doc = json.loads(out)
        if fault == "truncated":
            out = out[: len(out) // 2]
        elif fault in ("null", "wrong_block", "shuffled", "wrong_chain") and isinstance(doc, list):
            blocks = [d for d in doc if isinstance(d.get("result"), dict)]
            if fault == "null" and blocks:
                blocks[0]["result"] = None
            elif fault == "wrong_block" and len(blocks) >= 2:
                blocks[0]["result"] = blocks[1]["result"]  # a stale or misrouted answer for another block
            elif fault == "shuffled":
                doc.reverse()  # legal: batch responses may come in any order
            elif fault == "wrong_chain":
                for d in doc:
                    if d.get("result") == calls_chain_id(calls, d):
                        d["result"] = "0x1"
            out = json.dumps(doc).encode()
        self._send(h, 200, out)


def calls_chain_id(calls: list[dict[str, Any]], d: dict[str, Any]) -> Any:
    c = next((c for c in calls if c["id"] == d.get("id")), None)
    return d.get("result") if c is not None and c["method"] == "eth_chainId" else object()


@pytest.fixture(scope="module")
def node(anvil_binary: Path) -> Iterator[Anvil]:
    n = Anvil()
    try:
        n.start()
        n.rpc("anvil_mine", hex(600))
        yield n
    finally:
        n.stop()


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
            main(["ingest", "arbitrum", "--rpc", proxy.url, "--from", "0", "--to", "50", "-q"])
        assert ex.value.code == 1
        err = capsys.readouterr().err
        assert "serves chain id 1, expected 31337" in err and proxy.url in err and len(err.strip().splitlines()) <= 2
        assert Home(home).blocks().head("arbitrum") == 10
        assert issubclass(ChainIdMismatchError, RpcError)
