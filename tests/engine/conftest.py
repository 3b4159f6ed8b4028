"""Shared builders for engine tests: explicit books and outage models (no fitted model)."""

from __future__ import annotations

from typing import Any

import pytest

from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import Book, book_from_dict

CHAINS = ["arbitrum", "base", "optimism", "zksync-era", "starknet"]


def make_book(positions: list[dict[str, Any]], *, vol: Any = 0.8, spot: float = 2000.0, eta: float = 0.1,
              depth: float = 1e9, jumps: dict[str, float] | None = None, extra_assets: dict[str, Any] | None = None,
              correlations: list[Any] | None = None, markets: list[dict[str, Any]] | None = None,
              assets_override: dict[str, Any] | None = None) -> Book:
    assets: dict[str, Any] = {"ETH": {"spot_usd": spot, "vol": vol, "impact_eta": eta, "depth_usd": depth}}
    if jumps:
        assets["ETH"]["jumps"] = jumps
    assets.update(extra_assets or {})
    if assets_override is not None:
        assets = assets_override
    return book_from_dict({"name": "t", "assets": assets, "positions": positions,
                           "correlations": correlations or [], "markets": markets or []}, chains=CHAINS)


def lognormal_model(rates_per_day: dict[str, float], median_s: float = 3600.0, sigma: float = 1.0,
                    **kw: Any) -> OutageModel:
    law = DurationLaw("lognormal", {"median_s": median_s, "sigma": sigma})
    return OutageModel(chains={c: ChainOutageLaw(c, {"downtime": r * 365.0}, {"downtime": law})
                               for c, r in rates_per_day.items()}, **kw)


@pytest.fixture
def no_outage_model() -> OutageModel:
    return OutageModel(chains={})
