"""Loans that keep their health factor while the chain is up (``keeps_health_factor``): closed forms."""

from __future__ import annotations

import math

import pytest
from scipy import integrate, stats

from seqrisk.engine import Scenario, simulate
from seqrisk.units import DAY_S, YEAR_S

from .conftest import lognormal_model, make_book

SIG, HF, LT, BONUS = 0.8, 1.02, 0.8, 0.05
RATE, MEDIAN, DSIG, T = 0.05, 2 * 3600.0, 0.5, 365 * DAY_S  # rare, short outages: hardly ever two overlap (merged)
PLAIN = dict(forced_inclusion=False, turnover_per_day=0.0, cost_of_capital=0.0, keep_paths=False)


def _loan(keeps: bool, lt: float = LT, bonus: float = BONUS) -> dict[str, object]:
    c = 100.0  # ETH at 2000: debt for a health factor HF
    return {"id": "l", "type": "loan", "chain": "arbitrum", "collateral_asset": "ETH", "collateral_amount": c,
            "debt_usd": c * 2000.0 * lt / HF, "liquidation_threshold": lt, "liquidation_bonus": bonus,
            "close_factor": 1.0, "keeps_health_factor": keeps}


def _run(keeps: bool, paths: int = 40_000, sig: float = SIG, lt: float = LT, bonus: float = BONUS
         ):  # type: ignore[no-untyped-def]
    book = make_book([_loan(keeps, lt, bonus)], vol=sig, eta=0.0)
    return simulate(book, lognormal_model({"arbitrum": RATE}, median_s=MEDIAN, sigma=DSIG),
                    Scenario(paths=paths, seed=4, horizon_s=T, **PLAIN))


def _per_outage(f, sig: float = SIG) -> float:  # type: ignore[no-untyped-def]
    """E over the duration law of f(s), s the log-price s.d. over the frozen interval."""
    law = stats.lognorm(s=DSIG, scale=MEDIAN)
    return float(integrate.quad(lambda d: f(sig * math.sqrt(d / YEAR_S)) * law.pdf(d), 0, law.ppf(1 - 1e-10),
                                limit=400)[0])


@pytest.mark.parametrize(("sig", "lt", "bonus"), [(SIG, LT, BONUS), (3.0, 0.93, 0.02)])
def test_every_outage_meets_the_loan_at_its_health_factor(sig: float, lt: float, bonus: float) -> None:
    """Outages are Poisson(RATE) and each meets the loan at HF, so liquidating outages are a thinned Poisson
    process: P(any liquidation) = 1 - exp(-RATE T q), q = E_d P(P1/P0 < 1/HF); its bad debt per path is
    P(any) x E[bad | liquidation] (bad debt only at the first liquidation, which closes the loan)."""
    q = _per_outage(lambda s: stats.norm.cdf((math.log(1 / HF) + 0.5 * s * s) / s), sig)
    p_any = 1 - math.exp(-RATE * T / DAY_S * q)
    c = 100.0
    # bad debt at a restart price p1 = P0 x r: max(D - C p1 / (1 + b), 0) = C P0/(1+b) (k - r)^+ with
    # k = D (1 + b) / (C P0) = LT (1 + b) / HF for every outage (the debt follows the price)
    k = lt * (1 + bonus) / HF
    bad = _per_outage(lambda s: c * 2000.0 / (1 + bonus) * float(_put(k, s)), sig)
    res = _run(True, paths=40_000 if sig < 1 else 20_000, sig=sig, lt=lt, bonus=bonus)
    pl, pl_se = res.value("p_liquidation")
    assert abs(pl - p_any) < 4 * pl_se
    b, b_se = res.value("expected_bad_debt", perspective="venue")
    # E[P0] at the first liquidating outage is the spot to within the martingale's conditioning (small here)
    ref = p_any * bad / q
    assert abs(b - ref) < 4 * b_se + 0.03 * ref + 1e-6
    if sig > 1:  # a crash-prone asset and a thin cushion: bad debt is not negligible and is checked
        assert ref > 500.0 and b_se < 0.1 * ref
    # without the outage the borrower tops up: no counterfactual liquidation, so attributable = total
    h_att, _ = res.value("expected_loss")
    assert h_att >= 0.0


def test_a_passive_loan_drifts_away_from_its_health_factor() -> None:
    """The same loan left alone: paths where the price rose meet later outages far from the trigger, and paths
    where it fell were liquidated while the chain was up; the outage-driven liquidation probability is lower."""
    q = _per_outage(lambda s: stats.norm.cdf((math.log(1 / HF) + 0.5 * s * s) / s))
    p_any = 1 - math.exp(-RATE * T / DAY_S * q)
    pl, pl_se = _run(False, paths=10_000).value("p_liquidation")
    assert pl + 4 * pl_se < p_any


def _put(k: float, s: float) -> float:
    """E[(k - r)^+] for r lognormal with mean 1 and log-s.d. s."""
    d1 = (math.log(1 / k) + 0.5 * s * s) / s
    return k * stats.norm.cdf(-d1 + s) - stats.norm.cdf(-d1)


@pytest.mark.parametrize("keeps", [True, False])
def test_the_field_round_trips(keeps: bool) -> None:
    book = make_book([_loan(keeps)], vol=SIG)
    assert book.positions[0].keeps_health_factor is keeps  # type: ignore[union-attr]
