"""The levers against sequencer risk as frozen, composable objects.

Each lever's ``apply`` returns a new :class:`~seqrisk.decide.base.Setup`;
costs are USD over the scenario's horizon, each with the party that pays it.
What the engine does with the scenario fields is the engine's
(``grace_period_s``, ``top_up_share_max``, ``response_median_s``,
``response_sigma``, ``margin_buffer``, ``forced_inclusion``,
``l1_inclusion_s``); a lever only sets them. Who controls each lever
(``party``): the venue sets grace periods, margin rules and supports forced
inclusion; the holder chooses a margin buffer and where positions sit; a
shared sequencer is the chain's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from seqrisk.decide.base import Setup, replace_fields
from seqrisk.exceptions import UsageError
from seqrisk.outage import AnyDurationLaw, ChainOutageLaw, CommonShock, DurationLaw, OutageModel
from seqrisk.units import YEAR_S, format_duration, format_usd, parse_duration

__all__ = [
    "ForcedInclusion",
    "GracePeriod",
    "MarginBuffer",
    "MarginRules",
    "SharedSequencer",
    "duration_label",
    "horizon_s",
    "initial_margin_usd",
    "notional_usd",
    "perp_notional_usd",
    "position_capital_usd",
    "scale_duration",
]


def horizon_s(scenario: Any) -> float:
    """The scenario's horizon in seconds."""
    h = getattr(scenario, "horizon_s", None)
    if h is None:
        raise UsageError("scenario has no horizon_s", field="horizon_s")
    return float(h)


def _spot(book: Any, asset: str) -> float:
    return float(book.assets[asset].spot_usd)


def position_capital_usd(book: Any, p: Any) -> float:
    """Capital (USD at spot) a position ties up: a perp's margin ``|q| S r`` (r = 1/L or its measured margin),
    a margined short option's initial margin on its underlying notional, a loan's collateral value (0 for other
    options)."""
    if p.type == "perp":
        return notional_usd(book, p) * p.margin_share(_spot(book, p.asset))
    if p.type == "loan":
        return notional_usd(book, p)
    return notional_usd(book, p) * (p.initial_margin or 0.0)


def initial_margin_usd(book: Any) -> float:
    """Collateral (USD) the book posts at spot: perps ``|q| S r`` (r = 1/L or the measured margin), loans'
    collateral value.

    Options carry no margin here (a short option's margin is the venue's rule).
    """
    return float(sum(position_capital_usd(book, p) for p in book.positions if p.type != "option"))


def _fmt(x: float) -> str:
    """Short when exact (``0.5``), else the shortest text that reads back exactly."""
    return f"{x:g}" if float(f"{x:g}") == x else repr(float(x))


def duration_label(seconds: float) -> str:
    """``format_duration`` when it reads back exactly (``'1.5h'``), else whole seconds (``'7488s'``)."""
    text = format_duration(seconds)
    return text if parse_duration(text) == seconds else f"{_fmt(seconds)}s"


