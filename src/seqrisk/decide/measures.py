"""Risk measures of one run and their paired differences against another on the same paths.

Conventions are the engine's (:mod:`seqrisk.engine.measures`): path ``j``
stands for mass ``1/N``, with probability ``p_j`` its simulated loss ``x_j``
and otherwise 0 (``p_j = 1`` without conditional sampling). EL is the mean of
``y_j = p_j x_j``; ``VaR_a = inf {x : F(x) >= a}``; ``ES_a = VaR_a +
E[(X - VaR_a)+] / (1 - a)`` (Rockafellar-Uryasev). Values and their standard
errors come from the engine's :func:`~seqrisk.engine.measures.tail_measures`.

Differences use influence functions evaluated path by path, so two runs on
common random numbers give the *paired* error ``sd(IF_b - IF_a) / sqrt(N)``;
the unpaired ``sqrt(se_a^2 + se_b^2)`` is kept to show what pairing buys.

* EL and probabilities: ``IF_j = p_j x_j - EL``
* ES_a: ``IF_j = VaR + (p_j (x_j - VaR)+ + (1 - p_j) (0 - VaR)+) / (1 - a) - ES``
* VaR_a: a paired bootstrap over paths (100 resamples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqrisk._typing import FloatArray
from seqrisk.engine.measures import TailBuffer, tail_measures

__all__ = ["Estimate", "PairedDiff", "level_name", "measure", "paired_diff"]

_Z = 1.959963984540054
#: paired-bootstrap resamples for VaR differences
_BOOT = 100


def level_name(alpha: float) -> str:
    """``0.99 -> '99'``, ``0.999 -> '99.9'``."""
    return f"{alpha * 100:g}"


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo figure (USD or probability) with its standard error."""

    value: float
    se: float

    def interval(self, z: float = _Z) -> tuple[float, float]:
        return (self.value - z * self.se, self.value + z * self.se)


@dataclass(frozen=True)
class PairedDiff:
    """``strategy - baseline`` of one measure: paired and unpaired standard errors."""

    value: float
    se: float
    se_unpaired: float


def _p(n: int, p_event: FloatArray | None) -> FloatArray:
    return np.ones(n) if p_event is None else np.asarray(p_event, float)


def _tail(x: FloatArray, p: FloatArray, alpha: float) -> dict[str, float]:
    n = x.size
    buf = TailBuffer(max(0.1, 2 * (1 - alpha)), n, atom=0.0)
    buf.add(x, p, np.arange(n))
    return tail_measures(buf, n, float(p.sum()), float((p * p).sum()), (alpha,))[alpha]


def _var(x: FloatArray, p: FloatArray, alpha: float) -> float:
    """``inf {x : F(x) >= alpha}`` of the mixture (paths with mass ``p/N``, 0 with the rest), by partial sort.

    Equal to the engine's VaR: only the values holding the top ``1 - alpha`` of mass are sorted.
    """
    n = x.size
    k = min(n, math.ceil((1 - alpha) * n / max(float(p.min()), 1e-12)) + 1)
    idx = np.argpartition(-x, k - 1)[:k] if k < n else np.arange(n)
    vals = np.concatenate([x[idx], [0.0]])
    mass = np.concatenate([p[idx] / n, [(n - float(p.sum())) / n]])
    order = np.argsort(-vals, kind="stable")
    vals, mass = vals[order], mass[order]
    above = np.cumsum(mass) - mass
    ok = np.flatnonzero(above <= 1.0 - alpha + 1e-12)
    return float(vals[ok[-1]]) if ok.size else float(vals[0])


def _split(name: str) -> tuple[str, float]:
    """``'var99.9' -> ('var', 0.999)``, ``'es99' -> ('es', 0.99)``."""
    kind = "var" if name.startswith("var") else "es"
    if not name.startswith(kind):
        raise ValueError(f"unknown measure {name!r}")
    return kind, float(name[len(kind):]) / 100.0


def measure(x: FloatArray, name: str, p_event: FloatArray | None = None) -> tuple[Estimate, FloatArray | None]:
    """A measure (``'el'``, ``'p'`` for a 0..1 array, ``'var99'``, ``'es99.9'`` ...) and its influence values.

    Returns the estimate and the per-path influence function (None for VaR).
    """
    x = np.asarray(x, float)
    n = x.size
    p = _p(n, p_event)
    if name in ("el", "p"):
        y = p * x
        m = float(y.mean())
        return Estimate(m, float(y.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan), y - m
    kind, alpha = _split(name)
    tm = _tail(x, p, alpha)
    if kind == "var":
        return Estimate(tm["var"], tm["var_se"]), None
    var, es = tm["var"], tm["es"]
    infl = var + (p * np.maximum(x - var, 0.0) + (1 - p) * max(-var, 0.0)) / (1 - alpha) - es
    return Estimate(es, tm["es_se"]), infl


def paired_diff(name: str, base: FloatArray, other: FloatArray, p_base: FloatArray | None = None,
                p_other: FloatArray | None = None, *, seed: int = 0) -> PairedDiff:
    """``measure(other) - measure(base)`` with its paired and unpaired standard errors."""
    eb, ib = measure(base, name, p_base)
    eo, io = measure(other, name, p_other)
    n = np.size(base)
    unpaired = math.hypot(eb.se, eo.se)
    if ib is not None and io is not None:
        return PairedDiff(eo.value - eb.value, float((io - ib).std(ddof=1) / math.sqrt(n)), unpaired)
    rng = np.random.default_rng(seed)
    xb, xo = np.asarray(base, float), np.asarray(other, float)
    pb, po = _p(n, p_base), _p(n, p_other)
    alpha = _split(name)[1]
    reps = np.empty(_BOOT)
    for r in range(_BOOT):
        i = rng.integers(0, n, n)
        reps[r] = _var(xo[i], po[i], alpha) - _var(xb[i], pb[i], alpha)
    return PairedDiff(eo.value - eb.value, float(reps.std(ddof=1)), unpaired)
