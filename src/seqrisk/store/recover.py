"""Checking the whole block store, and rebuilding a lost state database from it.

:func:`verify` checks every partition of a home fully (SHA-256 against the
ledger, Parquet page checksums, contents against the file name), quarantines
what fails and records its blocks for the next ``ingest`` to fetch again.

:func:`recover` handles a state database that was deleted, truncated or
damaged: it moves what is left aside, copies whatever tables SQLite can still
read from it, then rebuilds from the block store what the block store knows:
the ledger (every partition checked, bad ones quarantined), each chain's EVM
chain id (kept in the partitions' metadata), its cursor (the stored head) and
its reorg events (kept in the truncation markers). Head observations, L1
postings and detected events live only in the database: unless salvaged, they
are gone (``detect`` finds the events again; ``ingest --l1-from`` the postings).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from seqrisk.store.blocks import BlockStore
from seqrisk.store.integrity import VERIFIED, Problem
from seqrisk.store.layout import CHAIN_SLUG, Vanished, content_problem, stamp
from seqrisk.store.ledger import LedgerRow, add_repair, file_sha256, ledger_add, ledger_remove, ledger_rows
from seqrisk.store.state import DetectedEvent, StateStore

if TYPE_CHECKING:
    from seqrisk.store.home import Home

__all__ = ["RecoveryReport", "adopt_partitions", "recover", "verify"]

#: Tables copied from a damaged database when SQLite can still read them.
SALVAGE = ("meta", "ingest_cursors", "events", "user_incidents", "alerts", "batch_postings", "head_observations")


def _chains(home: Home, st: StateStore) -> list[str]:
    d = home.root / "blocks"
    on_disk = {p.name for p in d.iterdir() if p.is_dir()} if d.is_dir() else set()
    in_ledger = {r[0] for r in st._conn.execute("SELECT DISTINCT chain FROM partitions")}
    return sorted(c for c in on_disk | in_ledger if CHAIN_SLUG.match(c))


def adopt_partitions(home: Home, st: StateStore) -> tuple[int, list[Problem]]:
    """Hash every partition the ledger lacks into it, after a full check; quarantine those that fail."""
    blocks = BlockStore(home.root / "blocks", state=lambda: contextlib.nullcontext(st),
                        quarantine=home.root / "quarantine")
    adopted, problems = 0, []
    for chain in _chains(home, st):
        rows = ledger_rows(st, chain)
        for p in blocks.partitions(chain):
            if p.path.name in rows:
                continue
            try:
                why = content_problem(p)
            except Vanished:
                continue
            if why is not None:
                problems.append(blocks.guard.quarantine(chain, p, "damaged", why))
                continue
            marker = (pq.read_schema(p.path).metadata or {}).get(b"seqrisk.marker") == b"truncate"
            sha, size = file_sha256(p.path)
            ledger_add(st, chain, LedgerRow(p.path.name, p.first, p.last, p.seq, sha, size, marker))
            VERIFIED[p.path] = stamp(p.path)
            adopted += 1
    return adopted, problems


def verify(home: Home, chains: list[str] | None = None) -> list[Problem]:
    """Check every partition of ``chains`` (default: all) fully; quarantine failures; return the problems."""
    problems: list[Problem] = []
    with home.state() as st:
        names = chains if chains is not None else _chains(home, st)
        blocks = BlockStore(home.root / "blocks", state=lambda: contextlib.nullcontext(st),
                            quarantine=home.root / "quarantine")
        for chain in names:
            rows = ledger_rows(st, chain)
            parts = blocks.partitions(chain)
            present = {p.path.name for p in parts}
            for name, row in rows.items():  # in the ledger, gone from disk: are its blocks held elsewhere?
                if name in present:
                    continue
                ledger_remove(st, chain, [name])
                if row.marker or _covered(blocks.ranges(chain), row.first, row.last):
                    continue
                add_repair(st, chain, row.first, row.last, "missing: the file is gone", None)
                problems.append(Problem(chain, blocks.root / chain / name, "missing",
                                        "in the ledger but gone from disk", row.first, row.last))
            for p in parts:
                entry = rows.get(p.path.name)
                try:
                    if entry is None:
                        problems.append(blocks.guard.quarantine(chain, p, "foreign", "not in this store's ledger (a "
                                                           "file this store did not write)"))
                        continue
                    sha, _ = file_sha256(p.path)
                    why = (f"SHA-256 {sha[:12]}... differs from the {entry.sha256[:12]}... recorded when it was "
                           "written") if sha != entry.sha256 else content_problem(p)
                except (FileNotFoundError, Vanished):
                    continue
                if why is not None:
                    problems.append(blocks.guard.quarantine(chain, p, "damaged", why))
                else:
                    VERIFIED[p.path] = stamp(p.path)
    return problems


def _covered(ranges: list[tuple[int, int]], first: int, last: int) -> bool:
    return any(a <= first and last <= b for a, b in ranges)


@dataclass
class RecoveryReport:
    """What :func:`recover` found and did."""

    state_was: str
    moved_to: str | None = None
    salvaged: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    partitions: int = 0
    problems: list[Problem] = field(default_factory=list)
    chain_ids: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)
    reorg_events: int = 0
    lost: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"state_was": self.state_was, "moved_to": self.moved_to, "salvaged_rows": self.salvaged,
                "unreadable_tables": self.unreadable, "partitions_checked": self.partitions,
                "quarantined": [p.line() for p in self.problems], "chain_ids": self.chain_ids,
                "cursors": self.cursors, "reorg_events_from_markers": self.reorg_events, "lost": self.lost}


def _state_condition(home: Home) -> str | None:
    """Why the state database needs recovering (None: it opens and passes SQLite's integrity check)."""
    why = home.state_lost()
    if why is not None:
        return why
    if not home.state_path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{home.state_path}?mode=ro", uri=True)
        try:
            ok = con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return f"unreadable ({exc})"
    return None if ok else "damaged (integrity check failed)"


def _move_aside(path: Path) -> Path:
    k = 1
    while (dest := path.with_name(f"{path.name}.lost-{k}")).exists():
        k += 1
    for suffix in ("", "-wal", "-shm"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            src.replace(dest.with_name(dest.name + suffix))
    return dest


def _salvage(old: Path, st: StateStore, report: RecoveryReport) -> None:
    """Copy every row SQLite can still read from ``old`` into ``st`` (columns both schemas have)."""
    try:
        src = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        report.unreadable = list(SALVAGE)
        return
    try:
        for table in SALVAGE:
            try:
                have = [r[1] for r in src.execute(f'PRAGMA table_info("{table}")')]
                want = [r[1] for r in st._conn.execute(f'PRAGMA table_info("{table}")')]
                cols = [c for c in want if c in have]
                if not cols:
                    continue
                rows = src.execute(f'SELECT {", ".join(cols)} FROM "{table}"').fetchall()
            except sqlite3.DatabaseError:
                report.unreadable.append(table)
                continue
            if table == "meta":
                rows = [r for r in rows if r[cols.index("key")] != "ledger_pending"]
            with st.transaction() as c:
                c.executemany(f'INSERT OR IGNORE INTO "{table}" ({", ".join(cols)}) '
                              f'VALUES ({", ".join("?" * len(cols))})', rows)
            report.salvaged[table] = len(rows)
    finally:
        src.close()


def recover(home: Home, *, force: bool = False) -> RecoveryReport:
    """Rebuild the state database of ``home`` from what is left of it and from the block store.

    Does nothing (``state_was`` "ok") when the database opens and passes SQLite's integrity check, unless
    ``force``. The old file is kept beside it as ``state.sqlite.lost-N``.
    """
    why = _state_condition(home)
    report = RecoveryReport(state_was=why or "ok")
    if why is None and not force:
        return report
    if home.state_path.exists():
        moved = _move_aside(home.state_path)
        report.moved_to = str(moved)
    else:
        moved = None
    with home.open_state(check=False) as st:
        if moved is not None and moved.stat().st_size > 0:
            _salvage(moved, st, report)
        with st.transaction() as c:
            c.execute("DELETE FROM meta WHERE key='ledger_pending'")
        report.partitions, report.problems = adopt_partitions(home, st)
        blocks = BlockStore(home.root / "blocks", state=lambda: contextlib.nullcontext(st),
                            quarantine=home.root / "quarantine")
        for chain in blocks.chains():
            _rebuild_chain(blocks, st, chain, report)
        report.lost = [t for t, what in (("head_observations", "head observations"),
                                         ("batch_postings", "L1 batch postings (ingest --l1-from refetches them)"),
                                         ("events", "detected events (seqrisk detect finds them again)"))
                       if not report.salvaged.get(t)]
    return report


def _rebuild_chain(blocks: BlockStore, st: StateStore, chain: str, report: RecoveryReport) -> None:
    """Chain id, cursor and reorg events of one chain, from its partitions' metadata."""
    parts = blocks.partitions(chain)
    key = f"chain_id:{chain}"
    known = st._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    cid = blocks.chain_id(parts)
    if known is None and cid is not None:
        with st.transaction() as c:
            c.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (key, str(cid)))
    if cid is not None or known is not None:
        report.chain_ids[chain] = int(known[0]) if known is not None else int(cid or 0)
    head = blocks.head(chain)
    if head is not None and st.cursor(chain) is None:
        h = blocks.read(chain, head, head, columns=("hash",)).column("hash")[0].as_py()
        st.set_cursor(chain, head + 1, "0x" + h.hex())
    cur = st.cursor(chain)
    if cur is not None:
        report.cursors[chain] = cur[0]
    events = []
    for p in parts:
        try:
            note = (pq.read_schema(p.path).metadata or {}).get(b"seqrisk.note")
        except (OSError, pa.ArrowException):
            continue
        if note:
            try:
                d = json.loads(note)
                events.append(DetectedEvent(**{k: d[k] for k in ("chain", "type", "start_utc", "end_utc",
                                                                  "confidence", "detector", "evidence")}))
            except (ValueError, KeyError, TypeError):
                continue
    if events:
        report.reorg_events += st.add_events(events)

