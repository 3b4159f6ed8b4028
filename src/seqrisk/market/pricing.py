"""Black-Scholes and Black-76 prices and Greeks, vectorized over NumPy arrays.

Conventions: spot and strike in USD, time to expiry ``tau_y`` in years (365 days),
volatility per square-root year, continuously compounded rate ``r`` and dividend
(or funding) yield ``q`` per year. ``call`` is a boolean array or scalar
(True = call). At or after expiry (``tau_y <= 0``) the price is the payoff and
the delta is the payoff's slope. Prices are per unit of underlying.

>>> round(float(bs_price(100.0, 100.0, 1.0, 0.2, True)), 4)
7.9656
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

from seqrisk._typing import FloatArray

__all__ = ["black76_price", "bs_delta", "bs_gamma", "bs_price", "bs_theta", "bs_vega", "payoff"]

_PDF_NORM = 1.0 / np.sqrt(2.0 * np.pi)


def _d12(s: Any, k: Any, tau_y: Any, vol: Any, r: Any, q: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    tau = np.maximum(np.asarray(tau_y, dtype=float), 1e-300)
    sd = np.asarray(vol, dtype=float) * np.sqrt(tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (np.log(np.asarray(s, dtype=float) / np.asarray(k, dtype=float)) + (r - q) * tau) / sd + 0.5 * sd
    return d1, d1 - sd, sd


def payoff(s: Any, k: Any, call: Any) -> FloatArray:
    """Payoff at expiry per unit, USD: ``max(s - k, 0)`` for calls, ``max(k - s, 0)`` for puts."""
    s = np.asarray(s, dtype=float)
    k = np.asarray(k, dtype=float)
    return np.where(call, np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))


def bs_price(s: Any, k: Any, tau_y: Any, vol: Any, call: Any, r: float = 0.0, q: float = 0.0) -> FloatArray:
    """Black-Scholes price per unit of underlying, USD (payoff when ``tau_y <= 0``)."""
    d1, d2, _ = _d12(s, k, tau_y, vol, r, q)
    tau = np.maximum(np.asarray(tau_y, dtype=float), 0.0)
    df_r, df_q = np.exp(-r * tau), np.exp(-q * tau)
    s = np.asarray(s, dtype=float)
    c = s * df_q * ndtr(d1) - k * df_r * ndtr(d2)
    p = k * df_r * ndtr(-d2) - s * df_q * ndtr(-d1)
    out = np.where(call, c, p)
    return np.where(np.asarray(tau_y) > 0, out, payoff(s, k, call))


def bs_delta(s: Any, k: Any, tau_y: Any, vol: Any, call: Any, r: float = 0.0, q: float = 0.0) -> FloatArray:
    """dV/dS per unit (dimensionless)."""
    d1, _, _ = _d12(s, k, tau_y, vol, r, q)
    tau = np.maximum(np.asarray(tau_y, dtype=float), 0.0)
    df_q = np.exp(-q * tau)
    out = np.where(call, df_q * ndtr(d1), df_q * (ndtr(d1) - 1.0))
    s = np.asarray(s, dtype=float)
    expired = np.where(call, (s > k).astype(float), -(s < k).astype(float))
    return np.where(np.asarray(tau_y) > 0, out, expired)


def bs_gamma(s: Any, k: Any, tau_y: Any, vol: Any, r: float = 0.0, q: float = 0.0) -> FloatArray:
    """d2V/dS2 per unit, 1/USD (same for calls and puts)."""
    d1, _, sd = _d12(s, k, tau_y, vol, r, q)
    tau = np.maximum(np.asarray(tau_y, dtype=float), 0.0)
    g = np.exp(-q * tau) * _PDF_NORM * np.exp(-0.5 * d1 * d1) / (np.asarray(s, dtype=float) * sd)
    return np.where(np.asarray(tau_y) > 0, g, 0.0)


def bs_vega(s: Any, k: Any, tau_y: Any, vol: Any, r: float = 0.0, q: float = 0.0) -> FloatArray:
    """dV/dvol per unit, USD per unit of volatility (1.0 = 100 vol points)."""
    d1, _, _ = _d12(s, k, tau_y, vol, r, q)
    tau = np.maximum(np.asarray(tau_y, dtype=float), 0.0)
    v = np.asarray(s, dtype=float) * np.exp(-q * tau) * _PDF_NORM * np.exp(-0.5 * d1 * d1) * np.sqrt(tau)
    return np.where(np.asarray(tau_y) > 0, v, 0.0)


def bs_theta(s: Any, k: Any, tau_y: Any, vol: Any, call: Any, r: float = 0.0, q: float = 0.0) -> FloatArray:
    """dV/dt per unit, USD per year of calendar time (negative for a long vanilla at r = q = 0)."""
    d1, d2, _ = _d12(s, k, tau_y, vol, r, q)
    tau = np.maximum(np.asarray(tau_y, dtype=float), 1e-300)
    s = np.asarray(s, dtype=float)
    df_r, df_q = np.exp(-r * tau), np.exp(-q * tau)
    common = -s * df_q * _PDF_NORM * np.exp(-0.5 * d1 * d1) * vol / (2.0 * np.sqrt(tau))
    c = common - r * k * df_r * ndtr(d2) + q * s * df_q * ndtr(d1)
    p = common + r * k * df_r * ndtr(-d2) - q * s * df_q * ndtr(-d1)
    return np.where(np.asarray(tau_y) > 0, np.where(call, c, p), 0.0)


def black76_price(f: Any, k: Any, tau_y: Any, vol: Any, call: Any, r: float = 0.0) -> FloatArray:
    """Black-76 price of an option on a forward ``f`` (USD per unit), discounted at ``r``."""
    d1, d2, _ = _d12(f, k, tau_y, vol, 0.0, 0.0)
    tau = np.maximum(np.asarray(tau_y, dtype=float), 0.0)
    f = np.asarray(f, dtype=float)
    df = np.exp(-r * tau)
    out = np.where(call, df * (f * ndtr(d1) - k * ndtr(d2)), df * (k * ndtr(-d2) - f * ndtr(-d1)))
    return np.where(np.asarray(tau_y) > 0, out, df * payoff(f, k, call))
