"""The fitted-model cache: a decision command fits the outage model once per catalog, as-of date and options;
a second run reads it back (same numbers, same provenance); anything else misses; a damaged entry is refitted and
rewritten, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seqrisk.cli.app import app
from seqrisk.outage import OutageModel

DESK = str(Path(__file__).resolve().parents[2] / "examples" / "desk.yaml")


def run(home: Path, *args: str) -> Any:
    r = CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "120"})
    assert r.exit_code == 0, (r.output, r.exception)
    return r


def simulate(home: Path, *extra: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(run(home, "simulate", DESK, "--paths", "300", "--seed", "2", "--json",
                                         *extra).stdout)
    return out


def entries(home: Path) -> list[Path]:
    return sorted((home / "cache" / "models").glob("*.json"))


def test_a_second_run_reuses_the_fit(home: Path, fits: list[dict[str, Any]]) -> None:
    first = simulate(home)
    assert len(fits) == 1 and len(entries(home)) == 1
    second = simulate(home)
    assert len(fits) == 1  # read back, not refitted
    assert second == first  # the same numbers and the same provenance (a fitted model, its as-of and options)
    assert second["provenance"]["model"]["source"] == "fitted"
    run(home, "score", "-c", "base", "--paths", "200", "--json")  # another decision command, the same model
    assert len(fits) == 1


def test_another_as_of_catalog_or_option_misses(home: Path, fits: list[dict[str, Any]], tmp_path: Path) -> None:
    simulate(home)
    simulate(home, "--as-of", "2025-06-01")
    assert len(fits) == 2 and fits[1]["as_of"].year == 2025
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "incidents.csv").write_text(
        "id,chain,type,start_utc,start_precision,duration_min,cause,funds_lost,scope,sources,confidence\n"
        "BASE-20250301,base,downtime,2025-03-01T10:00Z,minute,30,Seen by us,no,sequencer,https://x.org/pm,high\n")
    r = CliRunner().invoke(app, ["--home", str(home), "--catalog-dir", str(mine), "simulate", DESK, "--paths", "300",
                                 "--seed", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert len(fits) == 3  # the catalog changed: its digest is in the key
    from seqrisk.cli.app import state
    from seqrisk.cli.modeling import cached_fit

    state.configure(home, None)
    cached_fit(None, {"include_deliberate": True})
    assert len(fits) == 4 and fits[3]["include_deliberate"] is True
    cached_fit(None, {"include_deliberate": True})
    cached_fit(None, {})
    assert len(fits) == 4  # both already cached
    assert len(entries(home)) == 4


@pytest.mark.parametrize("damage", [b"", b"{not json", b"[]", b'{"schema": 99, "kind": "seqrisk.outage_model"}',
                                    b"\xff\xfe\x00", "truncated"])
def test_a_damaged_entry_is_refitted_and_rewritten(home: Path, fits: list[dict[str, Any]],
                                                  damage: bytes | str) -> None:
    first = simulate(home)
    [entry] = entries(home)
    good = entry.read_bytes()
    entry.write_bytes(good[: len(good) // 2] if damage == "truncated" else damage)  # type: ignore[arg-type]
    r = CliRunner().invoke(app, ["--home", str(home), "simulate", DESK, "--paths", "300", "--seed", "2", "--json"])
    assert r.exit_code == 0 and r.exception is None, r.output
    assert "not used" in r.stderr and "Traceback" not in r.stderr
    assert json.loads(r.stdout) == first and len(fits) == 2  # fitted again, the same model
    assert OutageModel.from_json(entry.read_text()).to_json() == OutageModel.from_json(good.decode()).to_json()
    simulate(home)
    assert len(fits) == 2  # the rewritten entry is used


def test_an_unwritable_cache_is_skipped(home: Path, fits: list[dict[str, Any]]) -> None:
    home.mkdir(parents=True)
    (home / "cache").write_text("a file where the cache directory would be")
    first = simulate(home)
    assert simulate(home) == first and len(fits) == 2  # no cache, no error: fitted each time


def fit(home: Path, *extra: str) -> Any:
    """``seqrisk fit --json`` of one event type (the statistics are fitted for all of them all the same)."""
    return run(home, "fit", "--json", "-t", "downtime", *extra)


def report(home: Path, out: Path, *extra: str) -> tuple[dict[str, Any], bytes]:
    r = run(home, *extra, "report", DESK, "--paths", "100", "--seed", "2", "--no-mitigations", "--out", str(out),
            "--json")
    doc: dict[str, Any] = json.loads(r.stdout)
    doc.pop("file")
    return doc, out.read_bytes()


def test_fit_and_report_reuse_the_fitted_statistics(home: Path, fits: list[dict[str, Any]], tmp_path: Path) -> None:
    """fit and report fit the statistics once per catalog, as-of and options; a second run reads them back and
    prints the same; the model in them is the decision commands' (simulate fits nothing after them)."""
    first = fit(home).stdout
    assert len(fits) == 1 and fits[0]["group_hawkes"] is True
    assert len(list((home / "cache" / "statistics").glob("*.pickle"))) == 1
    assert fit(home).stdout == first and len(fits) == 1  # read back, the same figures
    doc, html = report(home, tmp_path / "a.html")
    assert len(fits) == 1  # the report's statistics are fit's: same catalog, as-of and (default) options
    assert report(home, tmp_path / "a.html") == (doc, html) and len(fits) == 1
    simulate(home)
    assert len(fits) == 1


