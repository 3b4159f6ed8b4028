"""Invariants over every bundled chain and incident (the L2BEAT habit)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqrisk.catalog import EVENT_TYPES, Chain, Incident, load_catalog, risk_entries

CAT = load_catalog()
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
RESEARCH = Path(__file__).resolve().parents[2] / "tools" / "catalog_research"


@pytest.mark.parametrize("chain", CAT.chains, ids=lambda c: c.id)
def test_chain_invariants(chain: Chain) -> None:
    assert chain.sources, "every chain has a source"
    for s in chain.sources:
        assert s.url.startswith("https://")
    if chain.mainnet_launch_date:
        assert chain.mainnet_launch_date <= datetime.now(UTC).date()
    if chain.sunset_date:
        assert chain.mainnet_launch_date and chain.sunset_date > chain.mainnet_launch_date
    entries = risk_entries(chain)
    assert [e.name for e in entries] == ["sequencer_failure", "forced_inclusion", "data_availability", "proofs"]
    for e in entries:
        assert e.description.endswith(".")
    fi = entries[1]
    if chain.forced_inclusion_delay_s is not None and chain.forced_inclusion not in (None, "none", "enqueue"):
        assert fi.defining_metric == chain.forced_inclusion_delay_s


def test_chain_ids_unique() -> None:
    ids = [c.id for c in CAT.chains]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("inc", CAT.incidents, ids=lambda i: i.id)
def test_incident_invariants(inc: Incident) -> None:
    assert inc.type in EVENT_TYPES
    chain = CAT.chain(inc.chain)
    assert inc.start_utc.tzinfo is not None
    if chain.mainnet_launch_date:
        # a chain's incidents happen after its public launch (or its builder phase, within a year before)
        assert (inc.start_utc.date() - chain.mainnet_launch_date).days > -365
    lo, best, hi = inc.duration_min_low, inc.duration_min, inc.duration_min_high
    for v in (lo, best, hi):
        assert v is None or v > 0
    if lo is not None and best is not None:
        assert lo <= best
    if best is not None and hi is not None:
        assert best <= hi
    blo, bhi = inc.duration_bounds_s()
    assert 0 <= blo <= bhi
    assert inc.sources and all(s.url.startswith(("https://", "http://")) for s in inc.sources)
    assert inc.id.split("-")[1][:6].isdigit()


def test_incident_ids_unique() -> None:
    ids = [i.id for i in CAT.incidents]
    assert len(ids) == len(set(ids))


def test_structured_tags() -> None:
    by_id = {i.id: i for i in CAT.incidents}
    assert by_id["KROMA-20240312"].also_reorg
    assert by_id["DEGEN-20240512"].also_da_delay
    assert sum(i.deliberate for i in CAT.incidents) >= 4   # the reference's 4, plus research rows
    assert sum(i.planned for i in CAT.incidents) >= 2
    assert not by_id["ARB1-20210914"].tags


def _research_ids(name: str) -> set[str]:
    path = RESEARCH / name
    if not path.is_file():
        return set()
    with open(path, newline="") as fh:
        return {r["id"] for r in csv.DictReader(fh)}


@pytest.mark.skipif(not SHARED.exists(), reason="reference data ../shared/data is not beside the project")
def test_bundle_matches_reference() -> None:
    """Every reference chain and incident is bundled, with the same facts, except where the project's own
    research (tools/catalog_research) replaces a row; every research row is bundled too."""
    with open(SHARED / "chains.csv", newline="") as fh:
        chains = list(csv.DictReader(fh))
    with open(SHARED / "incidents.csv", newline="") as fh:
        incs = list(csv.DictReader(fh))
    new_chains, new_incs = _research_ids("chains.csv"), _research_ids("incidents.csv")
    assert {c["id"] for c in chains} | new_chains == set(CAT.chain_ids())
    by_id = {i.id: i for i in CAT.incidents}
    assert {r["id"] for r in incs} | new_incs == set(by_id)
    for r in incs:
        if r["id"] in new_incs:
            continue
        i = by_id[r["id"]]
        assert i.type == r["type"]
        assert (i.duration_min or None) == (float(r["duration_min"]) if r["duration_min"] else None)
        assert [s.url for s in i.sources] == [s.strip() for s in r["sources"].split(" | ")]
    for r in chains:
        if r["id"] in new_chains:
            continue
        c = CAT.chain(r["id"])
        want = float(r["forced_inclusion_delay_s"]) if r["forced_inclusion_delay_s"] else None
        assert c.forced_inclusion_delay_s == want
        assert str(c.mainnet_launch_date) == r["mainnet_launch_date"]
