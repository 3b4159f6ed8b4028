"""What a mitigation is: a frozen object that turns (book, scenario, model) into new ones, plus costs.

A :class:`Setup` carries the three inputs of the loss engine, the costs (USD
over the scenario's horizon, each with the party that pays it) the levers
applied so far have added, and *covers*: functions applied to the engine's
per-path outcome after the run (insurance pays from it). A :class:`Strategy`
is a named tuple of levers applied left to right, so levers compose:
``Strategy("grace+buffer", (GracePeriod(3600), MarginBuffer(0.5)))``.

Every lever says who controls it (``party``): the *venue* (the protocol: its
grace period, margin rules, support for forced inclusion), the *holder* (the
trader or fund: a margin buffer, where positions sit, cover bought) or the
*chain* (its operator: a shared sequencer). Advice is given to one party at a
time, on that party's own loss: holder loss and venue bad debt are never added.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from seqrisk._typing import FloatArray
from seqrisk.exceptions import DataError, UsageError
from seqrisk.outage import OutageModel

__all__ = [
    "PARTIES",
    "Cost",
    "Cover",
    "Mitigation",
    "Outcome",
    "Setup",
    "Strategy",
    "effective_inputs",
    "replace_fields",
]


#: The parties advice is given to; a lever's ``party`` may also be ``"chain"`` (neither of them decides it).
PARTIES = ("holder", "venue")


def check_party(party: str, field: str = "perspective") -> str:
    """``party`` if it is one of :data:`PARTIES`, else a usage error naming ``field``."""
    if party not in PARTIES:
        raise UsageError("perspective is holder or venue", field=field, value=party)
    return party


@dataclass(frozen=True)
class Cost:
    """One cost of a lever over the scenario's horizon: what (``item``), how much (USD) and who pays."""

    item: str
    usd: float
    payer: str = "holder"


@dataclass(frozen=True)
class Outcome:
    """Per-path results of one engine run (USD over the horizon), axis 0 = paths.

    ``holder_usd`` and ``venue_usd`` are the sequencer-attributable losses.
    With conditional sampling (``p_event`` given) path ``j`` stands for mass
    ``1/N``: its losses with probability ``p_event[j]``, zero otherwise.
    ``liquidated`` (per path, 0..1: share of the book's liquidations that
    happen, as the engine scales them by the top-up share) gives paired
    liquidation figures; without it ``p_liquidation`` is the engine's
    ``(value, std_error)``. ``extra`` holds engine arrays covers or scores use
    (``chain_holder``/``chain_venue``: (paths, chains) losses; ``chains``).
    """

    holder_usd: FloatArray
    venue_usd: FloatArray
    p_event: FloatArray | None = None
    liquidated: FloatArray | None = None
    p_liquidation: tuple[float, float] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = np.shape(self.holder_usd)[0]
        for name in ("venue_usd", "p_event", "liquidated"):
            a = getattr(self, name)
            if a is not None and np.shape(a)[0] != n:
                raise DataError("outcome arrays must share the path axis", field=name)

    @property
    def n_paths(self) -> int:
        return int(np.shape(self.holder_usd)[0])

    def loss_usd(self, party: str) -> FloatArray:
        """The per-path loss of one party (USD): the holder's attributable loss or the venue's bad debt."""
        return np.asarray(self.holder_usd if check_party(party) == "holder" else self.venue_usd, float)


#: A cover: maps the outcome of the engine run on a setup to a new outcome and the costs it adds.
Cover = Callable[[Outcome, "Setup"], tuple[Outcome, tuple[Cost, ...]]]


def costs_by_item(costs: Sequence[Cost]) -> dict[str, float]:
    """USD per cost item (``capital``, ``premium``, ``fees`` ...), whoever pays."""
    out: dict[str, float] = {}
    for c in costs:
        out[c.item] = out.get(c.item, 0.0) + c.usd
    return out


def cost_of(costs: Sequence[Cost], party: str | None = None) -> float:
    """Total USD of ``costs`` paid by ``party`` (all of them when None)."""
    return float(sum(c.usd for c in costs if party is None or c.payer == party))


