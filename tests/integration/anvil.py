"""Real-node helpers for integration tests: start/stop anvil, build chains with known events.

anvil comes from the npm package ``@foundry-rs/anvil`` pinned in package.json
(``make test`` runs ``npm ci`` and puts ``node_modules/.bin`` on PATH). The npm
entry point is a node wrapper that does not pass SIGKILL on, so we run the
platform binary it wraps and stop that process by its id. A missing anvil is a
test FAILURE with a clear message, never a skip: CI must run these tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

__all__ = ["REPO", "Anvil", "AnvilMissing", "ChainBuilder", "find_anvil", "free_port", "running_node"]

REPO = Path(__file__).resolve().parents[2]


class AnvilMissing(RuntimeError):
    pass


def _platform_binary(wrapper: Path) -> Path | None:
    """The real anvil binary behind the npm wrapper ``.../@foundry-rs/anvil/bin.mjs``."""
    real = wrapper.resolve()
    if real.suffix not in (".mjs", ".js"):
        return real
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system(), "")
    arch = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")
    scope = real.parent.parent  # node_modules/@foundry-rs
    for cand in (scope / f"anvil-{system}-{arch}" / "bin" / "anvil", *sorted(scope.glob("anvil-*/bin/anvil"))):
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def find_anvil() -> Path:
    """anvil on PATH or at <repo>/node_modules/.bin/anvil (resolved to the platform binary); else AnvilMissing."""
    tried = []
    for cand in (shutil.which("anvil"), REPO / "node_modules" / ".bin" / "anvil"):
        if cand and Path(cand).exists():
            tried.append(str(cand))
            b = _platform_binary(Path(cand))
            if b is not None:
                return b
    raise AnvilMissing("anvil not found (looked on PATH and in node_modules/.bin"
                       f"{': ' + ', '.join(tried) if tried else ''}); run `npm ci` in the repository "
                       "(`make test` does it) to install the pinned @foundry-rs/anvil")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    """One anvil process on 127.0.0.1 with a free port, ``--prune-history 64`` and a temporary cache."""

    def __init__(self, *, chain_id: int = 31337, timestamp: int | None = None, args: tuple[str, ...] = ()) -> None:
        self.chain_id = chain_id
        self.timestamp = timestamp
        self.args = args  # more anvil options (``--block-time 1`` for interval mining ...)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._tmp = Path(tempfile.mkdtemp(prefix="seqrisk-anvil-"))
        self._http = httpx.Client(timeout=60.0)
        self._id = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Anvil:
        binary = find_anvil()
        last = ""
        for _ in range(3):
            self.port = free_port()
            log = open(self._tmp / "anvil.log", "wb")  # noqa: SIM115 (closed in stop)
            args = [str(binary), "--host", "127.0.0.1", "--port", str(self.port), "--prune-history", "64",
                    "--cache-path", str(self._tmp / "cache"), "--chain-id", str(self.chain_id), "--silent"]
            if self.timestamp is not None:
                args += ["--timestamp", str(self.timestamp)]
            args += list(self.args)
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if int(self.rpc("eth_chainId"), 16) == self.chain_id:
                        return self
                except (httpx.HTTPError, ValueError, KeyError):
                    time.sleep(0.05)
            last = (self._tmp / "anvil.log").read_text(errors="replace")[-2000:]
            self._kill()
        self.stop()
        raise RuntimeError(f"anvil did not start: {last}")

    def _kill(self) -> None:
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(5)
        self.proc = None

    def stop(self) -> None:
        self._kill()
        self._http.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- JSON-RPC --------------------------------------------------------------
    def rpc(self, method: str, *params: Any) -> Any:
        self._id += 1
        r = self._http.post(self.url, content=json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method,
                                                          "params": list(params)}),
                            headers={"content-type": "application/json"})
        doc = r.json()
        if "error" in doc:
            raise RuntimeError(f"{method}: {doc['error']}")
        return doc["result"]

    def head(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def block(self, n: int | str) -> dict[str, Any]:
        b: dict[str, Any] = self.rpc("eth_getBlockByNumber", hex(n) if isinstance(n, int) else n, False)
        return b

    def accounts(self) -> list[str]:
        acc: list[str] = self.rpc("eth_accounts")
        return acc


@contextlib.contextmanager
def running_node(blocks: int, *, interval_s: int | None = None, **kw: Any) -> Iterator[Anvil]:
    """An anvil (``Anvil(**kw)``) with ``blocks`` empty blocks mined (``interval_s`` apart), stopped on exit."""
    node = Anvil(**kw)
    try:
        node.start()
        node.rpc("anvil_mine", hex(blocks), *([hex(interval_s)] if interval_s else []))
        yield node
    finally:
        node.stop()


class ChainBuilder:
    """Builds a chain on an automining anvil with exact timestamps.

    ``t`` is the timestamp of the newest block. ``tx_blocks`` mines blocks with
    one transaction each, ``empty_blocks`` mines blocks without, ``gap``
    delays the next block. Every method returns the numbers it mined.
    """

    def __init__(self, node: Anvil, *, to: str = "0x00000000000000000000000000000000000000aa") -> None:
        self.node = node
        self.sender = node.accounts()[0]
        self.to = to
        # Automining mines in the background after eth_sendTransaction returns, which races with the next
        # timestamp we set: mine explicitly instead (evm_mine with a timestamp is synchronous).
        node.rpc("evm_setAutomine", False)
        last = node.block("latest")
        self.n = int(last["number"], 16)
        self.t = int(last["timestamp"], 16)
        self._pending_gap = 0

    def _next_ts(self, dt: int) -> int:
        ts = self.t + dt + self._pending_gap
        self._pending_gap = 0
        return ts

    def tx_blocks(self, count: int, intervals: list[int] | int = 2, to: str | None = None) -> list[int]:
        out = []
        for i in range(count):
            dt = intervals if isinstance(intervals, int) else intervals[i % len(intervals)]
            ts = self._next_ts(dt)
            self.node.rpc("eth_sendTransaction", {"from": self.sender, "to": to or self.to, "value": "0x1"})
            self.node.rpc("evm_mine", ts)
            self.n += 1
            self.t = ts
            out.append(self.n)
        return out

    def empty_blocks(self, count: int, interval: int = 2) -> list[int]:
        out = []
        for _ in range(count):
            ts = self._next_ts(interval)
            self.node.rpc("evm_mine", ts)
            self.n += 1
            self.t = ts
            out.append(self.n)
        return out

    def gap(self, seconds: int) -> None:
        """The next block comes ``seconds`` (plus its own interval) after the newest one."""
        self._pending_gap += seconds


#: The batch inbox of the L1 test chain (any address works: postings are plain transactions to it).
INBOX = "0x00000000000000000000000000000000000ba7c4"


def build_outage_chain(node: Anvil) -> dict[str, int]:
    """Chain A (not back-filled): a 302 s gap after block 200, a 41 s gap after block 300 (relative rule
    only), 300 empty blocks 551..850 at 2 s (a throughput collapse), then traffic again to block 1000.
    Normal traffic: one transaction per block, intervals cycling 1, 2, 3 s."""
    b = ChainBuilder(node)
    b.tx_blocks(200, [1, 2, 3])
    b.gap(300)
    b.tx_blocks(100, [1, 2, 3])
    b.gap(40)
    b.tx_blocks(150, [1, 2, 3])
    empty = b.empty_blocks(300, 2)
    b.tx_blocks(150, [1, 2, 3])
    return {"abs_gap_after": 200, "rel_gap_after": 300, "empty_first": empty[0], "empty_last": empty[-1],
            "head": b.n}


def build_backfilled_chain(node: Anvil) -> dict[str, int]:
    """Chain B (back-filled, like the OP Stack): 200 empty blocks 201..400 at 2 s, no timestamp gap."""
    b = ChainBuilder(node)
    b.tx_blocks(200, [1, 2, 3])
    empty = b.empty_blocks(200, 2)
    b.tx_blocks(100, [1, 2, 3])
    return {"empty_first": empty[0], "empty_last": empty[-1], "head": b.n}


def build_l1_postings(node: Anvil) -> dict[str, int]:
    """L1: 20 postings to INBOX 60 s apart, 30 blocks (1,800 s) of other traffic, 20 postings again."""
    b = ChainBuilder(node)
    first = b.tx_blocks(20, 60, to=INBOX)
    b.tx_blocks(30, 60)
    second = b.tx_blocks(20, 60, to=INBOX)
    return {"last_before_gap": first[-1], "first_after_gap": second[0], "head": b.n}
