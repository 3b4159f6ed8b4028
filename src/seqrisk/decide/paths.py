"""Per-path arrays read back from the loss engine: the losses of a run and the outages behind them.

:func:`to_outcome` turns an engine result into an :class:`~seqrisk.decide.base.Outcome`;
:func:`longest_downtime_s` re-draws a run's outages with the engine's own
sampler, so a cover can pay on exactly the paths whose losses it offsets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from seqrisk._typing import FloatArray
from seqrisk.decide.base import Outcome
from seqrisk.exceptions import UsageError
from seqrisk.outage import OutageModel

__all__ = ["Simulate", "engine_simulate", "longest_downtime_s", "to_outcome", "with_paths"]

#: ``simulate(book, model, scenario)``: the engine, or a stand-in returning an :class:`Outcome`.
Simulate = Callable[[Any, OutageModel, Any], Any]


def to_outcome(result: Any) -> Outcome:
    """Per-path arrays of an engine :class:`~seqrisk.engine.SimulationResult` (an :class:`Outcome` is returned as is).

    Uses the attributable holder and venue losses, ``p_event`` and the
    per-chain columns of ``result.path_losses()``; P(liquidation) is the
    engine's figure unless the per-path table has a ``liquidated`` column.
    """
    if isinstance(result, Outcome):
        return result
    if not hasattr(result, "path_losses"):
        raise UsageError(f"cannot read per-path losses from a {type(result).__name__}", field="result")
    df = result.path_losses()
    chains = tuple(c[len("holder:"):] for c in df.columns if c.startswith("holder:"))
    extra = {"chains": chains, "path": df["path"].to_numpy(np.int64),
             "chain_holder": df[[f"holder:{c}" for c in chains]].to_numpy(float),
             "chain_venue": df[[f"venue:{c}" for c in chains]].to_numpy(float)}
    liq = df["liquidated"].to_numpy(float) if "liquidated" in df.columns else None
    return Outcome(holder_usd=df["holder_attributable"].to_numpy(float),
                   venue_usd=df["venue_attributable"].to_numpy(float), p_event=df["p_event"].to_numpy(float),
                   liquidated=liq, p_liquidation=result.value("p_liquidation", perspective="holder"), extra=extra)


def with_paths(scenario: Any) -> Any:
    """``scenario`` with per-path losses kept (comparisons pair paths; the engine keeps them only when asked)."""
    if getattr(scenario, "keep_paths", True):
        return scenario
    return scenario.replace(keep_paths=True)


def engine_simulate() -> Simulate:
    """The loss engine's ``simulate`` (imported on first use: layer 3, heavy)."""
    import importlib

    sim: Simulate = importlib.import_module("seqrisk.engine").simulate  # imported late: layer 3, heavy
    return sim


def longest_downtime_s(book: Any, model: OutageModel, scenario: Any) -> tuple[list[str], FloatArray, FloatArray]:
    """Per path and simulated chain, the longest (merged) downtime in seconds: ``(chains, (paths, chains), p_event)``.

    Drawn by the engine's own sampler with the scenario's seed, block by block,
    so row ``j`` is path ``j`` of the engine run on the same inputs (common
    random numbers with the losses of that run); ``p_event`` are the paths'
    conditional-sampling weights.
    """
    from seqrisk.engine.events import EVENT_CODES
    from seqrisk.engine.prepare import prepare
    from seqrisk.engine.sampling import sample_chunk
    from seqrisk.engine.scenario import BLOCK_PATHS

    prep = prepare(book, model, scenario)
    out = np.zeros((scenario.paths, len(prep.chains)))
    p_event = np.ones(scenario.paths)
    for b in range(math.ceil(scenario.paths / BLOCK_PATHS)):
        cs = sample_chunk(prep, scenario, [b])
        down = cs.type == EVENT_CODES["downtime"]
        np.maximum.at(out, (b * BLOCK_PATHS + cs.path[down], cs.chain[down]), (cs.t1 - cs.t0)[down])
        p_event[b * BLOCK_PATHS: b * BLOCK_PATHS + cs.n] = cs.p_event
    return list(prep.chains), out, p_event
