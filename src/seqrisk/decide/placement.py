"""Where a book should sit: the ES-minimising split across chains, with the uncertainty of every share.

:func:`allocate_book` copies the book (with its markets) to every candidate
chain in one engine run and takes one party's loss per chain (the holder's
attributable loss by default, or the venue's bad debt; never their sum). The
split minimises ES at ``alpha`` of that loss (:func:`~seqrisk.decide.allocation.allocate`,
a linear program) and is reported with what the simulation can support:

* **Replications.** The paths are cut into ``replications`` batches (whole
  random-number blocks when there are enough paths), each an independent
  replication with its own random streams; the split is solved on each.
* **Two answers.** ``method="averaged"`` (the default, the robust one) reports
  the average of the replication optima: its standard error is the spread of
  the replications over ``sqrt(R)``, a 95 % interval follows (Student t,
  ``R - 1`` degrees of freedom). ``method="optimum"`` reports the one optimum
  on all paths; near a tie it jumps between corners from seed to seed, so its
  interval is the spread of the replications themselves (conservative: as wide
  as the answer of one replication can move).
* **Rounding.** A share is shown rounded to the largest step of 1, 2, 5, 10,
  20 or 25 % not above the half-width of its interval.
* **Ties.** Two chains whose shares move against each other across
  replications (the sum is far steadier than either) are interchangeable: the
  split between them is not determined by the simulation, only their sum.
* **Out of sample.** An optimum scored on the paths that chose it is
  optimistic; both answers' ES is recomputed on fresh paths (a second run with
  a seed derived from the given one) and shown next to the in-sample figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqrisk._typing import FloatArray
from seqrisk.decide.allocation import AllocationResult, allocate, weight_bounds
from seqrisk.decide.base import check_party
from seqrisk.decide.books import reference_book
from seqrisk.decide.measures import Estimate, level_name, measure
from seqrisk.decide.paths import to_outcome, with_paths
from seqrisk.display import Displayed, Shown, pm_usd
from seqrisk.exceptions import UsageError

__all__ = ["BookAllocation", "Share", "allocate_book", "check_replications", "fresh_seed", "round_share",
           "scenario_losses"]

#: replications (batches of paths) the split is solved on to measure its uncertainty
REPLICATIONS = 10
#: steps a share is rounded to, the largest one not above the half-width of its interval
_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25)


def fresh_seed(seed: int) -> int:
    """A seed for fresh paths, derived from ``seed`` (same input, same number; never ``seed`` itself)."""
    return int(np.random.SeedSequence([int(seed), 0x5EED]).generate_state(1)[0])


def round_share(value: float, half_width: float) -> tuple[float, float]:
    """``value`` rounded to the largest step of 1, 2, 5, 10, 20 or 25 % not above ``half_width``; (value, step)."""
    step = max([s for s in _STEPS if s <= half_width] or [_STEPS[0]])
    return round(value / step) * step, step


@dataclass(frozen=True)
class Share:
    """One chain's share of the book: the value, its standard error, a 95 % interval and the rounded value."""

    value: float
    se: float
    low: float
    high: float
    shown: float
    step: float


@dataclass(frozen=True, repr=False)
class BookAllocation(Displayed):
    """The split of a book across chains for one party, with intervals, ties and an out-of-sample check (USD)."""

    chains: tuple[str, ...]
    perspective: str
    alpha: float
    method: str
    shares: Mapping[str, Share]
    replications: int
    replication_shares: FloatArray
    es_in_sample: Estimate
    es_out_of_sample: Estimate
    el_out_of_sample: Estimate
    #: ES on the fresh paths of the answer of the other method (``optimum`` <-> ``averaged``)
    other_method_es_out_of_sample: Estimate
    equal_split_es: Estimate
    #: the equal split's ES on the fresh paths (the fair yardstick for ``es_out_of_sample``)
    equal_split_es_out_of_sample: Estimate
    single_chain_el: Mapping[str, Estimate]
    single_chain_es: Mapping[str, Estimate]
    ties: tuple[tuple[str, str, Share], ...]
    cost_usd: float
    n_paths: int
    seed: int
    seed_out_of_sample: int
    lp: AllocationResult

    def to_frame(self) -> Any:
        """One row per chain: the share (value, s.e., 95% interval, rounded) and the book's EL and ES placed
        whole on that chain (USD, with standard errors)."""
        import pandas as pd

        return pd.DataFrame([{"chain": c, "share": s.value, "share_se": s.se, "share_low": s.low,
                              "share_high": s.high, "share_shown": s.shown,
                              "single_chain_el_usd": self.single_chain_el[c].value,
                              "single_chain_el_se": self.single_chain_el[c].se,
                              "single_chain_es_usd": self.single_chain_es[c].value,
                              "single_chain_es_se": self.single_chain_es[c].se}
                             for c, s in self.shares.items()]).set_index("chain")

    def _shown(self) -> Shown:
        import pandas as pd

        rows = {c: {"share": f"{s.shown:.0%}", "95% interval": f"{s.low:.0%} to {s.high:.0%}",
                    "EL placed whole": pm_usd(self.single_chain_el[c].value, self.single_chain_el[c].se),
                    "ES placed whole": pm_usd(self.single_chain_es[c].value, self.single_chain_es[c].se)}
                for c, s in self.shares.items()}
        e, q = self.es_out_of_sample, self.equal_split_es
        return Shown(f"BookAllocation ({self.perspective}, {self.method}, ES {self.alpha:.3g}): split of the book "
                     f"across {len(self.chains)} chains", pd.DataFrame.from_dict(rows, orient="index"),
                     (f"ES on fresh paths {pm_usd(e.value, e.se)} against {pm_usd(q.value, q.se)} for an equal "
                      "split (USD over the horizon).",))

    @property
    def weights(self) -> dict[str, float]:
        """The chosen shares, unrounded."""
        return {c: s.value for c, s in self.shares.items()}


