"""Insurance against sequencer outages: parametric and indemnity covers, priced and stacked.

* **Parametric cover** on chain ``c``: pays ``payout_usd`` if an outage of one of
  the covered types on ``c`` lasts longer than ``trigger_s`` within the cover
  period ``T``. Outages hitting ``c`` come from the chain's own process and from
  every common-shock group it belongs to (Marshall-Olkin). Thinning the Poisson
  processes gives the closed form

      P(pay) = 1 - exp(-T * sum_k lambda_k * P(D_k > h)),

  (``per_event=True`` pays each qualifying outage: E[payout] = X T sum_k ...).
* **Indemnity cover**: pays ``min(limit, (1 - coinsurance) * max(0, L - deductible))``
  on the simulated attributable loss ``L`` of the cover period.
* **Price** = E[payout] (1 + loading) + cost_of_capital_per_year x T_years x
  ES_level(payout): the insurer holds capital equal to the expected shortfall of
  the cover's payout over the period and charges its annual cost.

The Monte Carlo sampler :func:`sample_outages` draws outages of the Poisson
part of an :class:`~seqrisk.outage.OutageModel`, common shocks with their hit
laws and type mixes included (rates at the reference volatility, i.e. ``beta``
coupling off, no Hawkes clustering; say so when the model has them). It is used for books of covers, where the insurer's
tail depends on the common shocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from seqrisk._typing import BoolArray, FloatArray, IntArray
from seqrisk.exceptions import DataError, UnknownChainError, UsageError
from seqrisk.outage import OutageModel
from seqrisk.rng import block_generator
from seqrisk.units import YEAR_S

__all__ = [
    "BLOCK_PATHS",
    "BuyerTail",
    "IndemnityCover",
    "InsurerTail",
    "OutageSample",
    "ParametricCover",
    "Pricing",
    "Quote",
    "buyer_tail",
    "check_covered",
    "insurer_tail",
    "parametric_payouts",
    "price_indemnity",
    "price_parametric",
    "price_payouts",
    "sample_outages",
    "trigger_rate_per_year",
    "without_common_shocks",
]

#: Paths per random-number block of :func:`sample_outages` (chunking never changes a number).
BLOCK_PATHS = 4096


@dataclass(frozen=True)
class Pricing:
    """How an insurer turns a payout distribution into a premium.

    ``loading`` multiplies the expected payout (0.2 = 20 % margin);
    ``cost_of_capital_per_year`` is charged on capital held at ``ES_es_level``
    of the payout for the cover period.
    """

    loading: float = 0.2
    cost_of_capital_per_year: float = 0.10
    es_level: float = 0.99

    def __post_init__(self) -> None:
        if self.loading < 0 or self.cost_of_capital_per_year < 0 or not 0 < self.es_level < 1:
            raise UsageError("pricing needs loading >= 0, cost of capital >= 0, 0 < ES level < 1",
                             field="pricing", value=(self.loading, self.cost_of_capital_per_year, self.es_level))


def check_covered(book: Any, chains: Sequence[str], *, field: str) -> None:
    """A book's holder buys parametric covers only on chains the book holds: the first other one is refused
    (``field`` names it as the caller knows it: ``--chain`` on the command line, ``chains[i]`` in a request)."""
    held = set(book.chains)
    for i, c in enumerate(chains):
        if c not in held:
            raise UsageError("the book has no position on this chain (cover a chain it holds)", chain=c,
                             field=field.replace("[]", f"[{i}]"))


@dataclass(frozen=True)
class ParametricCover:
    """Pays ``payout_usd`` when an outage on ``chain`` lasts longer than ``trigger_s``."""

    chain: str
    payout_usd: float
    trigger_s: float
    period_s: float = YEAR_S
    types: tuple[str, ...] = ("downtime",)
    #: pay every qualifying outage instead of at most once per period
    per_event: bool = False

    def __post_init__(self) -> None:
        if not (self.payout_usd > 0 and self.trigger_s >= 0 and self.period_s > 0):
            raise UsageError("parametric cover needs payout > 0, trigger >= 0 s and period > 0 s",
                             field="cover", value=(self.payout_usd, self.trigger_s, self.period_s))


@dataclass(frozen=True)
class IndemnityCover:
    """Pays ``min(limit, (1 - coinsurance) * max(0, loss - deductible))`` (USD)."""

    deductible_usd: float = 0.0
    limit_usd: float = math.inf
    #: share of the loss above the deductible the insured keeps
    coinsurance: float = 0.0

    def __post_init__(self) -> None:
        if self.deductible_usd < 0 or self.limit_usd <= 0 or not 0 <= self.coinsurance < 1:
            raise UsageError("indemnity cover needs deductible >= 0, limit > 0, 0 <= coinsurance < 1",
                             field="cover", value=(self.deductible_usd, self.limit_usd, self.coinsurance))

    def payout(self, loss_usd: FloatArray) -> FloatArray:
        """Payout (USD) per path for losses ``loss_usd``."""
        above = np.maximum(np.asarray(loss_usd, float) - self.deductible_usd, 0.0)
        return np.minimum(self.limit_usd, (1.0 - self.coinsurance) * above)


@dataclass(frozen=True)
class Quote:
    """A premium and its parts (USD for the cover period), each with its Monte Carlo error.

    Closed-form quotes have zero standard errors and ``n_paths = 0``.
    """

    method: str
    period_s: float
    p_payout: float
    p_payout_se: float
    expected_payout_usd: float
    expected_payout_se: float
    es_payout_usd: float
    es_payout_se: float
    capital_cost_usd: float
    premium_usd: float
    premium_se: float
    pricing: Pricing
    n_paths: int = 0
    notes: tuple[str, ...] = ()

    @property
    def loss_ratio(self) -> float:
        """Expected payout over premium."""
        return self.expected_payout_usd / self.premium_usd if self.premium_usd > 0 else math.nan


def _model_notes(model: OutageModel) -> tuple[str, ...]:
    notes = []
    if model.beta != 0.0:
        notes.append(f"volatility coupling beta={model.beta:g} not applied: rates at the reference volatility")
    if model.hawkes is not None:
        notes.append("self-excitation (Hawkes) not applied: outages drawn as Poisson")
    return tuple(notes)


def _check_chain(model: OutageModel, chain: str) -> None:
    known = set(model.chains) | {m for s in model.shocks for m in s.members}
    if chain not in known:
        import difflib
        raise UnknownChainError(chain, difflib.get_close_matches(chain, sorted(known), n=3), field="chain")


def trigger_rate_per_year(model: OutageModel, chain: str, trigger_s: float,
                          types: Sequence[str] = ("downtime",)) -> float:
    """Rate (per year) of outages hitting ``chain`` that last longer than ``trigger_s``.

    Own rate per covered type times its survival ``P(D > h)``, plus every common
    shock the chain is a member of: its rate times the chance it hits this chain,
    the share of its hits of each covered type and that type's survival (a
    thinned Poisson process is Poisson).
    """
    _check_chain(model, chain)
    rate = 0.0
    law = model.chains.get(chain)
    if law is not None:
        for t in types:
            r = law.rates_per_year.get(t, 0.0)
            if r > 0:
                rate += r * float(law.durations[t].sf(trigger_s))
    for s in model.shocks:
        if chain in s.members:
            p_hit = s.hit_probability()
            rate += sum(s.rate_per_year * p_hit * s.mix.get(t, 0.0) * float(s.law(t).sf(trigger_s)) for t in types)
    return rate


def price_parametric(model: OutageModel, cover: ParametricCover, pricing: Pricing = Pricing()) -> Quote:
    """Closed-form premium (USD) of a parametric cover.

    ``P(pay) = 1 - exp(-lambda_h T)`` with ``lambda_h`` from :func:`trigger_rate_per_year`.
    For a single payout, ES at level ``a`` of ``X * Bernoulli(p)`` is ``X min(p, 1 - a) / (1 - a)``.
    With ``per_event`` the payout count is Poisson(``lambda_h T``); its ES is computed exactly.
    """
    lam_t = trigger_rate_per_year(model, cover.chain, cover.trigger_s, cover.types) * cover.period_s / YEAR_S
    x, a = cover.payout_usd, pricing.es_level
    p = -math.expm1(-lam_t)
    if cover.per_event:
        mean = x * lam_t
        es = x * _poisson_es(lam_t, a)
    else:
        mean = x * p
        es = x * min(p, 1.0 - a) / (1.0 - a)
    cap = pricing.cost_of_capital_per_year * cover.period_s / YEAR_S * es
    return Quote(method="closed form", period_s=cover.period_s, p_payout=p, p_payout_se=0.0,
                 expected_payout_usd=mean, expected_payout_se=0.0, es_payout_usd=es, es_payout_se=0.0,
                 capital_cost_usd=cap, premium_usd=mean * (1 + pricing.loading) + cap, premium_se=0.0,
                 pricing=pricing, notes=_model_notes(model))


def _poisson_es(mu: float, a: float) -> float:
    """ES at level ``a`` of a Poisson(mu) count: mean of its worst ``1 - a`` of mass."""
    from scipy import stats as sps
    hi = int(sps.poisson.ppf(1 - 1e-15, mu)) + 2
    k = np.arange(hi + 1)
    pmf = sps.poisson.pmf(k, mu)
    mass, acc, tot = 1.0 - a, 0.0, 0.0
    for kk in k[::-1]:
        take = min(float(pmf[kk]), mass - acc)
        if take <= 0:
            break
        tot += take * kk
        acc += take
    return tot / mass


def price_payouts(payouts_usd: FloatArray, pricing: Pricing, period_s: float, *, method: str = "monte carlo",
                  notes: tuple[str, ...] = (), p_event: FloatArray | None = None) -> Quote:
    """Premium (USD) from a sample of per-path payouts over the cover period, with standard errors.

    ``p_event`` are the engine's path weights under conditional sampling (a
    path's payout holds with probability ``p_event``, else 0). ES is the
    engine's Rockafellar-Uryasev convention. The premium's error adds the
    errors of E[payout] and ES in quadrature (ignoring their positive
    correlation, so it is slightly low).
    """
    from seqrisk.decide.measures import measure

    y = np.asarray(payouts_usd, float)
    mean = measure(y, "el", p_event)[0]
    es = measure(y, f"es{pricing.es_level * 100:g}", p_event)[0]
    p_hit = measure((y > 0).astype(float), "p", p_event)[0]
    cc = pricing.cost_of_capital_per_year * period_s / YEAR_S
    cap = cc * es.value
    prem = mean.value * (1 + pricing.loading) + cap
    prem_se = math.hypot(mean.se * (1 + pricing.loading), cc * es.se)
    return Quote(method=method, period_s=period_s, p_payout=p_hit.value, p_payout_se=p_hit.se,
                 expected_payout_usd=mean.value, expected_payout_se=mean.se, es_payout_usd=es.value,
                 es_payout_se=es.se, capital_cost_usd=cap, premium_usd=prem, premium_se=prem_se,
                 pricing=pricing, n_paths=int(y.size), notes=notes)


def price_indemnity(losses_usd: FloatArray, cover: IndemnityCover, pricing: Pricing = Pricing(),
                    *, period_s: float = YEAR_S, p_event: FloatArray | None = None) -> Quote:
    """Premium (USD) of an indemnity cover on simulated per-path losses of one cover period."""
    return price_payouts(cover.payout(losses_usd), pricing, period_s, p_event=p_event)


@dataclass(frozen=True)
class BuyerTail:
    """The buyer's loss (USD per period) before and after cover: EL and ES with errors.

    After cover the loss is ``loss - payout + premium``; the reduction of ES per
    dollar of premium is ``es_reduction_per_usd``. Differences are paired (same paths).
    """

    alpha: float
    el_before: float
    el_after: float
    el_diff_se: float
    es_before: float
    es_before_se: float
    es_after: float
    es_after_se: float
    es_diff_se: float
    premium_usd: float
    el_before_se: float = 0.0
    el_after_se: float = 0.0  # the premium taken as given

    @property
    def es_reduction_per_usd(self) -> float:
        """ES cut per dollar of premium (the premium counted in the loss after cover)."""
        return (self.es_before - self.es_after) / self.premium_usd if self.premium_usd > 0 else math.nan

    @property
    def el_cut_per_usd(self) -> float:
        """Expected loss the cover takes away (its expected payout) per dollar of premium, the premium left out:
        below 1, the cover costs more than it pays on average."""
        if self.premium_usd <= 0:
            return math.nan
        return (self.el_before - (self.el_after - self.premium_usd)) / self.premium_usd


def buyer_tail(losses_usd: FloatArray, payouts_usd: FloatArray, premium_usd: float,
               alpha: float = 0.99, *, p_event: FloatArray | None = None) -> BuyerTail:
    """How a cover changes the buyer's EL and ES (USD) on the same simulated paths.

    The premium is paid on every path (also the no-outage mass of a
    conditionally sampled path), so it shifts the loss distribution by its amount.
    """
    from seqrisk.decide.measures import measure, paired_diff

    before = np.asarray(losses_usd, float)
    gross = before - np.asarray(payouts_usd, float)
    name = f"es{alpha * 100:g}"
    eb, eg = measure(before, name, p_event)[0], measure(gross, name, p_event)[0]
    mb, mg = measure(before, "el", p_event)[0], measure(gross, "el", p_event)[0]
    d_el = paired_diff("el", before, gross, p_event, p_event)
    d_es = paired_diff(name, before, gross, p_event, p_event)
    return BuyerTail(alpha=alpha, el_before=mb.value, el_after=mg.value + premium_usd, el_diff_se=d_el.se,
                     es_before=eb.value, es_before_se=eb.se, es_after=eg.value + premium_usd, es_after_se=eg.se,
                     es_diff_se=d_es.se, premium_usd=premium_usd, el_before_se=mb.se, el_after_se=mg.se)


# --- outage sampler ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OutageSample:
    """Outages over ``[0, period_s)`` on ``n_paths`` paths, one row per outage of one chain: a common-shock
    event that hits three chains is three rows with the same start (``chain`` indexes ``chains``, ``type``
    indexes ``types``)."""

    n_paths: int
    period_s: float
    chains: tuple[str, ...]
    types: tuple[str, ...]
    path: IntArray
    chain: IntArray
    type: IntArray
    start_s: FloatArray
    duration_s: FloatArray

    def exceed_count(self, chain: str, trigger_s: float, types: Sequence[str] = ("downtime",)) -> IntArray:
        """Per path, the number of outages of ``types`` hitting ``chain`` that last longer than ``trigger_s``."""
        ci = self.chains.index(chain)
        codes = [i for i, t in enumerate(self.types) if t in types]
        sel = (self.chain == ci) & np.isin(self.type, codes) & (self.duration_s > trigger_s)
        return np.bincount(self.path[sel], minlength=self.n_paths).astype(np.int64)


def _hits(g: np.random.Generator, cell: Any, m: int) -> BoolArray:
    """(events, members): which members each of ``m`` events of ``cell`` hits (all, or the hit law's count of
    them as a uniformly random subset)."""
    n = len(cell.members)
    if not cell.hit_cdf or n == 1:
        return np.ones((m, n), dtype=bool)
    k = 1 + np.minimum(np.searchsorted(np.asarray(cell.hit_cdf), g.random(m), side="right"), n - 1)
    rank = np.argsort(np.argsort(g.random((m, n)), axis=1), axis=1)
    return np.asarray(rank < k[:, None])


def sample_outages(model: OutageModel, *, period_s: float = YEAR_S, n_paths: int = 100_000, seed: int = 0,
                   types: Sequence[str] = ("downtime",)) -> OutageSample:
    """Draw outages of ``types`` for every chain and common shock over ``period_s`` seconds.

    Each source is a Poisson process (rate per year x period). A common-shock event hits every member at once
    or, for a fitted shock with a hit law, a random subset of the law's size; each hit chain's type comes from
    the shock's type mix, and the hit chains of one event share the duration's uniform (the engine's rule).
    Block ``b`` of :data:`BLOCK_PATHS` paths and source ``s`` draw from ``block_generator(seed, b, stream=s +
    1)``, so results do not depend on chunking.
    """
    from seqrisk.engine.events import EVENT_CODES, build_cells

    if n_paths < 1 or period_s <= 0:
        raise UsageError("need n_paths >= 1 and period > 0", field="n_paths", value=n_paths)
    chains = sorted(set(model.chains) | {m for s in model.shocks for m in s.members})
    names = {v: k for k, v in EVENT_CODES.items()}
    cells = build_cells(model, chains, shocks=True)
    kept = tuple(t for t in EVENT_CODES if t in types)
    code = {EVENT_CODES[t]: i for i, t in enumerate(kept)}
    cols: dict[str, list[Any]] = {k: [] for k in ("path", "chain", "type", "start", "dur")}
    for b0 in range(0, n_paths, BLOCK_PATHS):
        nb = min(BLOCK_PATHS, n_paths - b0)
        for si, cell in enumerate(cells):
            cell_codes = cell.type_codes or (cell.type,)
            if not any(names[c] in types for c in cell_codes):
                continue
            g = block_generator(seed, b0 // BLOCK_PATHS, stream=si + 1)
            cnt = g.poisson(cell.rate_per_s * period_s, BLOCK_PATHS)[:nb]
            m = int(cnt.sum())
            # full-block draws then prefix: a partial last block is a prefix of the full one
            u = g.random((m, 2))
            hit = _hits(g, cell, m)
            ev, j = np.nonzero(hit)
            if cell.type_codes:
                k = np.minimum(np.searchsorted(np.asarray(cell.type_cdf), g.random(ev.size), side="right"),
                               len(cell.type_codes) - 1)
                tcode = np.asarray(cell.type_codes)[k]
                dur = np.empty(ev.size)
                for i, law in enumerate(cell.laws):
                    sel = k == i
                    dur[sel] = np.asarray(law.ppf(u[ev[sel], 1]), float).reshape(-1)
            else:
                tcode = np.full(ev.size, cell.type)
                dur = np.asarray(cell.law.ppf(u[ev, 1]), float).reshape(-1)
            ok = np.isin(tcode, list(code))
            cols["path"].append((b0 + np.repeat(np.arange(nb), cnt))[ev[ok]])
            cols["chain"].append(np.asarray(cell.members, np.int64)[j[ok]])
            cols["type"].append(np.array([code[c] for c in tcode[ok]], np.int64))
            cols["start"].append(u[ev[ok], 0] * period_s)
            cols["dur"].append(dur[ok])

    def cat(xs: list[Any], dtype: Any) -> Any:
        return np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype)

    return OutageSample(n_paths=n_paths, period_s=period_s, chains=tuple(chains), types=kept,
                        path=cat(cols["path"], np.int64), chain=cat(cols["chain"], np.int64),
                        type=cat(cols["type"], np.int64), start_s=cat(cols["start"], float),
                        duration_s=cat(cols["dur"], float))


def parametric_payouts(sample: OutageSample, cover: ParametricCover) -> FloatArray:
    """Per-path payout (USD) of a parametric cover on sampled outages."""
    if abs(sample.period_s - cover.period_s) > 1e-6 * cover.period_s:
        raise UsageError("cover period differs from the sampled period", field="period_s", value=cover.period_s)
    n = sample.exceed_count(cover.chain, cover.trigger_s, cover.types)
    return cover.payout_usd * (n if cover.per_event else (n > 0)).astype(float)


@dataclass(frozen=True)
class InsurerTail:
    """An insurer's book of parametric covers: per-cover quotes and the book's total payout tail (USD)."""

    quotes: tuple[Quote, ...]
    total: Quote
    #: the same book with every common shock replaced by independent per-member copies
    total_independent: Quote
    sum_of_es_usd: float


def without_common_shocks(model: OutageModel) -> OutageModel:
    """The model with each common shock split into independent per-member shocks with the same marginals (the
    rate at which it hits each member, its type mix, durations and posterior: :meth:`OutageModel.independent`);
    self-excitation is kept as it is, so only the shocks' joint hits are taken away."""
    return replace(model.independent(), hawkes=model.hawkes, meta=model.meta)


def insurer_tail(model: OutageModel, covers: Sequence[ParametricCover], pricing: Pricing = Pricing(), *,
                 n_paths: int = 100_000, seed: int = 0, sampler: str = "poisson",
                 scenario: Any = None) -> InsurerTail:
    """Monte Carlo quotes for each cover and the tail of the book's total payout, common shocks included.

    ``total_independent`` prices the same covers with the group shocks made
    independent: the gap to ``total`` is what the common shocks cost the insurer.
    ``sampler="poisson"`` draws the Poisson / Marshall-Olkin part here
    (:func:`sample_outages`); ``sampler="engine"`` takes the longest downtime per
    path from the loss engine's own sampler (self-excitation, volatility
    coupling and regimes included; downtime covers paying once), with its
    conditional-sampling weights; ``scenario`` (an engine Scenario) sets
    regimes and the like there.
    """
    if not covers:
        raise UsageError("an insurer's book needs at least one cover", field="covers")
    period = covers[0].period_s
    if any(abs(c.period_s - period) > 1e-6 * period for c in covers):
        raise UsageError("all covers of a book must share one period", field="period_s")
    types = sorted({t for c in covers for t in c.types})
    for c in covers:
        _check_chain(model, c.chain)
    if sampler not in ("poisson", "engine"):
        raise UsageError("sampler is poisson or engine", field="sampler", value=sampler)
    notes = _model_notes(model) if sampler == "poisson" else ()
    if sampler == "engine" and (types != ["downtime"] or any(c.per_event for c in covers)):
        raise UsageError("the engine sampler prices downtime covers that pay once", field="covers")

    def pay(m: OutageModel) -> tuple[list[FloatArray], FloatArray | None]:
        if sampler == "poisson":
            smp = sample_outages(m, period_s=period, n_paths=n_paths, seed=seed, types=types)
            return [parametric_payouts(smp, c) for c in covers], None
        from seqrisk.decide.books import reference_book
        from seqrisk.decide.paths import longest_downtime_s
        from seqrisk.engine import Scenario

        ids = list(dict.fromkeys(c.chain for c in covers))
        book = reference_book(ids)
        sc = (scenario or Scenario()).replace(paths=n_paths, seed=seed, horizon_s=period, chains=ids)
        names, longest, p_event = longest_downtime_s(book, m, sc)
        return [(c.payout_usd * (longest[:, names.index(c.chain)] > c.trigger_s)).astype(float)
                for c in covers], p_event

    def run(m: OutageModel) -> tuple[list[Quote], Quote]:
        pays, p_event = pay(m)
        qs = [price_payouts(p, pricing, period, notes=notes, p_event=p_event) for p in pays]
        return qs, price_payouts(np.sum(pays, axis=0), pricing, period, notes=notes, p_event=p_event)

    qs, tot = run(model)
    _, ind = run(without_common_shocks(model))
    if not np.isfinite(tot.premium_usd):
        raise DataError("insurer tail is not finite", field="covers")
    return InsurerTail(quotes=tuple(qs), total=tot, total_independent=ind,
                       sum_of_es_usd=float(sum(q.es_payout_usd for q in qs)))
