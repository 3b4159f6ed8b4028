"""The catalog commands through typer's runner, and one real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqrisk.catalog import load_catalog
from seqrisk.cli.app import app, main

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment

runner = CliRunner()
CAT = load_catalog()


def run(home: Path, *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False, env={"COLUMNS": "80"})
    return r.exit_code, r.output


def test_chains_json_has_every_chain_with_launch_and_delay(home: Path) -> None:
    code, out = run(home, "chains", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "seqrisk.chains/1"
    by_id = {c["id"]: c for c in doc["chains"]}
    assert set(by_id) == set(CAT.chain_ids())
    assert by_id["arbitrum"]["mainnet_launch_date"] == "2021-08-31"
    assert by_id["arbitrum"]["forced_inclusion_delay_s"] == 86400
    assert by_id["optimism"]["forced_inclusion_delay_s"] == 43200
    assert by_id["starknet"]["forced_inclusion_delay_s"] is None
    assert [r["name"] for r in by_id["base"]["risk"]][:2] == ["sequencer_failure", "forced_inclusion"]
    assert by_id["arbitrum"]["incidents"] == 7


def test_incidents_json_has_every_incident_with_sources(home: Path) -> None:
    code, out = run(home, "incidents", "--json")
    assert code == 0
    incs = json.loads(out)["incidents"]
    assert len(incs) == len(CAT.incidents) >= 42
    for i in incs:
        assert i["sources"] and all(s["url"].startswith("http") for s in i["sources"])
    kroma = next(i for i in incs if i["id"] == "KROMA-20240312")
    assert kroma["also_reorg"] and kroma["duration_bounds_s"] == [452 * 60, 572 * 60]


def test_incidents_filters_and_csv(home: Path) -> None:
    code, out = run(home, "incidents", "--chain", "arbitrum", "--type", "downtime", "--since", "2022-01-01",
                    "--csv")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("id,chain,type")
    ids = [ln.split(",")[0] for ln in lines[1:]]
    assert ids == ["ARB1-20220109", "ARB1-20231215"]


def test_tables_fit_80_columns(home: Path) -> None:
    for args in (["chains"], ["incidents", "--table"], ["chain", "arbitrum"], ["overview"], ["store", "info"],
                 ["incidents"]):
        code, out = run(home, *args)
        assert code == 0, out
        widest = max(len(line) for line in out.splitlines() if not line.startswith("    http"))  # URLs are whole
        assert widest <= 80, f"{args}: {widest} columns"


def test_chain_profile(home: Path) -> None:
    code, out = run(home, "chain", "base")
    assert code == 0
    assert "Base (base)" in out and "12h" in out and "BASE-20230905" in out


@pytest.mark.parametrize(("args", "code", "needle"), [
    (["chain", "arbitrm"], 2, "did you mean arbitrum"),
    (["incidents", "--type", "outage"], 2, "value='outage'"),
    (["incidents", "--since", "yesterday"], 2, "--since"),
    (["incidents", "--json", "--csv"], 2, "choose one"),
])
def test_user_errors_are_one_line(home: Path, args: list[str], code: int, needle: str,
                                  capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exc:
        main(["--home", str(home), *args])
    err = capsys.readouterr().err
    assert exc.value.code == code
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_user_catalog_is_exit_1(home: Path, tmp_path: Path) -> None:
    d = tmp_path / "cat"
    d.mkdir()
    (d / "incidents.csv").write_text("id,chain,type,start_utc,start_precision,duration_min,sources,confidence,cause\n"
                                     "X-1,base,downtime,2025-01-01,day,-3,https://example.org/x,low,c\n")
    proc = subprocess.run([sys.executable, "-m", "seqrisk", "--catalog-dir", str(d), "incidents"],
                          capture_output=True, text=True, env={**os.environ, "SEQRISK_HOME": str(home)})
    assert proc.returncode == 1
    assert "incidents.csv" in proc.stderr and "field=duration_min" in proc.stderr and "'-3'" in proc.stderr
    assert not home.exists() or not any(home.rglob("*.parquet"))


def test_version(home: Path) -> None:
    code, out = run(home, "--version")
    assert code == 0 and out.startswith("seqrisk ")


def test_store_info_json(home: Path) -> None:
    code, out = run(home, "store", "info", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["state_schema"] == doc["state_schema_supported"] and doc["integrity_ok"]
