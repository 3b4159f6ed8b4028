"""A book as flat arrays, the form the loss kernels take (axis: positions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seqrisk._typing import BoolArray, FloatArray, IntArray
from seqrisk.portfolio.models import Book, Loan, Option, Perp

__all__ = ["KIND_LOAN", "KIND_OPTION", "KIND_PERP", "PositionArrays", "position_arrays"]

KIND_PERP, KIND_OPTION, KIND_LOAN = 0, 1, 2


@dataclass(frozen=True)
class PositionArrays:
    """One entry per position (book order), plus the rest-of-market bins (``mkt_*``).

    ``units`` is |size| for perps, |quantity| for options and the collateral
    amount for loans; ``side`` is +1 long / -1 short (+1 for loans: long the
    collateral). For perps ``inv_leverage`` is the share of the notional kept as
    collateral while the chain is up (1/leverage or the measured margin,
    :meth:`~seqrisk.portfolio.Perp.margin_share`). Money in USD, expiries in seconds from t = 0. For margined
    short options ``inv_leverage``, ``maintenance`` and ``penalty`` hold the
    initial margin, maintenance margin and penalty (shares of the underlying
    notional); ``inv_leverage`` is 0 for options without a margin model.
    """

    ids: tuple[str, ...]
    kind: IntArray
    chain: IntArray
    asset: IntArray
    side: FloatArray
    units: FloatArray
    inv_leverage: FloatArray
    maintenance: FloatArray
    penalty: FloatArray
    strike: FloatArray
    expiry_s: FloatArray
    is_call: BoolArray
    implied_vol: FloatArray
    hedged: BoolArray
    debt: FloatArray
    threshold: FloatArray
    bonus: FloatArray
    close_factor: FloatArray
    mkt_chain: IntArray
    mkt_asset: IntArray
    mkt_side: FloatArray
    mkt_units: FloatArray
    mkt_inv_leverage: FloatArray
    mkt_maintenance: FloatArray
    keeps_hf: BoolArray | None = None  # loans that keep their health factor while the chain is up

    @property
    def n(self) -> int:
        return len(self.ids)


def position_arrays(book: Book, chains: Sequence[str]) -> PositionArrays:
    """Flatten ``book`` with chain indices into ``chains`` and asset indices into ``book.assets``."""
    assets = book.asset_names
    ci = {c: i for i, c in enumerate(chains)}
    n = len(book.positions)
    f = {k: np.zeros(n) for k in ("side", "units", "inv_leverage", "maintenance", "penalty", "strike", "expiry_s",
                                  "implied_vol", "debt", "threshold", "bonus", "close_factor")}
    kind = np.zeros(n, np.int64)
    is_call = np.zeros(n, bool)
    hedged = np.zeros(n, bool)
    keeps_hf = np.zeros(n, bool)
    for i, p in enumerate(book.positions):
        spot = book.assets[p.asset].spot_usd
        if isinstance(p, Perp):
            size = p.signed_units(spot)
            f["side"][i] = np.sign(size)
            f["units"][i] = abs(size)
            f["inv_leverage"][i] = p.margin_share(spot)
            f["maintenance"][i] = p.maintenance_margin
            f["penalty"][i] = p.liquidation_penalty
        elif isinstance(p, Option):
            kind[i] = KIND_OPTION
            f["side"][i] = np.sign(p.quantity)
            f["units"][i] = abs(p.quantity)
            f["strike"][i] = p.strike_usd
            f["expiry_s"][i] = p.expiry_s
            f["implied_vol"][i] = p.implied_vol
            is_call[i] = p.kind == "call"
            hedged[i] = p.delta_hedged
            if p.initial_margin is not None:  # margined short option: reuses the perp margin slots
                f["inv_leverage"][i] = p.initial_margin
                f["maintenance"][i] = p.maintenance_margin or 0.5 * p.initial_margin
                f["penalty"][i] = p.liquidation_penalty
        elif isinstance(p, Loan):
            kind[i] = KIND_LOAN
            f["side"][i] = 1.0
            f["units"][i] = p.collateral_amount
            f["debt"][i] = p.debt_usd
            f["threshold"][i] = p.liquidation_threshold
            f["bonus"][i] = p.liquidation_bonus
            f["close_factor"][i] = p.close_factor
            keeps_hf[i] = p.keeps_health_factor
    mk: dict[str, list[float]] = {k: [] for k in ("chain", "asset", "side", "units", "inv_leverage", "maintenance")}
    for m in book.markets:
        if m.chain not in ci:
            continue
        spot = book.assets[m.asset].spot_usd
        w = m.weights or [1.0 / len(m.leverage)] * len(m.leverage)
        for side, share in ((1.0, m.long_share), (-1.0, 1.0 - m.long_share)):
            for lev, wt in zip(m.leverage, w, strict=True):
                if share * wt <= 0:
                    continue
                mk["chain"].append(ci[m.chain])
                mk["asset"].append(assets.index(m.asset))
                mk["side"].append(side)
                mk["units"].append(m.open_interest_usd * share * wt / spot)
                mk["inv_leverage"].append(1.0 / lev)
                mk["maintenance"].append(m.maintenance_margin)
    return PositionArrays(
        ids=tuple(p.id for p in book.positions), kind=kind,
        chain=np.array([ci[p.chain] for p in book.positions], np.int64),
        asset=np.array([assets.index(p.asset) for p in book.positions], np.int64),
        is_call=is_call, hedged=hedged, **f,
        mkt_chain=np.array(mk["chain"], np.int64), mkt_asset=np.array(mk["asset"], np.int64),
        mkt_side=np.array(mk["side"]), mkt_units=np.array(mk["units"]),
        mkt_inv_leverage=np.array(mk["inv_leverage"]), mkt_maintenance=np.array(mk["maintenance"]),
        keeps_hf=keeps_hf,
    )
