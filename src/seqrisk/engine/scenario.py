"""Scenario configuration of a simulation (pydantic; YAML/JSON at the edges).

Durations accept human strings (``90m``, ``1d``) and are stored in seconds;
rates are per year unless named otherwise; money in USD.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from seqrisk._documents import read_mapping
from seqrisk.exceptions import DataError, SeqriskError, UsageError, ValidationError
from seqrisk.outage import ChainOutageLaw, DurationLaw, Hawkes, OutageModel
from seqrisk.units import YEAR_S, parse_duration

__all__ = ["BLOCK_PATHS", "ExplicitOutage", "Regime", "Scenario", "StressOutage", "check_stress_chains",
           "load_scenario"]

#: Paths per random-number block: block b always draws from SeedSequence(seed, spawn_key=(b, stream)).
BLOCK_PATHS = 4096
#: Decay of a stressed cross-chain excitation when the model has none (per day: about a 20-day memory, the
#: order of the pooled cross-chain fit on the catalog).
STRESS_DECAY_PER_DAY = 0.05


class _Cfg(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Regime(_Cfg):
    """A volatility regime; ``switch_rates_per_year`` maps other regime names to switching rates."""

    name: str
    switch_rates_per_year: dict[str, float] = Field(default_factory=dict)


class StressOutage(_Cfg):
    """A given outage: chain, duration (seconds or ``2h``), start (seconds from now), type."""

    chain: str
    duration_s: float = Field(gt=0)
    start_s: float = Field(0.0, ge=0)
    type: Literal["downtime", "degraded", "censorship", "reorg", "da_delay"] = "downtime"

    @field_validator("duration_s", "start_s", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> Any:
        return parse_duration(v, default_unit="s") if isinstance(v, str) else v

    @classmethod
    def parse(cls, text: str) -> StressOutage:
        """Parse ``CHAIN=DURATION[@TIME]`` (e.g. ``arbitrum=2h@30m``); TIME is from now."""
        from seqrisk.exceptions import UsageError

        if "=" not in text:
            raise UsageError("stress outage must be CHAIN=DURATION[@TIME], e.g. arbitrum=2h", value=text)
        chain, rest = text.split("=", 1)
        dur, _, at = rest.partition("@")
        return cls(chain=chain.strip(), duration_s=parse_duration(dur, field="outage"),
                   start_s=parse_duration(at, field="outage") if at else 0.0)


def check_stress_chains(book: Any, outages: Sequence[StressOutage], *, field: str) -> None:
    """A given outage is on a chain the book holds: the first other one is refused (``field`` names it as the
    caller knows it: ``--outage`` on the command line, ``stress[i]`` in a request)."""
    held = set(book.chains)
    for i, s in enumerate(outages):
        if s.chain not in held:
            raise UsageError("stress outage on a chain without positions", chain=s.chain,
                             field=field.replace("[]", f"[{i}]"))


class ExplicitOutage(_Cfg):
    """An explicit outage law for one chain and event type, overriding the model's."""

    type: Literal["downtime", "degraded", "censorship", "reorg", "da_delay"] = "downtime"
    rate_per_year: float = Field(ge=0)
    family: Literal["lognormal", "weibull", "loglogistic", "exponential", "fixed"] = "lognormal"
    params: dict[str, float] = Field(description="duration parameters in seconds, e.g. {median_s: 3600, sigma: 1}")


