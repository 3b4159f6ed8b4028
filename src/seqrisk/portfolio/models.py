"""A book of positions as frozen, validated data (pydantic).

Units: prices and money in USD, sizes in units of the asset, volatilities per
square-root year (365 days), times in seconds (human strings such as ``7d`` are
accepted where a duration is expected and parsed at load time).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from seqrisk.units import DURATION_PATTERN, parse_duration

__all__ = ["Asset", "Book", "Jumps", "Loan", "MarketModel", "Option", "Perp", "Position"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _unit(unit: str) -> dict[str, Any]:
    """The field's unit, shown in the JSON Schema (``"unit"``) and in docs/positions.md."""
    return {"unit": unit}


SHARE = _unit("share of notional (0-1)")


def _duration_schema(schema: dict[str, Any]) -> None:
    """A duration field's JSON Schema: seconds (its bounds kept), or a string such as ``7d``."""
    number = {"type": schema.pop("type", "number")}
    for key in ("exclusiveMinimum", "minimum"):
        if key in schema:
            number[key] = schema.pop(key)
    schema["anyOf"] = [number, {"type": "string", "pattern": DURATION_PATTERN}]
    schema["unit"] = "seconds"


def _duration(v: Any) -> Any:
    return parse_duration(v, default_unit="s") if isinstance(v, str) else v


class Jumps(_Frozen):
    """Merton jumps: Poisson arrivals, normal log-jump sizes."""

    rate_per_year: float = Field(ge=0, description="expected number of jumps a year",
                                 json_schema_extra=_unit("per year"))
    mean: float = Field(0.0, description="mean log jump", json_schema_extra=_unit("log return"))
    sigma: float = Field(ge=0, description="standard deviation of the log jump", json_schema_extra=_unit("log return"))


class Asset(_Frozen):
    """A traded asset: spot, volatility per regime, jumps, market depth for impact."""

    spot_usd: float = Field(gt=0, description="price now; every position is valued at it",
                            json_schema_extra=_unit("USD"))
    vol: float | dict[str, Annotated[float, Field(gt=0)]] = Field(
        description="annual volatility, one number or one per regime name (calm, stressed)",
        json_schema_extra=_unit("per square-root year"))
    jumps: Jumps | None = Field(None, description="Merton jumps of the price (none: a diffusion)")
    depth_usd: float = Field(1e9, gt=0, description="ADV: depth scale of the square-root impact law",
                             json_schema_extra=_unit("USD"))
    impact_eta: float = Field(0.1, ge=0, description="eta of the square-root impact law: a sale of X moves the "
                              "price by eta sqrt(X / depth_usd)", json_schema_extra=_unit("dimensionless"))

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
    id: str = Field(min_length=1, description="the position's name, unique in the book")
    chain: str = Field(description="the chain it sits on: a catalog chain id (seqrisk chains)")


