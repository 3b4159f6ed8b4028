"""Seed seqrisk's bundled catalog from the reference facts in ../shared/data.

Run once when the reference data changes (``python tools/seed_catalog.py``);
the output under ``src/seqrisk/catalog/data`` and ``src/seqrisk/data`` is
committed and is what seqrisk reads at run time. The conversion keeps every
fact's sources: repository references (``owner/repo:path@commit``) become
GitHub URLs, and the original text is kept beside them.
"""

from __future__ import annotations

import csv
import gzip
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "src" / "seqrisk" / "catalog" / "data"
PRICES_OUT = ROOT / "src" / "seqrisk" / "data"

# How incidents.csv writes chain names -> catalog ids.
CHAIN_ALIASES = {
    "OP Mainnet (Optimism)": "optimism",
    "zkSync Era": "zksync-era",
    "Proof of Play Apex (L3)": "apex",
    "Degen Chain (L3 on Base)": "degen",
    "Mode": "mode",
    "Lighter (zk perp rollup)": "lighter",
}
REPO_REF = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+):(?P<path>[^@\s]+)(?:@(?P<rev>[0-9a-f]+))?$")
TAIKO_REF = "https://github.com/taikoxyz/taiko-mono"


def source_entry(text: str) -> dict[str, str]:
    text = text.strip()
    if text.startswith(("http://", "https://")):
        return {"url": text}
    m = REPO_REF.match(text)
    if m:
        rev = m.group("rev") or "main"
        return {"url": f"https://github.com/{m.group('repo')}/blob/{rev}/{m.group('path')}", "ref": text}
    if text.startswith("taiko-mono"):
        return {"url": TAIKO_REF, "ref": text}
    raise SystemExit(f"unrecognised source {text!r}")


def blank(v: str) -> str | None:
    v = v.strip()
    return v or None


def chains() -> list[dict[str, object]]:
    out = []
    with open(SHARED / "chains.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            feed = r["chainlink_sequencer_uptime_feed"].strip()
            stage_raw = r["l2beat_stage"].strip()
            out.append({
                "id": r["id"],
                "name": r["name"],
                "stack": r["stack"],
                "layer": r["layer"],
                "settles_on": r["settles_on"],
                "mainnet_launch_date": blank(r["mainnet_launch_date"]),
                "sunset_date": blank(r["sunset_date"]),
                "sequencer": r["sequencer"],
                "sequencer_operator": blank(r["sequencer_operator"]),
                "forced_inclusion": r["forced_inclusion"],
                "forced_inclusion_delay_s": (float(r["forced_inclusion_delay_s"])
                                             if blank(r["forced_inclusion_delay_s"]) else None),
                "data_availability": r["data_availability"],
                "proof_system": r["proof_system"],
                "l2beat_stage": stage_raw,
                "block_time_s": float(r["block_time_s"]) if blank(r["block_time_s"]) else None,
                "empty_blocks_backfilled": {"yes": True, "no": False}.get(r["empty_blocks_backfilled"].strip()),
                "chainlink_uptime_feed": (feed.split(":", 1)[1] if feed.startswith("yes:") else
                                          ("none" if feed == "no" else None)),
                "groups": [g for g in r["groups"].split(";") if g],
                "sources": [source_entry(s) for s in r["sources"].split(" | ") if s.strip()],
                "confidence": r["confidence"],
            })
    return out


TAG = re.compile(r"\[(\+?[a-z_]+)(?:\([^)]*\))?(?:\s+to\s+[^\]]*)?\]")


def incidents() -> list[dict[str, object]]:
    ids = {c["id"] for c in chains()}
    names = {c["name"]: c["id"] for c in chains()}
    out = []
    with open(SHARED / "incidents.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            chain_id = CHAIN_ALIASES.get(r["chain"]) or names.get(r["chain"])
            if chain_id not in ids:
                raise SystemExit(f"{r['id']}: no chain id for {r['chain']!r}")
            tags = sorted({t.lstrip("+") if not t.startswith("+") else t for t in TAG.findall(r["cause"])})
            out.append({
                "id": r["id"],
                "chain": chain_id,
                "chain_name_in_source": r["chain"],
                "type": r["type"],
                "start_utc": r["start_utc"],
                "start_precision": r["start_precision"],
                "duration_min": float(r["duration_min"]) if blank(r["duration_min"]) else None,
                "duration_min_low": float(r["duration_min_low"]) if blank(r["duration_min_low"]) else None,
                "duration_min_high": float(r["duration_min_high"]) if blank(r["duration_min_high"]) else None,
                "cause": r["cause"],
                "tags": tags,
                "funds_lost": r["funds_lost"],
                "market_context": blank(r["market_context"]),
                "scope": [s for s in r["scope"].split("+") if s],
                "sources": [source_entry(s) for s in r["sources"].split(" | ") if s.strip()],
                "confidence": r["confidence"],
            })
    return out


def main() -> None:
    if not SHARED.exists():
        sys.exit(f"reference data not found at {SHARED}")
    OUT.mkdir(parents=True, exist_ok=True)
    header = ("# Generated by tools/seed_catalog.py from the reference facts (shared/data);\n"
              "# edit the reference or add user files rather than this file.\n")
    for name, rows in (("chains.yaml", chains()), ("incidents.yaml", incidents())):
        (OUT / name).write_text(header + yaml.safe_dump(rows, sort_keys=False, allow_unicode=True, width=100))
    shutil.copy(SHARED / "chains.md", OUT / "chains-notes.md")
    shutil.copy(SHARED / "README.md", OUT / "reference-README.md")
    PRICES_OUT.mkdir(parents=True, exist_ok=True)
    for f in sorted((SHARED / "prices").glob("*.csv")):
        with open(f, "rb") as src, gzip.GzipFile(PRICES_OUT / (f.name + ".gz"), "wb", mtime=0) as dst:
            shutil.copyfileobj(src, dst)
    shutil.copy(SHARED / "prices" / "SOURCE.md", PRICES_OUT / "PRICES-SOURCE.md")


if __name__ == "__main__":
    main()
