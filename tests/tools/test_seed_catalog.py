"""tools/seed_catalog.py: research files merged over the reference facts into a catalog that checks clean."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from seqrisk.catalog import load_catalog
from seqrisk.catalog.check import check_catalog

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "seqrisk" / "catalog" / "data"
CHAINS_HEADER = ("id,name,stack,layer,settles_on,mainnet_launch_date,sunset_date,sequencer,sequencer_operator,"
                 "forced_inclusion,forced_inclusion_delay_s,data_availability,proof_system,l2beat_stage,block_time_s,"
                 "empty_blocks_backfilled,chainlink_sequencer_uptime_feed,groups,sources,confidence\n")
INC_HEADER = ("id,chain,type,start_utc,start_precision,duration_min,duration_min_low,duration_min_high,cause,"
              "funds_lost,market_context,scope,sources,confidence\n")
BASE = ("base,Base,op-stack,L2,ethereum,2023-08-09,,centralized-ha,team (Coinbase),self-sequence,43200,"
        "ethereum-blobs,fraud-permissionless,1 (read 2026-11-27),2,yes,"
        "yes:0xBCF85224fc0756B9Fa45aA7892530B47e10b6433,op-stack;coinbase,"
        "l2beat/l2beat:packages/config/src/projects/base/base.ts@000705cf,high\n")
OP = ("optimism,OP Mainnet,op-stack,L2,ethereum,2021-12-16,,centralized,team (OP Labs),self-sequence,43200,"
      "ethereum-blobs,fraud-permissionless,1,2,yes,no,op-stack,https://docs.optimism.io/x,high\n")


def _seed() -> ModuleType:
    spec = importlib.util.spec_from_file_location("seed_catalog", ROOT / "tools" / "seed_catalog.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    ref, res = tmp_path / "reference", tmp_path / "research"
    ref.mkdir()
    res.mkdir()
    (ref / "chains.csv").write_text(CHAINS_HEADER + BASE + OP)
    (ref / "incidents.csv").write_text(
        INC_HEADER + "BASE-20230905,Base,downtime,2023-09-05T03:30Z,minute,43,43,43,Sequencer stall,no,,sequencer,"
        "https://status.base.org/incidents/n3q0q4z24b7h,high\n"
        "OP-20240215,OP Mainnet (Optimism),degraded,2024-02-15T10:00Z,hour,60,,,Slow,no,,rpc,https://x.org/op,low\n")
    (res / "incidents.csv").write_text(
        INC_HEADER + "BASE-20260625,Base,downtime,2026-06-25T15:47Z,minute,116,108,215,Journal bug,no,,sequencer,"
        "https://status.base.org/incidents/a,high\n"
        "OP-20240215,OP Mainnet (Optimism),degraded,2024-02-15T10:00Z,hour,90,60,90,Slow (corrected),no,,rpc,"
        "https://x.org/op | https://x.org/op2,medium\n"
        "BASE-20260901,Base,downtime,2026-09-01T00:00Z,minute,10,,,After the coverage,no,,sequencer,"
        "https://x.org/late,low\n")
    (res / "chains.csv").write_text(CHAINS_HEADER + BASE.replace("op-stack;coinbase", "op-stack;coinbase;extra"))
    (res / "registry.csv").write_text(
        "chain,field,value,sources,as_of,confidence,note\n"
        "base,evm_chain_id,8453,https://docs.base.org/network-information,2026-12-01,high,\n"
        "base,settlement_chain_id,1,https://docs.base.org/network-information,2026-12-01,high,\n"
        "base,l1_batch_inbox,0xff00000000000000000000000000000000008453,"
        "l2beat/l2beat:packages/config/src/projects/base/base.ts@000705cf,2026-12-01,high,\n"
        "base,l1_batch_poster,0x5050F69a9786F081509234F1a7F4684b5E5b76C9,https://x.org/a,2026-12-01,high,\n"
        "base,chainlink_uptime_feed,0xBCF85224fc0756B9Fa45aA7892530B47e10b6433,https://docs.chain.link/x,,high,\n"
        "base,rpc_public,https://mainnet.base.org,https://docs.base.org/x,,high,\n"
        "optimism,evm_chain_id,10,https://docs.optimism.io/x,,high,\n"
        "optimism,chainlink_uptime_feed,none,https://docs.chain.link/x,,medium,no feed listed\n")
    cov = tmp_path / "coverage.yaml"
    cov.write_text("coverage_date: 2026-07-01\nreason: searched through 2026-06-30\nsources: []\nchains: []\n")
    return ref, res, cov


def test_research_over_reference(dirs: tuple[Path, Path, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    ref, res, cov = dirs
    out = tmp_path / "out"
    _seed().build(ref, res, out, cov)
    notes = capsys.readouterr().err
    assert "research incidents: 1 replaced, 2 added" in notes
    assert "BASE-20260901 held back" in notes
    assert "written checksummed as 0xFf00000000000000000000000000000000008453" in notes
    assert check_catalog(out, over_bundle=False) == []
    cat = load_catalog(base_dir=out)
    base = cat.chain("base")
    assert (base.evm_chain_id, base.settlement_chain_id, base.batch_inbox) == (
        8453, 1, "0xFf00000000000000000000000000000000008453")
    assert base.registry.l1_batch_inbox is not None
    ref_text = "l2beat/l2beat:packages/config/src/projects/base/base.ts@000705cf"
    assert base.registry.l1_batch_inbox.sources[0].ref == ref_text
    assert "extra" in base.groups
    op = cat.chain("optimism")
    assert op.chainlink_uptime_feed == "none" and op.evm_chain_id == 10
    incs = {i.id: i for i in cat.incidents}
    assert set(incs) == {"BASE-20230905", "OP-20240215", "BASE-20260625"}
    assert incs["OP-20240215"].duration_min == 90 and len(incs["OP-20240215"].sources) == 2
    assert cat.coverage_date is not None and str(cat.coverage_date) == "2026-07-01"


def test_bad_research_row_stops_with_file_row_field(dirs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    ref, res, cov = dirs
    with open(res / "registry.csv", "a") as fh:
        fh.write("base,evm_chain_id,base-mainnet,https://x.org/a,,high,\n")
    msg = r"registry.csv, row 10, chain=base, field=evm_chain_id.value, value='base-mainnet'"
    with pytest.raises(SystemExit, match=msg):
        _seed().build(ref, res, tmp_path / "out", cov)


def test_regenerating_the_bundle_reproduces_it(tmp_path: Path) -> None:
    """Without the reference facts the committed bundle is the base: the same research gives the same files."""
    out = tmp_path / "out"
    seed = _seed()
    seed.build(None, seed.RESEARCH, out, seed.COVERAGE)
    for name in ("chains.yaml", "incidents.yaml", "coverage.yaml"):
        assert (out / name).read_text() == (DATA / name).read_text(), name
    again = tmp_path / "again"
    shutil.copytree(out, again)
    seed.build(None, seed.RESEARCH, again, seed.COVERAGE)
    assert all((again / n).read_text() == (out / n).read_text() for n in ("chains.yaml", "incidents.yaml"))
