"""``seqrisk compare``, ``insure``, ``allocate`` and ``score`` through typer's runner (small, seeded runs)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lending_variants import passive_lending
from seqrisk.cli.app import app
from seqrisk.decide.insurance import ParametricCover, Pricing, price_parametric
from seqrisk.exceptions import UsageError
from seqrisk.outage import ChainOutageLaw, CommonShock, DurationLaw, OutageModel

runner = CliRunner()
LAW = DurationLaw("lognormal", {"median_s": 3 * 3600.0, "sigma": 1.0})


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    model = OutageModel(
        chains={c: ChainOutageLaw(c, {"downtime": r}, {"downtime": LAW}, forced_inclusion_delay_s=d)
                for c, r, d in (("arbitrum", 6.0, 86400.0), ("base", 3.0, 43200.0), ("optimism", 2.0, 43200.0))},
        shocks=(CommonShock("op-stack", ("base", "optimism"), 1.0, LAW),))
    mp = tmp_path / "model.json"
    model.save(mp)
    book = tmp_path / "book.yaml"
    book.write_text(
        "name: test\nassets: {ETH: {spot_usd: 2000, vol: 0.8}}\npositions:\n"
        "  - {id: l, type: perp, chain: arbitrum, asset: ETH, side: long, notional_usd: 1.0e6, leverage: 15,"
        " maintenance_margin: 0.03}\n"
        "  - {id: s, type: perp, chain: base, asset: ETH, side: short, notional_usd: 1.0e6, leverage: 10}\n",
        encoding="utf-8")
    return book, mp


def run(home: Path, *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False, env={"COLUMNS": "80"})
    return r.exit_code, r.output


def test_compare_table_fits_80_columns(home: Path, files: tuple[Path, Path]) -> None:
    book, model = files
    code, out = run(home, "compare", str(book), "--model", str(model), "-m", "grace=1h", "-m",
                    "buffer=0.05+forced-inclusion", "-m", "move=arbitrum:optimism:0.5", "--paths", "1500",
                    "--horizon", "30d", "--seed", "3")
    assert code == 0, out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "an oracle grace period of 1h" in out
    assert "±" in out


def test_compare_json_pairs_and_costs(home: Path, files: tuple[Path, Path]) -> None:
    book, model = files
    code, out = run(home, "compare", str(book), "--model", str(model), "-m", "buffer=0.05", "-m",
                    "insure=indemnity,deductible=1k", "--paths", "1500", "--horizon", "30d", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "seqrisk.compare/1"
    names = [s["name"] for s in doc["strategies"]]
    assert names == ["baseline", "buffer=0.05", "insure=indemnity,deductible=1k"]
    buf = doc["strategies"][1]
    # capital cost of the buffer: 5% of the perps' notional at the scenario's 8%/year over 30 days
    assert buf["costs_usd"]["capital"] == pytest.approx(0.05 * 2e6 * 0.08 * 30 / 365)
    assert buf["cost_usd"] == {"holder": buf["costs_usd"]["capital"], "venue": 0.0}
    assert buf["controlled_by"] == "holder" and buf["description"] == "extra margin of 5% of notional on every perp"
    d = buf["diffs"]["holder.el"]
    assert d["std_error"] < d["std_error_unpaired"]
    assert doc["strategies"][2]["costs_usd"]["premium"] > 0
    # one party at a time: no figure adds the holder's loss and the venue's bad debt
    assert doc["perspective"] == "holder"
    assert all(k.split(".")[0] in ("holder", "venue", "p_liquidation") for s in doc["strategies"]
               for k in (*s["measures"], *s["diffs"]))
    assert all(line.startswith(("Recommended to the holder", "Not recommended", "Not the holder's", "None of"))
               for line in doc["advice"]["lines"])


def test_compare_advises_one_party_on_its_own_levers(home: Path, files: tuple[Path, Path]) -> None:
    book, model = files
    args = ("compare", str(book), "--model", str(model), "-m", "grace=1h,qmax=1", "-m", "buffer=0.2", "--paths",
            "1500", "--horizon", "30d")
    code, out = run(home, *args)
    assert code == 0 and "Perspective: holder" in out
    assert "Holder loss over the horizon" in out and "holder loss + " not in out.lower()
    # the grace period is the venue's: the holder is never told to set it
    assert not any(line.startswith("Recommended to the holder: an oracle grace period")
                   for line in out.replace("\n", " ").splitlines())
    code, out = run(home, *args, "--perspective", "venue")
    assert code == 0 and "Venue bad debt over the horizon" in out
    doc = json.loads(run(home, *args, "--perspective", "venue", "--json")[1])
    assert doc["perspective"] == "venue" and "buffer=0.2" not in doc["advice"]["recommended"]
    with pytest.raises(UsageError, match="perspective"):
        run(home, *args, "--perspective", "total")


def test_compare_sweep_returns_curve_and_minimiser(home: Path, files: tuple[Path, Path]) -> None:
    book, model = files
    code, out = run(home, "compare", str(book), "--model", str(model), "--sweep", "grace=0:2h:3", "-m",
                    "grace=0,qmax=1", "--paths", "1500", "--horizon", "30d", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [p["value"] for p in doc["curve"]] == [0.0, 3600.0, 7200.0]
    # the grace period is the venue's decision, on its own bad debt unless a weight is stated (nothing added)
    assert doc["controlled_by"] == "venue" and doc["perspective"] == "venue" and doc["weight"] == 0.0
    for p in doc["curve"]:
        assert p["objective"]["value"] == pytest.approx(p["venue_el"]["value"])
    objective = [p["objective"]["value"] for p in doc["curve"]]
    assert doc["best_value"] == doc["curve"][objective.index(min(objective))]["value"]
    lo, hi = doc["best_interval_90"]
    assert lo <= doc["best_value"] <= hi
    # every holder under water would top up, and does if they respond within the grace period (the
    # scenario's response-time law): liquidations fall as the grace period grows
    pl = [p["p_liquidation"]["value"] for p in doc["curve"]]
    assert pl[0] > 0
    assert pl[1] < 0.5 * pl[0]
    assert pl[2] <= pl[1]
    code, out = run(home, "compare", str(book), "--model", str(model), "--sweep", "buffer=0:0.1:3", "--paths",
                    "1500", "--horizon", "30d")
    assert code == 0
    assert "optimum: buffer" in out and "The holder's decision; objective: holder loss" in out
    code, out = run(home, "compare", str(book), "--model", str(model), "--sweep", "grace=0:2h:3", "--weight", "1",
                    "--paths", "1500", "--horizon", "30d", "--json")
    doc = json.loads(out)
    assert doc["objective"] == "venue bad debt + 1 x holder loss"  # a weighting only when the user states it
    for p in doc["curve"]:
        assert p["objective"]["value"] == pytest.approx(p["venue_el"]["value"] + p["holder_el"]["value"])


def test_insure_parametric_matches_closed_form(home: Path, files: tuple[Path, Path]) -> None:
    _, model = files
    code, out = run(home, "insure", "--chain", "base", "--chain", "optimism", "--payout", "100k", "--trigger",
                    "6h", "--model", str(model), "--paths", "20000", "--json")
    assert code == 0
    doc = json.loads(out)
    om = OutageModel.load(model)
    cf = price_parametric(om, ParametricCover("base", 1e5, 6 * 3600.0), Pricing())
    cov = doc["covers"][0]
    assert cov["closed_form"]["premium_usd"] == pytest.approx(cf.premium_usd)
    mc = cov["monte_carlo"]
    assert abs(mc["expected_payout_usd"] - cf.expected_payout_usd) < 4 * mc["expected_payout_se"]
    book = doc["book"]
    assert book["total"]["es_payout_usd"] >= book["independent"]["es_payout_usd"]
    code, out = run(home, "insure", "--chain", "base", "--chain", "optimism", "--model", str(model),
                    "--paths", "5000")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80


def test_insure_indemnity_shows_the_buyer_tail(home: Path, files: tuple[Path, Path]) -> None:
    book, model = files
    code, out = run(home, "insure", str(book), "--deductible", "5k", "--limit", "200k", "--period", "30d",
                    "--model", str(model), "--paths", "2000", "--json")
    assert code == 0
    doc = json.loads(out)
    q, b = doc["quote"], doc["buyer"]
    assert q["premium_usd"] >= q["expected_payout_usd"] * 1.2
    assert b["es_after"] < b["es_before"]
    assert b["el_after"] > b["el_before"]  # the loading costs the buyer on average
    assert b["el_before_se"] > b["el_after_se"] > 0  # every figure carries its error
    code, out = run(home, "insure", str(book), "--deductible", "5k", "--period", "30d", "--model", str(model),
                    "--paths", "2000")
    assert code == 0
    assert "Buyer's loss" in out
    el_row = next(line for line in out.splitlines() if line.startswith("EL "))
    assert el_row.count("±") == 3
    cap_row = next(line for line in out.splitlines() if line.startswith("capital cost"))
    assert "±" in cap_row


def test_allocate_and_score(home: Path, files: tuple[Path, Path]) -> None:
    book, model = files
    code, out = run(home, "allocate", str(book), "--chains", "arbitrum,base,optimism", "--max", "0.6", "--model",
                    str(model), "--paths", "2000", "--horizon", "90d", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["perspective"] == "holder" and doc["method"] == "averaged"
    assert sum(doc["weights"].values()) == pytest.approx(1.0)
    assert max(doc["weights"].values()) <= 0.6 + 1e-9
    for s in doc["shares"].values():
        assert s["low"] <= s["value"] <= s["high"] and s["std_error"] >= 0 and s["step"] > 0
    assert doc["seed_out_of_sample"] != doc["seed"]
    assert {"es_in_sample", "es_out_of_sample", "equal_split_es", "equal_split_es_out_of_sample"} <= set(doc)
    assert set(doc["single_chain_es"]) == {"arbitrum", "base", "optimism"}
    code, out = run(home, "allocate", str(book), "--chains", "arbitrum,base", "--min", "arbitrum=0.2", "--model",
                    str(model), "--paths", "1000", "--horizon", "30d")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    rows = [line for line in out.splitlines() if line.startswith(("arbitrum ", "base "))]
    assert len(rows) == 2 and all("±" in line and "%-" in line for line in rows)
    assert "fresh paths" in out and "on the paths that chose it" in out
    code, out = run(home, "score", "--chain", "arbitrum", "--chain", "base", "--chain", "optimism", "--model",
                    str(model), "--paths", "1000", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [c["chain"] for c in doc["chains"]][-1] == "arbitrum"  # twice base's own rate, no shared shock
    for c in doc["chains"]:
        assert math.isfinite(c["holder_el"]["std_error"])
        assert c["rank_low"] <= c["rank"] <= c["rank_high"]
        assert c["availability"]["low"] <= c["availability"]["value"] <= c["availability"]["high"]
    code, out = run(home, "score", "--chain", "arbitrum", "--chain", "base", "--model", str(model), "--paths",
                    "500")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80


def test_usage_errors_name_the_option(home: Path, files: tuple[Path, Path]) -> None:
    book, model = files
    with pytest.raises(UsageError, match="unknown mitigation"):
        run(home, "compare", str(book), "--model", str(model), "-m", "teleport=1")
    with pytest.raises(UsageError, match="--mitigation"):
        run(home, "compare", str(book), "--model", str(model))
    with pytest.raises(UsageError):
        run(home, "insure", "--model", str(model))


def test_insure_parametric_for_a_book_uses_the_engine_paths(home: Path, files: tuple[Path, Path]) -> None:
    book, model = files
    code, out = run(home, "insure", str(book), "--chain", "arbitrum", "--payout", "50k", "--trigger", "3h",
                    "--period", "30d", "--model", str(model), "--paths", "4096", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["cover"] == "parametric"
    q = doc["quote"]
    om = OutageModel.load(model)
    cf = price_parametric(om, ParametricCover("arbitrum", 5e4, 3 * 3600.0, 30 * 86400.0), Pricing())
    # no clustering or coupling in this model: the engine's paths reproduce the closed form
    assert doc["closed_form_premium_usd"] == pytest.approx(cf.premium_usd)
    assert abs(q["expected_payout_usd"] - cf.expected_payout_usd) < 4 * q["expected_payout_se"]


@pytest.mark.parametrize(("flag", "expected"), [((), False), (("--forced-inclusion-baseline",), True)])
def test_compare_baseline_forced_inclusion_is_off_unless_asked(home: Path, files: tuple[Path, Path],
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 flag: tuple[str, ...], expected: bool) -> None:
    """docs/mitigations.md: the baseline has forced inclusion off even when --config turns it on; the flag turns
    it on."""
    import seqrisk.decide as mit

    seen = []

    def fake_compare(book, model, scenario, strategies):  # type: ignore[no-untyped-def]
        seen.append(scenario)
        raise RuntimeError("stop")

    monkeypatch.setattr(mit, "compare", fake_compare)
    book, model = files
    cfg = tmp_path / "sc.yaml"
    cfg.write_text("forced_inclusion: true\ngrace_period_s: 1h\n", encoding="utf-8")
    r = runner.invoke(app, ["--home", str(home), "compare", str(book), "--model", str(model), "--config",
                            str(cfg), "-m", "forced-inclusion", *flag])
    assert isinstance(r.exception, RuntimeError)
    assert seen[0].forced_inclusion is expected
    assert seen[0].grace_period_s == 3600.0  # other levers as the scenario sets them


def test_lending_grace_sweep_has_an_interior_optimum(home: Path) -> None:
    """examples/lending.yaml (cohorts that keep their health factor, jumps fitted to the bundled prices): a grace
    period lets holders top up (less bad debt and fewer liquidations) while the price keeps moving unchecked
    (more bad debt): the venue's bad debt is lowest at an interior grace, clearly below none and below 3 days."""
    lending = Path(__file__).resolve().parents[2] / "examples" / "lending.yaml"
    code, out = run(home, "compare", str(lending), "--sweep", "grace=0,4h,3d", "--horizon", "1y", "--paths",
                    "20000", "--seed", "0", "--json")
    assert code == 0
    doc = json.loads(out)
    curve = {p["value"]: p for p in doc["curve"]}
    assert doc["best_value"] == 4 * 3600.0
    for g in (0.0, 3 * 86400.0):
        gap = curve[g]["vs_best"]
        assert gap["value"] > 2 * gap["std_error"], g
    assert all(p["venue_el"]["value"] > 0 for p in doc["curve"])
    assert curve[4 * 3600.0]["holder_el"]["value"] < curve[0.0]["holder_el"]["value"]


def test_a_flat_sweep_names_no_optimum(home: Path, tmp_path: Path) -> None:
    """examples/lending.yaml with passive borrowers and mild jumps: its loans keep 17% or more of price between
    liquidation and bad debt, so over 30 days no grace period gives the venue bad debt: the sweep says nothing
    tells the grace periods apart."""
    lending = passive_lending(tmp_path / "passive.yaml")
    code, out = run(home, "compare", str(lending), "--sweep", "grace=0,30m,2h", "--horizon", "30d", "--paths", "400",
                    "--json")
    assert code == 0
    assert all(p["venue_el"]["value"] == 0.0 for p in json.loads(out)["curve"])
    code, out = run(home, "compare", str(lending), "--sweep", "grace=0,30m,2h", "--horizon", "30d", "--paths", "400")
    assert code == 0 and "No optimum: every grace is within 2 paired s.e." in out and "optimum: grace" not in out
