"""The now-cast of an ongoing outage: how much longer it lasts, and what it costs a book if it does.

For a chain down for ``a`` seconds, the remaining duration follows the chain's predictive downtime law
conditioned on survival to ``a``: ``P(D > a + t | D > a) = S_D(a + t) / S_D(a)`` (:func:`remaining_sf`).
From it: the probability the chain is still down 15 minutes, an hour and six hours from now and at its
forced-inclusion delay (counted from the outage's start), and the expected and median remaining time.

For each book, the engine runs in stress mode (the outage on this chain, starting at the book's prices: the
on-chain prices froze when the chain stopped) with the outage's total duration drawn from the conditional law
by stratified sampling: ``strata`` equal-probability strata of the conditional law, one duration drawn in
each, an equal share of the paths per stratum (each stratum its own seed). That gives the conditional
expected loss, the expected shortfall and the probability of a liquidation (holder, attributable to the
outage, USD), each with its Monte Carlo standard error; the positions most likely to be liquidated; and
what topping each up (collateral worth ``top_up_share`` of its notional) would save, paired on common
random numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqrisk.exceptions import DataError, UsageError
from seqrisk.monitor.priors import chain_prior

if TYPE_CHECKING:
    from seqrisk.catalog import Catalog
    from seqrisk.engine.scenario import Scenario
    from seqrisk.outage import AnyDurationLaw, OutageModel
    from seqrisk.portfolio.models import Book

__all__ = ["HORIZONS", "SCHEMA", "BookNowcast", "Nowcast", "PositionAtRisk", "expected_remaining", "nowcast",
           "remaining_quantile", "remaining_sf", "sample_remaining"]

#: The ``schema`` of :meth:`Nowcast.to_dict`.
SCHEMA = "seqrisk.nowcast/1"
#: Look-ahead times of the now-cast (label, seconds from now).
HORIZONS = (("+15m", 900.0), ("+1h", 3600.0), ("+6h", 21600.0))


def remaining_sf(law: AnyDurationLaw, down_for_s: float, t_s: Any) -> Any:
    """``P(D > a + t | D > a)``: the chance an outage down for ``a`` seconds lasts ``t`` more."""
    sa = float(law.sf(down_for_s))
    if sa <= 0.0:
        raise DataError("the duration law gives no chance of an outage this long", value=down_for_s)
    out = np.asarray(law.sf(down_for_s + np.asarray(t_s, dtype=float)), dtype=float) / sa
    return float(out) if out.ndim == 0 else out


def remaining_quantile(law: AnyDurationLaw, down_for_s: float, q: Any) -> Any:
    """The ``q`` quantile of the remaining time (seconds) of an outage down for ``down_for_s``."""
    fa = float(law.cdf(down_for_s))
    out = np.asarray(law.ppf(fa + np.asarray(q, dtype=float) * (1.0 - fa)), dtype=float) - down_for_s
    out = np.maximum(out, 0.0)
    return float(out) if out.ndim == 0 else out


def sample_remaining(law: AnyDurationLaw, down_for_s: float, u: Any) -> Any:
    """Total outage durations (seconds) from uniforms ``u``, drawn from the law conditioned on ``D > a``."""
    return down_for_s + np.asarray(remaining_quantile(law, down_for_s, u))


def expected_remaining(law: AnyDurationLaw, down_for_s: float, points: int = 4001) -> float:
    """``E[D - a | D > a]`` (seconds): the integral of ``S_D`` beyond ``a`` over ``S_D(a)``, on a log grid.

    ``inf`` when the law has no mean (a log-logistic draw with shape <= 1).
    """
    if not math.isfinite(law.mean()):
        return math.inf
    sa = float(law.sf(down_for_s))
    if sa <= 0.0:
        raise DataError("the duration law gives no chance of an outage this long", value=down_for_s)
    lo = max(down_for_s, 1e-3)
    hi = float(law.ppf(1.0 - 1e-15))
    if not hi > lo * 1.0001:
        hi = lo * 10.0
    y = np.linspace(math.log(lo), math.log(hi) + 2.0, points)
    x = np.exp(y)
    f = np.asarray(law.sf(x), dtype=float) * x
    tail = float(np.sum(0.5 * (f[1:] + f[:-1]) * np.diff(y)))
    head = (lo - down_for_s) if down_for_s < lo else 0.0  # below 1 ms the survival is 1 to within rounding
    return (tail + head * sa) / sa


@dataclass(frozen=True)
class PositionAtRisk:
    """A position most likely to be liquidated at the restart, and what topping it up would save (USD)."""

    id: str
    p_liquidation: float
    expected_loss_usd: float
    top_up_usd: float | None
    saved_usd: float | None
    saved_se_usd: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class BookNowcast:
    """A book's loss if the ongoing outage runs its conditional course (holder, attributable, USD)."""

    book: str
    paths: int
    expected_loss_usd: float
    expected_loss_se_usd: float
    es_level: float
    es_usd: float
    es_se_usd: float
    p_liquidation: float
    p_liquidation_se: float
    positions: tuple[PositionAtRisk, ...] = ()
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in vars(self).items() if k != "positions"}
        d["positions"] = [p.to_dict() for p in self.positions]
        return d


