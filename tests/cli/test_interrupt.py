"""Ctrl-C in a long-running command: the first asks for a stop after the round, the second stops at once."""

from __future__ import annotations

import os
import signal

import pytest

from seqrisk.cli.interrupt import graceful_stop


def test_first_interrupt_requests_a_stop_and_the_second_raises() -> None:
    calls: list[str] = []
    before = signal.getsignal(signal.SIGINT)
    with graceful_stop(lambda: calls.append("first")) as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.is_set() and calls == ["first"]
        stop.wait(10.0)  # returns at once: the stop is already requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored


def test_sigterm_requests_a_stop_too() -> None:
    with graceful_stop() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)  # a second TERM does not raise: the round still finishes
        assert stop.is_set()


def test_a_loop_on_the_hooks_stops_after_the_round_in_progress() -> None:
    """A loop on the stop/sleep hooks (as Ingestor.follow uses them) ends after the round a stop lands in."""
    rounds: list[int] = []
    with graceful_stop() as stop:
        def one_round() -> None:
            rounds.append(len(rounds))
            if len(rounds) == 2:
                os.kill(os.getpid(), signal.SIGINT)
        while not stop.is_set():
            one_round()
            stop.wait(0.01)
    assert rounds == [0, 1]