@dataclass(frozen=True)
class GracePeriod:
    """Oracle grace period (Aave PriceOracleSentinel / Chainlink uptime feed): the venue's setting.

    No liquidation until ``grace_s`` after a restart. Holders respond after a
    random time (lognormal: median ``response_median_s``, log-sigma
    ``response_sigma``) and a share ``top_up_share_max`` of them would top up at
    all, so the share of positions at stake saved by the grace period is
    ``q(G) = q_max F_R(G)``: zero at G = 0, a 1-second grace saves nobody.
    Meanwhile the price keeps moving and nobody is liquidated, so a position
    can fall below zero equity: the venue's bad debt grows with G. Unset
    parameters (None) keep the scenario's (documented defaults of the engine).
    ``repay_blocked``: the venue's repay / top-up path also checks the oracle and
    reverts, so nobody can top up (q_max = 0).
    """

    grace_s: float
    top_up_share_max: float | None = None
    response_median_s: float | None = None
    response_sigma: float | None = None
    repay_blocked: bool = False
    party: ClassVar[str] = "venue"

    def __post_init__(self) -> None:
        bad = (self.grace_s < 0 or (self.top_up_share_max is not None and not 0 <= self.top_up_share_max <= 1)
               or (self.response_median_s is not None and self.response_median_s <= 0)
               or (self.response_sigma is not None and self.response_sigma <= 0))
        if bad:
            raise UsageError("grace period needs G >= 0, 0 <= qmax <= 1, response > 0 and sigma > 0", field="grace",
                             value=(self.grace_s, self.top_up_share_max, self.response_median_s,
                                    self.response_sigma))

    @property
    def label(self) -> str:
        s = f"grace={duration_label(self.grace_s)}"
        if self.top_up_share_max is not None:
            s += f",qmax={_fmt(self.top_up_share_max)}"
        if self.response_median_s is not None:
            s += f",response={duration_label(self.response_median_s)}"
        if self.response_sigma is not None:
            s += f",sigma={_fmt(self.response_sigma)}"
        return s + (",repay-blocked" if self.repay_blocked else "")

    def describe(self) -> str:
        text = f"an oracle grace period of {format_duration(self.grace_s)} after a restart"
        if self.repay_blocked:
            return text + " (nobody can top up: the repay path checks the oracle too)"
        how = []
        if self.top_up_share_max is not None:
            how.append(f"up to {self.top_up_share_max:.0%} of the holders top up")
        if self.response_median_s is not None:
            how.append(f"median response {format_duration(self.response_median_s)}")
        if self.response_sigma is not None:
            how.append(f"response log-sigma {self.response_sigma:g}")
        return text + (f" ({', '.join(how)})" if how else "")

    def apply(self, setup: Setup) -> Setup:
        changes: dict[str, float] = {"grace_period_s": float(self.grace_s)}
        if self.repay_blocked:
            changes["top_up_share_max"] = 0.0
        elif self.top_up_share_max is not None:
            changes["top_up_share_max"] = float(self.top_up_share_max)
        if self.response_median_s is not None:
            changes["response_median_s"] = float(self.response_median_s)
        if self.response_sigma is not None:
            changes["response_sigma"] = float(self.response_sigma)
        return replace(setup, scenario=replace_fields(setup.scenario, "scenario", **changes))


@dataclass(frozen=True)
class ForcedInclusion:
    """Act through L1 after the chain's forced-inclusion delay: exposure = min(D, F_c + l1).

    The delays F_c come from the outage model (filled from the catalog by the
    fit) unless ``delays_s`` overrides them. ``l1_cost_usd`` is the cost of one
    forced transaction; the expected number used is the rate of outages
    longer than F_c on the book's chains over the horizon.
    """

    l1_inclusion_s: float = 900.0
    l1_cost_usd: float = 0.0
    delays_s: Mapping[str, float] = field(default_factory=dict)
    party: ClassVar[str] = "venue"

    @property
    def label(self) -> str:
        return f"forced-inclusion,l1={duration_label(self.l1_inclusion_s)}"

    def describe(self) -> str:
        gas = f", {format_usd(self.l1_cost_usd)} of L1 gas a transaction" if self.l1_cost_usd else ""
        return (f"acting through L1 after the chain's forced-inclusion delay ({format_duration(self.l1_inclusion_s)}"
                f" to land{gas})")

    def apply(self, setup: Setup) -> Setup:
        model = setup.model
        if self.delays_s:
            chains = dict(model.chains)
            for c, d in self.delays_s.items():
                if c not in chains:
                    raise UsageError("forced-inclusion delay for a chain the model does not have", chain=c)
                chains[c] = replace(chains[c], forced_inclusion_delay_s=float(d))
            model = replace(model, chains=chains)
        sc = replace_fields(setup.scenario, "scenario", forced_inclusion=True,
                            l1_inclusion_s=float(self.l1_inclusion_s))
        out = replace(setup, scenario=sc, model=model)
        if self.l1_cost_usd > 0:
            from seqrisk.decide.insurance import trigger_rate_per_year

            years = horizon_s(setup.scenario) / YEAR_S
            uses = 0.0
            for c in setup.book.chains:
                law = model.chains.get(c)
                if law is not None and law.forced_inclusion_delay_s is not None:
                    n_pos = sum(1 for p in setup.book.positions if p.chain == c)
                    uses += n_pos * trigger_rate_per_year(model, c, law.forced_inclusion_delay_s) * years
            out = out.with_cost("L1 gas", uses * self.l1_cost_usd, payer="holder")
        return out