class Perp(_Position):
    """Perpetual (or dated) future: ``size`` (signed units, or units with ``side``), or ``side`` and ``notional_usd``.

    While its chain is up the holder keeps the position's collateral at a fixed share of the notional at the
    current price: the initial margin ``1/leverage``, or, when ``collateral_usd`` is given, the measured margin
    ``(collateral_usd + size x (spot - entry_price_usd)) / (|size| x spot)`` at the book's spot.
    """

    type: Literal["perp"] = Field("perp", description="perp: a perpetual (or dated) future")
    asset: str = Field(description="the asset traded (a key of assets)")
    size: float | None = Field(None, description="signed (+ long), or > 0 with side",
                               json_schema_extra=_unit("units of the asset"))
    side: Literal["long", "short"] | None = Field(None, description="long or short: with notional_usd, or with "
                                                  "a size > 0")
    notional_usd: float | None = Field(None, gt=0, description="notional at spot (with side, instead of size)",
                                       json_schema_extra=_unit("USD"))
    leverage: float | None = Field(None, ge=1, description="initial margin 1/leverage: the share of the "
                                   "notional kept as collateral while the chain is up (needed unless "
                                   "collateral_usd is given)", json_schema_extra=_unit("times"))
    maintenance_margin: float = Field(0.05, gt=0, lt=1, description="liquidated when the equity falls below "
                                      "this share of the notional at the current price", json_schema_extra=SHARE)
    liquidation_penalty: float = Field(0.05, ge=0, lt=1, description="what a liquidation takes from the holder, "
                                       "as a share of the notional at the close price", json_schema_extra=SHARE)
    entry_price_usd: float | None = Field(None, gt=0, description="price the position was opened at; with "
                                          "collateral_usd, its unrealised profit counts in the margin "
                                          "(default: the spot, no unrealised profit)", json_schema_extra=_unit("USD"))
    collateral_usd: float | None = Field(None, gt=0, description="collateral posted now, without unrealised "
                                         "profit: the measured margin replaces 1/leverage",
                                         json_schema_extra=_unit("USD"))

    @model_validator(mode="after")
    def _check(self) -> Perp:
        if self.size is None and (self.side is None or self.notional_usd is None):
            raise ValueError("give size (signed units) or side and notional_usd")
        if self.size is not None and self.notional_usd is not None:
            raise ValueError("give either size or side and notional_usd, not both")
        if self.size is not None and self.size == 0:
            raise ValueError("size must not be 0")
        if self.size is not None and self.side is not None and self.size < 0:
            raise ValueError("with side, size is the number of units (> 0)")
        if self.leverage is None and self.collateral_usd is None:
            raise ValueError("give leverage (initial margin 1/leverage) or collateral_usd (the measured margin)")
        if self.entry_price_usd is not None and self.collateral_usd is None:
            raise ValueError("entry_price_usd needs collateral_usd (the margin it moves)")
        if self.leverage is not None and self.maintenance_margin >= 1.0 / self.leverage:
            raise ValueError(f"maintenance margin {self.maintenance_margin} is not below the initial margin "
                             f"1/leverage = {1.0 / self.leverage:.4g}")
        return self

    def signed_units(self, spot_usd: float) -> float:
        """Signed units of the asset (+ long); a notional is converted at ``spot_usd``."""
        sign = -1.0 if self.side == "short" else 1.0
        if self.size is not None:
            return self.size if self.side is None else sign * self.size
        return sign * (self.notional_usd or 0.0) / spot_usd

    def margin_share(self, spot_usd: float) -> float:
        """Collateral the holder keeps while the chain is up, as a share of the notional at the current price:
        ``1/leverage``, or the measured margin at ``spot_usd`` when ``collateral_usd`` is given."""
        if self.collateral_usd is None:
            return 1.0 / float(self.leverage or 1.0)
        q = self.signed_units(spot_usd)
        entry = spot_usd if self.entry_price_usd is None else self.entry_price_usd
        return (self.collateral_usd + q * (spot_usd - entry)) / (abs(q) * spot_usd)


