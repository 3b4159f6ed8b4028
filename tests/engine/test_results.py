"""Result layout (JSON of issue 4 part 9, Parquet, summary), stress mode, the stress grid and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from seqrisk.engine import Scenario, StressOutage, liquidation_probability, simulate, stress_grid
from seqrisk.exceptions import UsageError
from seqrisk.portfolio import load_book

from .conftest import CHAINS, lognormal_model, make_book
from .test_cascade import GOLDEN, spec_book

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def desk_result():  # type: ignore[no-untyped-def]
    from seqrisk.outage import OutageModel

    book = load_book(ROOT / "examples" / "desk.yaml", chains=CHAINS)
    model = OutageModel.load(ROOT / "examples" / "outage-model.json")
    return simulate(book, model, Scenario(paths=8192, seed=1, keep_paths=True))


def test_json_layout(desk_result) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(desk_result.to_json())
    assert doc["kind"] == "seqrisk.simulation"
    keys = {"perspective", "basis", "measure", "level", "value", "std_error"}
    assert all(set(r) == keys for r in doc["measures"])
    measures = {r["measure"] for r in doc["measures"]}
    assert measures == {"expected_loss", "var", "es", "p_liquidation", "expected_bad_debt",
                        "expected_liquidated_notional"}
    assert {r["level"] for r in doc["measures"] if r["measure"] in ("var", "es")} == {0.95, 0.99, 0.999}
    assert {r["perspective"] for r in doc["measures"]} == {"holder", "venue"}
    assert {r["basis"] for r in doc["measures"]} == {"attributable", "total"}
    pos_keys = {"id", "chain", "p_liquidation", "p_liquidation_std_error", "expected_loss_usd",
                "expected_bad_debt_usd"}
    assert all(set(r) == pos_keys for r in doc["positions"])
    assert len(doc["positions"]) == 11
    assert doc["diagnostics"]["effective_sample_size"] > 0


def test_tables_are_consistent(desk_result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = desk_result
    el, _ = r.value("expected_loss")
    assert r.chains.holder_expected_loss_usd.sum() == pytest.approx(el, rel=1e-9, abs=1e-9)
    tot, _ = r.value("expected_loss", basis="total")
    assert r.components.holder_expected_loss_usd.sum() == pytest.approx(tot, rel=1e-9, abs=1e-9)
    assert r.positions.expected_loss_usd.sum() == pytest.approx(el, rel=1e-6, abs=1e-6)
    var95, _ = r.value("var", level=0.95)
    var99, _ = r.value("var", level=0.99)
    es99, _ = r.value("es", level=0.99)
    assert var95 <= var99 <= es99
    s = r.summary()
    assert list(s.columns[:4]) == ["perspective", "basis", "expected_loss_usd", "expected_loss_se"]
    r.to_parquet(tmp_path / "m.parquet")
    back = pd.read_parquet(tmp_path / "m.parquet")
    assert len(back) == len(r.measures)
    assert (tmp_path / "m.positions.parquet").exists()
    pl = r.path_losses()
    m, _ = r.expected_from_paths("holder_attributable")
    assert m == pytest.approx(el, rel=1e-9, abs=1e-9)
    assert {f"holder:{c}" for c in CHAINS} <= set(pl.columns)


def test_stress_mode_conditions_on_the_outage() -> None:
    book = make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": 10.0,
                       "leverage": 15}])
    sc = Scenario(paths=4096, seed=3, stress_outages=[StressOutage.parse("arbitrum=2h@30m")])
    assert sc.stress_outages[0].duration_s == 7200 and sc.stress_outages[0].start_s == 1800
    res = simulate(book, lognormal_model({"arbitrum": 0.01}), sc)
    assert res.diagnostics["mean_p_event"] == 1.0
    assert res.diagnostics["events"] == 4096
    with pytest.raises(UsageError):
        StressOutage.parse("arbitrum")


def test_stress_grid_reproduces_the_spec_golden_rows() -> None:
    side, q, lev = spec_book()
    pos = [{"id": f"p{i}", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": float(side[i] * q[i]),
            "leverage": float(lev[i])} for i in range(1000)]
    book = make_book(pos)
    grid = stress_grid(book, "arbitrum", [3600.0], [g[0] / 2000.0 - 1 for g in GOLDEN],
                       scenario=Scenario(forced_inclusion=False))
    for row, g in zip(grid.itertuples(), GOLDEN, strict=True):
        assert row.n_liquidated == g[2]
        assert row.final_price_usd == pytest.approx(g[3], rel=1e-12)
        assert row.holder_loss_usd == pytest.approx(g[4], rel=1e-9)
        assert row.venue_loss_usd == pytest.approx(g[5], rel=1e-9, abs=1e-6)
    lp = liquidation_probability(book, [600.0, 3600.0, 86400.0])
    by = lp.groupby("duration_s").p_liquidation.mean()
    assert np.all(np.diff(by.to_numpy()) > 0)


def test_cli_simulate_json_and_stress(tmp_path: Path) -> None:
    from seqrisk.cli.app import app

    runner = CliRunner()
    args = ["simulate", str(ROOT / "examples" / "first-steps.yaml"), "--model",
            str(ROOT / "examples" / "outage-model.json"), "--paths", "4096", "--seed", "5", "--json"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["measures"] and doc["positions"]
    out2 = runner.invoke(app, [*args[:-1], "--outage", "arbitrum=2h", "--out", str(tmp_path / "r.parquet")])
    assert out2.exit_code == 0, out2.output
    assert "stress: arbitrum down 2h" in out2.stdout
    assert "holder attrib." in out2.stdout and "negative attributable" not in out2.stdout
    assert (tmp_path / "r.parquet").exists()
    out4 = runner.invoke(app, [*args[:-1], "--outage", "arbitrum=2h@30m"], env={"COLUMNS": "200"})
    assert "stress: arbitrum down 2h from +30m" in out4.stdout
    out3 = runner.invoke(app, [*args, "--outage", "base=1h"])
    assert out3.exit_code != 0


def test_explicit_outage_laws_override_the_model() -> None:
    from seqrisk.engine import ExplicitOutage
    from seqrisk.outage import OutageModel

    book = make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": 1.0,
                       "leverage": 2.0}])
    sc = Scenario(paths=20_000, seed=2, conditional_sampling=False, keep_paths=False, horizon_s="1d",
                  outages={"arbitrum": [ExplicitOutage(rate_per_year=730.0, family="fixed",
                                                       params={"duration_s": 60.0})]})
    res = simulate(book, OutageModel(chains={}), sc)
    assert res.diagnostics["arrivals"] / res.n_paths == pytest.approx(2.0, abs=5 * (2.0 / 20_000) ** 0.5)
    model = sc.outage_model(lognormal_model({"arbitrum": 1.0, "base": 1.0}))
    assert model.chains["arbitrum"].rates_per_year["downtime"] == 730.0
    assert model.chains["base"].rates_per_year["downtime"] == 365.0


@pytest.mark.parametrize("engine", ["kernel", "numpy"])
def test_outage_counts_keep_their_mean_where_exp_of_minus_it_underflows(engine: str) -> None:
    """730 outages a year over a year: a Poisson mean whose exp(-mean) is below the smallest double. Found when
    the default horizon became a year: the compiled kernel's count stopped at 1 there."""
    from seqrisk.engine import ExplicitOutage
    from seqrisk.outage import OutageModel

    book = make_book([{"id": "x", "type": "perp", "chain": "arbitrum", "asset": "ETH", "size": 1.0,
                       "leverage": 2.0}])
    n = 300
    sc = Scenario(paths=n, seed=3, conditional_sampling=False, keep_paths=False, engine=engine,
                  outages={"arbitrum": [ExplicitOutage(rate_per_year=730.0, family="fixed",
                                                       params={"duration_s": 60.0})]})
    res = simulate(book, OutageModel(chains={}), sc)
    assert res.diagnostics["arrivals"] / n == pytest.approx(730.0, abs=5 * (730.0 / n) ** 0.5)