def scenario_losses(book: Any, model: Any, scenario: Any, chains: Sequence[str], *, simulate: Any = None,
                    perspective: str = "holder") -> tuple[FloatArray, FloatArray]:
    """The loss matrix of ``book`` placed whole on each of ``chains`` (one engine run, common random numbers).

    Returns ``(losses, p_event)``: ``losses`` is ``(paths, chains)``, the
    attributable loss of ``perspective`` (the holder's loss or the venue's bad
    debt, USD over the horizon) on each path; ``p_event`` the engine's
    conditional-sampling weight of each path (its losses hold with that
    probability, zero otherwise).
    """
    ids = list(dict.fromkeys(chains))
    if len(ids) < 2:
        raise UsageError("allocation needs at least two chains", field="chains", value=ids)
    for c in ids:
        if c not in model.chains:  # an unmodelled chain would look like one that never fails
            raise UsageError("the outage model has no law for this chain", chain=c, field="chains")
    if simulate is None:
        from seqrisk.engine import simulate as engine_simulate

        simulate = engine_simulate
    out = to_outcome(simulate(reference_book(ids, book), model, with_paths(scenario.replace(chains=ids))))
    names = list(out.extra["chains"])
    cols = [names.index(c) for c in ids]
    loss = np.asarray(out.extra[f"chain_{check_party(perspective)}"])[:, cols]
    p = np.ones(loss.shape[0]) if out.p_event is None else np.asarray(out.p_event, float)
    return loss, p


