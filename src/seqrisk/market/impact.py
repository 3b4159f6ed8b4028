"""Square-root market impact of forced sales (docs/engine.md, "Positions and costs").

``P -> P * (1 - sign(X) * eta * sqrt(|X| / ADV))`` for a signed notional ``X``
(USD, positive when longs are liquidated, i.e. sold) against a depth scale ADV
(USD). This is the linear form the benchmark's reference model uses; the factor is floored
at ``floor`` so a price never turns negative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sqrt_impact_factor"]


def sqrt_impact_factor(x_usd: Any, eta: Any, adv_usd: Any, floor: float = 1e-6) -> Any:
    """Multiplicative price factor after selling ``x_usd`` (signed) into depth ``adv_usd``.

    >>> float(sqrt_impact_factor(1e7, 0.1, 1e9))
    0.99
    """
    x = np.asarray(x_usd, dtype=float)
    f = 1.0 - np.sign(x) * np.asarray(eta, dtype=float) * np.sqrt(np.abs(x) / np.asarray(adv_usd, dtype=float))
    out = np.maximum(f, floor)
    return float(out) if out.ndim == 0 else out