def test_stress_grid_margined_short_put() -> None:
    from seqrisk.market import bs_price

    book = make_book([{"id": "p", "type": "option", "chain": "arbitrum", "asset": "ETH", "kind": "put",
                       "quantity": -10.0, "strike_usd": 2000.0, "expiry": "30d", "implied_vol": 0.8,
                       "delta_hedged": False, "initial_margin": 0.1, "maintenance_margin": 0.05,
                       "liquidation_penalty": 0.02}])
    g = stress_grid(book, "arbitrum", [3600.0], [-0.2, 0.0])
    yr = 365 * 86400.0
    v0 = float(bs_price(2000.0, 2000.0, 30 * 86400 / yr, 0.8, False))
    v1 = float(bs_price(1600.0, 2000.0, (30 * 86400 - 3600) / yr, 0.8, False))
    e1 = 10 * (v0 + 0.1 * 2000.0 - v1)       # negative: the put gained more than the margin
    assert e1 < 0.05 * 10 * 1600
    row = g.iloc[0]
    assert row.n_liquidated == 1
    assert row.holder_loss_usd == pytest.approx(max(e1, 0) - max(e1 - 0.02 * 10 * 1600, 0))
    assert row.venue_loss_usd == pytest.approx(max(-e1, 0))
    assert g.iloc[1].n_liquidated == 0


