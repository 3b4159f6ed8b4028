"""``check_catalog``: the bundle is clean; each kind of problem is found and named by file, row, field, value."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqrisk.catalog.check import check_catalog

HEADER = ("id,chain,type,start_utc,start_precision,duration_min,duration_min_low,duration_min_high,cause,"
          "funds_lost,market_context,scope,sources,confidence\n")


def _row(rid: str, start: str, minutes: str = "30", *, chain: str = "base", type_: str = "downtime",
         cause: str = "Our observation", precision: str = "minute") -> str:
    return f"{rid},{chain},{type_},{start},{precision},{minutes},,,{cause},no,,sequencer,https://example.org/pm,high\n"


def _dir(tmp_path: Path, *rows: str, name: str = "incidents.csv") -> Path:
    (tmp_path / name).write_text(HEADER + "".join(rows))
    return tmp_path


def test_bundle_is_clean() -> None:
    assert check_catalog() == []


def test_clean_user_dir(tmp_path: Path) -> None:
    assert check_catalog(_dir(tmp_path, _row("BASE-20250301", "2025-03-01T10:00Z"))) == []


@pytest.mark.parametrize(("rows", "field", "value", "message"), [
    ((_row("BASE-20250301", "2025-03-01T10:00Z"), _row("BASE-20250301", "2025-04-01T10:00Z")),
     "id", "BASE-20250301", "duplicate incident id"),
    ((_row("BASE-20250301", "2025-03-01T10:00Z", "120"), _row("BASE-20250301b", "2025-03-01T11:00Z")),
     "start_utc", "2025-03-01T11:00Z", "overlaps BASE-20250301"),
    ((_row("BASE-20250301", "2025-03-01T10:00Z", type_="reorg", cause="Reverted blocks [+reorg]"),),
     "tags", "+reorg", "means 'also reorg'"),
    ((_row("BASE-20250301", "2025-03-01T10:00Z", precision="day"),),
     "start_precision", "day", "has a time of day"),
    ((_row("BASE-20990301", "2099-03-01T10:00Z"),),
     "start_utc", "2099-03-01T10:00Z", "after the coverage date"),
    ((_row("BASE-20250301", "2025-03-01T10:00Z", "-3"),),
     "duration_min", "-3", "greater than 0"),
    ((_row("BASE-20250301", "2025-03-01T10:00Z", chain="bsae"),),
     "chain", "bsae", "no such chain"),
])
def test_each_problem_is_one_line(tmp_path: Path, rows: tuple[str, ...], field: str, value: str,
                                  message: str) -> None:
    problems = check_catalog(_dir(tmp_path, *rows))
    assert len(problems) == 1, problems
    p = problems[0]
    assert p.file.endswith("incidents.csv") and p.row and p.row.startswith("row ")
    assert (p.field, str(p.value), message in p.message) == (field, value, True)
    text = str(p)
    assert "\n" not in text and "incidents.csv" in text and field in text and value in text


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    d = _dir(tmp_path, _row("BASE-20250301", "2025-03-01T10:00Z", "-3"), _row("BASE-20990301", "2099-03-01T10:00Z"))
    (d / "registry.csv").write_text("chain,field,value,sources,as_of,confidence,note\n"
                                    "base,evm_chain_id,8453.5,https://x.org/a,,high,\n")
    fields = sorted(str(p.field) for p in check_catalog(d))
    assert fields == ["duration_min", "evm_chain_id.value", "start_utc"]


def test_coverage_before_an_incident_and_registry_conflicts(tmp_path: Path) -> None:
    d = _dir(tmp_path, _row("BASE-20250301", "2025-03-01T10:00Z"))
    (d / "coverage.yaml").write_text("chains:\n- chain: base\n  coverage_date: 2025-01-01\n  reason: lagging\n")
    (d / "registry.csv").write_text("chain,field,value,sources,as_of,confidence,note\n"
                                    "base,evm_chain_id,10,https://x.org/a,,high,\n"
                                    "optimism,evm_chain_id,10,https://x.org/a,,high,\n"
                                    "base,settlement_chain_id,8453,https://x.org/a,,high,\n")
    msgs = [p.message for p in check_catalog(d)]
    assert any("coverage date 2025-01-01 of base" in m for m in msgs)
    assert any("chain id also used by" in m for m in msgs)
    assert any("settles on ethereum, whose chain id is 1" in m for m in msgs)


def test_standalone_directory(tmp_path: Path) -> None:
    import shutil
    from importlib import resources

    src = resources.files("seqrisk.catalog") / "data"
    for name in ("chains.yaml", "incidents.yaml", "coverage.yaml"):
        with resources.as_file(src / name) as p:
            shutil.copy(p, tmp_path / name)
    assert check_catalog(tmp_path, over_bundle=False) == []
    (tmp_path / "coverage.yaml").unlink()
    assert [p.message for p in check_catalog(tmp_path, over_bundle=False)] == ["the catalog states no coverage date"]