def _with_atom(loss: FloatArray, p_event: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The loss matrix with the no-outage mass as one zero row, and each row's probability."""
    n = loss.shape[0]
    probs = np.concatenate([p_event / n, [max(0.0, 1.0 - float(p_event.sum()) / n)]])
    return np.vstack([loss, np.zeros((1, loss.shape[1]))]), probs


def _batches(n: int, r: int, block: int) -> list[np.ndarray]:
    """``r`` contiguous batches of path indices, on whole random-number blocks when there are enough."""
    if n >= r * block:
        blocks = np.array_split(np.arange(math.ceil(n / block)), r)
        return [np.arange(b[0] * block, min(n, (b[-1] + 1) * block)) for b in blocks]
    return list(np.array_split(np.arange(n), r))


def _ties(chains: Sequence[str], reps: FloatArray, shares: Mapping[str, Share]) -> list[tuple[str, str, Share]]:
    """Pairs whose shares trade against each other across replications: the sum is steadier than either share."""
    from scipy.stats import t as student

    r = reps.shape[0]
    q = float(student.ppf(0.975, r - 1))
    out = []
    for i in range(len(chains)):
        for j in range(i + 1, len(chains)):
            si, sj = reps[:, i].std(ddof=1), reps[:, j].std(ddof=1)
            both = reps[:, i] + reps[:, j]
            s = both.std(ddof=1)
            if min(si, sj) > 0.05 and s < 0.5 * min(si, sj):
                value = shares[chains[i]].value + shares[chains[j]].value
                se = s / math.sqrt(r)
                shown, step = round_share(value, q * se)
                out.append((chains[i], chains[j], Share(value, se, max(0.0, value - q * se), min(1.0, value + q * se),
                                                        shown, step)))
    return out


def check_replications(paths: int, replications: int, *, field: str = "paths") -> None:
    """Each replication solves the split on at least ten paths: fewer paths are refused (the command's check and the
    service's, before anything runs)."""
    if paths < 10 * replications:
        raise UsageError(f"too few paths for {replications} replications (need {10 * replications})",
                         field=field, value=paths)


def allocate_book(book: Any, model: Any, scenario: Any, chains: Sequence[str], *, perspective: str = "holder",
                  alpha: float = 0.99, min_weight: float | Mapping[str, float] | None = None,
                  max_weight: float | Mapping[str, float] | None = None,
                  costs_usd: Mapping[str, float] | None = None, replications: int = REPLICATIONS,
                  method: str = "averaged", simulate: Any = None) -> BookAllocation:
    """The split of ``book`` across ``chains`` minimising ES at ``alpha`` of ``perspective``'s loss.

    ``costs_usd`` is the cost of placing the whole book on a chain (USD over
    the horizon); bounds as in :func:`~seqrisk.decide.allocation.allocate`.
    """
    from scipy.stats import t as student

    from seqrisk.engine.scenario import BLOCK_PATHS

    check_party(perspective)
    if method not in ("averaged", "optimum"):
        raise UsageError("method is averaged or optimum", field="method", value=method)
    if replications < 2:
        raise UsageError("replications must be at least 2", field="replications", value=replications)
    ids = list(dict.fromkeys(chains))
    loss, p_event = scenario_losses(book, model, scenario, ids, simulate=simulate, perspective=perspective)
    n = loss.shape[0]
    check_replications(n, replications)
    kw: dict[str, Any] = {"alpha": alpha, "min_weight": min_weight, "max_weight": max_weight,
                          "costs_usd": costs_usd}
    full = _solve(loss, p_event, ids, kw)
    reps = np.array([[_solve(loss[b], p_event[b], ids, kw).weights[c] for c in ids]
                     for b in _batches(n, replications, BLOCK_PATHS)])
    averaged = reps.mean(axis=0)
    optimum = np.array([full.weights[c] for c in ids])
    chosen, other = (averaged, optimum) if method == "averaged" else (optimum, averaged)
    q = float(student.ppf(0.975, replications - 1))
    lo_b, hi_b = weight_bounds(min_weight, ids, 0.0), weight_bounds(max_weight, ids, 1.0)
    shares = {}
    for i, c in enumerate(ids):
        se = float(reps[:, i].std(ddof=1) / (math.sqrt(replications) if method == "averaged" else 1.0))
        v = float(chosen[i])
        shown, step = round_share(v, q * se)
        shares[c] = Share(v, se, max(lo_b[i], v - q * se), min(hi_b[i], v + q * se),
                          min(max(shown, lo_b[i]), hi_b[i]), step)
    name = f"es{level_name(alpha)}"
    fresh = fresh_seed(int(scenario.seed))
    loss_oos, p_oos = scenario_losses(book, model, scenario.replace(seed=fresh), ids, simulate=simulate,
                                      perspective=perspective)
    port_oos = loss_oos @ chosen
    cost = float(sum((costs_usd or {}).get(c, 0.0) * chosen[i] for i, c in enumerate(ids)))
    return BookAllocation(
        chains=tuple(ids), perspective=perspective, alpha=alpha, method=method, shares=shares,
        replications=replications, replication_shares=reps,
        es_in_sample=measure(loss @ chosen, name, p_event)[0], es_out_of_sample=measure(port_oos, name, p_oos)[0],
        el_out_of_sample=measure(port_oos, "el", p_oos)[0],
        other_method_es_out_of_sample=measure(loss_oos @ other, name, p_oos)[0],
        equal_split_es=measure(loss.mean(axis=1), name, p_event)[0],
        equal_split_es_out_of_sample=measure(loss_oos.mean(axis=1), name, p_oos)[0],
        single_chain_el={c: measure(loss[:, i], "el", p_event)[0] for i, c in enumerate(ids)},
        single_chain_es={c: measure(loss[:, i], name, p_event)[0] for i, c in enumerate(ids)},
        ties=tuple(_ties(ids, reps, shares)), cost_usd=cost, n_paths=n, seed=int(scenario.seed),
        seed_out_of_sample=fresh, lp=full)


def _solve(loss: FloatArray, p_event: FloatArray, ids: list[str], kw: Mapping[str, Any]) -> AllocationResult:
    """The LP on these paths, the no-outage mass as one zero row."""
    m, probs = _with_atom(loss, p_event)
    return allocate(m, ids, weights=probs, **kw)
