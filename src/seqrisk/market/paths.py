"""Prices at event times, sampled exactly (docs/engine.md, "Events"): no clock is stepped.

Log prices are ``X(t) = -V(t)/2 + D(t) + J(t)`` per asset, with ``V`` the
integrated variance (piecewise constant volatility under a Markov regime
path), ``D`` the diffusion martingale (correlated Brownian motions run on the
variance clock) and ``J`` the Merton compound-Poisson jump part with its
compensator. Prices are ``S0 * exp(X)`` times any permanent impact.

All functions are pure: random numbers come in as arrays (see the engine for
the streams), so the same numbers give the same prices whatever the chunking.
Time is in seconds; variances are in log-price units.
"""

from __future__ import annotations

import numpy as np

from seqrisk._typing import FloatArray, IntArray

__all__ = [
    "bridge_cross_probability",
    "regime_variance",
    "sample_regime_paths",
    "segment_cumsum",
]


def sample_regime_paths(rng: np.random.Generator, n: int, horizon_s: float, rates_per_s: FloatArray,
                        initial: FloatArray) -> tuple[FloatArray, IntArray]:
    """Continuous-time Markov regime paths on ``[0, horizon_s]``.

    ``rates_per_s`` is the K x K matrix of switching rates (off-diagonal, per
    second); ``initial`` the K probabilities at t = 0. Returns ``starts`` and
    ``regimes`` of shape ``(n, J)``: segment j of a path starts at
    ``starts[:, j]`` (``inf`` for unused slots) in regime ``regimes[:, j]``. The
    last used segment extends past the horizon.
    """
    k = rates_per_s.shape[0]
    out_rate = rates_per_s.sum(axis=1)
    reg = (rng.random(n)[:, None] > np.cumsum(initial)[None, :-1]).sum(axis=1) if k > 1 else np.zeros(n, np.int64)
    starts = [np.zeros(n)]
    regimes = [reg.astype(np.int64)]
    t = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while k > 1 and active.any():
        cur = regimes[-1]
        r_out = out_rate[cur]
        hold = np.where(r_out > 0, rng.standard_exponential(n) / np.where(r_out > 0, r_out, 1.0), np.inf)
        t = np.where(active, t + hold, np.inf)
        active = t < horizon_s
        probs = rates_per_s[cur] / np.where(r_out > 0, r_out, 1.0)[:, None]
        nxt = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)
        starts.append(np.where(active, t, np.inf))
        regimes.append(np.where(active, nxt, cur).astype(np.int64))
        if len(starts) > 10_000:  # pragma: no cover - absurd switching rates
            break
    return np.stack(starts, axis=1), np.stack(regimes, axis=1)


_CHUNK = 1 << 15  # points per step: bounds the (points x segments) comparison to a few MB


def regime_variance(t_s: FloatArray, seg_start: FloatArray, seg_regime: IntArray,
                    var_per_s: FloatArray, rows: IntArray | None = None) -> FloatArray:
    """Integrated variance ``V(t)`` from 0 to ``t_s`` per asset, shape ``(len(t_s), n_assets)``.

    ``seg_start``/``seg_regime`` are regime paths (segment j starts at ``seg_start[:, j]``, ``inf`` for unused
    slots, in regime ``seg_regime[:, j]``); point i lies on path ``rows[i]`` (default: one path per point,
    row i). ``var_per_s[a, r]`` is the variance rate of asset ``a`` in regime ``r`` (sigma^2 per second).

    ``V`` is the variance of the segments a point has passed (a running sum per path, in segment order) plus
    the share of the segment it lies in: the same additions, in the same order, as adding every segment's
    part in turn.
    """
    out = np.zeros((t_s.size, var_per_s.shape[0]))
    if rows is None:  # one path per point: in steps, so that the running sums stay small
        for b in range(0, t_s.size, _CHUNK):
            e = min(b + _CHUNK, t_s.size)
            out[b:e] = _variance(t_s[b:e], seg_start[b:e], seg_regime[b:e], var_per_s, np.arange(e - b))
        return out
    return _variance(t_s, seg_start, seg_regime, var_per_s, rows)


