"""Exposure ends at the catalog's coverage date: rates are not diluted by time nobody has looked at."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import numpy as np
import pytest

from seqrisk.catalog import Catalog, Coverage, load_catalog
from seqrisk.stats import fit_outage_statistics
from seqrisk.stats.events import build_event_set
from seqrisk.units import YEAR_S

CAT = load_catalog()
COVERED = date(2026, 1, 1)   # the reference incident list: 2021-09 to 2025-12


def _as_of_2025(*, coverage: date) -> Catalog:
    """The catalog as the issue measured it: incidents before 2026, complete up to ``coverage``."""
    incs = tuple(i for i in CAT.incidents if i.start_utc < datetime(2026, 1, 1, tzinfo=UTC))
    return Catalog(CAT.chains, incs, coverage=Coverage(coverage_date=coverage, reason="test"))


def _downtime_totals(st: object) -> tuple[float, float]:
    """Base's pooled downtime rate and the sum over chains of own plus common-shock downtime rates (/yr)."""
    rates = st.rates["downtime"]  # type: ignore[attr-defined]
    chains = st.chains  # type: ignore[attr-defined]
    base = float(rates.rates_per_year_[chains.index("base")])
    total = sum(float(rates.rates_per_year_[i]) + st.shock_rate_per_year(c, "downtime")  # type: ignore[attr-defined]
                for i, c in enumerate(chains))
    return base, total


def test_exposure_ends_at_the_coverage_date_whatever_the_as_of() -> None:
    cat = _as_of_2025(coverage=COVERED)
    late = build_event_set(cat, as_of=datetime(2026, 12, 6, tzinfo=UTC))
    at = build_event_set(cat, as_of=datetime(2026, 1, 1, tzinfo=UTC))
    for c in cat.chain_ids():
        assert late.exposure_years(c) == pytest.approx(at.exposure_years(c))
    launch = cat.chain("base").exposure_start()
    assert launch is not None
    assert at.exposure_years("base") == pytest.approx(
        (datetime(2026, 1, 1, tzinfo=UTC) - launch).total_seconds() / YEAR_S)


def test_raw_rates_are_counts_over_covered_years() -> None:
    st = fit_outage_statistics(_as_of_2025(coverage=COVERED), as_of=datetime(2026, 12, 6, tzinfo=UTC),
                               group_hawkes=False)
    pool = st.rates["downtime"]
    for i, c in enumerate(st.chains):
        years = st.events.exposure_years(c)
        if years > 0:
            assert pool.counts_[i] / years == pytest.approx(pool.raw_rates_per_year_[i])
    assert st.events.as_of_utc == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert st.notes[0].startswith("as-of 2026-12-06 is past the catalog's coverage date 2026-01-01")


def test_pooled_rates_are_no_longer_diluted() -> None:
    # On the 2021-09..2025-12 catalog fitted as of 2026-11-27: exposure running to the as-of date (11 months
    # nobody looked at) dilutes Base's downtime rate and the catalog's total; ending it at the coverage date
    # gives Base 0.48/yr and chains summing to 8.7/yr (own plus common-shock rates, the L1 group included).
    fair = fit_outage_statistics(_as_of_2025(coverage=COVERED), as_of=datetime(2026, 11, 27, tzinfo=UTC),
                                 group_hawkes=False)
    diluted = fit_outage_statistics(_as_of_2025(coverage=date(2026, 11, 27)),
                                    as_of=datetime(2026, 11, 27, tzinfo=UTC), group_hawkes=False)
    base, total = _downtime_totals(fair)
    base_d, total_d = _downtime_totals(diluted)
    assert base == pytest.approx(0.48, abs=0.06) and total == pytest.approx(8.7, rel=0.12)
    assert base_d < 0.75 * base and total_d < 0.75 * total
    # the dilution is the covered share of the exposure, chain by chain (raw rates scale exactly)
    i = fair.chains.index("base")
    share = fair.events.exposure_years("base") / diluted.events.exposure_years("base")
    assert diluted.rates["downtime"].raw_rates_per_year_[i] == pytest.approx(
        fair.rates["downtime"].raw_rates_per_year_[i] * share)


def test_a_chain_covered_less_long_ends_earlier() -> None:
    cov = Coverage(coverage_date=COVERED, reason="test",
                   chains=({"chain": "base", "coverage_date": date(2025, 1, 1), "reason": "lagging"},))
    cat = replace(_as_of_2025(coverage=COVERED), coverage=cov, digest="")
    es = build_event_set(cat, as_of=datetime(2026, 1, 1, tzinfo=UTC))
    assert max(b for _, b in es.windows["base"]) == datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    assert all(e.start_utc < es.windows["base"][-1][1] for e in es.events if e.chain == "base")
    assert np.isclose(es.exposure_years("arbitrum"), build_event_set(
        _as_of_2025(coverage=COVERED), as_of=datetime(2026, 1, 1, tzinfo=UTC)).exposure_years("arbitrum"))


def test_block_data_extend_a_chain_past_its_coverage() -> None:
    from seqrisk.store import DetectedEvent

    cat = _as_of_2025(coverage=COVERED)
    t0 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    ev = DetectedEvent(chain="base", type="downtime", start_utc=t0, end_utc=t0 + 1800, confidence=0.9,
                       detector="gap")
    win = {"base": (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))}
    st = fit_outage_statistics(cat, events=[ev], exposures=win, group_hawkes=False)  # default as-of
    assert st.model.meta["as_of"] == "2026-07-01T00:00:00Z"   # the end of the block data read
    assert max(b for _, b in st.events.windows["base"]) == datetime(2026, 7, 1, tzinfo=UTC).timestamp()
    assert max(b for _, b in st.events.windows["arbitrum"]) == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert any(e.source == "detected:gap" for e in st.events.events)
