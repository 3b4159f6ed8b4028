"""Units: human durations and money at the edges, seconds and USD inside.

>>> parse_duration("90m")
5400.0
>>> format_duration(5400)
'1.5h'
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime

from seqrisk.exceptions import UsageError

__all__ = [
    "DAY_S",
    "DURATION_PATTERN",
    "HOUR_S",
    "MINUTE_S",
    "YEAR_DAYS",
    "YEAR_S",
    "format_duration",
    "format_usd",
    "parse_date",
    "parse_datetime",
    "parse_duration",
    "parse_positive_duration",
]

MINUTE_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0
YEAR_DAYS = 365.0
#: A year is 365 days throughout seqrisk (rates per year, horizons, volatility).
YEAR_S = YEAR_DAYS * DAY_S

_UNITS = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": MINUTE_S, "min": MINUTE_S, "mins": MINUTE_S, "minute": MINUTE_S, "minutes": MINUTE_S,
    "h": HOUR_S, "hr": HOUR_S, "hrs": HOUR_S, "hour": HOUR_S, "hours": HOUR_S,
    "d": DAY_S, "day": DAY_S, "days": DAY_S,
    "w": 7 * DAY_S, "wk": 7 * DAY_S, "week": 7 * DAY_S, "weeks": 7 * DAY_S,
    "y": YEAR_S, "yr": YEAR_S, "year": YEAR_S, "years": YEAR_S,
}
_NUMBER_UNIT = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]+)?\s*"
_PART = re.compile(_NUMBER_UNIT, re.IGNORECASE)
#: A duration string as a JSON Schema ``pattern`` (numbers each with an optional unit, e.g. ``1d12h``).
DURATION_PATTERN = f"^({_NUMBER_UNIT})+$"


def parse_duration(text: str | float | int, *, field: str | None = None, default_unit: str | None = None) -> float:
    """Parse ``'90m'``, ``'2h'``, ``'1d12h'``, ``'1y'`` or a number of seconds into seconds.

    A number (``int``/``float``) is seconds. In text every part needs its unit (``'2'`` is refused rather than
    read as two seconds; ``'0'`` is zero in any unit), unless ``default_unit`` names the unit of a bare number
    (``'s'`` for a field whose name says seconds, such as ``horizon_s``). Raises :class:`UsageError` naming the
    text for anything else, negative values included.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
        if not math.isfinite(value) or value < 0:
            raise UsageError("duration must be a finite number of seconds >= 0", field=field, value=text)
        return value
    s = str(text).strip().lower()
    if not s:
        raise UsageError("empty duration", field=field, value=text)
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m or m.end() == pos:
            raise UsageError("cannot read duration (use e.g. 90s, 90m, 2h, 1d, 1y)", field=field, value=text)
        unit = m.group(2) or default_unit
        if unit is None and float(m.group(1)) != 0:
            raise UsageError("a duration needs a unit: s, m, h, d, w or y (e.g. 2h, 1y)", field=field, value=text)
        if unit is not None and unit not in _UNITS:
            raise UsageError(f"unknown duration unit {unit!r} (use s, m, h, d, w, y)", field=field, value=text)
        total += float(m.group(1)) * _UNITS[unit] if unit is not None else 0.0
        pos = m.end()
    return total


def parse_positive_duration(text: str | float | int, *, field: str, what: str | None = None) -> float:
    """:func:`parse_duration` of a duration that must be > 0 (a cover's trigger and period, a backtest's step):
    the one rule the command line's options and the service's request fields share."""
    seconds = parse_duration(text, field=field)
    if seconds <= 0:
        raise UsageError(f"{what or field.lstrip('-')} must be > 0", field=field, value=text)
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds in the largest unit that keeps the number readable (``'1.5h'``)."""
    if not math.isfinite(seconds):
        return "inf" if seconds > 0 else "n/a"
    if abs(seconds) >= YEAR_S and abs(seconds / YEAR_S - round(seconds / YEAR_S)) < 1e-9:
        return f"{round(seconds / YEAR_S)}y"
    for unit, size in (("d", DAY_S), ("h", HOUR_S), ("m", MINUTE_S)):
        if abs(seconds) >= size:
            return f"{_num(seconds / size)}{unit}"
    return f"{_num(seconds)}s"


def _num(v: float) -> str:
    """Three significant digits, never in exponent notation."""
    return f"{v:.0f}" if abs(v) >= 999.5 else f"{v:.3g}"


def format_usd(amount: float) -> str:
    """Render a USD amount compactly: ``$1.23M``, ``$45.6k``, ``$12``."""
    if not math.isfinite(amount):
        return "n/a"
    sign = "-" if amount < 0 else ""
    a = abs(amount)
    for suffix, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= size:
            return f"{sign}${a / size:.3g}{suffix}"
    return f"{sign}${a:.3g}" if a < 100 else f"{sign}${a:.0f}"


def parse_date(text: str | date, *, field: str | None = None) -> date:
    """Parse an ISO date ``YYYY-MM-DD``."""
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise UsageError("cannot read date (use YYYY-MM-DD)", field=field, value=text) from None


def parse_datetime(text: str | datetime | date, *, field: str | None = None) -> datetime:
    """Parse an ISO 8601 date or timestamp into an aware UTC datetime.

    A naive value is taken as UTC; a bare date is midnight UTC.
    """
    if isinstance(text, datetime):
        dt = text
    elif isinstance(text, date):
        dt = datetime(text.year, text.month, text.day)
    else:
        s = str(text).strip()
        try:
            dt = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
        except ValueError:
            raise UsageError("cannot read timestamp (use ISO 8601, e.g. 2024-03-13T14:05Z)",
                             field=field, value=text) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
