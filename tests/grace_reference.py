"""Closed form of the grace-period model for one long perp, shared by the engine's and the sweep's tests.

One long perp of ``units`` at leverage L (maintenance = penalty = m, no impact)
is frozen for an outage of D seconds; it is at stake when the restart price
P(D) is below the trigger ``P0 (1 - 1/L) / (1 - m)`` and is tested at
P(D + G). Its equity at x is ``u (x - K)`` with ``K = P0 (1 - 1/L)``: when
liquidated the holder loses its equity ``u (P_G - K)^+`` (maintenance =
penalty), the venue ``u (K - P_G)^+``. A share ``q(G) = q_max F_R(G)`` of the
holders at stake tops up in time (F_R lognormal). Prices are GBM without
drift at volatility ``sig`` per square-root year.
"""

from __future__ import annotations

import math

from scipy import integrate, stats

from seqrisk.market import bs_price
from seqrisk.units import YEAR_S


def grace_closed_form(g: float, *, sig: float, p0: float, lev: float, mm: float, units: float, d: float,
                      q_max: float, response_median_s: float, response_sigma: float) -> dict[str, float]:
    """Expected holder loss and venue bad debt (USD) and P(liquidation) for a grace period of ``g`` seconds."""
    law = stats.lognorm(s=response_sigma, scale=response_median_s)
    q = q_max * (law.cdf(g) if g > 0 else 0.0)
    s1 = sig * math.sqrt(d / YEAR_S)
    sg2 = sig * sig * g / YEAR_S
    k = p0 * (1 - 1 / lev)
    trig = p0 * (1 - 1 / lev) / (1 - mm)
    x_hi = math.log(trig / p0)

    def inner(x1: float) -> tuple[float, float, float]:
        p1 = p0 * math.exp(x1)
        if sg2 == 0.0:
            return max(p1 - k, 0.0), max(k - p1, 0.0), 1.0
        sd = math.sqrt(sg2)

        def call(strike: float) -> float:
            return float(bs_price(p1, strike, sg2, 1.0, True))

        above = stats.norm.cdf((math.log(p1 / trig) - 0.5 * sg2) / sd)
        holder = call(k) - call(trig) - (trig - k) * above
        return holder, float(bs_price(p1, k, sg2, 1.0, False)), 1.0 - above

    dens = stats.norm(loc=-0.5 * s1 * s1, scale=s1).pdf
    lo = -0.5 * s1 * s1 - 12 * s1
    out = {}
    for i, name in enumerate(("holder", "venue", "p_liquidation")):
        val = integrate.quad(lambda x, i=i: inner(x)[i] * dens(x), lo, x_hi, limit=200, epsabs=0)[0]
        out[name] = (1 - q) * val * (units if name != "p_liquidation" else 1.0)
    return out
