"""The head's silence as evidence: a chain's block-interval law and the posterior odds that it is down.

**Block-interval law.** While the sequencer is up, the time ``B`` from one
block to the next is short (about the chain's block time ``b``) except in
slow spells. Past a threshold ``u`` (default ``2 b + 1 s``) the law has an
exponential tail of mean ``m`` (the slow-spell component)::

    P(B > s) = p_u ** (s / u)              for s <= u
             = p_u * exp(-(s - u) / m)      for s > u

``p_u = P(B > u)`` and ``m`` are learned from the chain's own intervals
(:class:`IntervalFit`: a beta prior on ``p_u`` and a gamma prior on ``1/m``
centred on catalog-based defaults, updated with every interval observed while
the chain was not judged down; the point estimates are the posterior means).

**Silence.** After the last block, the sequencer stays up until the next block
(after ``B``) unless an outage starts first; outages start at rate ``lambda``
(the chain's downtime rate) and last ``D`` (its predictive duration law, with
survival ``S_D``). After a silence of ``s`` seconds::

    P(up, silent s)   = S_B(s) exp(-lambda s)
    P(down, silent s) = integral_0^s lambda exp(-lambda x) S_B(x) S_D(s - x) dx

and the posterior odds of *down* are their ratio (:func:`silence_log_odds`).
Since ``S_B`` falls exponentially and ``S_D`` more slowly (every fitted
duration law has a heavier tail than an exponential of a few seconds), the
odds grow without bound: ``P(down | silent s) -> 1`` as the silence lasts,
however short the typical outage. A silence the block law explains (a slow
block, a slow spell like those seen before) keeps the odds low.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqrisk.units import YEAR_S

__all__ = ["BlockIntervalLaw", "IntervalFit", "silence_log_odds"]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(32)
#: beyond this many tail means past ``u`` the block law's survival is below e^-40: the integral stops there
_TAIL_SPAN = 40.0


@dataclass(frozen=True)
class BlockIntervalLaw:
    """Time between consecutive blocks while the sequencer is up (seconds); see the module doc."""

    block_time_s: float
    slow_after_s: float
    p_slow: float
    slow_mean_s: float

    def __post_init__(self) -> None:
        if not (self.block_time_s > 0 and self.slow_after_s > 0 and 0 < self.p_slow < 1 and self.slow_mean_s > 0):
            raise ValueError(f"bad block-interval law: {self}")

    def logsf(self, s: Any) -> Any:
        """``log P(B > s)``."""
        s = np.maximum(np.asarray(s, dtype=float), 0.0)
        lp = math.log(self.p_slow)
        out = np.where(s <= self.slow_after_s, lp * s / self.slow_after_s,
                       lp - (s - self.slow_after_s) / self.slow_mean_s)
        return float(out) if out.ndim == 0 else out

    def logsf_scalar(self, s: float) -> float:
        """``log P(B > s)`` of one number (no NumPy: the monitor calls it every round)."""
        s = max(s, 0.0)
        lp = math.log(self.p_slow)
        if s <= self.slow_after_s:
            return lp * s / self.slow_after_s
        return lp - (s - self.slow_after_s) / self.slow_mean_s

    def integral_sf(self, s: float) -> float:
        """``integral_0^s P(B > x) dx`` (s), closed form."""
        u, p, m = self.slow_after_s, self.p_slow, self.slow_mean_s
        lp = math.log(p)
        if s <= u:
            return u * math.expm1(lp * s / u) / lp
        return u * (p - 1.0) / lp + p * m * -math.expm1(-(s - u) / m)

    def sf(self, s: Any) -> Any:
        """``P(B > s)``."""
        return np.exp(self.logsf(s))

    def mean(self) -> float:
        """``E[B]`` (s): the integral of the survival."""
        return self.integral_sf(math.inf)


@dataclass(frozen=True)
class IntervalFit:
    """Learned block-interval law: prior pseudo-counts plus what the chain showed (counts, seconds).

    ``p_u ~ Beta(a, b)`` with ``a = prior_slow + slow``, ``b = prior_intervals - prior_slow + intervals - slow``;
    the tail rate ``1/m ~ Gamma(prior_slow_n + slow, prior_slow_n * prior_mean + excess_s)``.
    """

    block_time_s: float
    slow_after_s: float
    prior_p_slow: float = 0.01
    prior_intervals: float = 100.0
    prior_slow_mean_s: float = 4.0
    prior_slow_n: float = 3.0
    intervals: int = 0
    slow: int = 0
    excess_s: float = 0.0

    def law(self) -> BlockIntervalLaw:
        """The plug-in law at the posterior means."""
        a = self.prior_p_slow * self.prior_intervals + self.slow
        n = self.prior_intervals + self.intervals
        m = (self.prior_slow_n * self.prior_slow_mean_s + self.excess_s) / (self.prior_slow_n + self.slow)
        return BlockIntervalLaw(self.block_time_s, self.slow_after_s, a / n, m)

    def add(self, n_blocks: int, span_s: float) -> IntervalFit:
        """Fold in ``n_blocks`` intervals that together lasted ``span_s`` seconds.

        When the head moved by several blocks between two looks, ``n_blocks - 1`` intervals are taken at the
        block time and the rest of the span as one interval (the longest the data allow for one of them).
        """
        if n_blocks <= 0:
            return self
        longest = span_s - (n_blocks - 1) * self.block_time_s
        slow = longest > self.slow_after_s
        return IntervalFit(self.block_time_s, self.slow_after_s, self.prior_p_slow, self.prior_intervals,
                           self.prior_slow_mean_s, self.prior_slow_n, self.intervals + n_blocks,
                           self.slow + int(slow), self.excess_s + (longest - self.slow_after_s if slow else 0.0))

    def to_dict(self) -> dict[str, float]:
        return {"intervals": self.intervals, "slow": self.slow, "excess_s": self.excess_s}


def silence_log_odds(silence_s: float, law: BlockIntervalLaw, rate_per_year: float, duration_sf: Any) -> float:
    """``log`` of the posterior odds ``P(down, silent s) / P(up, silent s)`` (see the module doc).

    ``duration_sf`` is the outage duration law's survival function (vectorised, seconds). Gauss-Legendre
    quadrature on ``[0, min(s, u)]`` and on ``[u, min(s, u + 40 m)]`` (where the integrand is smooth);
    when a cheap bound puts the odds below ``1e-7``, ``S_D = 1`` and ``exp(-lambda x) = 1`` there and the
    integral of ``S_B`` is taken in closed form (a probability far below any threshold, to a relative error
    of order ``lambda s + P(D < s)``).
    """
    lam = rate_per_year / YEAR_S
    s = max(float(silence_s), 0.0)
    if lam <= 0.0:
        return -math.inf
    if s == 0.0:
        return -math.inf
    log_up = law.logsf_scalar(s) - lam * s
    # cheap bound: the integrand is at most lam * S_B(x), whose integral is at most lam * E[B]
    if math.log(lam * min(s, law.mean())) - log_up < math.log(1e-7):
        # odds this small: S_D = 1 and exp(-lam x) = 1 on [0, s] (relative errors of order lam s and
        # P(D < s)), the integral of S_B in closed form
        return math.log(lam * law.integral_sf(s)) - log_up
    xs, ws = _nodes(s, law)
    sd = np.asarray(duration_sf(np.maximum(s - xs, 0.0)), dtype=float)
    total = float(np.sum(ws * lam * np.exp(-lam * xs + np.asarray(law.logsf(xs))) * sd))
    if total <= 0.0:  # the duration law says no outage lasts this long; the block law says it is not a block
        total = 1e-300
    return math.log(total) - log_up


def _nodes(s: float, law: BlockIntervalLaw) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes and weights on ``[0, s]``, split at ``u`` and cut where the block law is negligible."""
    u = law.slow_after_s
    pieces = [(0.0, min(s, u))]
    if s > u:
        pieces.append((u, min(s, u + _TAIL_SPAN * law.slow_mean_s)))
    xs, ws = [], []
    for a, b in pieces:
        h = 0.5 * (b - a)
        xs.append(a + h * (_GL_X + 1.0))
        ws.append(h * _GL_W)
    return np.concatenate(xs), np.concatenate(ws)
