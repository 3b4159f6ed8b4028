"""Graceful stop for the CLI's long-running loops (``ingest --follow`` and the like).

The first Ctrl-C (SIGINT) or SIGTERM asks the loop to stop after the round in
progress: the store is left exactly as an uninterrupted run would leave it and
the command exits 0. A second Ctrl-C stops at once (KeyboardInterrupt), which
the ingestion is built to survive as well. Handlers are installed only from the
main thread and restored on exit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class StopRequest:
    """Set by the first interrupt; ``wait`` doubles as an interruptible sleep."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout_s: float) -> None:
        """Sleep up to ``timeout_s`` seconds, returning early once a stop is requested."""
        self._event.wait(timeout_s)


@contextmanager
def graceful_stop(on_first: Callable[[], None] | None = None) -> Iterator[StopRequest]:
    """Yield a StopRequest set by the first SIGINT/SIGTERM; a second SIGINT raises KeyboardInterrupt."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        if on_first is not None:
            on_first()

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
