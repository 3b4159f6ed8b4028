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
    """The reference book (or ``template``'s positions) copied to every chain; ids get ``@chain``."""
    if template is None:
        doc = dict(REFERENCE_BOOK)
        positions = [dict(p) for p in REFERENCE_BOOK["positions"]]
        assets = REFERENCE_BOOK["assets"]
    else:
        doc = {"name": template.name}
        positions = [p.model_dump(mode="json", exclude_none=True, by_alias=False) for p in template.positions]
        for p in positions:
            if p.get("type") == "option":
                p["expiry"] = p.pop("expiry_s")
        assets = {k: v.model_dump(mode="json", exclude_none=True) for k, v in template.assets.items()}
        if template.correlations:
            doc["correlations"] = [list(c) for c in template.correlations]
    out = []
    for c in chains:
        for p in positions:
            out.append(p | {"id": f"{p['id']}@{c}", "chain": c})
    return book_from_dict(doc | {"assets": assets, "positions": out}, chains=chains)
