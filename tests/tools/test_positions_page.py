"""docs/positions.md is what tools/positions_page.py makes of the models: the page cannot fall behind them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from seqrisk.portfolio import Loan, Option, Perp
from seqrisk.portfolio.frame import POSITION_FIELDS

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("positions_page", ROOT / "tools" / "positions_page.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_committed_page_is_the_generated_one() -> None:
    tool = _tool()
    assert (ROOT / "docs" / "positions.md").read_text(encoding="utf-8") == tool.page(), \
        "docs/positions.md is stale: run .venv/bin/python tools/positions_page.py"
    assert tool.main(["--check"]) == 0


def test_every_position_field_and_column_is_on_the_page() -> None:
    """Every field a table column may carry has a row, with its unit where it is a number, and its default."""
    tool = _tool()
    listed = {r[0].strip("`"): r for model in (Perp, Option, Loan) for r in tool.rows(model)}
    assert set(POSITION_FIELDS) == set(listed)
    perp = {r[0].strip("`"): r for r in tool.rows(Perp)}
    assert perp["collateral_usd"][2:4] == ("USD", "none")
    assert perp["maintenance_margin"][2:4] == ("share of notional (0-1)", "`0.05`")
    assert listed["expiry"][1] == "number or duration"
