"""The block store's ledger in the state database: a SHA-256 per partition file, and block ranges to refetch.

Every partition the block store writes is recorded (name, block range, seq,
SHA-256 of the file, size) before the file appears under its final name, so a
visible partition without a row was not written by this store (foreign), and
one whose bytes hash differently was damaged. A quarantined partition leaves a
*repair*: a block range the next ``ingest`` of the chain fetches again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from seqrisk.store.state import StateStore

__all__ = ["LedgerRow", "Repair", "add_repair", "clear_repair", "file_sha256", "ledger_add", "ledger_remove",
           "ledger_rows", "repairs"]


@dataclass(frozen=True)
class LedgerRow:
    """A partition file as written: name, block range, sequence number, SHA-256 (hex), size in bytes, and
    whether it is a truncation marker."""

    name: str
    first: int
    last: int
    seq: int
    sha256: str
    bytes: int
    marker: bool = False


@dataclass(frozen=True)
class Repair:
    """Blocks ``first..last`` of ``chain`` to fetch again, and why (the quarantined file)."""

    chain: str
    first: int
    last: int
    reason: str
    file: str | None


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of a file."""
    with open(path, "rb") as fh:
        h = hashlib.file_digest(fh, "sha256")
        return h.hexdigest(), fh.tell()


def ledger_rows(st: StateStore, chain: str) -> dict[str, LedgerRow]:
    rows = st._conn.execute("SELECT name, first, last, seq, sha256, bytes, marker FROM partitions WHERE chain=?",
                            (chain,))
    return {r[0]: LedgerRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in rows}


def ledger_add(st: StateStore, chain: str, row: LedgerRow) -> None:
    with st.transaction() as c:
        c.execute("INSERT OR REPLACE INTO partitions(chain, name, first, last, seq, sha256, bytes, marker, "
                  "added_utc) VALUES (?,?,?,?,?,?,?,?,?)",
                  (chain, row.name, row.first, row.last, row.seq, row.sha256, row.bytes, int(row.marker),
                   time.time()))  # clock-ok: when the file was written (shown)


def ledger_remove(st: StateStore, chain: str, names: Iterable[str]) -> None:
    with st.transaction() as c:
        c.executemany("DELETE FROM partitions WHERE chain=? AND name=?", [(chain, n) for n in names])


def add_repair(st: StateStore, chain: str, first: int, last: int, reason: str, file: str | None) -> None:
    with st.transaction() as c:
        c.execute("INSERT OR REPLACE INTO repairs(chain, first, last, reason, file, added_utc) VALUES (?,?,?,?,?,?)",
                  (chain, first, last, reason, file, time.time()))  # clock-ok: when it was found (shown)


def repairs(st: StateStore, chain: str | None = None) -> list[Repair]:
    q = "SELECT chain, first, last, reason, file FROM repairs"
    rows = st._conn.execute(q + " WHERE chain=? ORDER BY first" if chain else q + " ORDER BY chain, first",
                            (chain,) if chain else ())
    return [Repair(*r) for r in rows]


def clear_repair(st: StateStore, chain: str, first: int, last: int) -> None:
    with st.transaction() as c:
        c.execute("DELETE FROM repairs WHERE chain=? AND first=? AND last=?", (chain, first, last))
