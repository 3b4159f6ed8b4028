"""A 5,000-position book kept as a CSV simulates, through the CLI and the library, to the numbers of the same
book written as YAML (same seed): the table loader changes nothing but where the positions come from."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from seqrisk.cli.app import app
from seqrisk.engine import Scenario, simulate
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import load_book

CHAINS = ["arbitrum", "base", "optimism", "zksync-era", "starknet"]
N = 5000
ARGS = ("--paths", "2000", "--seed", "7", "--horizon", "30d")


def _positions(n: int) -> list[dict[str, Any]]:
    """Perps (some with measured collateral and entry price), short options and loans over five chains."""
    rng = np.random.default_rng(16)
    out: list[dict[str, Any]] = []
    for i in range(n):
        k, chain = i % 10, CHAINS[i % 5]
        if k < 7:
            q = float(rng.choice([-1.0, 1.0]) * rng.uniform(1, 300))
            p: dict[str, Any] = {"id": f"p{i}", "type": "perp", "chain": chain, "asset": "ETH", "size": q,
                                 "leverage": float(rng.choice([3, 5, 10, 20])), "maintenance_margin": 0.02}
            if k >= 5:
                entry = float(rng.uniform(2800, 3200))
                p.update(entry_price_usd=entry, collateral_usd=abs(q) * 3000 * 0.1 - q * (3000 - entry))
        elif k < 9:
            p = {"id": f"p{i}", "type": "option", "chain": chain, "asset": "ETH", "kind": "put" if k == 7 else "call",
                 "quantity": -float(rng.uniform(1, 50)), "strike_usd": float(rng.uniform(2500, 3500)),
                 "expiry": "7d", "implied_vol": 0.6, "delta_hedged": bool(k == 7)}
        else:
            p = {"id": f"p{i}", "type": "loan", "chain": chain, "collateral_asset": "ETH", "collateral_amount": 100.0,
                 "debt_usd": float(rng.uniform(1e5, 2.2e5)), "liquidation_threshold": 0.8}
        out.append(p)
    return out


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("big")
    market = {"name": "big", "assets": {"ETH": {"spot_usd": 3000.0, "vol": 0.8, "depth_usd": 1e9}}}
    rows = _positions(N)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(d / "big.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        w.writerows(rows)
    (d / "big.market.yaml").write_text(yaml.safe_dump(market), encoding="utf-8")
    (d / "big.yaml").write_text(yaml.safe_dump({**market, "positions": rows}), encoding="utf-8")
    law = DurationLaw("lognormal", {"median_s": 3 * 3600.0, "sigma": 1.0})
    OutageModel(chains={c: ChainOutageLaw(c, {"downtime": 4.0}, {"downtime": law}) for c in CHAINS}).save(
        d / "model.json")
    return d / "big.csv", d / "big.yaml", d / "model.json"


def test_the_csv_book_is_the_yaml_book(books: tuple[Path, Path, Path]) -> None:
    csv_path, yaml_path, _ = books
    a, b = load_book(csv_path, chains=CHAINS), load_book(yaml_path, chains=CHAINS)
    assert len(a.positions) == N and a == b
    assert sum(p.type == "perp" and p.collateral_usd is not None for p in a.positions) == 1000


def test_5000_position_csv_simulates_like_its_yaml(books: tuple[Path, Path, Path], tmp_path: Path) -> None:
    csv_path, yaml_path, model = books
    runner = CliRunner()
    docs = []
    for path in (csv_path, yaml_path):
        r = runner.invoke(app, ["--home", str(tmp_path), "simulate", str(path), "--model", str(model), *ARGS,
                                "--json"], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        docs.append(json.loads(r.stdout))
    assert docs[0] == docs[1]
    om = OutageModel.load(model)
    sc = Scenario(paths=2000, seed=7, horizon_s=30 * 86400.0)
    lib = [simulate(load_book(p, chains=CHAINS), om, sc) for p in (csv_path, yaml_path)]
    assert lib[0].to_dict()["measures"] == lib[1].to_dict()["measures"] == docs[0]["measures"]
    el, _ = lib[0].value("expected_loss")
    assert el > 0 and lib[0].value("p_liquidation")[0] > 0  # the comparison is of real losses, not zeros


def test_every_book_argument_names_every_format_it_reads() -> None:
    """The help of each command's book (PORTFOLIO, BOOKS, --book) names YAML, JSON, CSV and Parquet, from one
    definition; and each suffix the loader takes is one of the formats named."""
    from cli_commands import commands
    from seqrisk.cli.decide_inputs import BOOK_FILE
    from seqrisk.portfolio.load import BOOK_SUFFIXES

    named = {"yaml": (".yaml", ".yml"), "json": (".json",), "csv": (".csv",), "parquet": (".parquet",)}
    assert sorted(s for f in named if f in BOOK_FILE.lower() for s in named[f]) == sorted(BOOK_SUFFIXES)
    takes_book = set()
    for name, cmd in commands():
        for p in cmd.params:
            text = (getattr(p, "help", None) or "").lower()
            if p.name in ("portfolio", "books", "book_file") or "book file" in text:
                assert BOOK_FILE in (p.help or ""), (name, p.name, p.help)
                takes_book.add(name)
    assert takes_book >= {"simulate", "report", "compare", "insure", "allocate", "score", "nowcast"}