def notional_usd(book: Any, p: Any) -> float:
    """A position's notional at spot (USD): a perp's, an option's underlying, a loan's collateral value."""
    if p.type == "perp":
        spot = _spot(book, p.asset)
        return abs(p.signed_units(spot)) * spot
    if p.type == "option":
        return abs(p.quantity) * _spot(book, p.asset)
    return p.collateral_amount * _spot(book, p.collateral_asset)


def perp_notional_usd(book: Any) -> float:
    """Notional (USD at spot) of the book's perps: what a margin buffer is a share of."""
    return float(sum(notional_usd(book, p) for p in book.positions if p.type == "perp"))


@dataclass(frozen=True)
class MarginBuffer:
    """Extra collateral on every perp: a share ``k`` of its notional (the engine's ``margin_buffer``).

    k = 0.1 on a 10x perp doubles its collateral; k = 1 makes a long
    unliquidatable. Cost: the extra collateral times ``capital_rate_per_year``
    (default: the scenario's ``cost_of_capital``) over the horizon.
    """

    k: float
    capital_rate_per_year: float | None = None
    party: ClassVar[str] = "holder"

    def __post_init__(self) -> None:
        if self.k < 0 or (self.capital_rate_per_year is not None and self.capital_rate_per_year < 0):
            raise UsageError("margin buffer needs k >= 0 and a capital rate >= 0", field="buffer", value=self.k)

    @property
    def label(self) -> str:
        rate = "" if self.capital_rate_per_year is None else f",rate={_fmt(self.capital_rate_per_year)}"
        return f"buffer={_fmt(self.k)}{rate}"

    def describe(self) -> str:
        return f"extra margin of {self.k:.0%} of notional on every perp"

    def apply(self, setup: Setup) -> Setup:
        sc = replace_fields(setup.scenario, "scenario", margin_buffer=float(self.k))
        rate = self.capital_rate_per_year
        if rate is None:
            rate = float(getattr(setup.scenario, "cost_of_capital", 0.10))
        cost = self.k * perp_notional_usd(setup.book) * rate * horizon_s(setup.scenario) / YEAR_S
        return replace(setup, scenario=sc).with_cost("capital", cost, payer="holder")


@dataclass(frozen=True)
class MarginRules:
    """The venue's margin rules: maintenance margin and liquidation penalty of every perp (on ``chain`` only
    when given), for the book and for the rest of the market modelled on that venue.

    A lower maintenance margin liquidates fewer positions but closes them with
    less equity left, so more bad debt; the penalty is what a liquidated holder
    pays on top. No cost is charged: what stricter rules cost a venue in trading
    volume is not modelled.
    """

    maintenance: float | None = None
    penalty: float | None = None
    chain: str | None = None
    party: ClassVar[str] = "venue"

    def __post_init__(self) -> None:
        if self.maintenance is None and self.penalty is None:
            raise UsageError("margin rules need a maintenance margin or a penalty", field="margin-rules")
        if (self.maintenance is not None and not 0 < self.maintenance < 1) or (
                self.penalty is not None and not 0 <= self.penalty < 1):
            raise UsageError("margin rules need 0 < maintenance < 1 and 0 <= penalty < 1", field="margin-rules",
                             value=(self.maintenance, self.penalty))

    @property
    def label(self) -> str:
        parts = ["margin-rules"]
        if self.maintenance is not None:
            parts.append(f"maintenance={_fmt(self.maintenance)}")
        if self.penalty is not None:
            parts.append(f"penalty={_fmt(self.penalty)}")
        if self.chain is not None:
            parts.append(f"chain={self.chain}")
        return ",".join(parts)

    def describe(self) -> str:
        rules = [f"a maintenance margin of {self.maintenance:.3g}" if self.maintenance is not None else "",
                 f"a liquidation penalty of {self.penalty:.3g}" if self.penalty is not None else ""]
        where = f" on {self.chain}" if self.chain else ""
        return " and ".join(r for r in rules if r) + f" for every perp{where}"

    def apply(self, setup: Setup) -> Setup:
        book = setup.book
        upd: dict[str, float] = {}
        if self.maintenance is not None:
            upd["maintenance_margin"] = float(self.maintenance)
        if self.penalty is not None:
            upd["liquidation_penalty"] = float(self.penalty)
        positions = []
        for p in book.positions:
            if p.type == "perp" and (self.chain is None or p.chain == self.chain):
                limits = [(1.0 / p.leverage, "the initial margin 1/leverage")] if p.leverage is not None else []
                if p.collateral_usd is not None:
                    limits.append((p.margin_share(_spot(book, p.asset)), "the measured margin"))
                for limit, what in limits:
                    if self.maintenance is not None and self.maintenance >= limit:
                        raise UsageError(f"maintenance margin must stay below {what} = {limit:.4g}",
                                         field="maintenance", position=p.id, value=self.maintenance)
                p = p.model_copy(update=upd)
            positions.append(p)
        markets = []
        for m in book.markets:
            if self.maintenance is not None and (self.chain is None or m.chain == self.chain):
                if any(self.maintenance >= 1.0 / x for x in m.leverage):
                    raise UsageError("maintenance margin must stay below 1/leverage of the market's traders",
                                     field="maintenance", chain=m.chain, value=self.maintenance)
                m = m.model_copy(update={"maintenance_margin": float(self.maintenance)})
            markets.append(m)
        return replace(setup, book=book.model_copy(update={"positions": positions, "markets": markets}))


