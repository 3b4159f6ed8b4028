"""Starting the service: one server per seqrisk home, on loopback unless asked otherwise (and then with auth).

:func:`serve` refuses, with one line, to listen on another address than
loopback without ``auth: all`` and a token, to start a second server on the
same home (the queue has one owner: a lock file next to the store), and to run
without the ``serve`` extra installed. It binds the socket itself so that
``--port 0`` can report the port it got.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path

from seqrisk.exceptions import UsageError
from seqrisk.service.config import ServiceConfig
from seqrisk.service.tokens import TokenStore
from seqrisk.store import StateStore

__all__ = ["check_startup", "serve"]


def check_startup(config: ServiceConfig, home: Path) -> None:
    """Raise :class:`UsageError` (one line) when this configuration must not start."""
    with StateStore(home / "state.sqlite") as st:
        n = TokenStore(st).count_active()
    why = config.refusal(n)
    if why:
        raise UsageError(why, field="--host" if not config.loopback else "--auth")


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", field="--port",
                         value=port) from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def serve(config: ServiceConfig, home: Path, *, announce: Callable[[str], None] | None = None) -> None:
    """Run the server until interrupted (SIGINT or SIGTERM: workers stop at their next progress report and their
    jobs go back to the queue). ``announce(url)`` is told the address once it listens (default: a line on
    stderr)."""
    try:
        import uvicorn
        from filelock import FileLock, Timeout

        from seqrisk.service.app import create_app
    except ImportError as exc:
        raise UsageError(f"seqrisk serve needs the serve extra ({exc.name} is missing): "
                         "pip install 'seqrisk[serve]'") from None
    home.mkdir(parents=True, exist_ok=True)
    check_startup(config, home)
    lock = FileLock(str(home / "serve.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UsageError(f"another seqrisk serve runs on this home ({home}); one server owns a job queue",
                         field="--home") from None
    dask = None
    try:
        sock = _socket(config.host, config.port)
        if config.backend == "dask" and config.workers:
            from seqrisk.service.app import open_dask

            dask = open_dask(config)  # a cluster that is unreachable or unlike this process: one line, no server
            print(f"seqrisk serve: the jobs' simulations run on the {dask.describe()}", file=sys.stderr, flush=True)
        app = create_app(config, home, dask=dask)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        if announce is not None:
            announce(f"http://{shown}:{port}/")
        else:
            print(f"seqrisk serve: http://{shown}:{port}/ (auth: {config.auth}, {config.workers} workers, home "
                  f"{home})", file=sys.stderr, flush=True)
        server = uvicorn.Server(uvicorn.Config(
            app, log_level=config.log_level, proxy_headers=False, server_header=False,
            timeout_graceful_shutdown=5, access_log=config.log_level in ("info", "debug")))
        server.run(sockets=[sock])
    finally:
        if dask is not None:
            dask.close()
        lock.release()
