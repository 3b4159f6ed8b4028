"""Real parts for the monitor's integration tests: a webhook receiver, Chainlink's uptime feed on anvil,
the monitor as a separate process, and a Prometheus scrape over loopback.

The receiver checks every signature with its own HMAC (the standard library's, not seqrisk's) and records
every request. The feed is Chainlink's ``ZKSyncSequencerUptimeFeed`` from ``@chainlink/contracts`` (compiled
by ``tools/uptime_feed/build.sh``); its ``updateStatus`` accepts the L2 alias of the L1 sender only, which
anvil lets the test impersonate, as the L1 validator's message would arrive.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from Crypto.Hash import keccak
from prometheus_client.parser import text_string_to_metric_families

from integration.anvil import REPO, Anvil

FEED_ARTIFACT = REPO / "tools" / "uptime_feed" / "ZKSyncSequencerUptimeFeed.json"
#: Arbitrum-style L1-to-L2 address alias offset (AddressAliasHelper.applyL1ToL2Alias).
ALIAS_OFFSET = 0x1111000000000000000000000000000000001111


def wait_for(what: str, cond: Callable[[], Any], timeout_s: float = 120.0, every_s: float = 0.2) -> Any:
    """Poll ``cond`` until it returns something truthy; fail with ``what`` after a generous timeout."""
    deadline = time.monotonic() + timeout_s
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
            last_exc = exc
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last_exc})" if last_exc else ""))


# -- webhook receiver ---------------------------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP receiver on 127.0.0.1: answers ``status`` and records every request, checking signatures."""

    secret: bytes | None = None
    status: int = 200
    got: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                ok = None
                if rec.secret is not None:
                    ts = self.headers.get("X-Seqrisk-Timestamp", "")
                    want = "sha256=" + hmac.new(rec.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                    ok = hmac.compare_digest(want, self.headers.get("X-Seqrisk-Signature", ""))
                rec.got.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, ok))
                self.send_response(rec.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def alerts(self, chain: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        docs = [r.json() for r in list(self.got)]
        return [d for d in docs if isinstance(d, dict) and (chain is None or d.get("chain") == chain)
                and (kind is None or d.get("kind") == kind)]


# -- Chainlink's uptime feed ----------------------------------------------------------------------------
def selector(signature: str) -> str:
    return keccak.new(digest_bits=256, data=signature.encode()).hexdigest()[:8]


def word(v: int | str | bool) -> str:
    n = int(v, 16) if isinstance(v, str) else int(v)
    return f"{n:064x}"


def receipt(node: Anvil, tx: str, timeout_s: float = 60.0) -> dict[str, Any]:
    r: dict[str, Any] = wait_for(f"receipt of {tx}", lambda: node.rpc("eth_getTransactionReceipt", tx), timeout_s)
    if r["status"] != "0x1":
        raise AssertionError(f"transaction {tx} reverted")
    return r


def deploy_uptime_feed(node: Anvil, l1_sender: str) -> str:
    """Deploy the feed (status up) on ``node``; return its address."""
    art = json.loads(FEED_ARTIFACT.read_text())
    data = art["bytecode"] + word(l1_sender) + word(False)
    tx = node.rpc("eth_sendTransaction", {"from": node.accounts()[0], "data": data, "gas": hex(3_000_000)})
    addr: str = receipt(node, tx)["contractAddress"]
    return addr


def flip_uptime_feed(node: Anvil, feed: str, l1_sender: str, down: bool, timestamp: int) -> None:
    """``updateStatus(down, timestamp)`` from the L2 alias of ``l1_sender`` (the only caller the feed takes)."""
    alias = "0x" + f"{(int(l1_sender, 16) + ALIAS_OFFSET) % (1 << 160):040x}"
    node.rpc("anvil_impersonateAccount", alias)
    node.rpc("anvil_setBalance", alias, hex(10**18))
    data = "0x" + selector("updateStatus(bool,uint64)") + word(down) + word(timestamp)
    tx = node.rpc("eth_sendTransaction", {"from": alias, "to": feed, "data": data, "gas": hex(200_000)})
    receipt(node, tx)


# -- the monitor process ----------------------------------------------------------------------------------
@dataclass
class MonitorProcess:
    """``python -m seqrisk monitor --config ...`` in its own process, stopped by its process id."""

    home: Path
    config: Path
    metrics_port: int
    log: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MonitorProcess:
        out = open(self.log, "ab")  # noqa: SIM115 (the child holds it)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "seqrisk", "--home", str(self.home), "monitor", "--config", str(self.config),
             "--metrics-port", str(self.metrics_port)], stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env={**os.environ, **self.env})
        out.close()
        wait_for("the monitor's metrics endpoint", lambda: self.alive() and self.scrape(), timeout_s=180)
        return self

    def alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"the monitor exited ({self.proc.returncode}): {self.log.read_text()[-3000:]}")
        return True

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(text) for s in fam.samples}

    def metric(self, name: str, **labels: str) -> float | None:
        return self.scrape().get((name, tuple(sorted(labels.items()))))

    def stop(self) -> int:
        p = self.proc
        if p is None:
            return 0
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(10)
        self.proc = None
        return int(p.returncode)

    def ended_cleanly(self, code: int) -> str:
        """The log of a run :meth:`stop` ended with ``code``, asserting it exited 0 with no traceback."""
        log = self.log.read_text()
        assert code == 0, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
        return log


@contextlib.contextmanager
def receivers(*rs: Receiver) -> Iterator[tuple[Receiver, ...]]:
    try:
        yield rs
    finally:
        for r in rs:
            r.close()


def seqrisk_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "seqrisk", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=120, check=False)