class Option(_Position):
    """European call or put, priced with Black-Scholes; ``expiry`` is seconds (or ``7d``) from now."""

    type: Literal["option"] = Field("option", description="option: a European call or put")
    asset: str = Field(description="the underlying asset (a key of assets)")
    kind: Literal["call", "put"] = Field(description="call or put")
    quantity: float = Field(description="signed units of underlying, + long",
                            json_schema_extra=_unit("units of the asset"))
    strike_usd: float = Field(gt=0, description="strike price", json_schema_extra=_unit("USD"))
    expiry_s: float = Field(gt=0, validation_alias="expiry", description="time to expiry from now: seconds, or a "
                            "duration such as 7d", json_schema_extra=_duration_schema)
    implied_vol: float = Field(gt=0, description="Black-Scholes implied volatility",
                               json_schema_extra=_unit("per square-root year"))
    delta_hedged: bool = Field(True, description="the holder keeps a delta hedge on the same chain (frozen with "
                               "it during an outage)")
    initial_margin: float | None = Field(None, gt=0, lt=1, description="short options: collateral is the "
                                         "option value plus this share of the underlying notional (none: no "
                                         "margin, never liquidated)", json_schema_extra=SHARE)
    maintenance_margin: float | None = Field(None, gt=0, lt=1, description="share of the underlying notional "
                                             "(default: half the initial margin)", json_schema_extra=SHARE)
    liquidation_penalty: float = Field(0.05, ge=0, lt=1, description="share of the underlying notional",
                                       json_schema_extra=SHARE)

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

    type: Literal["loan"] = Field("loan", description="loan: an Aave-style collateralised loan")
    collateral_asset: str = Field(description="the collateral asset (a key of assets)")
    collateral_amount: float = Field(gt=0, description="collateral posted",
                                     json_schema_extra=_unit("units of the asset"))
    debt_usd: float = Field(gt=0, description="debt in USD stablecoins", json_schema_extra=_unit("USD"))
    liquidation_threshold: float = Field(gt=0, lt=1, description="liquidated when the debt exceeds this share of "
                                         "the collateral value (health factor below 1)",
                                         json_schema_extra=_unit("share of collateral value (0-1)"))
    liquidation_bonus: float = Field(0.05, ge=0, lt=1, description="the liquidator's bonus, paid from the "
                                     "collateral", json_schema_extra=_unit("share of debt repaid (0-1)"))
    close_factor: float = Field(0.5, gt=0, le=1, description="largest share of the debt one liquidation repays",
                                json_schema_extra=_unit("share of debt (0-1)"))

    @property
    def asset(self) -> str:
        return self.collateral_asset

    keeps_health_factor: bool = Field(
        False, description="the borrower keeps the loan's health factor while the chain is up (the entry stands "
        "for a cohort that borrows more or repays as the price moves): at every outage start the debt is "
        "debt_usd times the price move since t = 0, so the loan meets each outage at its stated health factor. "
        "False: collateral and debt stay as given, and a loan whose price path crosses its liquidation price "
        "while the chain is up is liquidated then and is gone for the rest of the horizon.")


Position = Annotated[Perp | Option | Loan, Field(discriminator="type")]


class MarketModel(_Frozen):
    """The rest of a venue's market on one chain and asset, for cascades.

    Aggregate open interest split into long and short, with a leverage
    distribution; these traders are liquidated by the same rule as the book's
    perps and move the price, but their losses are not the book's.
    """

    chain: str = Field(description="the chain of the venue (a catalog chain id)")
    asset: str = Field(description="the asset traded (a key of assets)")
    open_interest_usd: float = Field(gt=0, description="the rest of the market's open interest, at spot",
                                     json_schema_extra=_unit("USD"))
    long_share: float = Field(0.5, ge=0, le=1, description="share of the open interest held long",
                              json_schema_extra=_unit("share (0-1)"))
    leverage: list[float] = Field(min_length=1, description="the traders' leverage values",
                                  json_schema_extra=_unit("times"))
    weights: list[float] | None = Field(None, description="share of the open interest at each leverage value "
                                        "(default: equal)", json_schema_extra=_unit("share (0-1)"))
    maintenance_margin: float = Field(0.05, gt=0, lt=1, description="the traders' maintenance margin",
                                      json_schema_extra=SHARE)

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

    name: str = Field("book", description="the book's name (shown in results and reports)")
    assets: dict[str, Asset] = Field(min_length=1, description="the assets traded, by name")
    correlations: list[tuple[str, str, float]] = Field(default_factory=list, description="[asset, asset, rho]: "
                                                       "correlation of the two assets' returns (default 0)")
    positions: list[Position] = Field(min_length=1, description="perps, options and loans")
    markets: list[MarketModel] = Field(default_factory=list, description="the rest of a venue's market, for "
                                       "restart cascades")

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

    @classmethod
    def from_frame(cls, frame: Any, *, market: Any = None, mapping: Any = None, name: str | None = None,
                   chains: Any = None) -> Book:
        """A book from a pandas DataFrame of positions, one per row: see :func:`seqrisk.portfolio.book_from_frame`.

        ``market`` holds the assets, correlations and rest-of-market models (a mapping, a YAML/JSON file or a
        Book); ``mapping`` translates a venue's columns.
        """
        from seqrisk.portfolio import book_from_frame  # the package face: models know no loader

        return book_from_frame(frame, market=market, mapping=mapping, name=name, chains=chains)

    @property
    def chains(self) -> list[str]:
        """Chains holding positions, in first-seen order."""
        return list(dict.fromkeys(p.chain for p in self.positions))

    @property
    def asset_names(self) -> list[str]:
        return list(self.assets)