def test_fit_statistics_miss_on_another_input(home: Path, fits: list[dict[str, Any]], tmp_path: Path) -> None:
    base = fit(home).stdout
    assert fit(home, "--as-of", "2025-06-01").stdout != base and len(fits) == 2
    assert fits[1]["as_of"].year == 2025
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "incidents.csv").write_text(
        "id,chain,type,start_utc,start_precision,duration_min,cause,funds_lost,scope,sources,confidence\n"
        "BASE-20250301,base,downtime,2025-03-01T10:00Z,minute,30,Seen by us,no,sequencer,https://x.org/pm,high\n")
    changed = run(home, "--catalog-dir", str(mine), "fit", "--json", "-t", "downtime").stdout
    assert len(fits) == 3 and changed != base  # the catalog changed: its digest is in the key
    assert fit(home).stdout == base and len(fits) == 3  # each still cached


def test_a_damaged_statistics_entry_is_refitted(home: Path, fits: list[dict[str, Any]]) -> None:
    """An entry whose signature does not hold is never unpickled: a note, a new fit, the same figures, and the
    entry rewritten."""
    first = fit(home).stdout
    [entry] = (home / "cache" / "statistics").glob("*.pickle")
    good = entry.read_bytes()
    entry.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    r = fit(home)
    assert "not used (its signature does not match)" in r.stderr and r.stdout == first and len(fits) == 2
    assert fit(home).stdout == first and len(fits) == 2


def test_statistics_entries_are_read_only_under_their_own_key(tmp_path: Path) -> None:
    """An entry signed under another home's key, or one whose key file is gone, is a miss (never unpickled);
    the key file is its owner's alone."""
    from seqrisk.store.cache import StatisticsCache

    cache = StatisticsCache(tmp_path / "statistics", tmp_path / "secret")
    value: Any = {"rates": [1.5, 2.5], "chains": ["base"]}
    assert cache.get("k") == (None, None) and cache.put("k", value)
    assert cache.get("k") == (value, None)
    assert (tmp_path / "secret").stat().st_mode & 0o077 == 0
    assert cache.get("other") == (None, None)
    other = StatisticsCache(tmp_path / "statistics", tmp_path / "another-secret")
    other.put("x", value)
    assert cache.get("k") == (value, None)
    assert other.get("k") == (None, "its signature does not match")  # the same file, another home's key
    cache.path("k").rename(cache.path("k2"))  # an entry moved to another key's name
    assert cache.get("k2") == (None, "its signature does not match")
    (tmp_path / "secret").unlink()
    cache.put("k", value)  # a new key: every earlier entry is foreign now
    assert cache.get("k") == (value, None) and other.get("x")[0] == value
