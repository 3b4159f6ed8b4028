"""Every command states its provenance; the same inputs and seed give the same numbers on any day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from freezegun import freeze_time
from typer.testing import CliRunner

from seqrisk import __version__
from seqrisk.catalog import load_catalog
from seqrisk.cli.app import app
from seqrisk.exceptions import UsageError

runner = CliRunner()
CAT = load_catalog()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
COVERAGE = f"{CAT.coverage_date}T00:00:00Z"
#: Every command that fits or simulates, with small arguments.
FITTING = {
    "fit": ["fit"],
    "simulate": ["simulate", str(EXAMPLES / "first-steps.yaml"), "--paths", "400", "--horizon", "30d", "--seed", "5"],
    "compare": ["compare", str(EXAMPLES / "first-steps.yaml"), "-m", "grace=1h", "--paths", "200",
                "--horizon", "30d", "--seed", "5"],
    "insure": ["insure", "--chain", "base", "--paths", "200", "--seed", "5"],
    "allocate": ["allocate", str(EXAMPLES / "first-steps.yaml"), "--chains", "arbitrum,base", "--paths", "200",
                 "--seed", "5"],
    "score": ["score", "--chain", "base", "--chain", "arbitrum", "--paths", "200", "--seed", "5"],
}


def run(home: Path, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False, env={"COLUMNS": "80"})
    return r.exit_code, r.stdout, r.stderr


def _check(prov: dict[str, object], *, as_of: str | None) -> None:
    assert prov["seqrisk_version"] == __version__
    assert prov["catalog"] == {"version": CAT.version, "digest": CAT.digest,
                               "coverage_date": str(CAT.coverage_date), "user_files": False}
    assert prov["as_of"] == as_of


@pytest.mark.parametrize("name", FITTING)
def test_fitting_commands_state_as_of_catalog_and_version(home: Path, name: str) -> None:
    code, out, _ = run(home, *FITTING[name], "--json")
    assert code == 0, out
    doc = json.loads(out)
    prov = doc["provenance"]
    _check(prov, as_of=COVERAGE)
    assert prov["model"]["source"] == "fitted" and prov["model"]["catalog_version"] == CAT.version
    assert prov["seed"] == (None if name == "fit" else 5)
    code, text, _ = run(home, *FITTING[name])
    assert code == 0
    header = f"seqrisk {__version__} · catalog {CAT.version} · as of {CAT.coverage_date}"
    assert next(x for x in text.splitlines() if x.strip()) == header + ("" if name == "fit" else " · seed 5")


@pytest.mark.parametrize("name", ["fit", "simulate", "score"])
def test_as_of_past_the_coverage_is_moved_back_with_one_line(home: Path, name: str) -> None:
    code, out, err = run(home, *FITTING[name], "--as-of", "2099-01-01", "--json")
    assert code == 0
    note = f"as-of 2099-01-01 is past the catalog's coverage date {CAT.coverage_date}: fitted as of {CAT.coverage_date}"
    assert err.strip() == f"note: {note}"
    prov = json.loads(out)["provenance"]
    assert prov["as_of"] == COVERAGE and prov["notes"] == [note]


def test_an_earlier_as_of_is_used(home: Path) -> None:
    code, out, _ = run(home, *FITTING["simulate"], "--as-of", "2024-06-01", "--json")
    assert code == 0
    assert json.loads(out)["provenance"]["as_of"] == "2024-06-01T00:00:00Z"


@pytest.mark.parametrize("args", [["chains"], ["chain", "base"], ["incidents", "--chain", "base"], ["store", "info"]])
def test_catalog_commands_state_catalog_and_version(home: Path, args: list[str]) -> None:
    code, out, _ = run(home, *args, "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc)[:2] == ["schema", "provenance"]
    _check(doc["provenance"], as_of=None)


def test_model_file_keeps_its_as_of_and_refuses_another(home: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    assert run(home, "fit", "--as-of", "2025-01-01", "--save", str(model))[0] == 0
    _, out, _ = run(home, *FITTING["simulate"], "--model", str(model), "--json")
    prov = json.loads(out)["provenance"]
    assert prov["as_of"] == "2025-01-01T00:00:00Z" and prov["model"]["source"] == "file"
    with pytest.raises(UsageError, match="a model file keeps the as-of"):
        run(home, *FITTING["simulate"], "--model", str(model), "--as-of", "2025-06-01")


def test_same_numbers_on_any_day(home: Path) -> None:
    """An injected clock (two different 'today's): the fit and a small simulation give identical documents."""
    outs = []
    for today in ("2026-12-06", "2027-09-30"):
        with freeze_time(today):
            fit = run(home, "fit", "--json")
            sim = run(home, *FITTING["simulate"], "--json")
        assert fit[0] == sim[0] == 0
        outs.append((fit[1], sim[1]))
    assert outs[0] == outs[1]
    assert json.loads(outs[0][0])["provenance"]["as_of"] == COVERAGE
