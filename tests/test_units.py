from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqrisk.exceptions import UsageError
from seqrisk.units import DAY_S, YEAR_S, format_duration, format_usd, parse_datetime, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("90m", 5400), ("2h", 7200), ("1d", DAY_S), ("1d12h", 1.5 * DAY_S), ("1y", YEAR_S),
    ("0.5h", 1800), ("1 hour", 3600), (45, 45), ("2w", 14 * DAY_S), ("0", 0),
])
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("bare", "seconds"), [("2", 2), ("30", 30), ("1d2", DAY_S + 2), ("0.5", 0.5)])
def test_a_duration_without_a_unit_is_refused(bare: str, seconds: float) -> None:
    """``--horizon 2`` is not two seconds: text needs its unit; a field in seconds (``horizon_s``) says it."""
    with pytest.raises(UsageError, match="needs a unit") as err:
        parse_duration(bare, field="--horizon")
    assert err.value.exit_code == 2 and "--horizon" in str(err.value)
    assert parse_duration(bare, default_unit="s") == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "abc", "5 parsecs", "-1h", "1h-", float("nan"), -3])
def test_parse_duration_rejects(bad: str | float) -> None:
    with pytest.raises(UsageError) as err:
        parse_duration(bad, field="--horizon")
    assert "--horizon" in str(err.value)


@given(st.floats(min_value=1, max_value=1e8))
def test_format_duration_round_trips_to_three_digits(x: float) -> None:
    back = parse_duration(format_duration(x))
    assert math.isclose(back, x, rel_tol=5e-3)


def test_format_usd() -> None:
    assert format_usd(1_234_567) == "$1.23M"
    assert format_usd(-45_600) == "-$45.6k"
    assert format_usd(12) == "$12"


def test_parse_datetime_is_utc() -> None:
    assert parse_datetime("2024-03-13T14:05Z") == datetime(2024, 3, 13, 14, 5, tzinfo=UTC)
    assert parse_datetime("2024-03-13") == datetime(2024, 3, 13, tzinfo=UTC)
    with pytest.raises(UsageError):
        parse_datetime("13/03/2024")
