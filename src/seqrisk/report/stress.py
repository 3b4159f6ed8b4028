"""The report's stress section: outage duration against price move, per party, and liquidation curves.

Each grid cell is a deterministic revaluation of the book for an outage on one
chain (the engine's :func:`~seqrisk.engine.stress_grid`); the holder's loss and
the venue's bad debt are drawn side by side, never added. The holder's loss is
not monotone in the move, by construction: a liquidated holder loses at most
the equity the position still has at the restart (the penalty and the impact
gap), so the loss peaks at a move that just reaches a position's maintenance
margin and falls once a move wipes the margin out; the rest is the venue's bad
debt. The section says at which moves that happens for the book's largest
positions. The liquidation curves use the stressed volatility where the book
gives one (an outage that matters comes with a moving market).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from seqrisk.engine import Scenario
from seqrisk.portfolio import Book
from seqrisk.report import figures as F
from seqrisk.report.html import Page, esc

__all__ = ["DEFAULT_DURATIONS_S", "DEFAULT_MOVES", "liquidation_for_book", "liquidation_regime",
           "stress_for_book", "stress_section", "thresholds"]

#: Stress grid rows: outage durations from 5 minutes to 24 hours (seconds).
DEFAULT_DURATIONS_S = (300.0, 900.0, 1800.0, 3600.0, 7200.0, 4 * 3600.0, 8 * 3600.0, 24 * 3600.0)
#: Stress grid columns: price move of the book's assets over the outage.
DEFAULT_MOVES = (-0.30, -0.20, -0.10, -0.05, -0.02, 0.0, 0.02, 0.05, 0.10, 0.20, 0.30)


def stress_for_book(book: Book, scenario: Scenario, durations_s: Sequence[float] = DEFAULT_DURATIONS_S,
                    moves: Sequence[float] = DEFAULT_MOVES) -> dict[str, pd.DataFrame]:
    """The stress grid of every chain the book uses (deterministic)."""
    from seqrisk.engine import stress_grid

    return {c: stress_grid(book, c, durations_s, moves, scenario=scenario) for c in book.chains}


def liquidation_regime(book: Book) -> str | None:
    """``"stressed"`` when some asset of the book gives a volatility for that regime, else None."""
    return "stressed" if any(isinstance(a.vol, dict) and "stressed" in a.vol for a in book.assets.values()) else None


def liquidation_for_book(book: Book, scenario: Scenario,
                         durations_s: Sequence[float] = tuple(np.geomspace(300, 86400, 12))) -> pd.DataFrame:
    """P(liquidation at the restart test) per position and outage duration, at the stressed volatility where the
    book gives one (closed form; see :func:`seqrisk.engine.liquidation_probability`)."""
    from seqrisk.engine import liquidation_probability

    return liquidation_probability(book, durations_s, regime=liquidation_regime(book),
                                   grace_period_s=scenario.grace_period_s, margin_buffer=scenario.margin_buffer)


def thresholds(book: Book, chain: str, margin_buffer: float = 0.0) -> list[tuple[str, str, float, float]]:
    """For the perps and loans on ``chain``: ``(id, what, move liquidated from, move margin gone from)``.

    Moves are relative price moves of the position's asset over the outage,
    before any cascade: a long perp kept at margin r (1/leverage, or
    the measured margin) and maintenance m is liquidated from ``(1 - r - k) / (1 - m) - 1`` and has no
    equity left from ``-(r + k)`` (k the margin buffer); a short mirrors it; a loan is
    liquidated from ``debt / (collateral x threshold x spot) - 1`` and leaves
    bad debt from ``debt / (collateral x spot) - 1``. Largest positions first.
    """
    rows: list[tuple[float, str, str, float, float]] = []
    for p in book.positions:
        if p.chain != chain:
            continue
        if p.type == "perp":
            spot = book.assets[p.asset].spot_usd
            q = p.signed_units(spot)
            notional, long = abs(q) * spot, q > 0
            share = p.margin_share(spot)
            im = share + margin_buffer
            m = p.maintenance_margin
            liq, gone = ((1 - im) / (1 - m) - 1, -im) if long else ((1 + im) / (1 + m) - 1, im)
            what = f"{p.leverage:g}x" if p.collateral_usd is None else f"margin {share:.1%}"
            rows.append((notional, p.id, f"{what} {'long' if long else 'short'}", liq, gone))
        elif p.type == "loan":
            value = p.collateral_amount * book.assets[p.collateral_asset].spot_usd
            rows.append((value, p.id, "loan", p.debt_usd / (value * p.liquidation_threshold) - 1,
                         p.debt_usd / value - 1))
    rows.sort(key=lambda r: -r[0])
    return [(pid, what, liq, gone) for _, pid, what, liq, gone in rows]


def _note(book: Book, chain: str, margin_buffer: float) -> str:
    th = thresholds(book, chain, margin_buffer)[:4]
    if not th:
        return ""
    parts = [f"{esc(pid)} ({esc(what)}) is liquidated from a {liq:+.1%} move and has no equity left from "
             f"{gone:+.1%}" for pid, what, liq, gone in th]
    return f'<p class="note">On {esc(chain)}, before any cascade: ' + "; ".join(parts) + ".</p>"


def _notional(p: Any) -> float:
    for attr in ("notional_usd", "debt_usd"):
        v = getattr(p, attr, None)
        if v:
            return float(v)
    return 0.0


def stress_section(page: Page, book: Book, scenario: Scenario, stress: dict[str, pd.DataFrame],
                   liquidation: pd.DataFrame | None) -> None:
    """The stress grids (one figure per chain: the holder's loss and the venue's bad debt) and liquidation
    curves."""
    sec = page.section("stress", "Stress grid: outage duration against price move")
    sec.text('<p class="lead">In the style of exchange portfolio-margin grids: an outage on one chain starting '
             "now, lasting the row's duration, while the book's assets move by the column's return. Each cell is a "
             "deterministic revaluation with the restart cascade (no Monte Carlo); the holder's loss and the "
             "venue's bad debt are shown side by side. The holder's loss is not monotone in the move, by "
             "construction: a liquidated holder loses at most the equity the position still has at the restart (the "
             "liquidation penalty and the gap the cascade opens), so the loss peaks at a move that just reaches a "
             "position's maintenance margin and falls once a move wipes the margin out; past that point the loss "
             "is the venue's bad debt. Below each grid: the moves at which the largest positions reach those "
             "points.</p>")
    for chain, g in stress.items():
        durs = sorted(g.duration_s.unique())
        moves = sorted(g.price_move.unique())

        def grid(col: str, g: pd.DataFrame = g, durs: list[float] = durs, moves: list[float] = moves) -> np.ndarray:
            return g.pivot_table(index="duration_s", columns="price_move", values=col).reindex(
                index=durs, columns=moves).to_numpy()

        sec.figure(F.stress_heatmap(durs, moves, grid("holder_loss_usd"), grid("venue_loss_usd"),
                                    grid("liquidated_notional_usd"), f"Outage on {chain} (USD)"))
        sec.text(_note(book, chain, scenario.margin_buffer))
    if liquidation is not None and len(liquidation):
        lq = liquidation
        big = [p.id for p in sorted(book.positions, key=lambda p: -_notional(p))][:8]
        curves = {pid: lq[lq.id == pid].sort_values("duration_s").p_liquidation.to_numpy() for pid in big
                  if (lq.id == pid).any()}
        durs = sorted(lq.duration_s.unique())
        vol = "the stressed volatility" if liquidation_regime(book) else "the book's volatility"
        sec.figure(F.liquidation_curves(durs, curves, f"Probability of liquidation at restart, by outage duration "
                                                      f"(at {vol})"))
