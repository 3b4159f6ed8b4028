"""Books from tables (CSV, Parquet, DataFrames) and venue mappings; perps with entry price and collateral."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from seqrisk.exceptions import DataError, SeqriskError, UsageError
from seqrisk.portfolio import Book, book_from_frame, load_book, position_arrays, read_mapping

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
CHAINS = ["arbitrum", "base", "optimism", "zksync-era", "starknet"]
MARKET: dict[str, Any] = {"name": "t", "assets": {"ETH": {"spot_usd": 3000.0, "vol": 0.6}}}


def _desk_parts() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    doc = yaml.safe_load((EX / "desk.yaml").read_text())
    return doc.pop("positions"), doc


def test_desk_csv_is_the_desk_yaml() -> None:
    """The CSV example (positions) with its market file beside it is the YAML example, field for field."""
    assert load_book(EX / "desk.csv") == load_book(EX / "desk.yaml")


def test_dataframe_and_parquet_give_the_same_book(tmp_path: Path) -> None:
    positions, market = _desk_parts()
    frame = pd.DataFrame(positions)
    want = load_book(EX / "desk.yaml")
    assert Book.from_frame(frame, market=market) == want
    assert book_from_frame(frame, market=EX / "desk.market.yaml") == want
    assert book_from_frame(frame, market=want) == want  # a Book as the market: its positions are not read
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "desk.parquet")
    shutil.copy(EX / "desk.market.yaml", tmp_path / "desk.market.yaml")
    assert load_book(tmp_path / "desk.parquet") == want


def test_venue_export_through_its_mapping() -> None:
    """The venue example: codes, percent and the measured margin (collateral plus unrealised profit)."""
    book = load_book(EX / "venue-export.csv")
    raw = pd.read_csv(EX / "venue-export.csv")
    assert [p.id for p in book.positions] == list(raw["Position ID"])
    for p, (_, r) in zip(book.positions, raw.iterrows(), strict=True):
        spot = book.assets[p.asset].spot_usd
        q = r["Size"] * (1 if r["Side"] == "LONG" else -1)
        assert p.signed_units(spot) == q
        assert p.maintenance_margin == pytest.approx(r["Maint. Margin (%)"] / 100)
        # the venue's own unrealised profit column (not read) agrees with size x (spot - entry)
        assert q * (spot - r["Entry Price"]) == pytest.approx(r["Unrealized PnL (USD)"])
        assert p.margin_share(spot) == pytest.approx((r["Margin (USD)"] + r["Unrealized PnL (USD)"])
                                                     / (abs(q) * spot))


def test_mapping_units_scale_values_and_constants() -> None:
    frame = pd.DataFrame({"ref": ["a", "b"], "dir": ["B", "S"], "qty": [2.0, 3.0], "margin_k": [1.5, 2.0],
                          "mm_bp": [150, 200], "days": [7, 2.5]})
    mapping = {"columns": {"ref": "id", "dir": "side", "qty": "size", "margin_k": "collateral_usd",
                           "mm_bp": "maintenance_margin"},
               "constants": {"type": "perp", "chain": "base", "asset": "ETH"},
               "values": {"side": {"B": "long", "S": "short"}},
               "units": {"maintenance_margin": "bp"}, "scale": {"collateral_usd": 1000}}
    book = book_from_frame(frame, market=MARKET, mapping=mapping, chains=CHAINS)
    a, b = book.positions
    assert (a.signed_units(3000), b.signed_units(3000)) == (2.0, -3.0)
    assert (a.collateral_usd, b.collateral_usd) == (1500.0, 2000.0)
    assert (a.maintenance_margin, b.maintenance_margin) == pytest.approx((0.015, 0.02))
    assert a.margin_share(3000) == pytest.approx(1500 / 6000)  # no entry price: the collateral is the equity
    # options: expiry in days by unit, or a duration with its own unit
    opt = pd.DataFrame({"id": ["o1", "o2"], "expiry": ["7", "12h"]})
    m2 = {"columns": {"id": "id", "expiry": "expiry"}, "units": {"expiry": "d"},
          "constants": {"type": "option", "chain": "base", "asset": "ETH", "kind": "call", "quantity": -1,
                        "strike_usd": 3100, "implied_vol": 0.5}}
    o1, o2 = book_from_frame(opt, market=MARKET, mapping=m2, chains=CHAINS).positions
    assert (o1.expiry_s, o2.expiry_s) == (7 * 86400.0, 12 * 3600.0)


def test_old_books_keep_their_meaning() -> None:
    """A perp with leverage only keeps 1/leverage; entry and collateral default to none."""
    book = load_book(EX / "desk.yaml")
    for p in book.positions:
        if p.type == "perp":
            assert p.collateral_usd is None and p.entry_price_usd is None
            assert p.margin_share(book.assets[p.asset].spot_usd) == 1.0 / p.leverage


def test_measured_margin_replaces_the_initial_margin_in_the_arrays() -> None:
    frame = pd.DataFrame([
        {"id": "lev", "type": "perp", "chain": "base", "asset": "ETH", "size": 10.0, "leverage": 8.0},
        {"id": "col", "type": "perp", "chain": "base", "asset": "ETH", "size": 10.0, "collateral_usd": 3750.0},
        {"id": "win", "type": "perp", "chain": "base", "asset": "ETH", "size": -10.0, "collateral_usd": 3000.0,
         "entry_price_usd": 3300.0},
    ])
    book = book_from_frame(frame, market=MARKET, chains=CHAINS)
    arr = position_arrays(book, CHAINS)
    assert list(arr.inv_leverage) == [0.125, 0.125, (3000 + 3000) / 30000]  # short from 3300: 3,000 of profit


def _err(fn: Any) -> str:
    with pytest.raises(SeqriskError) as ei:
        fn()
    msg = str(ei.value)
    assert "\n" not in msg
    return msg


def _csv(tmp_path: Path, text: str, market: dict[str, Any] | None = None, name: str = "b") -> Path:
    p = tmp_path / f"{name}.csv"
    p.write_text(text)
    (tmp_path / f"{name}.market.yaml").write_text(yaml.safe_dump(market or MARKET))
    return p


HEAD = "id,type,chain,asset,size,leverage,entry_price_usd,collateral_usd,delta_hedged,expiry\n"


@pytest.mark.parametrize(("line", "expect"), [
    ("p,perp,base,ETH,ten,5,,,,", "not a number (file={f}, row=2, column=size, value='ten')"),
    ("p,perp,base,ETH,1,5,,,maybe,", "not true or false (file={f}, row=2, column=delta_hedged, value='maybe')"),
    ("p,perp,base,ETH,1,5,,,,soon", "not a duration (seconds, or e.g. 7d, 12h) (file={f}, row=2, column=expiry"),
    ("p,perp,base,ETH,1,0.5,,,,", "(file={f}, row=2, column=leverage, position=p, value=0.5)"),
    ("p,perp,basse,ETH,1,5,,,,", "unknown chain 'basse'; did you mean base? (file={f}, row=2, column=chain"),
    ("p,perp,base,SOL,1,5,,,,", "unknown asset (declare it under assets) (file={f}, row=2, column=asset"),
    ("p,perp,base,ETH,1,,3000,100,,", "already liquidatable at spot: its margin is 0.03333 of the notional, not "
                                      "above the maintenance margin 0.05 (file={f}, row=2, column=collateral_usd"),
    ("p,perp,base,ETH,1,5,3000,,,", "entry_price_usd needs collateral_usd (the margin it moves) (file={f}, row=2, "
                                    "position=p)"),
    ("p,perp,base,ETH,1,,,,,", "give leverage (initial margin 1/leverage) or collateral_usd (the measured "
                               "margin) (file={f}, row=2, column=leverage, position=p)"),
    ("p,perp,base,ETH,1,5,,,,\np,perp,base,ETH,2,5,,,,", "position id is used twice (first in row 2) (file={f}, "
                                                        "row=3, column=id, value='p')"),
    (",perp,base,ETH,1,5,,,,", "Field required (file={f}, row=2, column=id)"),
])
def test_a_bad_cell_is_one_line_naming_file_row_column_value(tmp_path: Path, line: str, expect: str) -> None:
    f = _csv(tmp_path, HEAD + line + "\n")
    msg = _err(lambda: load_book(f, chains=CHAINS))
    assert expect.format(f=f) in msg, msg


def test_dataframe_rows_are_index_labels() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "type": ["perp", "perp"], "chain": ["base", "base"],
                          "asset": ["ETH", "ETH"], "size": [1.0, "x"], "leverage": [5, 5]}, index=[100, 200])
    assert "row=200, column=size, value='x'" in _err(lambda: book_from_frame(frame, market=MARKET, chains=CHAINS))


@pytest.mark.parametrize(("mapping", "columns", "expect"), [
    ({"columns": {"Qty": "sise"}}, "Qty", "not a position field; did you mean 'size'? (file={m}, "
                                          "field=columns.Qty, value='sise')"),
    ({"columns": {"Qty": "size", "Q2": "size"}}, "Qty,Q2", "columns 'Q2' and 'Qty' both map to the same field"),
    ({"columns": {"Qty": "size"}, "units": {"size": "d"}}, "Qty", "unit must be percent or bp for a number"),
    ({"columns": {"Qty": "size"}, "scale": {"size": -1}}, "Qty", "scale applies to number fields and must be > 0"),
    ({"columns": {"Qty": "size"}, "colums": {}}, "Qty", "(file={m}, field=colums"),
    ({"columns": {"Missing": "size"}}, "Qty", "the mapping names a column the table does not have (file={f}, "
                                              "column=Missing)"),
    ({"columns": {"Qty": "size"}}, "Qty", "no type column (perp, option or loan)"),
])
def test_a_bad_mapping_names_its_file_and_key(tmp_path: Path, mapping: dict[str, Any], columns: str,
                                              expect: str) -> None:
    m = tmp_path / "venue.yaml"
    m.write_text(yaml.safe_dump(mapping))
    f = _csv(tmp_path, columns + "\n" + ",".join("1" for _ in columns.split(",")) + "\n",
             market={**MARKET, "mapping": "venue.yaml"})
    msg = _err(lambda: load_book(f, chains=CHAINS))
    assert expect.format(m=m, f=f) in msg, msg


def test_table_level_errors(tmp_path: Path) -> None:
    f = _csv(tmp_path, "id,type,chain,asset,sise\n")
    assert f"unknown column: not a position field (did you mean 'size'?) (file={f}, column=sise)" in _err(
        lambda: load_book(f, chains=CHAINS))
    lone = tmp_path / "lone.csv"
    lone.write_text(HEAD)
    assert "write lone.market.yaml beside it" in _err(lambda: load_book(lone, chains=CHAINS))
    bad_market = copy.deepcopy(MARKET)
    bad_market["positions"] = []
    g = _csv(tmp_path, HEAD, market=bad_market, name="m")
    assert f"positions come from the table, not the market (file={tmp_path / 'm.market.yaml'}, field=positions)" \
        in _err(lambda: load_book(g, chains=CHAINS))
    bad_market = {"assets": {"ETH": {"spot_usd": -1, "vol": 0.5}}}
    h = _csv(tmp_path, HEAD + "p,perp,base,ETH,1,5,,,,\n", market=bad_market, name="n")
    assert f"file={tmp_path / 'n.market.yaml'}, field=assets.ETH.spot_usd" in _err(lambda: load_book(h, chains=CHAINS))
    with pytest.raises(UsageError, match="names a file only in a market file"):  # a document names no file to read
        book_from_frame(pd.DataFrame({"id": ["a"]}), market={**MARKET, "mapping": "/etc/passwd"})
    with pytest.raises(UsageError, match="a book file is"):
        load_book(tmp_path / "b.txt")
    with pytest.raises(UsageError, match="needs its market"):
        book_from_frame(pd.DataFrame({"id": ["a"]}))
    with pytest.raises(DataError, match="cannot read Parquet"):
        (tmp_path / "x.parquet").write_text("not parquet")
        (tmp_path / "x.market.yaml").write_text(yaml.safe_dump(MARKET))
        load_book(tmp_path / "x.parquet")


def test_read_mapping_accepts_the_example_file() -> None:
    m = read_mapping(EX / "venue-mapping.yaml")
    assert m.columns["Entry Price"] == "entry_price_usd" and m.factor("maintenance_margin") == 0.01


def test_cli_csv_book_bad_cell_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqrisk.cli.app import main

    f = _csv(tmp_path, HEAD + "p,perp,base,ETH,ten,5,,,,\n")
    with pytest.raises(SystemExit) as ei:
        main(["simulate", str(f), "--paths", "100"])
    assert ei.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: not a number (file={f}, row=2, column=size, value='ten')"



def test_margin_rules_lever_stays_below_the_measured_margin() -> None:
    """A maintenance margin at or above what a perp keeps would liquidate it at spot: the lever refuses it."""
    from seqrisk.decide import MarginRules
    from seqrisk.decide.base import Setup

    frame = pd.DataFrame([{"id": "m", "type": "perp", "chain": "base", "asset": "ETH", "size": 10.0,
                           "collateral_usd": 3000.0}])  # measured margin 3,000 / 30,000 = 0.1
    book = book_from_frame(frame, market=MARKET, chains=CHAINS)
    setup = Setup(book=book, model=None, scenario=None)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"below the measured margin = 0\.1 "):
        MarginRules(maintenance=0.1).apply(setup)
    moved = MarginRules(maintenance=0.08).apply(setup).book.positions[0]
    assert moved.maintenance_margin == 0.08 and moved.collateral_usd == 3000.0


def test_a_top_up_raises_the_measured_margin_by_its_share() -> None:
    """The now-cast's top-up on a perp with measured collateral adds to the collateral, not to a leverage."""
    from seqrisk.monitor.nowcast import _top_up

    frame = pd.DataFrame([{"id": "m", "type": "perp", "chain": "base", "asset": "ETH", "size": -10.0,
                           "collateral_usd": 3000.0, "entry_price_usd": 2900.0}])
    book = book_from_frame(frame, market=MARKET, chains=CHAINS)
    before = book.positions[0].margin_share(3000.0)  # (3,000 - 1,000) / 30,000
    topped = _top_up(book, "m", 0.05)
    assert topped is not None
    new_book, usd = topped
    assert usd == pytest.approx(1500.0)
    assert new_book.positions[0].margin_share(3000.0) == pytest.approx(before + 0.05)
