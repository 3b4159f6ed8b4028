"""Why a holder's attributable loss can be negative, said for the positions a book holds.

An outage's attributable loss is the loss with the outage minus the loss without it on the same random
numbers; it is negative when the outage, on average, spares the holder something. Two mechanisms of the
engine do that, and the note names the ones the book can meet.
"""

from __future__ import annotations

from typing import Any

__all__ = ["negative_loss_note"]

_LOANS = ("an outage defers liquidations of (passive) borrowers that would have happened while the chain was up, "
          "and some do not recur before the horizon end (docs/engine.md, Loans)")
_SHORT_OPTIONS = ("a short option whose hedge is frozen gains on average when its implied volatility is above the "
                  "volatility of the simulated prices: the holder keeps the time decay it sold (docs/engine.md, "
                  "Options)")


def _vol_floor(asset: Any) -> float:
    vol = asset.vol
    return float(min(vol.values())) if isinstance(vol, dict) else float(vol)


def negative_loss_note(book: Any) -> str:
    """The reasons a negative attributable holder loss can have in ``book`` (one sentence, ';'-joined)."""
    reasons = []
    if any(p.type == "loan" for p in book.positions):
        reasons.append(_LOANS)
    if any(p.type == "option" and p.quantity < 0 and p.asset in book.assets
           and p.implied_vol > _vol_floor(book.assets[p.asset]) for p in book.positions):
        reasons.append(_SHORT_OPTIONS)
    if not reasons:
        return ("negative attributable holder loss: on these paths the outage spared the holder more than it cost "
                "(compare it with its standard error)")
    return "negative attributable holder loss: " + "; ".join(reasons)