def _variance(t_s: FloatArray, seg_start: FloatArray, seg_regime: IntArray, var_per_s: FloatArray,
              rows: IntArray) -> FloatArray:
    n_seg = seg_start.shape[1]
    rate = var_per_s.T[seg_regime]  # (paths, segments, assets)
    passed = np.zeros(rate.shape)  # variance of segments 0..j-1 of each path
    if n_seg > 1:
        with np.errstate(invalid="ignore"):  # inf - inf between unused slots: never read
            full = seg_start[:, 1:] - seg_start[:, :-1]
        full = np.where(np.isfinite(full), np.clip(full, 0.0, None), 0.0)
        np.cumsum(full[:, :, None] * rate[:, :-1], axis=1, out=passed[:, 1:])
    out = np.zeros((t_s.size, var_per_s.shape[0]))
    for b in range(0, t_s.size, _CHUNK):
        e = min(b + _CHUNK, t_s.size)
        r, t = rows[b:e], t_s[b:e]
        j = (seg_start[r] <= t[:, None]).sum(axis=1) - 1  # the segment each point lies in (-1: before any)
        inside = j >= 0
        jj = np.maximum(j, 0)
        part = np.clip(t - seg_start[r, jj], 0.0, None)
        out[b:e] = np.where(inside[:, None], passed[r, jj] + part[:, None] * rate[r, jj], 0.0)
    return out


def segment_cumsum(values: FloatArray, rank: IntArray) -> FloatArray:
    """Cumulative sums within consecutive groups (``rank`` = index within its group, 0 first).

    Exact and independent of what precedes a group in the array (the sums are
    done group-locally, rank by rank), so chunking cannot change a bit.
    """
    out = values.copy()
    for r in range(1, int(rank.max(initial=0)) + 1):
        idx = np.flatnonzero(rank == r)
        out[idx] += out[idx - 1]
    return out


def bridge_cross_probability(x0: FloatArray, x1: FloatArray, barrier: FloatArray, var: FloatArray,
                             lower: bool | np.ndarray = True) -> FloatArray:
    """P(a Brownian bridge from ``x0`` to ``x1`` with variance ``var`` touches ``barrier``).

    Log-price units. For a lower barrier: 1 if an endpoint is at or below it,
    else ``exp(-2 (x0 - b)(x1 - b) / var)``; mirrored for an upper barrier.
    """
    sgn = np.where(lower, 1.0, -1.0)
    a = sgn * (np.asarray(x0) - barrier)
    b = sgn * (np.asarray(x1) - barrier)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        p = np.exp(-2.0 * a * b / np.where(var > 0, var, np.inf))
    return np.where((a <= 0) | (b <= 0), 1.0, np.where(var > 0, p, 0.0))


def touch_probability_below(x: FloatArray, barrier: FloatArray, var: FloatArray) -> FloatArray:
    """P(a driftless-price GBM starting at log price ``x`` touches ``barrier`` from above within variance ``var``).

    The log price has drift ``-var/2``; with ``a = barrier - x < 0`` the
    first-passage law gives ``Phi((a + V/2)/sqrt V) + exp(-a) Phi((a - V/2)/sqrt V)``.
    1 where the start is at or below the barrier, 0 where ``var`` is 0.
    """
    from scipy.special import ndtr

    a = np.asarray(barrier) - np.asarray(x)
    v = np.asarray(var, dtype=float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        sv = np.sqrt(np.where(v > 0, v, 1.0))
        p = ndtr((a + 0.5 * v) / sv) + np.exp(-a) * ndtr((a - 0.5 * v) / sv)
    return np.where(a >= 0, 1.0, np.where(v > 0, np.clip(p, 0.0, 1.0), 0.0))
