"""Coverage dates: the bundled one, a user's over it, and the as-of a fit uses (never the clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from seqrisk.catalog import Catalog, load_catalog
from seqrisk.exceptions import DataError, ValidationError

CAT = load_catalog()


def _d(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


def test_bundle_states_its_coverage_and_no_failure_is_after_it() -> None:
    assert CAT.coverage is not None and CAT.coverage.reason
    for inc in CAT.incidents:
        end = CAT.coverage_end(inc.chain)
        assert end is not None and (inc.start_utc < end or inc.planned), inc.id  # sunsets are announced ahead


def test_default_as_of_is_the_coverage_date_and_later_ones_are_moved_back() -> None:
    cov = CAT.coverage_date
    assert cov is not None
    assert CAT.resolve_as_of() == (_d(cov.year, cov.month, cov.day), None)
    earlier = _d(2024, 6, 1)
    assert CAT.resolve_as_of(earlier) == (earlier, None)
    when, note = CAT.resolve_as_of(_d(cov.year + 5, 1, 1))
    assert when == _d(cov.year, cov.month, cov.day)
    assert note == (f"as-of {cov.year + 5}-01-01 is past the catalog's coverage date {cov.isoformat()}: "
                    f"fitted as of {cov.isoformat()}")


def test_block_data_past_the_coverage_extend_the_default_and_the_limit() -> None:
    cov = CAT.coverage_date
    assert cov is not None
    later = _d(cov.year + 1, 3, 1)
    assert CAT.resolve_as_of(observed_until=later) == (later, None)
    when, note = CAT.resolve_as_of(_d(cov.year + 2, 1, 1), observed_until=later)
    assert when == later and note is not None and "end of the block data read" in note


def test_a_catalog_without_coverage_needs_an_as_of() -> None:
    bare = Catalog(CAT.chains, CAT.incidents)
    with pytest.raises(DataError, match="no coverage date"):
        bare.resolve_as_of()
    assert bare.resolve_as_of(_d(2025, 1, 1)) == (_d(2025, 1, 1), None)
    assert bare.version.startswith("no-coverage+")


def test_user_coverage_merges_over_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "coverage.yaml").write_text(
        "chains:\n- chain: base\n  coverage_date: 2025-07-01\n  reason: our base research stops here\n")
    cat = load_catalog(tmp_path)
    assert cat.coverage_date == CAT.coverage_date  # overall kept: the file gives chains only
    assert cat.coverage_end("base") == _d(2025, 7, 1)
    assert cat.coverage_end("arbitrum") == CAT.coverage_end("arbitrum")
    assert cat.version != CAT.version and cat.digest != CAT.digest
    (tmp_path / "coverage.yaml").write_text("coverage_date: 2026-03-01\nreason: we track every chain\n")
    assert load_catalog(tmp_path).coverage_date == date(2026, 3, 1)


def test_bad_coverage_file_names_file_field_and_value(tmp_path: Path) -> None:
    (tmp_path / "coverage.yaml").write_text("coverage_date: 2026-13-01\nreason: typo\n")
    with pytest.raises(ValidationError) as err:
        load_catalog(tmp_path)
    msg = str(err.value)
    assert "coverage.yaml" in msg and "field=coverage_date" in msg and "2026-13-01" in msg


def test_digest_is_of_the_content_not_the_files(tmp_path: Path) -> None:
    # the same incident written as CSV or as YAML gives the same catalog version
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "incidents.csv").write_text(
        "id,chain,type,start_utc,start_precision,duration_min,cause,funds_lost,scope,sources,confidence\n"
        "BASE-20250101,base,downtime,2025-01-01T00:00Z,minute,30,Our observation,no,sequencer,"
        "https://example.org/pm,high\n")
    (b / "incidents.yaml").write_text(
        "- {id: BASE-20250101, chain: base, type: downtime, start_utc: '2025-01-01T00:00Z', start_precision: "
        "minute, duration_min: 30, cause: Our observation, funds_lost: 'no', scope: [sequencer], "
        "sources: ['https://example.org/pm'], confidence: high}\n")
    ca, cb = load_catalog(a), load_catalog(b)
    assert ca.digest == cb.digest != CAT.digest
    assert load_catalog().digest == CAT.digest  # stable across loads
