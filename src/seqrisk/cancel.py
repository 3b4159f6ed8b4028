"""Cooperative cancellation: long computations call :func:`checkpoint` between their pieces of work.

The engine calls it before each block of paths it runs or hands to a backend
(so every simulation, sweep point, lever, replication and score stops at the
next block), the backtest before each origin it refits, and the outage model's
fit between its stages (event set, trend, the rates and durations of each
event type, the Hawkes fits, the coupling). Outside a
:func:`cancellable` block a checkpoint does nothing; inside one it calls the
block's ``check``, which raises to stop the work (the service's job workers raise
when a job was cancelled or the server is stopping). Nothing is left half
written by a stop at a checkpoint: it falls between pieces, never inside one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["cancellable", "checkpoint"]

_CHECK: ContextVar[Callable[[], None] | None] = ContextVar("seqrisk_cancel_check", default=None)


def checkpoint() -> None:
    """A point where the work may stop: the enclosing :func:`cancellable` block's check runs (and may raise)."""
    check = _CHECK.get()
    if check is not None:
        check()


@contextmanager
def cancellable(check: Callable[[], None]) -> Iterator[None]:
    """Every :func:`checkpoint` reached inside the block calls ``check`` (which raises to stop the work)."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)
