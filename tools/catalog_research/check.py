"""Check the catalog research files against the reference data's conventions.

Usage: ``python tools/catalog_research/check.py [--reference DIR]``

Reads ``incidents.csv`` and ``chains.csv`` beside this script and checks them
against the reference facts (default: the directory ``tools/seed_catalog.py`` seeds from,
or the nearest ``shared/data`` above the checkout): the same columns in the
same order, id pattern and chain prefix, known chain names (as the seeder maps
them), event types, cause tags, start precision and the ISO form it implies,
duration ranges, scopes, 1-3 sources the seeder can turn into URLs, confidence.
Every row is then built into the library's own ``Incident`` / ``Chain`` model
(``seqrisk.catalog.schema``) so nothing passes here that the catalog would
refuse. A row whose id equals a reference id is reported as a correction.

Prints one line per problem and exits 1 if there is any, else prints a summary
and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import re
import sys
from datetime import date, datetime
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "src"))

from seqrisk.catalog.schema import Chain, Incident  # noqa: E402


def _seeder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("seed_catalog", ROOT / "tools" / "seed_catalog.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SEED = _seeder()

TYPES = {"downtime", "degraded", "censorship", "reorg", "da_delay", "other"}
PRECISION_FORMS = {
    "minute": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$"),
    "hour": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$"),
    "day": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "month": re.compile(r"^\d{4}-\d{2}$"),
}
ID = re.compile(r"^(?P<prefix>[A-Z0-9]+)-(?P<date>\d{8}|\d{6})(?P<suffix>[a-z]?)$")
TAG = re.compile(r"\[([^\]]*)\]")
KNOWN_TAGS = {"deliberate", "planned", "+reorg", "+da_delay"}
SCOPES = {"sequencer", "feed", "batch_poster", "proposer", "rpc", "frontend", "explorer", "bridge", "operator",
          "protocol"}
FUNDS = {"no", "yes", "indirect", "unknown"}
CONFIDENCE = {"high", "medium", "low"}
#: Research covers incidents up to this date (the coverage date in NOTES.md).
COVERAGE_END = date(2026, 11, 30)


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def check_sources(where: str, text: str, problems: list[str], most: int) -> list[dict[str, str]]:
    parts = [s for s in text.split(" | ") if s.strip()]
    if not 1 <= len(parts) <= most:
        problems.append(f"{where}: sources: {len(parts)} given, 1-{most} expected")
    out = []
    for p in parts:
        if p != p.strip():
            problems.append(f"{where}: sources: stray whitespace around {p!r}")
        try:
            out.append(SEED.source_entry(p))
        except SystemExit as e:
            problems.append(f"{where}: sources: {e}")
    return out


def number(where: str, field: str, v: str, problems: list[str]) -> float | None:
    if not v.strip():
        return None
    try:
        x = float(v)
    except ValueError:
        problems.append(f"{where}: {field}: not a number: {v!r}")
        return None
    if x <= 0:
        problems.append(f"{where}: {field}: must be > 0: {v!r}")
    return x


def check_chains(ref_hdr: list[str], hdr: list[str], rows: list[dict[str, str]], ref_ids: set[str],
                 problems: list[str]) -> dict[str, str]:
    if hdr != ref_hdr:
        problems.append(f"chains.csv: columns differ from the reference: {hdr} != {ref_hdr}")
        return {}
    names: dict[str, str] = {}
    seen: set[str] = set()
    for r in rows:
        where = f"chains.csv {r['id']}"
        if r["id"] in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(r["id"])
        for f in ("mainnet_launch_date", "sunset_date"):
            if r[f].strip():
                try:
                    date.fromisoformat(r[f])
                except ValueError:
                    problems.append(f"{where}: {f}: not an ISO date: {r[f]!r}")
        backfill = r["empty_blocks_backfilled"].strip()
        if backfill not in {"yes", "no", "unknown", ""}:
            problems.append(f"{where}: empty_blocks_backfilled: {backfill!r} not yes/no/unknown")
        feed = r["chainlink_sequencer_uptime_feed"].strip()
        if feed not in {"no", "unknown", ""} and not re.fullmatch(r"yes:0x[0-9a-fA-F]{40}", feed):
            problems.append(f"{where}: chainlink_sequencer_uptime_feed: {feed!r} not yes:<address>/no/unknown")
        if r["confidence"] not in CONFIDENCE:
            problems.append(f"{where}: confidence: {r['confidence']!r}")
        sources = check_sources(where, r["sources"], problems, most=4)
        try:
            Chain(
                id=r["id"], name=r["name"], stack=r["stack"], layer=r["layer"], settles_on=r["settles_on"],
                mainnet_launch_date=r["mainnet_launch_date"] or None, sunset_date=r["sunset_date"] or None,
                sequencer=r["sequencer"] or None, sequencer_operator=r["sequencer_operator"] or None,
                forced_inclusion=r["forced_inclusion"] or None,
                forced_inclusion_delay_s=(float(r["forced_inclusion_delay_s"])
                                          if r["forced_inclusion_delay_s"] else None),
                data_availability=r["data_availability"] or None, proof_system=r["proof_system"] or None,
                l2beat_stage=r["l2beat_stage"] or None,
                block_time_s=float(r["block_time_s"]) if r["block_time_s"] else None,
                empty_blocks_backfilled={"yes": True, "no": False}.get(backfill),
                chainlink_uptime_feed=(feed.split(":", 1)[1] if feed.startswith("yes:") else
                                       ("none" if feed == "no" else None)),
                groups=tuple(g for g in r["groups"].split(";") if g), sources=tuple(sources),
                confidence=r["confidence"])
        except Exception as e:  # pydantic's ValidationError, or a float() failure
            problems.append(f"{where}: refused by the catalog schema: {str(e).splitlines()[0:3]}")
        names[r["name"]] = r["id"]
        if r["id"] in ref_ids:
            print(f"note: chains.csv {r['id']}: replaces the reference row (design change)")
    return names


def check_incidents(ref_hdr: list[str], hdr: list[str], rows: list[dict[str, str]],
                    ref_rows: list[dict[str, str]], chain_names: dict[str, str], problems: list[str]) -> None:
    if hdr != ref_hdr:
        problems.append(f"incidents.csv: columns differ from the reference: {hdr} != {ref_hdr}")
        return
    ref_ids = {r["id"] for r in ref_rows}
    # The chain prefix each chain id gets in the reference (e.g. arbitrum -> ARB1).
    prefix_of: dict[str, str] = {}
    for r in ref_rows:
        cid = SEED.CHAIN_ALIASES.get(r["chain"]) or chain_names.get(r["chain"])
        if cid:
            prefix_of.setdefault(cid, r["id"].split("-")[0])
    seen: set[str] = set()
    for r in rows:
        where = f"incidents.csv {r['id']}"
        if r["id"] in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(r["id"])
        m = ID.match(r["id"])
        if not m:
            problems.append(f"{where}: id is not CHAIN-YYYYMMDD[a-z] or CHAIN-YYYYMM")
            continue
        cid = SEED.CHAIN_ALIASES.get(r["chain"]) or chain_names.get(r["chain"])
        if cid is None:
            problems.append(f"{where}: chain {r['chain']!r} is not a name the seeder maps")
        elif cid in prefix_of and m["prefix"] != prefix_of[cid]:
            problems.append(f"{where}: prefix {m['prefix']} but the reference uses {prefix_of[cid]} for {cid}")
        if r["type"] not in TYPES:
            problems.append(f"{where}: type {r['type']!r}")
        prec = r["start_precision"]
        form = PRECISION_FORMS.get(prec)
        if form is None:
            problems.append(f"{where}: start_precision {prec!r}")
        elif not form.match(r["start_utc"]):
            problems.append(f"{where}: start_utc {r['start_utc']!r} is not the form {prec} precision uses")
        else:
            digits = r["start_utc"][:10].replace("-", "")
            if m["date"] != digits[: len(m["date"])]:
                problems.append(f"{where}: id date {m['date']} does not match start_utc {r['start_utc']}")
            start = date.fromisoformat((r["start_utc"] + "-01")[:10]) if prec == "month" else \
                date.fromisoformat(r["start_utc"][:10])
            if start > COVERAGE_END:
                problems.append(f"{where}: starts after the coverage end {COVERAGE_END}")
        lo = number(where, "duration_min_low", r["duration_min_low"], problems)
        best = number(where, "duration_min", r["duration_min"], problems)
        hi = number(where, "duration_min_high", r["duration_min_high"], problems)
        if lo is not None and hi is not None and lo > hi:
            problems.append(f"{where}: duration_min_low {lo} > duration_min_high {hi}")
        if best is not None and ((lo is not None and best < lo) or (hi is not None and best > hi)):
            problems.append(f"{where}: duration_min {best} outside [{lo}, {hi}]")
        for t in TAG.findall(r["cause"]):
            if t not in KNOWN_TAGS:
                problems.append(f"{where}: cause tag [{t}] is not one of {sorted(KNOWN_TAGS)}")
        if r["funds_lost"] not in FUNDS:
            problems.append(f"{where}: funds_lost {r['funds_lost']!r}")
        bad_scope = [s for s in r["scope"].split("+") if s not in SCOPES]
        if bad_scope or not r["scope"]:
            problems.append(f"{where}: scope {r['scope']!r} (known: {'+'.join(sorted(SCOPES))})")
        if r["confidence"] not in CONFIDENCE:
            problems.append(f"{where}: confidence {r['confidence']!r}")
        if not r["cause"].strip():
            problems.append(f"{where}: empty cause")
        sources = check_sources(where, r["sources"], problems, most=3)
        tags = sorted({t.lstrip("+") if not t.startswith("+") else t for t in SEED.TAG.findall(r["cause"])})
        try:
            Incident(id=r["id"], chain=cid or "unknown", chain_name_in_source=r["chain"], type=r["type"],
                     start_utc=r["start_utc"], start_precision=prec, duration_min=best, duration_min_low=lo,
                     duration_min_high=hi, cause=r["cause"], tags=tuple(tags), funds_lost=r["funds_lost"],
                     market_context=r["market_context"] or None, scope=tuple(s for s in r["scope"].split("+") if s),
                     sources=tuple(sources), confidence=r["confidence"])
        except Exception as e:
            problems.append(f"{where}: refused by the catalog schema: {str(e).splitlines()[0:3]}")
        if r["id"] in ref_ids:
            print(f"note: incidents.csv {r['id']}: a correction, replaces the reference row")


def default_reference() -> Path:
    """The seeder's reference directory, or the nearest ``shared/data`` above the checkout (worktrees)."""
    if SEED.SHARED.exists():
        return SEED.SHARED
    for parent in ROOT.parents:
        if (parent / "shared" / "data").exists():
            return parent / "shared" / "data"
    return SEED.SHARED


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, default=default_reference(), help="reference data directory")
    args = ap.parse_args()
    if not args.reference.exists():
        print(f"reference data not found at {args.reference}")
        return 2
    problems: list[str] = []
    ref_ch_hdr, ref_chains = read(args.reference / "chains.csv")
    ref_in_hdr, ref_incidents = read(args.reference / "incidents.csv")
    ch_hdr, chains = read(HERE / "chains.csv")
    in_hdr, incidents = read(HERE / "incidents.csv")
    names = {r["name"]: r["id"] for r in ref_chains}
    names.update(check_chains(ref_ch_hdr, ch_hdr, chains, {r["id"] for r in ref_chains}, problems))
    check_incidents(ref_in_hdr, in_hdr, incidents, ref_incidents, names, problems)
    for p in problems:
        print(p)
    if problems:
        return 1
    years: dict[str, int] = {}
    for r in incidents:
        years[r["start_utc"][:4]] = years.get(r["start_utc"][:4], 0) + 1
    print(f"ok: {len(incidents)} incident rows {dict(sorted(years.items()))}, {len(chains)} chain rows "
          f"(checked {datetime.now().date()})")  # clock-ok: only the printed date of the check
    return 0


if __name__ == "__main__":
    sys.exit(main())
