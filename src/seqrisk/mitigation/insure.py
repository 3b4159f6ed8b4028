"""Insurance as a lever: a cover bought by the holder, paid from the simulated outcome.

* Indemnity: pays ``cover.payout(holder loss)`` on each path; the premium is
  priced on the same simulated paths (the insurer uses the same model):
  ``E[payout] (1 + loading) + coc x T x ES(payout)``.
* Parametric: pays ``payout_usd`` on paths where a downtime on ``cover.chain``
  lasted longer than ``trigger_s`` (the longest downtime per path and chain is
  re-drawn by the engine's own sampler on the same seed: :func:`longest_downtime_s`);
  premium in closed form (:func:`seqrisk.insurance.price_parametric`) over the
  scenario's horizon.

The holder's loss after cover is ``loss - payout``; the premium is the lever's cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from seqrisk._typing import FloatArray
from seqrisk.exceptions import UsageError
from seqrisk.insurance import IndemnityCover, ParametricCover, Pricing, price_parametric
from seqrisk.mitigation.base import Outcome, Setup
from seqrisk.mitigation.levers import horizon_s
from seqrisk.mitigation.measures import measure
from seqrisk.outage import OutageModel
from seqrisk.units import YEAR_S, format_duration, format_usd

__all__ = ["Insure", "longest_downtime_s"]


@dataclass(frozen=True)
class Insure:
    """Buy ``cover`` at ``pricing``; the holder's loss falls by the payout, the premium is the cost."""

    cover: IndemnityCover | ParametricCover
    pricing: Pricing = field(default_factory=Pricing)

    @property
    def label(self) -> str:
        c = self.cover
        if isinstance(c, ParametricCover):
            return f"insure=parametric,chain={c.chain},payout={format_usd(c.payout_usd)},trigger=" \
                   f"{format_duration(c.trigger_s)}"
        lim = "" if not np.isfinite(c.limit_usd) or c.limit_usd >= 1e29 else f",limit={format_usd(c.limit_usd)}"
        return f"insure=indemnity,deductible={format_usd(c.deductible_usd)}{lim},coins={c.coinsurance:g}"

    def apply(self, setup: Setup) -> Setup:
        pricing = self.pricing
        cover = self.cover
        if isinstance(cover, ParametricCover):
            pc = cover

            def pay(out: Outcome, final: Setup) -> tuple[Outcome, Mapping[str, float]]:
                period = horizon_s(final.scenario)
                cv = replace(pc, period_s=period)
                premium = price_parametric(final.model, cv, pricing).premium_usd
                longest = out.extra.get("max_downtime_s")
                if longest is None:
                    names, arr, _ = longest_downtime_s(final.book, final.model, final.scenario)
                    longest = {c: arr[:, i] for i, c in enumerate(names)}
                if cv.chain not in longest:
                    raise UsageError("a parametric cover needs its chain simulated (add a position on it)",
                                     chain=cv.chain, field="chain")
                rows = np.asarray(out.extra.get("path", np.arange(out.n_paths)), np.int64)
                payout = cv.payout_usd * (np.asarray(longest[cv.chain])[rows] > cv.trigger_s)
                return replace(out, holder_usd=np.asarray(out.holder_usd, float) - payout), {"premium": premium}
        else:
            ind = cover

            def pay(out: Outcome, final: Setup) -> tuple[Outcome, Mapping[str, float]]:
                period = horizon_s(final.scenario)
                payout = ind.payout(np.asarray(out.holder_usd, float))
                mean = measure(payout, "el", out.p_event)[0].value
                es = measure(payout, f"es{pricing.es_level * 100:g}", out.p_event)[0].value
                prem = mean * (1 + pricing.loading) + pricing.cost_of_capital_per_year * period / YEAR_S * es
                return replace(out, holder_usd=np.asarray(out.holder_usd, float) - payout), {"premium": prem}

        return replace(setup, covers=(*setup.covers, pay))


def longest_downtime_s(book: Any, model: OutageModel, scenario: Any) -> tuple[list[str], FloatArray, FloatArray]:
    """Per path and simulated chain, the longest (merged) downtime in seconds: ``(chains, (paths, chains), p_event)``.

    Drawn by the engine's own sampler with the scenario's seed, block by block,
    so row ``j`` is path ``j`` of the engine run on the same inputs (common
    random numbers with the losses of that run); ``p_event`` are the paths'
    conditional-sampling weights.
    """
    import math

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
