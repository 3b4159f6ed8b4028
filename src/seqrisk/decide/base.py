"""What a mitigation is: a frozen object that turns (book, scenario, model) into new ones, plus costs.

A :class:`Setup` carries the three inputs of the loss engine, the named costs
(USD over the scenario's horizon) the levers applied so far have added, and
*covers*: functions applied to the engine's per-path outcome after the run
(insurance pays from it). A :class:`Strategy` is a named tuple of levers
applied left to right, so levers compose: ``Strategy("grace+buffer",
(GracePeriod(3600, 1.0), MarginBuffer(0.5)))``.
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
    "Cover",
    "Mitigation",
    "Outcome",
    "Setup",
    "Strategy",
    "effective_inputs",
    "replace_fields",
]


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

    @property
    def total_usd(self) -> FloatArray:
        """Holder loss plus venue bad debt per path (USD)."""
        return np.asarray(self.holder_usd, float) + np.asarray(self.venue_usd, float)


#: A cover: maps the outcome of the engine run on a setup to a new outcome and the costs it adds (USD).
Cover = Callable[[Outcome, "Setup"], tuple[Outcome, Mapping[str, float]]]


@dataclass(frozen=True)
class Setup:
    """The engine inputs after some levers, their named costs (USD per horizon) and covers."""

    book: Any
    scenario: Any
    model: OutageModel
    costs_usd: Mapping[str, float] = field(default_factory=dict)
    covers: tuple[Cover, ...] = ()

    def with_cost(self, name: str, usd: float) -> Setup:
        """Add ``usd`` to the cost item ``name``."""
        c = dict(self.costs_usd)
        c[name] = c.get(name, 0.0) + float(usd)
        return replace(self, costs_usd=c)

    @property
    def cost_usd(self) -> float:
        return float(sum(self.costs_usd.values()))


@runtime_checkable
class Mitigation(Protocol):
    """A lever: ``apply`` returns a new :class:`Setup`; ``label`` names it in tables."""

    @property
    def label(self) -> str: ...

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
