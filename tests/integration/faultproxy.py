"""A fault-injecting HTTP proxy between a client and a real JSON-RPC node (127.0.0.1 only).

``policy(index, calls) -> fault name | None`` picks a fault per request (see :data:`FAULTS`);
``rewrite(calls, doc) -> doc`` may change every upstream answer (a lagging or inconsistent replica).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

__all__ = ["FAULTS", "FaultProxy"]

FAULTS = ("delay", "drop", "429", "500", "truncated", "null", "wrong_block", "shuffled")
Rewrite = Callable[[list[dict[str, Any]], Any], Any]


class FaultProxy:
    """Forwards JSON-RPC to ``upstream``; ``policy(index, body) -> fault name | None`` picks the fault."""

    def __init__(self, upstream: str, policy: Callable[[int, list[dict[str, Any]]], str | None] = lambda i, c: None,
                 delay_s: float = 1.0, rewrite: Rewrite | None = None) -> None:
        self.upstream = upstream
        self.policy = policy
        self.rewrite = rewrite
        #: Every batch of calls received, in order.
        self.seen: list[list[dict[str, Any]]] = []
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
            self.seen.append(calls if isinstance(calls, list) else [calls])
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
        if self.rewrite is not None:
            doc = self.rewrite(calls if isinstance(calls, list) else [calls], doc)
            out = json.dumps(doc).encode()
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
