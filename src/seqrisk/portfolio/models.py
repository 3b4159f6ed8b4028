"""A book of positions as frozen, validated data (pydantic).

Units: prices and money in USD, sizes in units of the asset, volatilities per
square-root year (365 days), times in seconds (human strings such as ``7d`` are
accepted where a duration is expected and parsed at load time).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from seqrisk.units import parse_duration

__all__ = ["Asset", "Book", "Jumps", "Loan", "MarketModel", "Option", "Perp", "Position"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _duration(v: Any) -> Any:
    return parse_duration(v, default_unit="s") if isinstance(v, str) else v


class Jumps(_Frozen):
    """Merton jumps: Poisson arrivals, normal log-jump sizes."""

    rate_per_year: float = Field(ge=0)
    mean: float = Field(0.0, description="mean log jump")
    sigma: float = Field(ge=0, description="standard deviation of the log jump")


class Asset(_Frozen):
    """A traded asset: spot, volatility per regime, jumps, market depth for impact."""

    spot_usd: float = Field(gt=0)
    vol: float | dict[str, Annotated[float, Field(gt=0)]] = Field(
        description="annual volatility, one number or one per regime name")
    jumps: Jumps | None = None
    depth_usd: float = Field(1e9, gt=0, description="ADV: depth scale of the square-root impact law")
    impact_eta: float = Field(0.1, ge=0, description="eta of the square-root impact law")

    @field_validator("vol")
    @classmethod
    def _vol(cls, v: Any) -> Any:
        if isinstance(v, float | int) and not v > 0:
            raise ValueError("volatility must be > 0")
        return v

    def vol_in(self, regime: str) -> float:
        """Annual volatility in ``regime`` (a single number applies to every regime)."""
        if isinstance(self.vol, dict):
            if regime not in self.vol:
                raise KeyError(regime)
            return float(self.vol[regime])
        return float(self.vol)


class _Position(_Frozen):
    id: str = Field(min_length=1)
    chain: str


class Perp(_Position):
    """Perpetual (or dated) future. Give ``size`` (signed units) or ``side`` and ``notional_usd``."""

    type: Literal["perp"] = "perp"
    asset: str
    size: float | None = Field(None, description="signed units, + long")
    side: Literal["long", "short"] | None = None
    notional_usd: float | None = Field(None, gt=0, description="notional at spot, USD")
    leverage: float = Field(ge=1)
    maintenance_margin: float = Field(0.05, gt=0, lt=1, description="share of current notional")
    liquidation_penalty: float = Field(0.05, ge=0, lt=1, description="share of notional at the close price")

    @model_validator(mode="after")
    def _check(self) -> Perp:
        if self.size is None and (self.side is None or self.notional_usd is None):
            raise ValueError("give size (signed units) or side and notional_usd")
        if self.size is not None and (self.side is not None or self.notional_usd is not None):
            raise ValueError("give either size or side and notional_usd, not both")
        if self.size is not None and self.size == 0:
            raise ValueError("size must not be 0")
        if self.maintenance_margin >= 1.0 / self.leverage:
            raise ValueError(f"maintenance margin {self.maintenance_margin} is not below the initial margin "
                             f"1/leverage = {1.0 / self.leverage:.4g}")
        return self


class Option(_Position):
    """European call or put, priced with Black-Scholes; ``expiry`` is seconds (or ``7d``) from now."""

    type: Literal["option"] = "option"
    asset: str
    kind: Literal["call", "put"]
    quantity: float = Field(description="signed units of underlying, + long")
    strike_usd: float = Field(gt=0)
    expiry_s: float = Field(gt=0, validation_alias="expiry")
    implied_vol: float = Field(gt=0)
    delta_hedged: bool = True
    initial_margin: float | None = Field(None, gt=0, lt=1, description="short options: collateral is the "
                                         "option value plus this share of the underlying notional")
    maintenance_margin: float | None = Field(None, gt=0, lt=1, description="share of the underlying notional "
                                             "(default: half the initial margin)")
    liquidation_penalty: float = Field(0.05, ge=0, lt=1, description="share of the underlying notional")

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, populate_by_name=True)

    @field_validator("expiry_s", mode="before")
    @classmethod
    def _exp(cls, v: Any) -> Any:
        return _duration(v)

    @field_validator("quantity")
    @classmethod
    def _q(cls, v: float) -> float:
        if v == 0:
            raise ValueError("quantity must not be 0")
        return v

    @model_validator(mode="after")
    def _margin(self) -> Option:
        if self.initial_margin is not None and self.quantity > 0:
            raise ValueError("initial_margin applies to short options only (quantity < 0)")
        if self.maintenance_margin is not None and self.initial_margin is None:
            raise ValueError("maintenance_margin needs initial_margin")
        if (self.initial_margin is not None and self.maintenance_margin is not None
                and self.maintenance_margin >= self.initial_margin):
            raise ValueError("maintenance margin must be below the initial margin")
        return self


class Loan(_Position):
    """Aave-style loan: collateral in an asset, debt in USD stablecoins."""

    type: Literal["loan"] = "loan"
    collateral_asset: str
    collateral_amount: float = Field(gt=0, description="units of the collateral asset")
    debt_usd: float = Field(gt=0)
    liquidation_threshold: float = Field(gt=0, lt=1)
    liquidation_bonus: float = Field(0.05, ge=0, lt=1)
    close_factor: float = Field(0.5, gt=0, le=1)

    @property
    def asset(self) -> str:
        return self.collateral_asset


Position = Annotated[Perp | Option | Loan, Field(discriminator="type")]


class MarketModel(_Frozen):
    """The rest of a venue's market on one chain and asset, for cascades.

    Aggregate open interest split into long and short, with a leverage
    distribution; these traders are liquidated by the same rule as the book's
    perps and move the price, but their losses are not the book's.
    """

    chain: str
    asset: str
    open_interest_usd: float = Field(gt=0)
    long_share: float = Field(0.5, ge=0, le=1)
    leverage: list[float] = Field(min_length=1)
    weights: list[float] | None = None
    maintenance_margin: float = Field(0.05, gt=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> MarketModel:
        if any(not (x >= 1) for x in self.leverage):
            raise ValueError("leverage values must be >= 1")
        if any(self.maintenance_margin >= 1.0 / x for x in self.leverage):
            raise ValueError("maintenance margin must be below 1/leverage for every leverage value")
        if self.weights is not None and (len(self.weights) != len(self.leverage) or any(w < 0 for w in self.weights)
                                         or not math.isclose(sum(self.weights), 1.0, rel_tol=1e-6)):
            raise ValueError("weights must be >= 0, one per leverage value, and sum to 1")
        return self


class Book(_Frozen):
    """A portfolio: assets, their correlations, positions, and optional rest-of-market models."""

    name: str = "book"
    assets: dict[str, Asset] = Field(min_length=1)
    correlations: list[tuple[str, str, float]] = Field(default_factory=list)
    positions: list[Position] = Field(min_length=1)
    markets: list[MarketModel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> Book:
        seen: set[str] = set()
        for p in self.positions:
            if p.id in seen:
                raise ValueError(f"position id {p.id!r} is used twice")
            seen.add(p.id)
        for a, b, rho in self.correlations:
            for x in (a, b):
                if x not in self.assets:
                    raise ValueError(f"correlation names unknown asset {x!r}")
            if not -1 < rho < 1 or a == b:
                raise ValueError(f"correlation {a}/{b} must be in (-1, 1) between two assets")
        return self

    @property
    def chains(self) -> list[str]:
        """Chains holding positions, in first-seen order."""
        return list(dict.fromkeys(p.chain for p in self.positions))

    @property
    def asset_names(self) -> list[str]:
        return list(self.assets)
