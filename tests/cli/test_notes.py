"""The note on a negative attributable loss names the mechanisms the book can meet, and only those."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seqrisk.cli.notes import negative_loss_note
from seqrisk.portfolio import Book
from seqrisk.portfolio.load import load_book


def _with(book: Book, keep: Callable[[Any], bool]) -> Book:
    return book.model_copy(update={"positions": [p for p in book.positions if keep(p)]})


def test_each_reason_only_where_the_book_has_it() -> None:
    desk = load_book("examples/desk.yaml")
    short_put = _with(desk, lambda p: p.id == "base-eth-put")
    note = negative_loss_note(short_put)
    assert "short option whose hedge is frozen" in note and "borrowers" not in note
    # the same put sold at an implied volatility below every regime's: no time decay to keep
    cheap = short_put.model_copy(update={"positions": [short_put.positions[0].model_copy(
        update={"implied_vol": 0.3})]})
    assert "short option" not in negative_loss_note(cheap)
    perps = _with(desk, lambda p: p.type == "perp")
    assert negative_loss_note(perps).startswith("negative attributable holder loss: on these paths the outage")
    lending = load_book("examples/lending.yaml")
    assert "defers liquidations of (passive) borrowers" in negative_loss_note(lending)
