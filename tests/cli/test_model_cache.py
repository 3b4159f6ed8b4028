"""The fitted-model cache: a decision command fits the outage model once per catalog, as-of date and options;
a second run reads it back (same numbers, same provenance); anything else misses; a damaged entry is refitted and
rewritten, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import seqrisk.stats
from seqrisk.cli.app import app
from seqrisk.outage import OutageModel

DESK = str(Path(__file__).resolve().parents[2] / "examples" / "desk.yaml")


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every call of the fitter, with its options."""
    calls: list[dict[str, Any]] = []
    real = seqrisk.stats.fit_outage_statistics

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(seqrisk.stats, "fit_outage_statistics", counting)
    return calls


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