def scale_duration(law: AnyDurationLaw, factor: float) -> AnyDurationLaw:
    """The law of ``factor * D`` (seconds) for a duration law of ``D``."""
    return law.scaled(factor)


@dataclass(frozen=True)
class SharedSequencer:
    """A decentralized or shared sequencer for ``chains``.

    Each chain's own outage rates are multiplied by ``rate_factor`` and its
    durations by ``duration_factor``; a new common-shock group ``group`` (the
    shared sequencer failing) hits all of them at once with
    ``shock_rate_per_year`` and ``shock_duration`` (default: the first chain's
    downtime law scaled by ``duration_factor``). ``cost_usd_per_year`` is an
    optional fee.
    """

    chains: tuple[str, ...]
    rate_factor: float = 0.5
    duration_factor: float = 0.5
    shock_rate_per_year: float = 0.5
    shock_duration: DurationLaw | None = None
    group: str = "shared-sequencer"
    cost_usd_per_year: float = 0.0
    party: ClassVar[str] = "chain"

    def __post_init__(self) -> None:
        if not self.chains or self.rate_factor < 0 or self.duration_factor <= 0 or self.shock_rate_per_year < 0:
            raise UsageError("shared sequencer needs chains, rate factor >= 0, duration factor > 0, "
                             "shock rate >= 0", field="shared", value=self.chains)

    @property
    def label(self) -> str:
        return (f"shared={'/'.join(self.chains)},rate={_fmt(self.rate_factor)},dur={_fmt(self.duration_factor)},"
                f"shock={_fmt(self.shock_rate_per_year)}")

    def describe(self) -> str:
        return (f"a shared sequencer for {', '.join(self.chains)} (own outage rates x{self.rate_factor:g}, "
                f"durations x{self.duration_factor:g}, joint failures {self.shock_rate_per_year:g} a year)")

    def transform(self, model: OutageModel) -> OutageModel:
        """The outage model with the shared sequencer in place."""
        chains: dict[str, ChainOutageLaw] = dict(model.chains)
        for c in self.chains:
            if c not in chains:
                raise UsageError("shared sequencer names a chain the model does not have", chain=c)
            law = chains[c]
            chains[c] = replace(
                law, rates_per_year={t: r * self.rate_factor for t, r in law.rates_per_year.items()},
                durations={t: scale_duration(d, self.duration_factor) for t, d in law.durations.items()},
                rate_intervals={t: (lo * self.rate_factor, hi * self.rate_factor)
                                for t, (lo, hi) in law.rate_intervals.items()})
        dur: AnyDurationLaw | None = self.shock_duration
        if dur is None:
            first = model.chains[self.chains[0]]
            base = first.durations.get("downtime") or next(iter(first.durations.values()), None)
            if base is None:
                raise UsageError("give the shared sequencer's outage duration", field="shock_duration")
            dur = scale_duration(base, self.duration_factor)
        shocks = (*model.shocks, CommonShock(self.group, tuple(self.chains), self.shock_rate_per_year, dur))
        return replace(model, chains=chains, shocks=shocks)

    def apply(self, setup: Setup) -> Setup:
        out = replace(setup, model=self.transform(setup.model))
        if self.cost_usd_per_year:
            out = out.with_cost("fees", self.cost_usd_per_year * horizon_s(setup.scenario) / YEAR_S,
                                payer="chain")
        return out

