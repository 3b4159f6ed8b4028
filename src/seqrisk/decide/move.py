"""Moving positions to another chain (the holder's lever), with what moving costs.

Moving is never free: a position is closed on one chain and opened on the
other (two trades, each paying the taker fee and half the bid-ask spread on
the notional), the capital it ties up is bridged (a bridge fee on it) and is
out of the market while in transit (its cost of capital over the transit
time). The defaults (:class:`MoveCost`) are assumptions of the order of what
on-chain perp venues and fast bridges charge; a user sets their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from seqrisk.decide.base import Setup
from seqrisk.decide.levers import notional_usd, position_capital_usd
from seqrisk.exceptions import UsageError
from seqrisk.units import YEAR_S, format_duration

__all__ = ["Move", "MoveCost"]


def _fmt(x: float) -> str:
    return f"{x:g}" if float(f"{x:g}") == x else repr(float(x))


@dataclass(frozen=True)
class MoveCost:
    """What moving one position costs (basis points are 1/10,000).

    * trading: ``2 (taker_fee_bps + spread_bps / 2)`` of the notional moved
      (close on the source chain, open on the target; a loan is repaid and
      re-borrowed, no trade);
    * bridging: ``bridge_bps`` of the capital moved (a perp's margin, a
      margined option's initial margin, a loan's collateral);
    * capital in transit: the capital moved times the annual cost of capital
      (default: the scenario's ``cost_of_capital``) over ``transit_s``.
    """

    taker_fee_bps: float = 5.0
    spread_bps: float = 2.0
    bridge_bps: float = 10.0
    transit_s: float = 1800.0
    capital_rate_per_year: float | None = None

    def __post_init__(self) -> None:
        if min(self.taker_fee_bps, self.spread_bps, self.bridge_bps, self.transit_s) < 0 or (
                self.capital_rate_per_year is not None and self.capital_rate_per_year < 0):
            raise UsageError("moving costs must be >= 0", field="move",
                             value=(self.taker_fee_bps, self.spread_bps, self.bridge_bps, self.transit_s))

    def items_usd(self, notional_usd: float, capital_usd: float, trades: bool, rate_per_year: float
                  ) -> dict[str, float]:
        """The cost items (USD) of moving ``notional_usd`` of exposure tying up ``capital_usd``."""
        rate = self.capital_rate_per_year if self.capital_rate_per_year is not None else rate_per_year
        return {"trading": 2e-4 * (self.taker_fee_bps + self.spread_bps / 2) * notional_usd if trades else 0.0,
                "bridging": 1e-4 * self.bridge_bps * capital_usd,
                "capital in transit": capital_usd * rate * self.transit_s / YEAR_S}

    def options(self) -> str:
        """The spec options that differ from the defaults (``,fee=3,transit=1h``)."""
        d = MoveCost()
        out = ""
        for key, mine, base in (("fee", self.taker_fee_bps, d.taker_fee_bps), ("spread", self.spread_bps,
                                                                                  d.spread_bps),
                                ("bridge", self.bridge_bps, d.bridge_bps)):
            if mine != base:
                out += f",{key}={_fmt(mine)}"
        if self.transit_s != d.transit_s:
            out += f",transit={format_duration(self.transit_s)}"
        if self.capital_rate_per_year is not None:
            out += f",rate={_fmt(self.capital_rate_per_year)}"
        return out


def _scaled(p: Any, f: float, **update: Any) -> Any:
    if p.type == "perp":
        if p.size is not None:
            update["size"] = p.size * f
        else:
            update["notional_usd"] = p.notional_usd * f
        if p.collateral_usd is not None:
            update["collateral_usd"] = p.collateral_usd * f
    elif p.type == "option":
        update["quantity"] = p.quantity * f
    else:
        update["collateral_amount"] = p.collateral_amount * f
        update["debt_usd"] = p.debt_usd * f
    return p.model_copy(update=update)


@dataclass(frozen=True)
class Move:
    """Diversification: move a share ``fraction`` of every position on ``source`` to ``target``.

    A position is split in two (``id`` keeps ``1 - fraction`` on the source,
    ``id@target`` takes ``fraction``); ``fraction = 1`` moves it whole. The
    venue's rest-of-market models stay where they are. Cost: :class:`MoveCost`
    of each share moved, paid by the holder.
    """

    source: str
    target: str
    fraction: float = 1.0
    cost: MoveCost = field(default_factory=MoveCost)
    party: ClassVar[str] = "holder"

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1 or self.source == self.target:
            raise UsageError("move needs two different chains and 0 < fraction <= 1", field="move",
                             value=(self.source, self.target, self.fraction))

    @property
    def label(self) -> str:
        return f"move={self.source}:{self.target}:{_fmt(self.fraction)}{self.cost.options()}"

    def describe(self) -> str:
        share = "all" if self.fraction >= 1 else f"{self.fraction:.0%}"
        return f"moving {share} of the {self.source} positions to {self.target}"

    def apply(self, setup: Setup) -> Setup:
        book = setup.book
        if self.source not in book.chains:
            raise UsageError("the book holds nothing on the chain to move from", chain=self.source, field="move")
        if self.target not in setup.model.chains:
            # an unmodelled chain would look like one that never fails
            raise UsageError("the outage model has no law for the chain to move to (fit or give a model with "
                             "it)", chain=self.target, field="move")
        rate = float(getattr(setup.scenario, "cost_of_capital", 0.08))
        out: list[Any] = []
        items: dict[str, float] = {}
        for p in book.positions:
            if p.chain != self.source:
                out.append(p)
                continue
            cost = self.cost.items_usd(self.fraction * notional_usd(book, p),
                                       self.fraction * position_capital_usd(book, p), p.type != "loan", rate)
            for k, v in cost.items():
                items[k] = items.get(k, 0.0) + v
            if self.fraction >= 1.0:
                out.append(p.model_copy(update={"chain": self.target}))
            else:
                out.append(_scaled(p, 1.0 - self.fraction))
                out.append(_scaled(p, self.fraction, id=f"{p.id}@{self.target}", chain=self.target))
        res = replace(setup, book=book.model_copy(update={"positions": out}))
        for k, v in items.items():
            if v > 0:
                res = res.with_cost(k, v, payer="holder")
        return res
