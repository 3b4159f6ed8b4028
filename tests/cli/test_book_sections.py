"""Every command that takes a book uses all of it: its ``markets:`` (the rest of the venue's market) included.

The book sits on one chain and trades against a large, leveraged market there,
so the market's own liquidations move the price at a restart and the book's
expected loss is several times what it is without them. Each command's figure
for the book must be ``simulate``'s on the same seed: exactly where the command
runs the same chains, within Monte Carlo error where it simulates more.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqrisk.cli.app import app
from seqrisk.engine import Scenario, simulate
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import load_book
from seqrisk.units import format_usd

runner = CliRunner()
LAW = DurationLaw("lognormal", {"median_s": 3 * 3600.0, "sigma": 1.0})
ARGS = ("--paths", "1500", "--seed", "5")
HORIZON_S = 90 * 86400.0

BOOK = """name: arb-desk
assets: {ETH: {spot_usd: 3000, vol: 0.8, depth_usd: 5.0e8, impact_eta: 0.1}}
positions:
  - {id: long, type: perp, chain: arbitrum, asset: ETH, side: long, notional_usd: 8.0e6, leverage: 20,
     maintenance_margin: 0.02}
  - {id: short, type: perp, chain: arbitrum, asset: ETH, side: short, notional_usd: 4.0e6, leverage: 8}
markets:
  - {chain: arbitrum, asset: ETH, open_interest_usd: 1.5e9, long_share: 0.6, leverage: [5, 10, 25, 50],
     weights: [0.3, 0.3, 0.3, 0.1], maintenance_margin: 0.01}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("book")
    model = OutageModel(chains={c: ChainOutageLaw(c, {"downtime": r}, {"downtime": LAW},
                                                  forced_inclusion_delay_s=86400.0)
                                for c, r in (("arbitrum", 6.0), ("base", 3.0))})
    mp = d / "model.json"
    model.save(mp)
    bp = d / "book.yaml"
    bp.write_text(BOOK, encoding="utf-8")
    return bp, mp


def run(home: Path, *args: str) -> str:
    r = runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False, env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture(scope="module")
