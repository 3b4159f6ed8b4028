"""Insurance as a lever: a cover bought by the holder, paid from the simulated outcome.

* Indemnity: pays ``cover.payout(holder loss)`` on each path; the premium is
  priced on the same simulated paths (the insurer uses the same model):
  ``E[payout] (1 + loading) + coc x T x ES(payout)``.
* Parametric: pays ``payout_usd`` on paths where an outage on ``cover.chain``
  lasted longer than ``trigger_s``; needs the engine's per-chain longest outage
  (``outcome.extra["max_outage_s"][chain]``); premium in closed form
  (:func:`seqrisk.insurance.price_parametric`) over the scenario's horizon.

The holder's loss after cover is ``loss - payout``; the premium is the lever's cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from seqrisk.exceptions import UsageError
from seqrisk.insurance import IndemnityCover, ParametricCover, Pricing, price_parametric
from seqrisk.mitigation.base import Outcome, Setup
from seqrisk.mitigation.levers import horizon_s
from seqrisk.mitigation.measures import measure
from seqrisk.units import YEAR_S, format_duration, format_usd

__all__ = ["Insure"]


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
        period = horizon_s(setup.scenario)
        pricing = self.pricing
        cover = self.cover
        if isinstance(cover, ParametricCover):
            cover = replace(cover, period_s=period)
            premium = price_parametric(setup.model, cover, pricing).premium_usd

            def pay(out: Outcome) -> tuple[Outcome, Mapping[str, float]]:
                longest = out.extra.get("max_outage_s", {})
                if cover.chain not in longest:
                    raise UsageError("the engine result has no per-chain outage durations for a parametric "
                                     "cover", chain=cover.chain, field="max_outage_s")
                payout = cover.payout_usd * (np.asarray(longest[cover.chain]) > cover.trigger_s)
                return replace(out, holder_usd=np.asarray(out.holder_usd, float) - payout), {"premium": premium}
        else:
            ind = cover

            def pay(out: Outcome) -> tuple[Outcome, Mapping[str, float]]:
                payout = ind.payout(np.asarray(out.holder_usd, float))
                mean = measure(payout, "el", out.p_event)[0].value
                es = measure(payout, f"es{pricing.es_level * 100:g}", out.p_event)[0].value
                prem = mean * (1 + pricing.loading) + pricing.cost_of_capital_per_year * period / YEAR_S * es
                return replace(out, holder_usd=np.asarray(out.holder_usd, float) - payout), {"premium": prem}

        return replace(setup, covers=(*setup.covers, pay))
