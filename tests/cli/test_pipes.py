"""The CLI in pipes and scripts: unwrapped rows, results on stdout and the rest on stderr, ``--quiet``, one default
horizon shown in ``--help``, units required, output formats from the suffix, exit 2 for usage errors, readable
help and shell completion. Real processes where the terminal matters (a pipe is not a terminal)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli_commands import commands
from seqrisk.catalog import load_catalog
from seqrisk.cli.app import app
from seqrisk.units import DAY_S, YEAR_S

ROOT = Path(__file__).resolve().parents[2]
DESK = str(ROOT / "examples" / "desk.yaml")
CAT = load_catalog()


def seqrisk(home: Path, *args: str, columns: str | None = None) -> subprocess.CompletedProcess[str]:
    """``seqrisk ARGS`` in a real process, stdout and stderr each a pipe (``COLUMNS`` unset unless given)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-m", "seqrisk", "--home", str(home), *args], capture_output=True,
                          text=True, env=env, cwd=ROOT)


def test_piped_rows_stay_on_one_line_without_trailing_spaces(home: Path) -> None:
    r = seqrisk(home, "incidents", "--table")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(line == line.rstrip() for line in lines)
    for inc in CAT.incidents:  # `| grep ID` finds the whole row: chain, type, date and tags on one line
        rows = [line for line in lines if line.split() and line.split()[0] == inc.id]
        assert len(rows) == 1, inc.id
        assert rows[0].split()[1:4] == [inc.chain, inc.type, f"{inc.start_utc:%Y-%m-%d}"]
        assert all(t in rows[0] for t in inc.tags)
    longest = max(len(line) for line in lines)
    assert longest > 80  # not cut to a terminal's width
    assert "incidents" not in r.stdout.splitlines()[-1]  # the count is a message: on stderr
    assert r.stderr.startswith(f"{len(CAT.incidents)} incidents")


def test_columns_is_honoured(home: Path) -> None:
    r = seqrisk(home, "incidents", "--table", columns="60")
    assert r.returncode == 0
    assert max(len(line) for line in r.stdout.splitlines()) <= 60


def test_quiet_leaves_stderr_empty_and_stdout_whole(home: Path) -> None:
    loud, quiet = seqrisk(home, "incidents", "--chain", "base"), seqrisk(home, "incidents", "--chain", "base", "-q")
    assert loud.stderr and quiet.stderr == ""
    assert quiet.stdout == loud.stdout and "BASE-" in quiet.stdout


def test_every_default_horizon_is_one_year_and_shown(home: Path) -> None:
    """simulate, compare, allocate, report (and score, insure's period, fit) default to 1y, in their --help; so
    does a Scenario built in Python."""
    from seqrisk.cli.decide_inputs import DEFAULT_HORIZON
    from seqrisk.engine import Scenario
    from seqrisk.units import parse_duration

    assert Scenario().horizon_s == parse_duration(DEFAULT_HORIZON) == YEAR_S
    runner = CliRunner()
    for cmd in ("simulate", "compare", "allocate", "report", "score", "insure", "fit"):
        out = " ".join(runner.invoke(app, [cmd, "--help"], env={"COLUMNS": "200"}).output.split())
        assert "[default: 1y" in out or "[default: (1y" in out, cmd
    doc = json.loads(seqrisk(home, "simulate", DESK, "--paths", "200", "--json", "-q").stdout)
    assert doc["scenario"]["horizon_s"] == YEAR_S
    cfg = ROOT / "examples" / "scenario.yaml"  # horizon_s: 7d
    doc = json.loads(seqrisk(home, "simulate", DESK, "--config", str(cfg), "--paths", "200", "--json", "-q").stdout)
    assert doc["scenario"]["horizon_s"] == 7 * DAY_S


@pytest.mark.parametrize(("args", "field"), [
    (["simulate", DESK, "--horizon", "2"], "--horizon"),
    (["compare", DESK, "-m", "grace=1h", "--horizon", "30"], "--horizon"),
    (["simulate", DESK, "--outage", "arbitrum=2"], "outage"),
    (["simulate", DESK, "--out", "run.xlsx"], "--out"),
    (["report", DESK, "--out", "report.pdf"], "--out"),
    (["fit", "--save", "model.yaml"], "--save"),
    (["simulate", "no-such-book.yaml"], "PORTFOLIO"),
    (["simulate", DESK, "--config", "no-such-scenario.yaml"], "--config"),
    (["simulate", DESK, "--model", "no-such-model.json"], "--model"),
    (["simulate", DESK, "--paths", "0"], "paths"),
    (["insure", "-c", "arbitrum", "--trigger", "4"], "--trigger"),
])
def test_usage_errors_exit_2_with_one_line(args: list[str], field: str, home: Path, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "seqrisk", "--home", str(home), *args], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("error: ") and field in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_out_writes_the_format_of_its_suffix(home: Path, tmp_path: Path) -> None:
    base = ["simulate", DESK, "--paths", "300", "--seed", "3", "-q"]
    tables = {}
    for suffix in ("csv", "parquet", "json"):
        out = tmp_path / f"run.{suffix}"
        r = seqrisk(home, *base, "--out", str(out))
        assert r.returncode == 0, r.stderr
        if suffix == "csv":
            tables[suffix] = pd.read_csv(out)
            assert pd.read_csv(tmp_path / "run.positions.csv")["id"].notna().all()
        elif suffix == "parquet":
            assert out.read_bytes()[:4] == b"PAR1"
            tables[suffix] = pd.read_parquet(out)
            assert len(pd.read_parquet(tmp_path / "run.positions.parquet")) > 0
        else:
            tables[suffix] = pd.DataFrame(json.loads(out.read_text())["measures"])
    assert not (tmp_path / "run.csv").read_bytes().startswith(b"PAR1")
    for t in tables.values():  # the same measures (same seed) in every format
        assert {"perspective", "basis", "measure", "value", "std_error"} <= set(t.columns)
        cols = ["perspective", "basis", "measure", "value"]
        pd.testing.assert_frame_equal(t[cols].reset_index(drop=True), tables["parquet"][cols].reset_index(drop=True))


def test_help_names_values_as_words() -> None:
    """No Python types in the help (``<bool>``, ``<list[str]>``, ``<str>``): words, and nothing for a flag."""
    runner = CliRunner()
    for name, _ in [("", None), *commands()]:
        out = runner.invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"}).output
        for bad in ("<bool>", "<list[", "<str>", "<int", "<float", "<path>"):
            assert bad not in out, (name, bad)
    sim = " ".join(runner.invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"}).output.split())
    assert "--horizon DURATION" in sim and "--out FILE" in sim and "--paths INTEGER" in sim


def test_shell_completion_completes_commands(home: Path) -> None:
    env = {**os.environ, "_SEQRISK_COMPLETE": "complete_bash", "COMP_WORDS": "seqrisk sto", "COMP_CWORD": "1"}
    r = subprocess.run([sys.executable, "-m", "seqrisk"], capture_output=True, text=True, env=env)
    assert r.stdout.split() == ["store"]
    env["COMP_WORDS"], env["COMP_CWORD"] = "seqrisk simulate --hor", "2"  # options complete too
    r = subprocess.run([sys.executable, "-m", "seqrisk"], capture_output=True, text=True, env=env)
    assert r.stdout.split() == ["--horizon"]