def reference(files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    """``seqrisk simulate --json``: attributable EL per perspective, value and standard error."""
    book, model = files
    out = run(tmp_path_factory.mktemp("home"), "simulate", str(book), "--model", str(model), "--horizon", "90d",
              *ARGS, "--json")
    doc = json.loads(out)
    return {m["perspective"]: {"value": m["value"], "se": m["std_error"]} for m in doc["measures"]
            if m["measure"] == "expected_loss" and m["basis"] == "attributable"}


def test_the_markets_matter_for_this_book(files: tuple[Path, Path], reference: dict[str, dict[str, float]]) -> None:
    """Without its market the book's EL is far lower: a command that drops ``markets:`` fails the tests below."""
    book_path, model_path = files
    book = load_book(book_path)
    bare = simulate(book.model_copy(update={"markets": []}), OutageModel.load(model_path),
                    Scenario(paths=1500, seed=5, horizon_s=HORIZON_S))
    el, se = bare.value("expected_loss", perspective="holder")
    ref = reference["holder"]
    assert ref["value"] - el > 5 * math.hypot(se, ref["se"])


def test_compare_baseline_is_simulate(home: Path, files: tuple[Path, Path],
                                     reference: dict[str, dict[str, float]]) -> None:
    book, model = files
    doc = json.loads(run(home, "compare", str(book), "--model", str(model), "-m", "buffer=0.05", "--horizon", "90d",
                         *ARGS, "--json"))
    base = doc["strategies"][0]["measures"]
    for persp in ("holder", "venue"):
        assert base[f"{persp}.el"]["value"] == pytest.approx(reference[persp]["value"], rel=1e-6)


def test_insure_before_cover_is_simulate(home: Path, files: tuple[Path, Path],
                                        reference: dict[str, dict[str, float]]) -> None:
    book, model = files
    doc = json.loads(run(home, "insure", str(book), "--model", str(model), "--period", "90d", "--deductible", "50k",
                         *ARGS, "--json"))
    assert doc["buyer"]["el_before"] == pytest.approx(reference["holder"]["value"], rel=1e-6)


def test_score_with_the_book_is_simulate(home: Path, files: tuple[Path, Path],
                                         reference: dict[str, dict[str, float]]) -> None:
    book, model = files
    doc = json.loads(run(home, "score", "--book", str(book), "--chain", "arbitrum", "--model", str(model),
                         "--horizon", "90d", *ARGS, "--json"))
    row = doc["chains"][0]
    assert row["holder_el"]["value"] == pytest.approx(reference["holder"]["value"], rel=1e-6)
    assert row["venue_el"]["value"] == pytest.approx(reference["venue"]["value"], rel=1e-6)


def test_allocate_whole_book_on_its_chain_is_simulate(home: Path, files: tuple[Path, Path],
                                                      reference: dict[str, dict[str, float]]) -> None:
    """Allocation simulates both candidate chains at once (other conditioning): equal within Monte Carlo error."""
    book, model = files
    for party in ("holder", "venue"):
        doc = json.loads(run(home, "allocate", str(book), "--chains", "arbitrum,base", "--model", str(model),
                             "--horizon", "90d", "--perspective", party, *ARGS, "--json"))
        el = doc["single_chain_el"]["arbitrum"]
        ref = reference[party]
        assert abs(el["value"] - ref["value"]) < 4 * math.hypot(el["std_error"], ref["se"])


def test_report_headline_is_simulate(home: Path, tmp_path: Path, files: tuple[Path, Path],
                                     reference: dict[str, dict[str, float]]) -> None:
    book, model = files
    out = run(home, "report", str(book), "--model", str(model), "--horizon", "90d", *ARGS, "--no-mitigations",
              "--out", str(tmp_path / "r.html"))
    row = next(line for line in out.splitlines() if line.strip().startswith("holder"))
    assert re.search(re.escape(format_usd(reference["holder"]["value"])) + r" ± ", row), row


def _numbers(doc: object) -> list[float]:
    """Every number in a JSON document."""
    if isinstance(doc, bool):
        return []
    if isinstance(doc, int | float):
        return [float(doc)]
    if isinstance(doc, dict):
        return [x for v in doc.values() for x in _numbers(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in _numbers(v)]
    return []


def test_no_command_adds_holder_loss_and_venue_bad_debt(home: Path, files: tuple[Path, Path],
                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    """Holder loss and venue bad debt are never summed: no figure of any command's output is their sum."""
    book, model = files
    ref = json.loads(run(tmp_path_factory.mktemp("home"), "simulate", str(book), "--model", str(model), "--horizon",
                         "90d", *ARGS, "--json"))
    by = {(m["perspective"], m["measure"], m.get("level")): m["value"] for m in ref["measures"]
          if m["basis"] == "attributable"}
    pairs = [(by[("holder", k, lv)], by[("venue", k, lv)]) for k, lv in (("expected_loss", None), ("es", 0.99))]
    assert all(h > 0 and v > 0.01 * h for h, v in pairs), pairs  # both parties lose: a sum would show
    sums = [h + v for h, v in pairs]
    common = ("--model", str(model), "--horizon", "90d", *ARGS, "--json")
    docs = {"simulate": ref,
            "compare": json.loads(run(home, "compare", str(book), "-m", "buffer=0.05", "-m", "grace=1h", *common)),
            "compare --perspective venue": json.loads(run(home, "compare", str(book), "-m", "grace=1h",
                                                          "--perspective", "venue", *common)),
            "score --book": json.loads(run(home, "score", "--book", str(book), "--chain", "arbitrum", *common)),
            "allocate": json.loads(run(home, "allocate", str(book), "--chains", "arbitrum,base", *common))}
    sweep = json.loads(run(home, "compare", str(book), "--sweep", "grace=0,30m,2h", *common))
    docs["compare --sweep"] = sweep
    point_sums = [p["holder_el"]["value"] + p["venue_el"]["value"] for p in sweep["curve"]]
    for name, doc in docs.items():
        for x in _numbers(doc):
            for s in (*sums, *(point_sums if name == "compare --sweep" else ())):
                assert x != pytest.approx(s, rel=1e-6), (name, x, s)
    assert sweep["weight"] == 0.0 and sweep["objective"] == "venue bad debt"
