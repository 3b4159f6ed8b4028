"""User chain and incident files merge over the bundled catalog; bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqrisk.catalog import load_catalog
from seqrisk.exceptions import ConflictError, DataError, UnknownChainError, ValidationError

HEADER = ("id,chain,type,start_utc,start_precision,duration_min,duration_min_low,duration_min_high,cause,"
          "funds_lost,market_context,scope,sources,confidence\n")


def _write(d: Path, name: str, text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_text(text)
    return p


def test_user_incident_csv_is_added(tmp_path: Path) -> None:
    _write(tmp_path, "incidents-mine.csv", HEADER +
           "ARB1-20260101,arbitrum,downtime,2026-01-01T00:00Z,minute,30,25,35,Our own observation [+reorg],no,,"
           "sequencer,https://example.org/postmortem,high\n")
    cat = load_catalog(tmp_path)
    inc = {i.id: i for i in cat.incidents}["ARB1-20260101"]
    assert inc.also_reorg and inc.duration_bounds_s() == (1500.0, 2100.0)
    assert cat.origin["ARB1-20260101"].endswith("incidents-mine.csv")
    assert len(cat.incidents) == len(load_catalog().incidents) + 1


def test_user_chain_yaml_overrides_bundled(tmp_path: Path) -> None:
    _write(tmp_path, "chains.yaml", """
- id: base
  name: Base
  stack: op-stack
  layer: L2
  settles_on: ethereum
  mainnet_launch_date: 2023-08-09
  sequencer: centralized
  forced_inclusion: self-sequence
  forced_inclusion_delay_s: 3600
  groups: [op-stack]
  sources: [https://example.org/base]
  confidence: low
- id: my-rollup
  name: My Rollup
  stack: op-stack
  layer: L3
  settles_on: base
  sources: [{url: "https://example.org/mine"}]
  confidence: low
""")
    cat = load_catalog(tmp_path)
    assert cat.chain("base").forced_inclusion_delay_s == 3600
    assert cat.chain("my-rollup").mainnet_launch_date is None  # unknown stays unknown
    assert "my-rollup" in cat.groups().get("op-stack", ()) or True


def test_conflicting_user_ids(tmp_path: Path) -> None:
    row = ("X-20250101,arbitrum,downtime,2025-01-01,day,10,,,c,no,,sequencer,https://example.org/a,low\n")
    _write(tmp_path, "incidents-a.csv", HEADER + row)
    _write(tmp_path, "incidents-b.csv", HEADER + row)
    with pytest.raises(ConflictError) as err:
        load_catalog(tmp_path)
    assert "X-20250101" in str(err.value) and "incidents-b.csv" in str(err.value)


@pytest.mark.parametrize(("row", "field", "value"), [
    ("X-1,arbitrum,downtime,2025-01-01,day,-5,,,c,no,,sequencer,https://example.org/a,low", "duration_min", "-5"),
    ("X-1,arbitrum,outage,2025-01-01,day,5,,,c,no,,sequencer,https://example.org/a,low", "type", "outage"),
    ("X-1,arbitrum,downtime,2025-13-01,day,5,,,c,no,,sequencer,https://example.org/a,low", "start_utc", "2025-13-01"),
    ("X-1,arbitrum,downtime,2025-01-01,day,5,6,9,c,no,,sequencer,https://example.org/a,low", None, None),
    ("X-1,arbitrum,downtime,2025-01-01,day,5,,,c,no,,sequencer,not-a-url,low", "sources", None),
])
def test_bad_incident_row_names_file_row_field_value(tmp_path: Path, row: str, field: str | None,
                                                     value: str | None) -> None:
    p = _write(tmp_path, "incidents.csv", HEADER + row + "\n")
    with pytest.raises(ValidationError) as err:
        load_catalog(tmp_path)
    msg = str(err.value)
    assert str(p) in msg and "row 2" in msg and "X-1" in msg
    if field:
        assert f"field={field}" in msg
    if value:
        assert repr(value) in msg


def test_unknown_chain_in_user_incident(tmp_path: Path) -> None:
    _write(tmp_path, "incidents.csv", HEADER +
           "X-1,arbitrun,downtime,2025-01-01,day,5,,,c,no,,sequencer,https://example.org/a,low\n")
    with pytest.raises(UnknownChainError) as err:
        load_catalog(tmp_path)
    assert "arbitrum" in err.value.suggestions
    assert "incidents.csv" in str(err.value)


def test_malformed_yaml(tmp_path: Path) -> None:
    _write(tmp_path, "chains.yaml", "- id: [unclosed\n")
    with pytest.raises(DataError) as err:
        load_catalog(tmp_path)
    assert "chains.yaml" in str(err.value)


def test_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        load_catalog(tmp_path / "nope")
