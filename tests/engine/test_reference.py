"""A slow, obvious per-path implementation (plain loops) against the engine, within Monte Carlo error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqrisk.engine import Scenario, simulate
from seqrisk.units import DAY_S, YEAR_S

from .conftest import lognormal_model, make_book

S0, SIG, ETA, ADV = 2000.0, 0.8, 0.1, 2e7
RATE, T = 3.0, DAY_S
PERPS = [  # side, units, leverage, maintenance, penalty
    (1.0, 500.0, 12.0, 0.05, 0.05),
    (1.0, 300.0, 20.0, 0.02, 0.01),
    (-1.0, 400.0, 15.0, 0.03, 0.02),
    (-1.0, 200.0, 4.0, 0.05, 0.05),
]
LOAN = (1000.0, 1.6e6, 0.85, 0.05, 0.5)  # collateral units, debt, threshold, bonus, close factor


def reference_path(rng: np.random.Generator) -> tuple[float, float, bool]:
    """Holder loss, venue loss and any-liquidation of one path, by plain loops."""
    n = rng.poisson(RATE * T / DAY_S)
    arrivals = sorted((rng.uniform(0, T), 3600.0 * math.exp(rng.standard_normal())) for _ in range(n))
    outages: list[list[float]] = []
    for s, d in arrivals:
        if outages and s <= outages[-1][1]:
            outages[-1][1] = max(outages[-1][1], s + d)
        else:
            outages.append([s, s + d])
    s2 = SIG * SIG / YEAR_S
    x, t_prev, impact = 0.0, 0.0, 1.0
    live = [True] * len(PERPS)
    loan_live = True
    holder = venue = 0.0
    any_liq = False
    for start, end in outages:
        x += -0.5 * s2 * (start - t_prev) + math.sqrt(s2 * (start - t_prev)) * rng.standard_normal()
        p0 = S0 * math.exp(x) * impact
        x += -0.5 * s2 * (end - start) + math.sqrt(s2 * (end - start)) * rng.standard_normal()
        t_prev = end
        p1 = S0 * math.exp(x) * impact
        c, d, lt, bonus, cf = LOAN
        if loan_live and c * p0 * lt < d:
            loan_live = False  # liquidated before the outage, in both worlds
        in_cascade = [i for i in range(len(PERPS)) if live[i]]
        e0 = {i: PERPS[i][1] * p0 / PERPS[i][2] for i in in_cascade}
        loan_in = loan_live
        bonus_paid = 0.0
        price = p1
        while True:
            x_sold = 0.0
            closed_now = []
            for i in in_cascade:
                side, u, _, m, _ = PERPS[i]
                if e0[i] + side * u * (price - p0) < m * u * price:
                    closed_now.append(i)
            loan_now = loan_in and c * price * lt < d
            if not closed_now and not loan_now:
                break
            for i in closed_now:
                side, u, _, _, pen = PERPS[i]
                e1 = e0[i] + side * u * (p1 - p0)
                ec = e0[i] + side * u * (price - p0)
                holder += max(e1, 0.0) - max(ec - pen * u * price, 0.0)
                venue += max(-ec, 0.0)
                x_sold += side * u * price
                in_cascade.remove(i)
                live[i] = False
                any_liq = True
            if loan_now:
                any_liq = True
                loan_live = False
                r = min(cf * d, c * price / (1 + bonus))
                seized = r * (1 + bonus) / price
                bonus_paid += bonus * r
                x_sold += seized * price
                c -= seized
                d -= r
                if c * price <= 1e-9 * max(d, 1.0):
                    venue += d
                    loan_in = False
            if x_sold != 0.0:
                price *= 1 - math.copysign(ETA * math.sqrt(abs(x_sold) / ADV), x_sold)
        if bonus_paid:
            holder += min(bonus_paid, max(LOAN[0] * p1 - LOAN[1], 0.0))
        impact *= price / p1
    return holder, venue, any_liq


def _book():  # type: ignore[no-untyped-def]
    pos = [{"id": f"p{i}", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": s * u, "leverage": lev,
            "maintenance_margin": m, "liquidation_penalty": pen} for i, (s, u, lev, m, pen) in enumerate(PERPS)]
    c, d, lt, b, cf = LOAN
    pos.append({"id": "loan", "type": "loan", "chain": "arbitrum", "collateral_asset": "ETH",
                "collateral_amount": c, "debt_usd": d, "liquidation_threshold": lt, "liquidation_bonus": b,
                "close_factor": cf})
    return make_book(pos, vol=SIG, spot=S0, eta=ETA, depth=ADV)


@pytest.fixture(scope="module")
def reference() -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(2024)
    out = np.array([reference_path(rng) for _ in range(20_000)])
    n = out.shape[0]
    return {k: (float(out[:, j].mean()), float(out[:, j].std(ddof=1) / math.sqrt(n)))
            for j, k in enumerate(("holder", "venue", "p_liq"))}


@pytest.mark.parametrize("conditional", [True, False])
def test_engine_agrees_with_slow_reference(reference: dict[str, tuple[float, float]], conditional: bool) -> None:
    sc = Scenario(paths=60_000, seed=9, horizon_s=T, forced_inclusion=False, turnover_per_day=0.0,
                  cost_of_capital=0.0, conditional_sampling=conditional, keep_paths=False)
    res = simulate(_book(), lognormal_model({"arbitrum": RATE}), sc)
    for key, (measure, persp) in {"holder": ("expected_loss", "holder"), "venue": ("expected_loss", "venue"),
                                  "p_liq": ("p_liquidation", "holder")}.items():
        v, se = res.value(measure, perspective=persp, basis="total")
        rv, rse = reference[key]
        z = abs(v - rv) / math.sqrt(se * se + rse * rse)
        assert z < 4, (key, v, se, rv, rse)
    assert res.diagnostics["cascades"] > 100