@dataclass(frozen=True)
class Setup:
    """The engine inputs after some levers, their costs (USD per horizon, with payers) and covers."""

    book: Any
    scenario: Any
    model: OutageModel
    costs: tuple[Cost, ...] = ()
    covers: tuple[Cover, ...] = ()

    def with_cost(self, item: str, usd: float, payer: str = "holder") -> Setup:
        """Add a cost of ``usd`` (USD over the horizon) for ``item``, paid by ``payer``."""
        return replace(self, costs=(*self.costs, Cost(item, float(usd), payer)))

    @property
    def costs_usd(self) -> dict[str, float]:
        """USD per cost item."""
        return costs_by_item(self.costs)

    def cost_usd(self, party: str | None = None) -> float:
        """Total cost (USD over the horizon) paid by ``party`` (by anyone when None)."""
        return cost_of(self.costs, party)


@runtime_checkable
class Mitigation(Protocol):
    """A lever: ``apply`` returns a new :class:`Setup`; ``label`` names it in the spec syntax, ``describe``
    in words; ``party`` is who controls it (``holder``, ``venue`` or ``chain``)."""

    @property
    def label(self) -> str: ...

    @property
    def party(self) -> str: ...

    def describe(self) -> str: ...

    def apply(self, setup: Setup) -> Setup: ...


@dataclass(frozen=True)
class Strategy:
    """A named combination of levers, applied left to right."""

    name: str
    levers: tuple[Mitigation, ...] = ()

    def apply(self, setup: Setup) -> Setup:
        for lever in self.levers:
            setup = lever.apply(setup)
        return setup

    @classmethod
    def of(cls, *levers: Mitigation, name: str | None = None) -> Strategy:
        return cls(name or " + ".join(lv.label for lv in levers) or "baseline", tuple(levers))

    @property
    def party(self) -> str | None:
        """Who controls the strategy: the one party of all its levers, ``"mixed"``, or None for no lever."""
        parties = {lv.party for lv in self.levers}
        return parties.pop() if len(parties) == 1 else ("mixed" if parties else None)

    def describe(self) -> str:
        """The levers in words, joined by "and" (``"no lever"`` for the baseline)."""
        return "; and ".join(lv.describe() for lv in self.levers) or "no lever"


def replace_fields(obj: Any, what: str, **changes: Any) -> Any:
    """A copy of a dataclass or pydantic ``obj`` with ``changes``; a missing field is named clearly."""
    if is_dataclass(obj) and not isinstance(obj, type):
        names = {f.name for f in fields(obj)}
        missing = sorted(set(changes) - names)
        if missing:
            raise UsageError(f"this {what} has no field {missing[0]!r}; the lever needs it", field=missing[0])
        return replace(obj, **changes)
    known = getattr(type(obj), "model_fields", None)
    if known is not None:
        missing = sorted(set(changes) - set(known))
        if missing:
            raise UsageError(f"this {what} has no field {missing[0]!r}; the lever needs it", field=missing[0])
        if callable(getattr(obj, "replace", None)):
            return obj.replace(**changes)  # validated copy (seqrisk.engine.Scenario)
        return obj.model_copy(update=changes)
    raise UsageError(f"cannot change a {type(obj).__name__} {what}", field=what)


def effective_inputs(model: OutageModel, scenario: Any) -> tuple[OutageModel, Any]:
    """Fold a scenario's explicit per-chain outage laws into the model (and drop them from the scenario).

    Levers that change the model (shared sequencer, forced-inclusion delays)
    and closed-form prices then see the laws the engine will use.
    """
    if getattr(scenario, "outages", None) and callable(getattr(scenario, "outage_model", None)):
        return scenario.outage_model(model), replace_fields(scenario, "scenario", outages={})
    return model, scenario


def as_strategies(items: Sequence[Strategy | Mitigation] | Mapping[str, Sequence[Mitigation]]) -> list[Strategy]:
    """Normalise strategies given as Strategy objects, single levers or a name -> levers mapping."""
    if isinstance(items, Mapping):
        return [Strategy(k, tuple(v)) for k, v in items.items()]
    out = []
    for it in items:
        out.append(it if isinstance(it, Strategy) else Strategy.of(it))
    return out
