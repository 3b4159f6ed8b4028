"""A loan's attributable loss: the outage spares a liquidation only if the loan is not liquidated later anyway.

Independent reference: exact simulation of the price on a grid with Brownian-bridge crossings inside each step
(exact in distribution), counting in each world the first liquidation at the trigger before the horizon end.
The engine's credit (holder total minus holder attributable) must equal the reference's expected
counterfactual saving  B rep [1(touch in [0, T]) - 1(S_D >= L) 1(touch in (D, T])].
"""

from __future__ import annotations

import math

import numpy as np

from seqrisk.engine import Scenario, StressOutage, simulate
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import book_from_dict

S0, VOL, C, THR, HEALTH, BONUS, CF = 2000.0, 0.8, 100.0, 0.8, 1.01, 0.05, 0.5
D_S, T_S, DT = 7200.0, 43200.0, 60.0
YEAR = 365 * 86400.0


def _reference(n: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    debt = C * S0 * THR / HEALTH
    barrier = math.log(debt / (C * THR) / S0)
    rep = min(CF * debt, C * (debt / (C * THR)) / (1 + BONUS))
    s2 = VOL * VOL / YEAR * DT
    steps, k_d = int(T_S / DT), int(D_S / DT)
    out = []
    for _ in range(n // 5000):
        z = rng.standard_normal((5000, steps))
        x = np.concatenate([np.zeros((5000, 1)), np.cumsum(-0.5 * s2 + math.sqrt(s2) * z, axis=1)], axis=1)
        a, b = x[:, :-1] - barrier, x[:, 1:] - barrier
        p_cross = np.where((a <= 0) | (b <= 0), 1.0, np.exp(-2 * a * b / s2))
        cross = rng.random(p_cross.shape) < p_cross
        touch_all = cross.any(axis=1)
        touch_after = cross[:, k_d:].any(axis=1)
        above_at_d = x[:, k_d] >= barrier
        out.append(BONUS * rep * (touch_all.astype(float) - (above_at_d & touch_after)))
    y = np.concatenate(out)
    return float(y.mean()), float(y.std(ddof=1) / math.sqrt(y.size))


def test_loan_credit_matches_exact_path_simulation() -> None:
    debt = C * S0 * THR / HEALTH
    book = book_from_dict({"assets": {"ETH": {"spot_usd": S0, "vol": VOL, "impact_eta": 0.0}}, "positions": [
        {"id": "loan", "type": "loan", "chain": "arbitrum", "collateral_asset": "ETH", "collateral_amount": C,
         "debt_usd": debt, "liquidation_threshold": THR, "liquidation_bonus": BONUS, "close_factor": CF}]},
        chains=["arbitrum"])
    law = DurationLaw("fixed", {"duration_s": D_S})
    model = OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {"downtime": 1.0}, {"downtime": law})})
    sc = Scenario(paths=40_000, seed=5, horizon_s=T_S, turnover_per_day=0.0, cost_of_capital=0.0,
                  degraded_cost_bps=0.0, keep_paths=True,
                  stress_outages=[StressOutage(chain="arbitrum", duration_s=D_S)])
    pl = simulate(book, model, sc).path_losses()
    credit = (pl.holder_total - pl.holder_attributable).to_numpy() * pl.p_event.to_numpy()
    mean, se = float(credit.mean()), float(credit.std(ddof=1) / math.sqrt(credit.size))
    ref, ref_se = _reference(40_000, 17)
    assert ref > 100.0  # the case is not trivial: a liquidation is spared on a sizeable share of paths
    assert abs(mean - ref) < 4 * math.hypot(se, ref_se), (mean, se, ref, ref_se)
