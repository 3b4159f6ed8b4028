"""Deterministic stress evaluation for the report's stress grid.

:func:`stress_grid`: for a given outage on one chain (duration, and the
restart return of the price), the holder loss, venue loss (bad debt and stale
settlement) and liquidated notional of the book, with the restart cascade run
exactly as in the engine. :func:`liquidation_probability`: the closed-form
probability that each position is liquidated at restart, as a function of
the outage duration (GBM, no jumps, no cascade feedback).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtr

from seqrisk.engine.cascade import run_cascade
from seqrisk.engine.scenario import Scenario
from seqrisk.exceptions import DataError
from seqrisk.market.pricing import bs_delta, bs_price, payoff
from seqrisk.portfolio.arrays import KIND_LOAN, KIND_OPTION, KIND_PERP, position_arrays
from seqrisk.portfolio.models import Book
from seqrisk.units import YEAR_S

__all__ = ["liquidation_probability", "stress_grid"]


def stress_grid(book: Book, chain: str, durations_s: Sequence[float], price_moves: Sequence[float], *,
                asset: str | None = None, scenario: Scenario | None = None) -> pd.DataFrame:
    """Losses (USD) of ``book`` for an outage on ``chain`` starting now, per duration and restart return.

    ``price_moves`` are relative moves of ``asset`` (default: every asset)
    between the outage start and the liquidation test (restart plus grace).
    Rows: ``duration_s, price_move, holder_loss_usd, venue_loss_usd,
    liquidated_notional_usd, n_liquidated, final_price_usd`` (final price of the
    moved asset, or of the first asset).
    """
    sc = scenario or Scenario()
    if chain not in book.chains:
        raise DataError("no position of the book is on this chain", chain=chain)
    chains = book.chains
    pos = position_arrays(book, chains)
    ci = chains.index(chain)
    names = book.asset_names
    spot = np.array([book.assets[a].spot_usd for a in names])
    moved = np.ones(len(names), bool) if asset is None else np.array([a == asset for a in names])
    if asset is not None and asset not in names:
        raise DataError("unknown asset", field="asset", value=asset)
    scale = 1.0 - sc.grace_saved_share
    rows = []
    on = pos.chain == ci
    for d in durations_s:
        for mv in price_moves:
            p1 = spot * np.where(moved, 1.0 + mv, 1.0)
            holder = venue = notional = 0.0
            n_liq = 0
            final = float(p1[np.argmax(moved)])
            finals = p1.copy()
            for a in range(len(names)):
                perps = np.flatnonzero(on & (pos.kind == KIND_PERP) & (pos.asset == a))
                loans = np.flatnonzero(on & (pos.kind == KIND_LOAN) & (pos.asset == a))
                mk = np.flatnonzero((pos.mkt_chain == ci) & (pos.mkt_asset == a))
                if not (perps.size or loans.size):
                    continue
                p0 = spot[a]
                res = run_cascade(
                    float(p1[a]), float(p0),
                    perp_e0=pos.units[perps] * p0 * (pos.inv_leverage[perps] + sc.margin_buffer),
                    perp_side=pos.side[perps], perp_units=pos.units[perps], perp_mm=pos.maintenance[perps],
                    perp_pen=pos.penalty[perps], loan_c=pos.units[loans], loan_d=pos.debt[loans],
                    loan_lt=pos.threshold[loans], loan_bonus=pos.bonus[loans], loan_cf=pos.close_factor[loans],
                    mkt_e0=pos.mkt_units[mk] * p0 * pos.mkt_inv_leverage[mk], mkt_side=pos.mkt_side[mk],
                    mkt_units=pos.mkt_units[mk], mkt_mm=pos.mkt_maintenance[mk],
                    eta=book.assets[names[a]].impact_eta,
                    adv_usd=book.assets[names[a]].depth_usd * sc.restart_depth_multiplier,
                    max_rounds=sc.max_cascade_rounds, scale=scale)
                holder += float(res.perp_holder_usd.sum() + res.loan_holder_usd.sum())
                venue += float(res.perp_venue_usd.sum() + res.loan_venue_usd.sum())
                notional += float(scale * np.nansum(pos.units[perps] * res.perp_close_usd)
                                  + res.loan_notional_usd.sum())
                n_liq += int(res.perp_liquidated.sum() + res.loan_liquidated.sum())
                finals[a] = res.final_price_usd
                if a == int(np.argmax(moved)):
                    final = res.final_price_usd
            opts = np.flatnonzero(on & (pos.kind == KIND_OPTION))
            if opts.size:
                oa = pos.asset[opts]
                s0, s1 = spot[oa], p1[oa]
                k, vol, call = pos.strike[opts], pos.implied_vol[opts], pos.is_call[opts]
                texp = pos.expiry_s[opts]
                q = pos.side[opts] * pos.units[opts]
                v0 = bs_price(s0, k, texp / YEAR_S, vol, call)
                d0 = bs_delta(s0, k, texp / YEAR_S, vol, call)
                v1 = bs_price(s1, k, (texp - d) / YEAR_S, vol, call)
                pnl = q * (v1 - v0 - d0 * (s1 - s0))
                holder += float(np.sum(np.where(pos.hedged[opts], -pnl, 0.0)))
                margined = pos.inv_leverage[opts] > 0
                if margined.any():  # margined short options: tested at the restart price, then after the cascade
                    u = pos.units[opts]
                    tau = (texp - d - sc.grace_period_s) / YEAR_S
                    coll = u * (v0 + pos.inv_leverage[opts] * s0)
                    mm, pen = pos.maintenance[opts], pos.penalty[opts]
                    e1 = coll - u * bs_price(s1, k, tau, vol, call)
                    sf = finals[oa]
                    e2 = coll - u * bs_price(sf, k, tau, vol, call)
                    f1 = margined & (tau > 0) & (e1 < mm * u * s1)
                    f2 = margined & (tau > 0) & ~f1 & (e2 < mm * u * sf)
                    close = np.where(f1, s1, sf)
                    ec = np.where(f1, e1, e2)
                    liq = f1 | f2
                    holder += float(np.sum(np.where(liq, scale * (np.maximum(e1, 0) - np.maximum(
                        ec - pen * u * close, 0)), 0.0)))
                    venue += float(np.sum(np.where(liq, scale * np.maximum(-ec, 0.0), 0.0)))
                    notional += float(np.sum(np.where(liq, scale * u * close, 0.0)))
                    n_liq += int(liq.sum())
                if sc.settlement == "stale":
                    inside = texp <= d
                    diff = q * (payoff(s1, k, call) - payoff(s0, k, call))
                    holder += float(np.sum(np.where(inside, np.maximum(diff, 0.0), 0.0)))
                    venue += float(np.sum(np.where(inside, np.maximum(-diff, 0.0), 0.0)))
            rows.append(dict(chain=chain, duration_s=float(d), price_move=float(mv), holder_loss_usd=holder,
                             venue_loss_usd=venue, liquidated_notional_usd=notional, n_liquidated=n_liq,
                             final_price_usd=final))
    return pd.DataFrame(rows)


def liquidation_probability(book: Book, durations_s: Sequence[float], *, regime: str | None = None,
                            grace_period_s: float = 0.0, margin_buffer: float = 0.0) -> pd.DataFrame:
    """P(position liquidated at the restart test) for an outage of each duration, closed form.

    The price over the frozen interval ``D + grace`` is GBM with the asset's
    volatility (in ``regime``), no jumps; perps start at initial margin (plus
    ``margin_buffer``), loans from spot. Rows: position ``id``, ``chain``,
    ``duration_s``, ``p_liquidation``. Options and cascade feedback are not
    included (use :func:`stress_grid` or the engine in stress mode for them).
    """
    pos = position_arrays(book, book.chains)
    names = book.asset_names
    vols = []
    for a in names:
        v = book.assets[a].vol
        vols.append(book.assets[a].vol_in(regime) if regime is not None else
                    (float(v) if not isinstance(v, dict) else float(next(iter(v.values())))))
    sig = np.array(vols)[pos.asset]
    spot = np.array([book.assets[a].spot_usd for a in names])[pos.asset]
    rows = []
    for d in durations_s:
        t = (float(d) + grace_period_s) / YEAR_S
        sd = sig * np.sqrt(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            r_long = (1 - pos.inv_leverage - margin_buffer) / (1 - pos.maintenance)
            r_short = (1 + pos.inv_leverage + margin_buffer) / (1 + pos.maintenance)
            z_long = (np.log(np.where(r_long > 0, r_long, 1e-300)) + 0.5 * sd * sd) / sd
            z_short = (np.log(r_short) + 0.5 * sd * sd) / sd
            trig = np.where(pos.kind == KIND_LOAN, pos.debt / (pos.units * np.where(pos.threshold > 0, pos.threshold,
                                                                                      1.0)), 1.0)
            z_loan = (np.log(trig / spot) + 0.5 * sd * sd) / sd
        p = np.where(pos.kind == KIND_PERP, np.where(pos.side > 0, ndtr(z_long), 1.0 - ndtr(z_short)),
                     np.where(pos.kind == KIND_LOAN, ndtr(z_loan), 0.0))
        for i, pid in enumerate(pos.ids):
            rows.append(dict(id=pid, chain=book.positions[i].chain, duration_s=float(d), p_liquidation=float(p[i])))
    return pd.DataFrame(rows)
