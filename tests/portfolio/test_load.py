"""Loading books: the examples load, and every bad input names file, position, field and value."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from seqrisk.exceptions import DataError, UnknownChainError, ValidationError
from seqrisk.portfolio import Loan, Option, Perp, book_from_dict, load_book, position_arrays

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment

ROOT = Path(__file__).resolve().parents[2]
CHAINS = ["arbitrum", "base", "optimism", "zksync-era", "starknet"]

BASE: dict[str, Any] = {
    "name": "t",
    "assets": {"ETH": {"spot_usd": 3000, "vol": 0.6}},
    "positions": [
        {"id": "p1", "type": "perp", "chain": "arbitrum", "asset": "ETH", "side": "long", "notional_usd": 1e6,
         "leverage": 5},
        {"id": "o1", "type": "option", "chain": "base", "asset": "ETH", "kind": "call", "quantity": -10,
         "strike_usd": 3200, "expiry": "7d", "implied_vol": 0.6},
        {"id": "l1", "type": "loan", "chain": "base", "collateral_asset": "ETH", "collateral_amount": 100,
         "debt_usd": 150000, "liquidation_threshold": 0.8},
    ],
}


def _bad(path: tuple[int, str], value: Any) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    if value is KeyError:
        del d["positions"][path[0]][path[1]]
    else:
        d["positions"][path[0]][path[1]] = value
    return d


@pytest.mark.parametrize("name", ["desk", "lending", "first-steps"])
def test_examples_load(name: str) -> None:
    book = load_book(ROOT / "examples" / f"{name}.yaml", chains=CHAINS)
    assert book.positions
    arr = position_arrays(book, book.chains)
    assert arr.n == len(book.positions)
    assert np.all(arr.units > 0)


def test_desk_spans_five_chains() -> None:
    book = load_book(ROOT / "examples" / "desk.yaml", chains=CHAINS)
    assert set(book.chains) == set(CHAINS)
    assert any(isinstance(p, Option) and p.quantity < 0 for p in book.positions)
    assert any(isinstance(p, Perp) for p in book.positions)
    assert all(isinstance(p, Loan) for p in load_book(ROOT / "examples" / "lending.yaml", chains=CHAINS).positions)


def test_arrays() -> None:
    book = book_from_dict(BASE, chains=CHAINS)
    a = position_arrays(book, ["arbitrum", "base"])
    assert a.units[0] == pytest.approx(1e6 / 3000)
    assert a.side.tolist() == [1.0, -1.0, 1.0]
    assert a.expiry_s[1] == 7 * 86400
    assert a.chain.tolist() == [0, 1, 1]


@pytest.mark.parametrize(("where", "value", "field", "pid"), [
    ((0, "notional_usd"), -5.0, "notional_usd", "p1"),
    ((0, "leverage"), 0.5, "leverage", "p1"),
    ((0, "maintenance_margin"), 0.3, "maintenance_margin", "p1"),
    ((1, "expiry"), KeyError, "expiry", "o1"),
    ((2, "debt_usd"), float("nan"), "debt_usd", "l1"),
    ((1, "strike_usd"), float("inf"), "strike_usd", "o1"),
    ((2, "liquidation_threshold"), 1.5, "liquidation_threshold", "l1"),
    ((0, "asset"), "SOL", "asset", "p1"),
])
def test_bad_input_names_file_position_field_value(where: tuple[int, str], value: Any, field: str,
                                                   pid: str) -> None:
    with pytest.raises(DataError) as ei:
        book_from_dict(_bad(where, value), file="book.yaml", chains=CHAINS)
    err = ei.value
    assert err.context["file"] == "book.yaml"
    assert err.context["position"] == pid
    assert err.context["field"] == field
    if value is not KeyError and field != "maintenance_margin":
        v = err.context.get("value")
        assert v == value or (isinstance(value, float) and np.isnan(value) and np.isnan(v))
    assert "book.yaml" in str(err) and pid in str(err)


def test_option_margin_rules() -> None:
    with pytest.raises(ValidationError) as ei:
        book_from_dict({**BASE, "positions": [BASE["positions"][0], {**BASE["positions"][1], "quantity": 10.0,
                                                                     "initial_margin": 0.1}]},
                       file="b.yaml", chains=CHAINS)
    assert ei.value.context["position"] == "o1"
    with pytest.raises(ValidationError, match="below the initial margin"):
        book_from_dict({**BASE, "positions": [{**BASE["positions"][1], "initial_margin": 0.1,
                                               "maintenance_margin": 0.2}]}, chains=CHAINS)
    ok = book_from_dict({**BASE, "positions": [{**BASE["positions"][1], "initial_margin": 0.1}]}, chains=CHAINS)
    arr = position_arrays(ok, ["base"])
    assert arr.inv_leverage[0] == 0.1 and arr.maintenance[0] == 0.05


def test_unknown_chain_suggests() -> None:
    with pytest.raises(UnknownChainError) as ei:
        book_from_dict(_bad((0, "chain"), "arbitrom"), file="b.yaml", chains=CHAINS)
    assert "arbitrum" in ei.value.suggestions
    assert ei.value.context["position"] == "p1"


def test_other_bad_books(tmp_path: Path) -> None:
    d = copy.deepcopy(BASE)
    d["positions"].append(copy.deepcopy(d["positions"][0]))
    with pytest.raises(ValidationError, match="used twice"):
        book_from_dict(d, chains=CHAINS)
    d = _bad((2, "debt_usd"), 1e6)  # health factor < 1 at spot
    with pytest.raises(ValidationError, match="health factor"):
        book_from_dict(d, chains=CHAINS)
    d = copy.deepcopy(BASE)
    d["assets"]["BTC"] = {"spot_usd": 9e4, "vol": 0.5}
    d["correlations"] = [["ETH", "BTC", 1.5]]
    with pytest.raises(ValidationError):
        book_from_dict(d, chains=CHAINS)
    p = tmp_path / "b.json"
    p.write_text(json.dumps(BASE))
    assert load_book(p, chains=CHAINS).name == "t"
    q = tmp_path / "bad.yaml"
    q.write_text("assets: [\n")
    with pytest.raises(DataError) as ei:
        load_book(q, chains=CHAINS)
    assert ei.value.context["file"] == str(q)
    r = tmp_path / "nan.yaml"
    r.write_text(yaml.safe_dump(BASE).replace("spot_usd: 3000", "spot_usd: .nan"))
    with pytest.raises(ValidationError) as ei:
        load_book(r, chains=CHAINS)
    assert ei.value.context["field"] == "assets.ETH.spot_usd"


@pytest.mark.parametrize(("vol", "field"), [(float("nan"), "assets.ETH.vol"),
                                            ({"calm": float("nan")}, "assets.ETH.vol.calm")])
def test_nan_in_a_union_field_names_the_field_and_value(vol: Any, field: str) -> None:
    d = copy.deepcopy(BASE)
    d["assets"]["ETH"]["vol"] = vol
    with pytest.raises(ValidationError) as ei:
        book_from_dict(d, file="b.yaml", chains=CHAINS)
    assert ei.value.context["field"] == field  # not pydantic's union tag (vol.float)
    assert np.isnan(ei.value.context["value"])
    assert "finite" in str(ei.value)


@pytest.mark.parametrize(("where", "value", "expect"), [
    ((0, "notional_usd"), -5.0, "position=p1, field=notional_usd, value=-5.0"),
    ((0, "leverage"), 0.5, "position=p1, field=leverage, value=0.5"),
    ((0, "chain"), "arbitrom", "position=p1, field=chain, value='arbitrom'"),
    ((2, "debt_usd"), float("nan"), "position=l1, field=debt_usd, value=nan"),
    ((1, "expiry"), KeyError, "position=o1, field=expiry"),
])
def test_cli_bad_book_is_one_line_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         where: tuple[int, str], value: Any, expect: str) -> None:
    from seqrisk.cli.app import main

    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(_bad(where, value)))
    with pytest.raises(SystemExit) as ei:
        main(["simulate", str(f), "--paths", "100"])
    assert ei.value.code == 1
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error:") and f"file={f}" in err and expect in err