def test_cli_explains_a_negative_attributable_loss_of_loans(tmp_path: Path) -> None:
    """Passive loans: an outage defers liquidations, so the holder's attributable EL is negative; the table says
    why."""
    from lending_variants import passive_lending
    from seqrisk.cli.app import app

    passive = passive_lending(tmp_path / "passive.yaml")
    args = ["simulate", str(passive), "--model",
            str(ROOT / "examples" / "outage-model.json"), "--paths", "40960", "--seed", "5", "--horizon", "1d"]
    doc = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    el = next(r for r in doc["measures"] if r["perspective"] == "holder" and r["basis"] == "attributable"
              and r["measure"] == "expected_loss")
    assert el["value"] + 3 * el["std_error"] < 0
    out = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    text = " ".join(out.stdout.split())
    assert "note: negative attributable holder loss: an outage defers liquidations" in text
    assert "short option" not in text  # the book holds none


@pytest.mark.parametrize(("opts", "expect"), [(["--paths", "0"], "field=--paths, value=0"),
                                              (["--horizon", "0s"], "field=--horizon, value='0s'"),
                                              (["--seed", "-1"], "field=--seed, value=-1")])
def test_cli_bad_scenario_option_is_one_line(capsys: pytest.CaptureFixture[str], opts: list[str],
                                             expect: str) -> None:
    from seqrisk.cli.app import main

    with pytest.raises(SystemExit) as ei:
        main(["simulate", str(ROOT / "examples" / "first-steps.yaml"), *opts])
    assert ei.value.code == 2  # refused at the edge, before the model is fitted
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and expect in err and "file=" not in err


def test_load_scenario_errors_name_file_only_for_file_values(tmp_path: Path) -> None:
    from seqrisk.engine import load_scenario
    from seqrisk.exceptions import ValidationError

    f = tmp_path / "sc.yaml"
    f.write_text("paths: -5\nhorizon_s: 2h\n", encoding="utf-8")
    with pytest.raises(ValidationError) as ei:
        load_scenario(f)
    assert ei.value.context == {"file": str(f), "field": "paths", "value": -5}
    assert load_scenario(f, paths=7).paths == 7  # an override replaces the bad value
    with pytest.raises(ValidationError) as ei:
        load_scenario(f, seed=-2)
    assert ei.value.context["field"] == "paths"
    with pytest.raises(ValidationError) as ei:
        load_scenario(None, paths=3, seed=-2)
    assert ei.value.context == {"field": "seed", "value": -2}
    f.write_text("horizon_s: abc\n", encoding="utf-8")
    with pytest.raises(UsageError) as eu:
        load_scenario(f)
    assert eu.value.context["file"] == str(f)
    assert load_scenario(None, horizon_s="2h").horizon_s == 7200.0


def test_example_scenario_loads_with_the_documented_defaults() -> None:
    from seqrisk.engine import load_scenario

    sc = load_scenario(ROOT / "examples" / "scenario.yaml", paths=100)
    assert sc.paths == 100 and sc.seed == 7 and sc.horizon_s == 7 * 86400.0
    assert [r.name for r in sc.regimes] == ["calm", "stressed"]
    assert sc.forced_inclusion is False  # a mitigation, off in the baseline
    assert sc.l1_inclusion_s == 1800.0 and sc.settlement == "true"
