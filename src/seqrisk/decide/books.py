"""The books the decision layer places on several chains at once (scores, allocation, insurer's tail).

:data:`REFERENCE_BOOK` is the standard book chain scores are quoted for;
:func:`reference_book` copies it (or a user's book) to every chain in one
book, so a single engine run gives each chain's loss on common random numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seqrisk.portfolio import Book, book_from_dict

__all__ = ["REFERENCE_BOOK", "reference_book"]


#: The reference positions placed on each chain (``chain`` is filled in per chain).
REFERENCE_BOOK: dict[str, Any] = {
    "name": "seqrisk reference book",
    "assets": {"ETH": {"spot_usd": 2000.0, "vol": 0.8, "depth_usd": 1e9}},
    "positions": [
        {"id": "perp-long", "type": "perp", "asset": "ETH", "side": "long", "notional_usd": 5e5, "leverage": 10},
        {"id": "perp-short", "type": "perp", "asset": "ETH", "side": "short", "notional_usd": 5e5, "leverage": 10},
        {"id": "short-call", "type": "option", "asset": "ETH", "kind": "call", "quantity": -500.0,
         "strike_usd": 2000.0, "expiry": "365d", "implied_vol": 0.8, "delta_hedged": True},
    ],
}


def reference_book(chains: Sequence[str], template: Book | None = None) -> Book:
    """The reference book (or ``template``) placed whole on every chain of ``chains`` at once, in one book.

    Every position is copied to each chain with the id ``<id>@<chain>``; every
    rest-of-market model (``markets:``) is copied to each chain too, so the
    copy on chain c is the whole book, with the market it trades against, moved
    to c. For a book that sits on one chain, the copy on that chain is the book
    itself. Every other section of the template (name, assets, correlations
    and any added later) is kept as it is.
    """
    if template is None:
        positions = [dict(p) for p in REFERENCE_BOOK["positions"]]
        out = [p | {"id": f"{p['id']}@{c}", "chain": c} for c in chains for p in positions]
        return book_from_dict(dict(REFERENCE_BOOK) | {"positions": out}, chains=chains)
    sections = {name: getattr(template, name) for name in type(template).model_fields}
    sections["positions"] = [p.model_copy(update={"id": f"{p.id}@{c}", "chain": c})
                             for c in chains for p in template.positions]
    sections["markets"] = [m.model_copy(update={"chain": c}) for c in chains for m in template.markets]
    return type(template)(**sections)
