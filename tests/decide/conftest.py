"""A small book, an outage model, and a stand-in engine for testing the comparison mechanics.

The stand-in (:func:`toy_simulate`) is *not* the loss engine: one outage at
most per path, one asset, perps only, but it reads the same scenario fields
(seed, paths, grace_period_s, top_up_share_max, margin_buffer) so the comparison
code (pairing, standard errors, sweeps) can be tested against known numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from seqrisk.decide import Outcome
from seqrisk.outage import ChainOutageLaw, CommonShock, DurationLaw, OutageModel
from seqrisk.portfolio import Book, book_from_dict
from seqrisk.units import YEAR_S

CHAINS = ("arbitrum", "base", "optimism")


@pytest.fixture
def book() -> Book:
    pos = [
        {"id": "p1", "chain": "arbitrum", "type": "perp", "asset": "ETH", "side": "long", "notional_usd": 1e6,
         "leverage": 10},
        {"id": "p2", "chain": "arbitrum", "type": "perp", "asset": "ETH", "size": -200.0, "leverage": 5},
        {"id": "l1", "chain": "base", "type": "loan", "collateral_asset": "ETH", "collateral_amount": 100.0,
         "debt_usd": 1e5, "liquidation_threshold": 0.8},
    ]
    return book_from_dict({"assets": {"ETH": {"spot_usd": 2000.0, "vol": 0.8}}, "positions": pos},
                          chains=CHAINS)


@pytest.fixture
def model() -> OutageModel:
    logn = DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0})
    chains = {c: ChainOutageLaw(c, {"downtime": r}, {"downtime": logn}, forced_inclusion_delay_s=d)
              for c, r, d in (("arbitrum", 2.0, 86400.0), ("base", 1.0, 43200.0), ("optimism", 1.5, 43200.0))}
    return OutageModel(chains=chains, shocks=(CommonShock("op-stack", ("base", "optimism"), 0.3, logn),))


@dataclass(frozen=True)
class ToyScenario:
    horizon_s: float = YEAR_S
    paths: int = 20_000
    seed: int = 0
    grace_period_s: float = 0.0
    top_up_share_max: float = 0.0
    margin_buffer: float = 0.0
    forced_inclusion: bool = False
    l1_inclusion_s: float = 1800.0


def toy_simulate(book: Any, model: OutageModel, sc: ToyScenario) -> Outcome:
    """10x long perp of $1 per path, one outage with probability 0.5, GBM at 80 %/year."""
    rng = np.random.default_rng(sc.seed)
    n = sc.paths
    hit = rng.random(n) < 0.5
    d = model.chains["arbitrum"].durations["downtime"].sample(rng, n) * 50  # long outages, visible losses
    z1, z2, u = rng.standard_normal(n), rng.standard_normal(n), rng.random(n)
    sig = 0.8 / np.sqrt(YEAR_S)
    r1 = np.exp(sig * np.sqrt(d) * z1 - 0.5 * sig**2 * d)
    r2 = r1 * np.exp(sig * np.sqrt(sc.grace_period_s) * z2 - 0.5 * sig**2 * sc.grace_period_s)
    lev, m = 10.0, 0.05
    e0 = 1.0 / lev + sc.margin_buffer
    topped = (u < sc.top_up_share_max) & (sc.grace_period_s > 0)  # no time to top up without a grace period
    # at restart: a holder who tops up is back at initial margin, so safe; others are tested after the grace period
    price = np.where(topped, r1, r2)
    equity = np.where(topped, r1 / lev, e0 + (r2 - 1.0))
    liq = hit & ~topped & (equity < m * price)
    holder = np.where(liq, np.maximum(equity, 0.0), 0.0)
    venue = np.where(liq, np.maximum(-equity, 0.0), 0.0)
    return Outcome(holder_usd=holder * 1e6, venue_usd=venue * 1e6, liquidated=liq)