@dataclass(frozen=True)
class Nowcast:
    """The now-cast of an outage on ``chain`` down for ``down_for_s`` seconds (see the module doc)."""

    chain: str
    down_for_s: float
    p_still_down: tuple[tuple[str, float, float], ...]
    forced_inclusion_delay_s: float | None
    p_still_down_at_forced_inclusion: float | None
    expected_remaining_s: float
    median_remaining_s: float
    p90_remaining_s: float
    downtime_rate_per_year: float
    seed: int
    books: tuple[BookNowcast, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, versioned (``schema``: :data:`SCHEMA`); infinite figures are null."""
        def num(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {"schema": SCHEMA, "chain": self.chain, "down_for_s": self.down_for_s,
                "p_still_down": [{"at": lab, "in_s": t, "p": p} for lab, t, p in self.p_still_down],
                "forced_inclusion_delay_s": self.forced_inclusion_delay_s,
                "p_still_down_at_forced_inclusion": self.p_still_down_at_forced_inclusion,
                "expected_remaining_s": num(self.expected_remaining_s),
                "median_remaining_s": num(self.median_remaining_s), "p90_remaining_s": num(self.p90_remaining_s),
                "downtime_rate_per_year": self.downtime_rate_per_year, "seed": self.seed,
                "books": [b.to_dict() for b in self.books]}


def nowcast(chain: str, down_for_s: float, *, model: OutageModel | None = None, books: Sequence[Book | str | Path] = (),
            paths: int = 20_000, seed: int = 0, es_level: float = 0.99, catalog: Catalog | None = None,
            scenario: Scenario | None = None, strata: int = 16, top_up_share: float = 0.1,
            n_top: int = 3) -> Nowcast:
    """The now-cast of ``chain`` down for ``down_for_s`` seconds, and each book's conditional loss.

    ``model``: the fitted outage model (default: fitted to the bundled catalog). ``books``: Book objects or
    book files. ``scenario``: engine settings for the book runs (grace period, top-up behaviour ...; its
    outages, paths, seed and horizon are set here). Same inputs and ``seed``, same numbers.
    """
    if not (isinstance(down_for_s, int | float) and math.isfinite(down_for_s) and down_for_s >= 0):
        raise UsageError("down-for must be a finite number of seconds >= 0", field="down_for_s", value=down_for_s)
    if not 0.5 <= es_level < 1:
        raise UsageError("es_level must lie in [0.5, 1)", field="es_level", value=es_level)
    if paths < strata or strata < 1:
        raise UsageError(f"paths must be at least the number of strata ({strata})", field="paths", value=paths)
    pr = chain_prior(chain, model, catalog)
    law = pr.duration
    a = float(down_for_s)
    horizon = tuple((lab, t, float(remaining_sf(law, a, t))) for lab, t in HORIZONS)
    fid = pr.forced_inclusion_delay_s
    p_fid = None if fid is None else float(remaining_sf(law, a, max(fid - a, 0.0)))
    med, p90 = (float(x) for x in remaining_quantile(law, a, [0.5, 0.9]))
    out_books = tuple(_book_nowcast(_load(b), pr.chain, law, a, model, catalog, paths, seed, es_level, scenario,
                                    strata, top_up_share, n_top) for b in books)
    return Nowcast(pr.chain, a, horizon, fid, p_fid, expected_remaining(law, a), med, p90,
                   pr.downtime_rate_per_year, seed, out_books)


def _load(b: Book | str | Path) -> Book:
    if isinstance(b, str | Path):
        from seqrisk.portfolio.load import load_book

        return load_book(b)
    return b


def _top_up(book: Book, pid: str, share: float) -> tuple[Book, float] | None:
    """The book with position ``pid`` topped up by collateral worth ``share`` of its notional, and that sum
    (USD); None for a position that cannot be liquidated (a long or unmargined option)."""
    from seqrisk.decide.levers import notional_usd

    pos = list(book.positions)
    i = next(k for k, p in enumerate(pos) if p.id == pid)
    p: Any = pos[i]
    usd = notional_usd(book, p) * share
    if p.type == "perp" and p.collateral_usd is not None:  # a measured margin: the collateral grows
        new = p.model_copy(update={"collateral_usd": p.collateral_usd + usd})
    elif p.type == "perp":
        new = p.model_copy(update={"leverage": 1.0 / (1.0 / p.leverage + share)})
    elif p.type == "loan":
        new = p.model_copy(update={"collateral_amount": p.collateral_amount * (1.0 + share)})
    elif p.type == "option" and p.initial_margin is not None:
        mm = p.maintenance_margin if p.maintenance_margin is not None else p.initial_margin / 2.0
        new = p.model_copy(update={"initial_margin": min(p.initial_margin + share, 0.99), "maintenance_margin": mm})
    else:
        return None
    pos[i] = new
    return book.model_copy(update={"positions": pos}), usd


def _runs(book: Book, chain: str, durations: np.ndarray, seeds: list[int], n: int, model: OutageModel,
          scenario: Scenario | None) -> list[Any]:
    """One stress run per stratum: the outage on ``chain`` lasting ``durations[k]``, ``n`` paths, kept."""
    from seqrisk.engine.scenario import Scenario
    from seqrisk.engine.simulate import simulate

    base = scenario or Scenario()
    out = []
    for d, sd in zip(durations, seeds, strict=True):
        sc = base.replace(paths=n, seed=sd, keep_paths=True, horizon_s=float(d) + 86400.0,
                          stress_outages=[{"chain": chain, "duration_s": float(d)}], background_outages=False,
                          workers=1)
        out.append(simulate(book, model, sc))
    return out


def _book_nowcast(book: Book, chain: str, law: AnyDurationLaw, a: float, model: OutageModel | None,
                  catalog: Catalog | None, paths: int, seed: int, es_level: float, scenario: Scenario | None,
                  strata: int, top_up_share: float, n_top: int) -> BookNowcast:
    from seqrisk.decide.measures import measure
    from seqrisk.monitor.priors import default_model

    if chain not in book.chains:
        return BookNowcast(book.name, 0, 0.0, 0.0, es_level, 0.0, 0.0, 0.0, 0.0,
                           note=f"the book holds no position on {chain}")
    om = model if model is not None else default_model(catalog)
    ss = np.random.SeedSequence([seed, 15])
    v = np.random.default_rng(ss).random(strata)
    durations = np.asarray(sample_remaining(law, a, (np.arange(strata) + v) / strata), dtype=float)
    seeds = [int(s.generate_state(1)[0]) for s in ss.spawn(strata)]
    n = -(-paths // strata)
    runs = _runs(book, chain, durations, seeds, n, om, scenario)
    frames = [r.path_losses() for r in runs]
    loss = np.concatenate([f.holder_attributable.to_numpy() for f in frames])
    liq = np.concatenate([f.liquidated.to_numpy() for f in frames])
    el_k = np.array([f.holder_attributable.mean() for f in frames])
    el_se = math.sqrt(sum(float(f.holder_attributable.var(ddof=1)) / len(f) for f in frames)) / strata
    pl_se = math.sqrt(sum(float(f.liquidated.var(ddof=1)) / len(f) for f in frames)) / strata
    es = measure(loss, f"es{es_level * 100:g}")[0]
    pos = sum(r.positions.set_index("id")[["p_liquidation", "expected_loss_usd"]] for r in runs) / strata
    ranked = pos[pos.p_liquidation > 0].sort_values(["p_liquidation", "expected_loss_usd"], ascending=False)
    at_risk = []
    for pid in list(ranked.index)[:n_top]:
        topped = _top_up(book, str(pid), top_up_share)
        saved = saved_se = usd = None
        if topped is not None:
            book2, usd = topped
            runs2 = _runs(book2, chain, durations, seeds, n, om, scenario)
            diffs = [f.holder_attributable.to_numpy() - r2.path_losses().holder_attributable.to_numpy()
                     for f, r2 in zip(frames, runs2, strict=True)]
            saved = float(np.mean([d.mean() for d in diffs]))
            saved_se = math.sqrt(sum(float(d.var(ddof=1)) / d.size for d in diffs)) / strata
        at_risk.append(PositionAtRisk(str(pid), float(ranked.loc[pid, "p_liquidation"]),
                                      float(ranked.loc[pid, "expected_loss_usd"]), usd, saved, saved_se))
    return BookNowcast(book.name, n * strata, float(el_k.mean()), el_se, es_level, es.value, es.se,
                       float(liq.mean()), pl_se, tuple(at_risk))
