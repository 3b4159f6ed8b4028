"""Tail measures of simulated losses and the ES-minimising split of a book across chains.

Two expected-shortfall conventions live here, on purpose:

* :func:`tail_measures` reports VaR and ES with the order-index convention of
  the benchmark spec (``k = ceil(alpha N)``, VaR = ``x_(k)``, ES = mean of
  ``x_(k..N)``) and the asymptotic standard error of ES. This is what tables show.
* :func:`cvar` is the Rockafellar-Uryasev value ``min_t t + E[(X - t)+] / (1 - alpha)``
  of the empirical (optionally weighted) distribution: the exact objective of
  the allocation linear program, so the LP and a brute-force search agree to
  round-off. The two differ by at most one order statistic's weight.

:func:`allocate` solves the Rockafellar-Uryasev linear program (scipy HiGHS) on a
scenario loss matrix of shape ``(paths, chains)`` whose column ``c`` is the loss
(USD) of the book placed entirely on chain ``c`` per unit of allocation. The
loss of a split ``w`` is taken as ``L @ w``: linear in the allocation, which
holds when the loss of a position scales with its size (no cross-position
cascade between chains); a cascade makes it an approximation, stated here.
:mod:`seqrisk.decide.placement` builds that matrix from the engine for a book
and gives the split its uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from seqrisk._typing import FloatArray
from seqrisk.exceptions import DataError, UsageError

__all__ = [
    "AllocationResult",
    "TailMeasures",
    "allocate",
    "cvar",
    "tail_measures",
    "weight_bounds",
]


@dataclass(frozen=True)
class TailMeasures:
    """Mean, VaR and ES of a loss sample (USD) with Monte Carlo standard errors."""

    n: int
    mean: float
    mean_se: float
    alpha: float
    var: float
    es: float
    es_se: float
    #: paths in the tail average (N - k + 1)
    n_tail: int


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise UsageError("tail level must be in (0, 1)", field="alpha", value=alpha)


def tail_measures(x: Sequence[float] | FloatArray, alpha: float = 0.99) -> TailMeasures:
    """EL, VaR and ES at ``alpha`` of per-path losses ``x`` (USD), order-index convention.

    ``es_se`` is the asymptotic ``sqrt((s_tail^2 + alpha (ES - VaR)^2) / n_tail)``.

    >>> round(tail_measures(np.arange(100.0), 0.99).es, 6)
    98.5
    """
    _check_alpha(alpha)
    a = np.sort(np.asarray(x, dtype=float).ravel())
    n = a.size
    if n < 2 or not np.all(np.isfinite(a)):
        raise DataError("need at least two finite losses", field="losses", value=n)
    k = -(-round(alpha * 1e6) * n // 1_000_000)  # ceil(alpha n) without float drift
    k = min(max(k, 1), n)
    tail = a[k - 1:]
    var = float(a[k - 1])
    es = float(tail.mean())
    s2 = float(tail.var(ddof=1)) if tail.size > 1 else 0.0
    es_se = math.sqrt((s2 + alpha * (es - var) ** 2) / tail.size)
    return TailMeasures(n=n, mean=float(a.mean()), mean_se=float(a.std(ddof=1) / math.sqrt(n)), alpha=alpha,
                        var=var, es=es, es_se=es_se, n_tail=int(tail.size))


def cvar(x: Sequence[float] | FloatArray, alpha: float = 0.99, weights: FloatArray | None = None) -> float:
    """Rockafellar-Uryasev CVaR of the empirical distribution of ``x`` (USD).

    The mean of the worst ``1 - alpha`` of probability mass, the boundary path
    counted fractionally; ``weights`` are path probabilities (default uniform).
    """
    _check_alpha(alpha)
    a = np.asarray(x, dtype=float).ravel()
    p = np.full(a.size, 1.0 / a.size) if weights is None else np.asarray(weights, float) / np.sum(weights)
    order = np.argsort(-a, kind="stable")
    a, p = a[order], p[order]
    mass = 1.0 - alpha
    cum = np.cumsum(p)
    take = np.minimum(p, np.maximum(0.0, mass - (cum - p)))
    return float(np.dot(take, a) / mass)


@dataclass(frozen=True)
class AllocationResult:
    """The ES-minimising split and what it is compared with.

    ``weights`` are shares of the total allocation per chain; ``es_usd`` is the
    Rockafellar-Uryasev CVaR of the split's loss at ``alpha`` (in-sample, so
    slightly optimistic), ``cost_usd`` the linear cost ``costs @ w``.
    """

    chains: tuple[str, ...]
    weights: Mapping[str, float]
    alpha: float
    es_usd: float
    es_se: float
    expected_loss_usd: float
    expected_loss_se: float
    cost_usd: float
    objective_usd: float
    single_chain_es_usd: Mapping[str, float] = field(default_factory=dict)
    equal_split_es_usd: float = float("nan")
    n_paths: int = 0
    status: str = ""
    single_chain_es_se: Mapping[str, float] = field(default_factory=dict)
    equal_split_es_se: float = float("nan")


def weight_bounds(v: float | Mapping[str, float] | None, chains: Sequence[str], default: float,
                  name: str = "bounds") -> FloatArray:
    """Per-chain bounds on the shares from one number, a chain -> number mapping, or None (``default``)."""
    if v is None:
        return np.full(len(chains), default)
    if isinstance(v, Mapping):
        unknown = set(v) - set(chains)
        if unknown:
            raise UsageError("bound names a chain that is not in the loss matrix", field=name,
                             value=sorted(unknown)[0])
        return np.array([float(v.get(c, default)) for c in chains])
    return np.full(len(chains), float(v))


def allocate(
    losses: FloatArray,
    chains: Sequence[str],
    *,
    alpha: float = 0.99,
    total: float = 1.0,
    min_weight: float | Mapping[str, float] | None = None,
    max_weight: float | Mapping[str, float] | None = None,
    costs_usd: Mapping[str, float] | Sequence[float] | None = None,
    weights: FloatArray | None = None,
) -> AllocationResult:
    """Minimise ``CVaR_alpha(L @ w) + costs @ w`` over ``sum(w) = total``, ``min <= w <= max``.

    ``losses`` has shape ``(paths, chains)``: per path, the loss (USD) of one
    unit of allocation on each chain, all columns on common random numbers.
    ``costs_usd`` is the cost (USD) of one unit on each chain (e.g. fees,
    capital). ``weights`` are path probabilities (default uniform). Solved as
    the Rockafellar-Uryasev LP with ``scipy.optimize.linprog(method="highs")``:
    variables ``w`` (chains), ``t`` (VaR), ``u_j >= max(0, L_j w - t)``.
    """
    from scipy import sparse  # imported here: scipy costs CLI start-up time
    from scipy.optimize import linprog

    _check_alpha(alpha)
    L = np.asarray(losses, dtype=float)
    if L.ndim != 2 or L.shape[1] != len(chains) or L.shape[0] < 2:
        raise DataError("loss matrix must be (paths, chains) with one column per chain", field="losses",
                        value=L.shape)
    if not np.all(np.isfinite(L)):
        raise DataError("loss matrix has non-finite values", field="losses")
    n, c = L.shape
    lo = weight_bounds(min_weight, chains, 0.0, "min_weight") * total
    hi = weight_bounds(max_weight, chains, 1.0, "max_weight") * total
    if np.any(lo > hi + 1e-12) or lo.sum() > total + 1e-9 or hi.sum() < total - 1e-9:
        raise UsageError("allocation bounds are infeasible: need min <= max and sum(min) <= 1 <= sum(max)",
                         field="bounds", value=(lo.tolist(), hi.tolist()))
    if costs_usd is None:
        cost = np.zeros(c)
    elif isinstance(costs_usd, Mapping):
        cost = np.array([float(costs_usd.get(ch, 0.0)) for ch in chains])
    else:
        cost = np.asarray(costs_usd, dtype=float)
    p = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, float) / np.sum(weights)
    obj = np.concatenate([cost, [1.0], p / (1.0 - alpha)])
    a_ub = sparse.hstack([sparse.csr_matrix(L), sparse.csr_matrix(-np.ones((n, 1))), -sparse.eye(n, format="csr")],
                         format="csr")
    a_eq = np.concatenate([np.ones(c), [0.0], np.zeros(n)])[None, :]
    bounds = [(float(lo[i]), float(hi[i])) for i in range(c)] + [(None, None)] + [(0.0, None)] * n
    res = linprog(obj, A_ub=a_ub, b_ub=np.zeros(n), A_eq=a_eq, b_eq=[total], bounds=bounds, method="highs")
    if res.status != 0:
        raise DataError(f"allocation LP failed: {res.message}", field="losses")
    w = np.clip(res.x[:c], lo, hi)
    port = L @ w
    tm = tail_measures(port, alpha) if weights is None else None
    single: dict[str, float] = {}
    for i, ch in enumerate(chains):
        single[ch] = cvar(L[:, i] * total, alpha, weights)
    return AllocationResult(
        chains=tuple(chains), weights={ch: float(w[i]) / total for i, ch in enumerate(chains)}, alpha=alpha,
        es_usd=cvar(port, alpha, weights), es_se=tm.es_se if tm else float("nan"),
        expected_loss_usd=float(np.dot(p, port)),
        expected_loss_se=float(port.std(ddof=1) / math.sqrt(n)) if weights is None else float("nan"),
        cost_usd=float(cost @ w), objective_usd=float(res.fun), single_chain_es_usd=single,
        equal_split_es_usd=cvar(L.mean(axis=1) * total, alpha, weights), n_paths=n, status=str(res.message))
