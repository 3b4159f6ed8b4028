"""The bundled price history (Binance spot ETHUSDT/BTCUSDT, see ``seqrisk/data/PRICES-SOURCE.md``).

Loaded with :mod:`importlib.resources`; parsed once per process (cached), so
callers get copies they may change.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Literal

import numpy as np
import pandas as pd

from seqrisk.exceptions import UsageError
from seqrisk.units import YEAR_DAYS

__all__ = ["daily_realized_vol", "load_prices"]

Asset = Literal["eth", "btc"]
Freq = Literal["hourly", "daily"]


@lru_cache(maxsize=8)
def _load(asset: str, freq: str) -> pd.DataFrame:
    if asset not in ("eth", "btc") or freq not in ("hourly", "daily"):
        raise UsageError("price history exists for asset eth|btc and freq hourly|daily", value=(asset, freq))
    ref = resources.files("seqrisk") / "data" / f"{asset}_usd_{freq}.csv.gz"
    with ref.open("rb") as fh:
        df = pd.read_csv(fh, compression="gzip")
    col = "time_utc" if freq == "hourly" else "date_utc"
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop(col), utc=True), name="time_utc")
    return df


def load_prices(asset: Asset = "eth", freq: Freq = "hourly") -> pd.DataFrame:
    """OHLCV candles (USDT taken as USD) indexed by candle open time (UTC); gaps are not filled."""
    return _load(asset, freq).copy()


@lru_cache(maxsize=8)
def _daily_vol(asset: str, min_hours: int) -> pd.Series:
    px = _load(asset, "hourly")["close"]
    t = px.index
    r = np.log(px.to_numpy()[1:] / px.to_numpy()[:-1])
    consecutive = (t[1:] - t[:-1]) == pd.Timedelta(hours=1)
    ret = pd.Series(r[consecutive], index=t[1:][consecutive])
    day = ret.index.floor("D")
    g = (ret ** 2).groupby(day)
    ss, n = g.sum(), g.count()
    vol = np.sqrt(ss / n * 24 * YEAR_DAYS)
    vol = vol[(n >= min_hours) & (vol > 0)]
    vol.index.name = "date_utc"
    return vol.rename("realized_vol")


def daily_realized_vol(asset: Asset = "eth", *, min_hours: int = 20) -> pd.Series:
    """Annualised realized volatility of each UTC day from hourly log returns.

    ``sqrt(mean(r_h^2) * 24 * 365)`` over the day's consecutive hourly closes
    (returns across a missing hour are dropped); days with fewer than
    ``min_hours`` returns are left out. Indexed by the day (UTC midnight).
    """
    return _daily_vol(asset, min_hours).copy()
