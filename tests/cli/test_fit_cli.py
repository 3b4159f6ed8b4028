"""``seqrisk fit`` through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqrisk.catalog import load_catalog
from seqrisk.cli.app import app
from seqrisk.exceptions import DataError, UsageError
from seqrisk.outage import OutageModel

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment

runner = CliRunner()
CAT = load_catalog()


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["--home", str(tmp_path / "home"), "fit", "--as-of", "2026-01-01", *args],
                      catch_exceptions=False, env={"COLUMNS": "80"})
    return r.exit_code, r.output


def test_table_fits_80_columns_and_lists_every_chain(tmp_path: Path) -> None:
    code, out = run(tmp_path)
    assert code == 0
    lines = out.splitlines()
    assert max(len(x.rstrip()) for x in lines) <= 80
    for c in CAT.chain_ids():
        assert any(x.startswith(c[:14]) for x in lines), c
    assert "Volatility coupling: beta =" in out and "nan" not in out.lower().replace("nano", "")
    # anytrust's one joint event (APEX + Degen) is conduit's shock: joint 1, own 0, and a line says where
    row = next(x for x in lines if x.startswith("anytrust")).split()
    assert row[:6] == ["anytrust", "3", "2", "1", "0", "0.00"]
    assert next(x for x in lines if x.startswith("conduit")).split()[3:5] == ["1", "1"]
    assert "anytrust (1 under conduit)" in " ".join(out.split())


def test_json_has_pooled_rates_durations_and_beta(tmp_path: Path) -> None:
    code, out = run(tmp_path, "--json", "--type", "downtime", "--type", "degraded")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "seqrisk.fit/2"
    assert set(doc["chains"]) == set(CAT.chain_ids())
    for c, cd in doc["chains"].items():
        d = cd["types"]["downtime"]
        lo, hi = d["interval"]
        assert 0 <= lo < d["rate_per_year"] < hi, c
        q = d["derived"]
        assert q["duration_p50_s"]["estimate"] < q["duration_p99_s"]["estimate"]
    assert set(doc["types"]) == {"downtime", "degraded"}
    cp = doc["coupling"]
    assert cp["interval"][0] < cp["beta"] < cp["interval"][1]
    assert doc["model"]["kind"] == "seqrisk.outage_model"
    shocks = {s["group"]: s for s in doc["shocks"]}
    assert shocks["anytrust"]["counted_under"] == ["conduit"] and shocks["anytrust"]["joint_events"] == 0
    assert shocks["anytrust"]["joint_among_members"] == 1 and shocks["conduit"]["counted_under"] == []


def test_save_and_plots(tmp_path: Path) -> None:
    model = tmp_path / "model.json"
    plots = tmp_path / "plots"
    code, out = run(tmp_path, "--save", str(model), "--plots", str(plots), "--chain", "arbitrum",
                    "--chain", "base")
    assert code == 0
    m = OutageModel.load(model)
    assert set(m.chains) == set(CAT.chain_ids()) and m.beta_interval is not None
    files = sorted(p.name for p in plots.iterdir())
    assert files == ["checks.html", "forest-downtime.html", "km-downtime.html"]
    html = (plots / "km-downtime.html").read_text()
    assert "Kaplan-Meier" in html and len(html) > 1_000_000  # plotly.js inlined: works offline
    assert "optimism" not in out.split("downtime: per chain")[1].split("downtime durations")[0]


def test_flags_change_the_data(tmp_path: Path) -> None:
    _, a = run(tmp_path, "--json")
    _, b = run(tmp_path, "--json", "--include-deliberate", "--include-planned")
    assert json.loads(b)["n_events"] > json.loads(a)["n_events"]
    assert json.loads(b)["include_deliberate"] is True


def test_bad_usage(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="event type"):
        run(tmp_path, "--type", "other")
    with pytest.raises(UsageError):
        run(tmp_path, "--horizon", "soon")
    with pytest.raises(DataError):
        runner.invoke(app, ["--home", str(tmp_path), "fit", "--as-of", "2019-01-01"], catch_exceptions=False)


def test_unwritable_outputs_are_usage_errors(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(UsageError, match="is a folder") as ei:
        run(tmp_path, "--chain", "scroll", "--save", str(tmp_path))      # a directory
    assert ei.value.context["field"] == "--save"
    with pytest.raises(UsageError, match=r"file format from its suffix \(use \.json\)"):
        run(tmp_path, "--chain", "scroll", "--save", str(tmp_path / "model.yaml"))  # not what it writes
    with pytest.raises(UsageError, match="is a file"):
        run(tmp_path, "--chain", "scroll", "--plots", str(afile))        # a file, not a directory


def test_main_turns_errors_into_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqrisk.cli.app import main

    with pytest.raises(SystemExit) as exc:
        main(["--home", str(tmp_path), "fit", "--as-of", "2019-01-01"])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1


def test_json_defaults_to_every_modelled_type(tmp_path: Path) -> None:
    code, out = run(tmp_path, "--json", "--chain", "scroll")
    doc = json.loads(out)
    assert code == 0 and set(doc["types"]) == {"downtime", "degraded", "censorship", "reorg", "da_delay"}
    assert list(doc["chains"]) == ["scroll"]
    assert doc["types"]["censorship"]["duration"]["source"] == "all-types"


def test_detected_events_from_the_store(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from seqrisk.store import Home
    from seqrisk.store.state import DetectedEvent

    t0 = datetime(2025, 6, 1, tzinfo=UTC).timestamp()
    with Home(tmp_path / "home").state() as st:
        st.add_events([DetectedEvent(chain="scroll", type="downtime", start_utc=t0, end_utc=t0 + 1800,
                                     confidence=0.9, detector="gap"),
                       DetectedEvent(chain="scroll", type="downtime", start_utc=t0 + 86400 * 30, end_utc=None,
                                     confidence=0.9, detector="gap", ongoing=True)])
    _, before = run(tmp_path, "--json", "--type", "downtime", "--chain", "scroll")
    code, after = run(tmp_path, "--json", "--type", "downtime", "--chain", "scroll", "--detected")
    assert code == 0
    a, b = json.loads(before), json.loads(after)
    assert b["chains"]["scroll"]["types"]["downtime"]["events"] == a["chains"]["scroll"]["types"]["downtime"][
        "events"] + 2
    assert b["model"]["meta"]["detected_events"] == 2
    assert b["types"]["downtime"]["duration"]["n"]["right"] == a["types"]["downtime"]["duration"]["n"]["right"] + 1