class Scenario(_Cfg):
    """Everything a run needs besides the book and the outage model.

    Mitigation parameters (``grace_period_s``, ``top_up_share_max``, the
    response-time law, ``margin_buffer``, ``forced_inclusion``) do not change any random number:
    two runs with the same seed and ``chains`` share the market and outage
    paths (common random numbers), so paired differences are precise.
    """

    horizon_s: float = Field(YEAR_S, gt=0, description="horizon of the run (default one year, as every command's)")
    paths: int = Field(100_000, ge=1)
    seed: int = Field(0, ge=0)
    chunk_paths: int | None = Field(None, ge=1, description="paths per chunk, rounded to whole blocks (default: "
                                    "chosen from the book's size and the engine, so memory stays bounded)")
    engine: Literal["auto", "kernel", "numpy"] = Field("auto", description="auto: the compiled kernel where it "
                                                       "covers the run, else the vectorised NumPy engine")
    workers: int = Field(1, ge=1)
    chains: list[str] | None = Field(None, description="chains whose outages are simulated (default: the book's)")
    regimes: list[Regime] = Field(default_factory=lambda: [Regime(name="calm")])
    initial_regime: str | None = Field(None, description="regime at t = 0 (default: stationary distribution)")
    reference_asset: str | None = Field(None, description="asset whose volatility drives the hazard coupling")
    beta: float | None = Field(None, description="override the model's volatility coupling beta")
    hawkes: bool = Field(True, description="use the model's self-excitation if it has one")
    shocks: bool = Field(True, description="use the model's common-shock groups")
    cross_branching: float | None = Field(None, ge=0, lt=1, description="stress the cross-chain excitation: "
                                          "follow-on outages an outage begets on other chains (replaces the "
                                          "model's; 0 turns it off; decay the model's or 0.05/day)")
    parameter_uncertainty: bool = Field(False, description="draw each path's outage parameters (rates, duration "
                                        "parameters, shock and excitation parameters) from their posterior "
                                        "instead of using point estimates")
    grace_period_s: float = Field(0.0, ge=0, description="oracle grace period after a restart: no liquidation "
                                  "until then (seconds)")
    top_up_share_max: float = Field(0.5, ge=0, le=1, description="share of holders under water at a restart who "
                                    "would top up at all, given the time")
    response_median_s: float = Field(1200.0, gt=0, description="median time a holder needs to respond after a "
                                     "restart (lognormal, seconds)")
    response_sigma: float = Field(1.5, gt=0, description="log-sigma of the holders' response time")
    top_up_share: None = Field(None, exclude=True, description="retired: see top_up_share_max")
    settlement: Literal["stale", "true"] = Field("true", description="expiry settlement inside a downtime")
    turnover_per_day: float = Field(0.5, ge=0, description="notional traded per day, share of the position")
    degraded_cost_bps: float = Field(10.0, ge=0, description="extra cost of trading during a degraded event")
    cost_of_capital: float = Field(0.08, ge=0, description="annual rate on capital that cannot move")
    withdrawal_share: float = Field(0.1, ge=0, le=1, description="share of capital in transit during a da_delay")
    censored_share: float = Field(1.0, ge=0, le=1, description="share of the book censored in a censorship event")
    forced_inclusion: bool = Field(False, description="holders act through L1 after the chain's forced-inclusion "
                                   "delay (a mitigation, docs/mitigations.md: off in the baseline)")
    l1_inclusion_s: float = Field(1800.0, ge=0)
    margin_buffer: float = Field(0.0, ge=0, description="extra collateral, share of notional")
    stress_outages: list[StressOutage] = Field(default_factory=list)
    outages: dict[str, list[ExplicitOutage]] = Field(default_factory=dict, description="explicit per-chain "
                                                     "rates and duration laws, overriding the outage model")
    background_outages: bool | None = Field(None, description="sample random outages too (default: only without "
                                            "stress outages)")
    conditional_sampling: bool = Field(True, description="condition paths on >= 1 outage (rare-event method)")
    max_cascade_rounds: int = Field(1000, ge=1)
    restart_depth_multiplier: float = Field(1.0, gt=0, description="multiplier on depth after a restart")
    keep_paths: bool = Field(False, description="keep per-path losses (for paired comparisons; memory grows with "
                             "the paths)")

    @field_validator("settlement", mode="before")
    @classmethod
    def _settle(cls, v: Any) -> Any:
        return "true" if v is True else v  # YAML reads a bare `true` as a boolean

    @field_validator("top_up_share", mode="before")
    @classmethod
    def _retired(cls, v: Any) -> Any:
        if v is not None:
            raise ValueError("top_up_share was replaced by top_up_share_max (the share that would top up at all); "
                             "the share saved by a grace period G is top_up_share_max * P(response time < G), "
                             "with the response time lognormal (response_median_s, response_sigma)")
        return v

    @field_validator("horizon_s", "grace_period_s", "l1_inclusion_s", "response_median_s", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> Any:
        return parse_duration(v, default_unit="s") if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        names = [r.name for r in self.regimes]
        if not names or len(set(names)) != len(names):
            raise ValueError("regimes need distinct names")
        for r in self.regimes:
            for other, rate in r.switch_rates_per_year.items():
                if other not in names or other == r.name or rate < 0:
                    raise ValueError(f"regime {r.name}: bad switch rate to {other!r}")
        if self.initial_regime is not None and self.initial_regime not in names:
            raise ValueError(f"initial_regime {self.initial_regime!r} is not a regime")
        return self

    @property
    def grace_saved_share(self) -> float:
        """Share of the positions liquidated at the end of the grace period whose holders topped up in time:
        ``q(G) = top_up_share_max * F_R(G)``, with ``F_R`` the lognormal law of the response time (0 at G = 0)."""
        g = self.grace_period_s
        if g <= 0.0 or self.top_up_share_max == 0.0:
            return 0.0
        z = math.log(g / self.response_median_s) / self.response_sigma
        return self.top_up_share_max * 0.5 * math.erfc(-z / math.sqrt(2.0))

    @property
    def with_background(self) -> bool:
        return self.background_outages if self.background_outages is not None else not self.stress_outages

    def outage_model(self, model: OutageModel) -> OutageModel:
        """``model`` with this scenario's explicit per-chain laws and its cross-chain excitation override applied
        (the same model when there are none)."""
        if self.cross_branching is not None:
            hk = model.hawkes
            model = dataclasses.replace(model, hawkes=Hawkes(
                hk.branching if hk is not None else 0.0,
                hk.decay_per_day if hk is not None else STRESS_DECAY_PER_DAY, cross_branching=self.cross_branching))
        if not self.outages:
            return model
        chains = dict(model.chains)
        for chain, laws in self.outages.items():
            old = chains.get(chain)
            rates = dict(old.rates_per_year) if old else {}
            durs = dict(old.durations) if old else {}
            for law in laws:
                rates[law.type] = law.rate_per_year
                durs[law.type] = DurationLaw(law.family, law.params)
            chains[chain] = ChainOutageLaw(chain, rates, durs,
                                           forced_inclusion_delay_s=old.forced_inclusion_delay_s if old else None)
        return dataclasses.replace(model, chains=chains)

    def replace(self, **changes: Any) -> Scenario:
        """A copy with ``changes`` applied and validated."""
        return Scenario.model_validate(self.model_dump() | changes)


def load_scenario(path: Path | str | None, **overrides: Any) -> Scenario:
    """Read a scenario from YAML/JSON (``None``: defaults), apply ``overrides`` (None values ignored) and validate.

    Errors name the file (unless the bad value came from an override), the field and the value.
    """
    p = None if path is None else Path(path)
    data: Any = {}
    if p is not None:
        data = read_mapping(p, "the scenario")
    over = {k: v for k, v in overrides.items() if v is not None}
    data.update(over)
    try:
        return Scenario.model_validate(data)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        fld = ".".join(str(x) for x in err["loc"]) or None
        top = str(err["loc"][0]) if err["loc"] else None
        raise ValidationError(err["msg"], file=None if p is None or top in over else str(p), field=fld,
                              value=data.get(top) if top else None) from None
    except SeqriskError as exc:  # a duration that does not parse
        if p is not None:
            exc.context.setdefault("file", str(p))
        raise
    if not isinstance(data, dict):
        raise DataError("a scenario is a mapping", file=str(p))
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Scenario.model_validate(data)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        fld = ".".join(str(x) for x in err["loc"]) or None
        raise ValidationError(err["msg"], file=str(p), field=fld,
                              value=data.get(str(err["loc"][0])) if err["loc"] else None) from None
