"""``seqrisk catalog check|import|promote``: a team keeps its catalog directory valid and current."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqrisk.catalog import load_catalog
from seqrisk.cli.app import app
from seqrisk.store import DetectedEvent, Home

runner = CliRunner()
CAT = load_catalog()
HEADER = ("id,chain,type,start_utc,start_precision,duration_min,duration_min_low,duration_min_high,cause,"
          "funds_lost,market_context,scope,sources,confidence\n")
ROW = "BASE-20250301,Base,downtime,2025-03-01T10:00Z,minute,30,25,35,Seen by us [+reorg],no,,sequencer,https://x.org/pm,high\n"


def run(home: Path, *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["--home", str(home), *args], env={"COLUMNS": "80"})
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.output


def test_check_passes_on_the_bundle(home: Path) -> None:
    code, out = run(home, "catalog", "check")
    assert code == 0
    assert out.startswith(f"catalog ok: {len(CAT.chains)} chains, {len(CAT.incidents)} incidents")
    assert out.strip().splitlines()[1].startswith(f"version {CAT.version}, complete up to {CAT.coverage_date}")
    assert len(out.strip().splitlines()) == 2 and max(len(x) for x in out.splitlines()) <= 80


def test_check_lists_problems_and_exits_1(home: Path, tmp_path: Path) -> None:
    d = tmp_path / "cat"
    d.mkdir()
    row = ROW.replace(",Base,", ",base,")  # files in a catalog directory name chains by id
    (d / "incidents.csv").write_text(HEADER + row.replace(",30,", ",-3,") + row.replace("2025-03", "2099-03")
                                     .replace("BASE-20250301", "BASE-20990301"))
    code, out = run(home, "catalog", "check", str(d))
    lines = out.strip().splitlines()
    assert code == 1 and len(lines) == 2
    assert lines[0].startswith(f"{d / 'incidents.csv'}, row 2, field duration_min: ") and "'-3'" in lines[0]
    assert "row 3, field start_utc" in lines[1] and "coverage date" in lines[1]


def test_import_validates_merges_and_writes_atomically(home: Path, tmp_path: Path) -> None:
    d = tmp_path / "cat"
    src = tmp_path / "mine.csv"
    src.write_text(HEADER + ROW)
    code, out = run(home, "catalog", "import", str(src), "--dir", str(d))
    assert code == 0, out
    assert "1 incidents imported" in out and "(1 new, 0 replaced)" in out
    cat = load_catalog(d)
    inc = {i.id: i for i in cat.incidents}["BASE-20250301"]
    assert inc.chain == "base" and inc.also_reorg and inc.duration_bounds_s() == (1500.0, 2100.0)
    # again, with a changed duration: replaced, not duplicated
    src.write_text(HEADER + ROW.replace(",30,25,35,", ",31,25,35,"))
    code, out = run(home, "catalog", "import", str(src), "--dir", str(d))
    assert code == 0 and "(0 new, 1 replaced)" in out
    assert [i.duration_min for i in load_catalog(d).incidents if i.id == "BASE-20250301"] == [31.0]
    assert sorted(p.name for p in d.iterdir()) == ["incidents.csv"]  # no temporary file left


@pytest.mark.parametrize(("cell", "field"), [(",30,25,35,", "duration_min"), ("2025-03-01T10:00Z", "start_utc")])
def test_import_of_a_bad_row_writes_nothing(home: Path, tmp_path: Path, cell: str, field: str) -> None:
    d = tmp_path / "cat"
    good = tmp_path / "good.csv"
    good.write_text(HEADER + ROW)
    assert run(home, "catalog", "import", str(good), "--dir", str(d))[0] == 0
    before = (d / "incidents.csv").read_bytes()
    bad = tmp_path / "bad.csv"
    broken = ROW.replace(cell, ",x,25,35," if field == "duration_min" else "2099-03-01T10:00Z")
    bad.write_text(HEADER + broken.replace("BASE-20250301", "BASE-20250302"))
    code, out = run(home, "catalog", "import", str(bad), "--dir", str(d))
    assert code == 1 and f"field {field}" in out and len(out.strip().splitlines()) == 1
    assert (d / "incidents.csv").read_bytes() == before


def test_export_then_import_round_trips(home: Path, tmp_path: Path) -> None:
    code, out = run(home, "incidents", "--chain", "base", "--csv")
    assert code == 0
    (tmp_path / "base.csv").write_text(out)
    d = tmp_path / "cat"
    code, msg = run(home, "catalog", "import", str(tmp_path / "base.csv"), "--dir", str(d))
    assert code == 0, msg
    mine = load_catalog(d)
    for inc in CAT.select(chain="base"):
        got = {i.id: i for i in mine.incidents}[inc.id]
        assert got.model_dump(exclude={"chain_name_in_source", "sources"}) == \
            inc.model_dump(exclude={"chain_name_in_source", "sources"})
        assert [s.url for s in got.sources] == [s.url for s in inc.sources]
    assert mine.digest != CAT.digest  # the refs of the sources are not in CSV


def test_promote_a_detected_event_with_its_evidence(home: Path, tmp_path: Path) -> None:
    h = Home(home)
    t0 = 1_745_000_000.0  # 2025-04-18
    with h.state() as st:
        st.add_events([DetectedEvent(chain="base", type="downtime", start_utc=t0, end_utc=t0 + 1800, confidence=0.9,
                                     detector="gap", evidence={"block": 123456, "gap_s": 1800.0})])
        with st.transaction() as c:
            c.execute("INSERT INTO meta(key, value) VALUES (?, ?)", ("endpoints:base", '["http://127.0.0.1:8545"]'))
            c.execute("INSERT INTO meta(key, value) VALUES (?, ?)", ("chain_id:base", "8453"))
        eid = st.events(chain="base")[0].id
    d = tmp_path / "cat"
    code, out = run(home, "catalog", "promote", str(eid), "--dir", str(d), "--source", "https://status.base.org/x")
    assert code == 0, out
    inc = {i.id: i for i in load_catalog(d).incidents}["BASE-20250418T1813"]
    assert inc.type == "downtime" and inc.duration_s == 1800.0 and inc.scope == ("sequencer",)
    first = inc.sources[0]
    assert first.url == "http://127.0.0.1:8545" and first.evidence is not None
    assert first.evidence["block"] == 123456 and first.evidence["chain_id"] == 8453
    assert first.evidence["confidence"] == 0.9 and first.evidence["start_utc"] == "2025-04-18T18:13:20Z"
    assert "gap" in (first.ref or "") and inc.sources[1].url == "https://status.base.org/x"
    code, out = run(home, "catalog", "check", str(d))
    assert code == 0, out
    from seqrisk.exceptions import UsageError

    with pytest.raises(UsageError, match="no detected event with this id"):
        run(home, "catalog", "promote", "999", "--dir", str(d))


def test_import_needs_a_directory(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from seqrisk.exceptions import UsageError

    (tmp_path / "x.csv").write_text(HEADER + ROW)
    with pytest.raises(UsageError, match="catalog directory"):
        run(home, "catalog", "import", str(tmp_path / "x.csv"))
