"""Check the registry facts in ``registry.csv`` (issue 10: chain ids, L1 batch addresses, uptime feeds, RPCs).

Usage: ``python tools/catalog_research/check_registry.py``

Reads ``registry.csv`` beside this script and checks every row: the columns, a chain the
catalog knows (``src/seqrisk/catalog/data/chains.yaml``, plus any chain the research
``chains.csv`` beside this script adds), a known field, and a value of the right form for
that field (integer chain ids, ``SN_``-style or integer network ids, positive block times,
EIP-55 checksummed 20-byte addresses, ``none`` for a chain Chainlink lists no feed for,
https RPC URLs without placeholders), 1-4 sources the seeder can turn into URLs, an ISO
``as_of`` date no later than the research date, a confidence level, and no duplicate rows.
It also checks what must hold across rows: at most one chain id, one network id, one
settlement chain and one uptime-feed value per chain; a chain with neither an EVM chain id
nor a network id is reported as a note (dYdX v3 has none).

EIP-55 checksums need Keccak-256, which ``hashlib`` lacks; they are checked with
``pycryptodome`` when it can be imported and skipped with a message otherwise (the
project does not depend on it: run this from an environment that has it).

Prints one line per problem and exits 1 if there is any, else prints a coverage summary
and exits 0.
"""

from __future__ import annotations

import csv
import re
import runpy
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CSV_PATH = HERE / "registry.csv"
COLUMNS = ["chain", "field", "value", "sources", "as_of", "confidence", "note"]
#: The research was done on this date; no source can be read later than it.
RESEARCH_DATE = date(2026, 12, 6)
CONFIDENCE = {"high", "medium", "low"}
#: Fields that hold at most one value per chain.
SINGLE = {"evm_chain_id", "network_id", "settlement_chain_id", "chainlink_uptime_feed", "block_time_s"}
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
NETWORK_ID = re.compile(r"^(SN_[A-Z0-9_]+|PRIVATE_SN_[A-Z0-9_]+|[0-9]+)$")
PLACEHOLDER = re.compile(r"\$\{|<|>|\{|\}|YOUR|API_KEY", re.IGNORECASE)


def _keccak() -> Callable[[bytes], bytes] | None:
    try:
        from Crypto.Hash import keccak
    except ImportError:
        return None

    def digest(data: bytes) -> bytes:
        return keccak.new(digest_bits=256, data=data).digest()

    return digest


def checksum(address: str, keccak: Callable[[bytes], bytes]) -> str:
    """EIP-55 mixed-case form of a 20-byte hex address."""
    hexpart = address[2:].lower()
    h = keccak(hexpart.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(h[i], 16) >= 8 else c for i, c in enumerate(hexpart))


def known_chains() -> set[str]:
    with open(ROOT / "src" / "seqrisk" / "catalog" / "data" / "chains.yaml") as fh:
        ids = {c["id"] for c in yaml.safe_load(fh)}
    research = HERE / "chains.csv"
    if research.exists():
        with open(research, newline="") as fh:
            ids |= {r["id"] for r in csv.DictReader(fh)}
    return ids


def check_value(where: str, field: str, value: str, keccak: Callable[[bytes], bytes] | None,
                problems: list[str]) -> None:
    if field in {"evm_chain_id", "settlement_chain_id"}:
        if not re.fullmatch(r"[1-9][0-9]*", value):
            problems.append(f"{where}: {field}: not a positive integer: {value!r}")
    elif field == "network_id":
        if not NETWORK_ID.match(value):
            problems.append(f"{where}: network_id: {value!r} is neither SN_* nor an integer")
    elif field == "block_time_s":
        try:
            if float(value) <= 0:
                problems.append(f"{where}: block_time_s: must be > 0: {value!r}")
        except ValueError:
            problems.append(f"{where}: block_time_s: not a number: {value!r}")
    elif field in {"l1_batch_inbox", "l1_batch_poster", "chainlink_uptime_feed"}:
        if field == "chainlink_uptime_feed" and value == "none":
            return
        if not ADDRESS.match(value):
            problems.append(f"{where}: {field}: not a 20-byte 0x address: {value!r}")
        elif keccak is not None and value != checksum(value, keccak):
            problems.append(f"{where}: {field}: not EIP-55 checksummed: {value!r} (expected {checksum(value, keccak)})")
    elif field == "rpc_public":
        if not value.startswith("https://") or " " in value or PLACEHOLDER.search(value):
            problems.append(f"{where}: rpc_public: not a plain https URL without placeholders: {value!r}")
    else:
        problems.append(f"{where}: unknown field {field!r}")


def main() -> int:
    # The seeder's own parser, so every source here is one the seeder can turn into a URL.
    source_entry = runpy.run_path(str(ROOT / "tools" / "seed_catalog.py"))["source_entry"]
    keccak = _keccak()
    chains = known_chains()
    problems: list[str] = []
    with open(CSV_PATH, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != COLUMNS:
            print(f"registry.csv: columns {reader.fieldnames} != {COLUMNS}")
            return 1
        rows = list(reader)
    seen: set[tuple[str, str, str]] = set()
    per_chain: dict[str, Counter[str]] = defaultdict(Counter)
    for n, r in enumerate(rows, start=2):
        where = f"registry.csv line {n} ({r['chain']} {r['field']})"
        if any(v is None for v in r.values()):
            problems.append(f"{where}: wrong number of cells")
            continue
        if r["chain"] not in chains:
            problems.append(f"{where}: chain {r['chain']!r} is not in the catalog")
        key = (r["chain"], r["field"], r["value"].lower())
        if key in seen:
            problems.append(f"{where}: duplicate row")
        seen.add(key)
        per_chain[r["chain"]][r["field"]] += 1
        check_value(where, r["field"], r["value"], keccak, problems)
        parts = [s for s in r["sources"].split(" | ") if s.strip()]
        if not 1 <= len(parts) <= 4:
            problems.append(f"{where}: sources: {len(parts)} given, 1-4 expected")
        for p in parts:
            try:
                source_entry(p)
            except SystemExit as e:
                problems.append(f"{where}: sources: {e}")
        try:
            if date.fromisoformat(r["as_of"]) > RESEARCH_DATE:
                problems.append(f"{where}: as_of {r['as_of']} is after the research date {RESEARCH_DATE}")
        except ValueError:
            problems.append(f"{where}: as_of: not an ISO date: {r['as_of']!r}")
        if r["confidence"] not in CONFIDENCE:
            problems.append(f"{where}: confidence: {r['confidence']!r}")
    for chain, fields in sorted(per_chain.items()):
        for f in SINGLE:
            if fields[f] > 1:
                problems.append(f"registry.csv {chain}: {fields[f]} {f} rows, at most one expected")
        if not (fields["evm_chain_id"] or fields["network_id"]):
            print(f"note: registry.csv {chain}: neither evm_chain_id nor network_id (a node for it cannot be checked)")
    for p in problems:
        print(p)
    if keccak is None:
        print("note: pycryptodome is not importable; EIP-55 checksums were not checked")
    if problems:
        return 1
    fields = sorted({r["field"] for r in rows})
    cover = ", ".join(f"{f} {sum(1 for c in per_chain.values() if c[f])}" for f in fields)
    print(f"ok: {len(rows)} rows for {len(per_chain)} of {len(chains)} chains; chains with each field: {cover}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
