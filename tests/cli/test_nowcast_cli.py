"""``seqrisk nowcast``: the figures of the library, versioned JSON, clear one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats
from typer.testing import CliRunner

from seqrisk.cli.app import app, main

runner = CliRunner()
MODEL = "examples/outage-model.json"


def run(home: Path, *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["--home", str(home), "nowcast", *args], catch_exceptions=False, env={"COLUMNS": "80"})
    return r.exit_code, r.output


def test_json_is_versioned_and_matches_the_closed_form(tmp_path: Path) -> None:
    code, out = run(tmp_path, "arbitrum", "--down-for", "7m", "--model", MODEL, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "seqrisk.nowcast/1" and "kind" not in doc
    assert doc["provenance"]["seed"] == 0 and doc["down_for_s"] == 420.0
    ref = stats.lognorm(s=1.2, scale=3600.0)  # arbitrum's downtime law in the example model
    p1h = next(x["p"] for x in doc["p_still_down"] if x["at"] == "+1h")
    assert p1h == pytest.approx(ref.sf(420 + 3600) / ref.sf(420), rel=1e-9)


def test_book_table_and_quiet(tmp_path: Path) -> None:
    code, out = run(tmp_path, "arbitrum", "--down-for", "2h", "--model", MODEL, "--paths", "2000",
                    "examples/first-steps.yaml")
    assert code == 0
    assert "arbitrum down for 2h" in out and "P(still down): +15m" in out
    assert "first-steps (2,000 paths" in out and "most at risk" in out and "eth-long" in out
    assert max(len(x.rstrip()) for x in out.splitlines()) <= 80
    code, quiet = run(tmp_path, "arbitrum", "--down-for", "2h", "--model", MODEL, "--paths", "2000", "--quiet",
                      "examples/first-steps.yaml")
    assert code == 0 and "seqrisk " not in quiet.splitlines()[0] and "most at risk" not in quiet
    assert len(quiet.splitlines()) == 5 and max(len(x.rstrip()) for x in quiet.splitlines()) <= 80


@pytest.mark.parametrize(("args", "message"), [
    (["arbitrun", "--down-for", "7m"], "arbitrum"),
    (["arbitrum", "--down-for", "7"], "down-for needs a unit"),
    (["arbitrum", "--down-for", "-7m"], "must not be negative"),
    (["arbitrum", "--down-for", "7x"], "down-for"),
    (["arbitrum"], "--down-for is required"),
    (["arbitrum", "--down-for", "7m", "no-such-book.yaml"], "no-such-book.yaml"),
    (["arbitrum", "--down-for", "7m", "--config", "no-such-scenario.yaml"], "no-such-scenario.yaml"),
])
def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                               message: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--home", str(tmp_path), "nowcast", *args, "--model", MODEL])
    err = capsys.readouterr().err.strip()
    assert exc.value.code in (1, 2) and len(err.splitlines()) == 1 and message in err, err
    assert "Traceback" not in err


def test_config_sets_the_books_scenario_and_a_negative_saving_is_explained(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """--config is the scenario of the book runs: at a cost of capital of 100% a year the put's top-up costs more
    frozen than the liquidations it avoids, and the table says why its saving is negative."""
    import yaml

    desk = yaml.safe_load(Path("examples/desk.yaml").read_text())
    put = next(p for p in desk["positions"] if p["id"] == "base-eth-put")
    book = tmp_path / "put.yaml"
    book.write_text(yaml.safe_dump({**desk, "name": "put", "positions": [{**put, "initial_margin": 0.05}]}))
    args = ["base", "--down-for", "2h", "--model", MODEL, "--paths", "4000", "--seed", "3", str(book)]

    def saving(out: str) -> float:
        row = next(x for x in out.splitlines() if x.strip().startswith("base-eth-put"))
        text = row.split()[-3].replace("$", "").replace(",", "")
        return float(text)

    code, plain = run(tmp_path, *args)
    assert code == 0 and saving(plain) > 0 and "negative saving" not in plain
    # the short put earns its time decay while its hedge is frozen (implied 65% above the prices' 55%): the
    # book's loss is negative, and the note says why
    assert "EL -$" in plain and ("note: negative attributable holder loss: a short option whose hedge is frozen "
                                 "gains on average" in " ".join(plain.split()))
    dear = tmp_path / "dear-capital.yaml"
    dear.write_text("cost_of_capital: 1.0\n")
    code, out = run(tmp_path, *args, "--config", str(dear))
    assert code == 0 and saving(out) < 0
    assert ("a negative saving: the added collateral is frozen with the rest (cost of capital 100% a year"
            in " ".join(out.split()))
    bad = tmp_path / "bad.yaml"
    bad.write_text("cost_of_capital: -1\n")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["--home", str(tmp_path), "nowcast", *args, "--config", str(bad)])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 1 and len(err.splitlines()) == 1
    assert "field=cost_of_capital" in err and str(bad) in err and "value=-1" in err
