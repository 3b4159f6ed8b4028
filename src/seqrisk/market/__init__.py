"""Market models (layer 2): option pricing, price sampling at event times, impact."""

from seqrisk.market.impact import sqrt_impact_factor
from seqrisk.market.paths import bridge_cross_probability, regime_variance
from seqrisk.market.pricing import black76_price, bs_delta, bs_gamma, bs_price, bs_theta, bs_vega

__all__ = [
    "black76_price",
    "bridge_cross_probability",
    "bs_delta",
    "bs_gamma",
    "bs_price",
    "bs_theta",
    "bs_vega",
    "regime_variance",
    "sqrt_impact_factor",
]
