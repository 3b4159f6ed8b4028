"""Start `seqrisk serve` as a real process on 127.0.0.1 (any free port) for the service's tests, and stop it by pid.

The server prints its address on stderr; :func:`start` waits for it and for the
health endpoint. :func:`raw_request` speaks HTTP/1.1 over a plain socket, for the
tests that must control exactly which bytes are sent (size limits).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "examples" / "desk.yaml"
SEQRISK = [sys.executable, "-m", "seqrisk"]
FINAL = ("done", "failed", "cancelled")


def cli(home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEQRISK, "--home", str(home), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def token(home: Path, scope: str) -> str:
    out = cli(home, "serve", "token", "create", "--scope", scope, "--name", f"test-{scope}", "--json")
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["token"])


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    home: Path
    log: Path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """End the server (SIGTERM: its workers stop and hand their jobs back; SIGKILL: nothing is cleaned up)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(home: Path, *args: str, env: dict[str, str] | None = None, log_name: str = "serve.log",
          any_port: bool = True) -> Server:
    """``seqrisk --home HOME serve --port 0 ARGS`` started and answering its health endpoint (``any_port=False``:
    without ``--port 0``, the port set by ARGS, the settings or the environment)."""
    log = home / log_name
    home.mkdir(parents=True, exist_ok=True)
    with log.open("w") as err:
        proc = subprocess.Popen([*SEQRISK, "--home", str(home), "serve", *(["--port", "0"] if any_port else []),
                                 *args], stderr=err,
                                stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    m = None
    for _ in range(1200):
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text())
        if m or proc.poll() is not None:
            break
        time.sleep(0.1)
    if not m:
        proc.kill()
        proc.wait()
        raise AssertionError(f"no address in the server's log: {log.read_text()!r}")
    base = f"http://127.0.0.1:{m.group(1)}"
    wait_healthy(base)
    return Server(proc, base, home, log)


def wait_healthy(base: str, tries: int = 300) -> None:
    """Wait until the server at ``base`` answers its health endpoint (up to ``tries`` tenths of a second)."""
    with httpx.Client(base_url=base, timeout=10) as c:
        for _ in range(tries):
            try:
                if c.get("/api/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)


def wait_jobs(client: httpx.Client, ids: list[str], *, poll_s: float = 0.3) -> dict[str, dict[str, Any]]:
    """Poll until every job has finished (the test's timeout bounds the wait); their records by id."""
    out: dict[str, dict[str, Any]] = {}
    while len(out) < len(ids):
        for jid in ids:
            if jid in out:
                continue
            job = client.get(f"/api/v1/jobs/{jid}").json()["job"]
            if job["status"] in FINAL:
                out[jid] = job
        if len(out) < len(ids):
            time.sleep(poll_s)
    return out


def wait_pids_gone(pids: set[int], timeout_s: float = 60.0) -> set[int]:
    """Wait for processes to exit; SIGKILL the ones still alive after ``timeout_s`` (returned)."""
    deadline = time.monotonic() + timeout_s
    left = set(pids)
    while left and time.monotonic() < deadline:
        left = {p for p in left if _alive(p)}
        if left:
            time.sleep(0.2)
    for p in left:
        os.kill(p, signal.SIGKILL)
    return left


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) has ended
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def raw_request(base: str, head: bytes, body_parts: Sequence[bytes] = ()) -> tuple[int, dict[str, Any]]:
    """Send ``head`` (request line and headers) then ``body_parts`` over one socket, read the whole reply.

    Sending stops at the first part the server no longer accepts (it may answer and close before the body ends);
    the reply, already sent by then, is read all the same."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head)
        for part in body_parts:
            try:
                s.sendall(part)
            except OSError:
                break
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                hdr, _, rest = data.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length:\s*(\d+)", hdr)
                if m and len(rest) >= int(m.group(1)):
                    break
    hdr, _, rest = data.partition(b"\r\n\r\n")
    status = int(hdr.split(b" ", 2)[1])
    return status, json.loads(rest)
