"""Insurance as a lever: a cover bought by the holder, paid from the simulated outcome.

* Indemnity: pays ``cover.payout(holder loss)`` on each path; the premium is
  priced on the same simulated paths (the insurer uses the same model):
  ``E[payout] (1 + loading) + coc x T x ES(payout)``.
* Parametric: pays ``payout_usd`` on paths where a downtime on ``cover.chain``
  lasted longer than ``trigger_s`` (the longest downtime per path and chain is
  re-drawn by the engine's own sampler on the same seed: :func:`longest_downtime_s`);
  premium in closed form (:func:`seqrisk.decide.insurance.price_parametric`) over the
  scenario's horizon.

The holder's loss after cover is ``loss - payout``; the premium is the lever's cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from seqrisk.decide.base import Cost, Outcome, Setup
from seqrisk.decide.insurance import IndemnityCover, ParametricCover, Pricing, price_parametric
from seqrisk.decide.levers import horizon_s
from seqrisk.decide.measures import measure
from seqrisk.decide.paths import longest_downtime_s
from seqrisk.exceptions import UsageError
from seqrisk.units import YEAR_S, format_duration, format_usd

__all__ = ["Insure"]


@dataclass(frozen=True)
class Insure:
    """Buy ``cover`` at ``pricing``; the holder's loss falls by the payout, the premium is the cost."""

    cover: IndemnityCover | ParametricCover
    pricing: Pricing = field(default_factory=Pricing)
    party: ClassVar[str] = "holder"

    @property
    def label(self) -> str:
        c = self.cover
        if isinstance(c, ParametricCover):
            return f"insure=parametric,chain={c.chain},payout={format_usd(c.payout_usd)},trigger=" \
                   f"{format_duration(c.trigger_s)}"
        lim = "" if not np.isfinite(c.limit_usd) or c.limit_usd >= 1e29 else f",limit={format_usd(c.limit_usd)}"
        return f"insure=indemnity,deductible={format_usd(c.deductible_usd)}{lim},coins={c.coinsurance:g}"

    def describe(self) -> str:
        c = self.cover
        if isinstance(c, ParametricCover):
            return (f"a parametric cover paying {format_usd(c.payout_usd)} if a downtime on {c.chain} lasts longer "
                    f"than {format_duration(c.trigger_s)}")
        lim = "" if not np.isfinite(c.limit_usd) or c.limit_usd >= 1e29 else f", limit {format_usd(c.limit_usd)}"
        co = f", {c.coinsurance:.0%} kept by the holder" if c.coinsurance else ""
        return f"an indemnity cover of the outage loss above {format_usd(c.deductible_usd)}{lim}{co}"

    def apply(self, setup: Setup) -> Setup:
        pricing = self.pricing
        cover = self.cover
        if isinstance(cover, ParametricCover):
            pc = cover

            def pay(out: Outcome, final: Setup) -> tuple[Outcome, tuple[Cost, ...]]:
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
                paid = replace(out, holder_usd=np.asarray(out.holder_usd, float) - payout)
                return paid, (Cost("premium", premium, payer="holder"),)
        else:
            ind = cover

            def pay(out: Outcome, final: Setup) -> tuple[Outcome, tuple[Cost, ...]]:
                period = horizon_s(final.scenario)
                payout = ind.payout(np.asarray(out.holder_usd, float))
                mean = measure(payout, "el", out.p_event)[0].value
                es = measure(payout, f"es{pricing.es_level * 100:g}", out.p_event)[0].value
                prem = mean * (1 + pricing.loading) + pricing.cost_of_capital_per_year * period / YEAR_S * es
                paid = replace(out, holder_usd=np.asarray(out.holder_usd, float) - payout)
                return paid, (Cost("premium", prem, payer="holder"),)

        return replace(setup, covers=(*setup.covers, pay))
