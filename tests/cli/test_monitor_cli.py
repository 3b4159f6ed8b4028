"""``seqrisk monitor`` and ``seqrisk monitor status`` through typer's runner (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqrisk.cli.app import app, main
from seqrisk.health import Observation
from seqrisk.monitor.alerts import AlertMachine
from seqrisk.monitor.persist import MonitorStore
from seqrisk.monitor.types import Status
from seqrisk.store import Home

runner = CliRunner()


def invoke(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["--home", str(tmp_path / "home"), "monitor", *args], env={"COLUMNS": "80"})
    return r.exit_code, r.stdout, r.stderr


def test_status_of_an_empty_store_says_how_to_start(tmp_path: Path) -> None:
    code, out, _ = invoke(tmp_path, "status")
    assert code == 0 and "seqrisk monitor --config FILE" in out
    code, out, _ = invoke(tmp_path, "status", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["schema"] == "seqrisk.monitor.status/1" and doc["chains"] == []


def test_status_reports_an_alerted_chain_and_quiet_exits_3(tmp_path: Path) -> None:
    with Home(tmp_path / "home").state() as st:
        ms, m = MonitorStore(st), AlertMachine("base", raise_rounds=1)
        st_ = Status(chain="base", observed_utc=1000.0, state="down", p_down=0.97, head_number=5,
                     head_age_observer_s=90.0, head_age_block_s=91.0, down_for_s=90.0)
        tr = m.step(st_)
        ms.record_round(st_, (Observation("http://a", 1000.0, 5, 909.0),), feed_up=False, l1_batch_age_s=None,
                        previous_state="healthy", status_model=None, alerting=m.to_state(), transition=tr,
                        document={"kind": "down"}, receivers=["ops"])
    code, out, _ = invoke(tmp_path, "status")
    assert code == 3
    row = next(x for x in out.splitlines() if x.startswith("base"))
    assert row.split()[:4] == ["base", "down", "0.970", "down"] and "DOWN" in row
    assert "ops: pending" in out and max(len(x) for x in out.splitlines()) <= 80
    code, out, _ = invoke(tmp_path, "status", "--quiet")
    assert (code, out) == (3, "")
    code, out, _ = invoke(tmp_path, "status", "--json")
    doc = json.loads(out)
    assert code == 3 and doc["chains"][0]["p_down"] == 0.97 and doc["alerts"][0]["kind"] == "down"


def run_main(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(["--home", str(tmp_path / "home"), "monitor", *args])
    return int(exc.value.code or 0), capsys.readouterr().err


def test_bad_config_is_one_line_naming_file_field_and_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    p = tmp_path / "m.yaml"
    p.write_text("chains: [base, notachain]\n")
    code, err = run_main(tmp_path, capsys, "--config", str(p))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "unknown chain 'notachain'" in err and "chains.1.id" in err and str(p) in err
    p.write_text("chains: [base]\ninterval_s: fast\n")
    code, err = run_main(tmp_path, capsys, "--config", str(p))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "field=interval_s" in err and "'fast'" in err and "Traceback" not in err


def test_without_config_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_main(tmp_path, capsys, "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--config" in err


def test_an_outage_the_monitor_saw_is_fitted_by_fit_detected(tmp_path: Path) -> None:
    """A 30-minute incident alerted down and cleared by the monitor counts as a base downtime in the fit."""
    start = 1_750_000_000.0  # 2025-06-15
    with Home(tmp_path / "home").state() as st:
        ms, m = MonitorStore(st), AlertMachine("base", raise_rounds=1, clear_rounds=1)
        for t, state, silent in ((start + 60, "down", 60.0), (start + 1800, "healthy", 0.0)):
            s = Status(chain="base", observed_utc=t, state=state, p_down=0.99 if state == "down" else 0.0,
                       head_number=5, head_age_observer_s=silent, head_age_block_s=silent, down_for_s=silent)
            ms.record_round(s, (), feed_up=None, l1_batch_age_s=None, previous_state=None, status_model=None,
                            alerting=m.to_state(), transition=m.step(s), receivers=[])

    def downtimes(*extra: str) -> int:
        r = runner.invoke(app, ["--home", str(tmp_path / "home"), "fit", "--as-of", "2026-01-01", "--json", *extra],
                          catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return int(json.loads(r.stdout)["chains"]["base"]["types"]["downtime"]["events"])
    assert downtimes("--detected") == downtimes() + 1
