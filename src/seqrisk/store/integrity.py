"""Checking block partition files against the ledger, and setting aside those that fail.

A file is checked once per process (files never change after they are
written; a changed size, time or inode means it did): its SHA-256 must be the
one the ledger recorded when it was written. A file the ledger does not know is
*foreign*; one that hashes differently, or whose contents fail (unreadable, a
page checksum, a block range other than its name's), is *damaged*. Both are
moved to ``<home>/quarantine/<chain>/`` and their blocks recorded for the next
``ingest`` to fetch again; a damaged truncation marker is written again instead
(its content follows from its name).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seqrisk.exceptions import StoreError
from seqrisk.store.layout import Partition, Vanished, stamp
from seqrisk.store.ledger import add_repair, file_sha256, ledger_remove, ledger_rows
from seqrisk.store.state import StateStore

__all__ = ["VERIFIED", "Guard", "Problem", "QuarantinedError", "StateOpener"]

#: Files whose hash matched the ledger in this process: path -> stamp when checked.
VERIFIED: dict[Path, tuple[int, int, int]] = {}
StateOpener = Callable[[], AbstractContextManager[StateStore]]


@dataclass(frozen=True)
class Problem:
    """A partition that failed a check: what it is, where it went and which blocks to fetch again."""

    chain: str
    file: Path
    kind: Literal["damaged", "foreign", "missing"]
    detail: str
    first: int
    last: int
    moved_to: Path | None = None
    marker: bool = False

    def line(self) -> str:
        """One line for a person: the file, what is wrong, what was done, what to run."""
        fix = ("rewritten (a truncation marker)" if self.marker and self.kind == "damaged" else
               f"moved to {self.moved_to}" if self.moved_to else "its ledger entry dropped")
        refetch = "" if self.marker else (f"; `seqrisk ingest {self.chain}` fetches blocks "
                                          f"{self.first}..{self.last} again")
        return f"{self.kind} block partition {self.file}: {self.detail}; {fix}{refetch}"


class QuarantinedError(StoreError):
    """A block partition failed its check and was set aside; blocks ``first..last`` are to be fetched again."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.line(), chain=problem.chain)
        self.problem = problem


class Guard:
    """The checks of one block store: ``state`` opens the ledger's database (None: no ledger, no checks);
    ``rewrite_marker(chain, p)`` writes a truncation marker again; ``forget(path)`` drops caches of a file."""

    def __init__(self, state: StateOpener | None, quarantine_dir: Path,
                 rewrite_marker: Callable[[str, Partition], None], forget: Callable[[Path], None]) -> None:
        self.state = state
        self.quarantine_dir = quarantine_dir
        self._rewrite_marker = rewrite_marker
        self._forget = forget

    def check(self, chain: str, parts: Sequence[Partition]) -> None:
        """Each file's SHA-256 against the ledger (once per process and file); quarantine what fails."""
        if self.state is None:
            return
        need = []
        for p in parts:
            try:
                if VERIFIED.get(p.path) != stamp(p.path):
                    need.append(p)
            except FileNotFoundError:
                raise Vanished from None
        if not need:
            return
        with self.state() as st:
            rows = ledger_rows(st, chain)
        for p in need:
            row = rows.get(p.path.name)
            try:
                now = stamp(p.path)
                sha = file_sha256(p.path)[0] if row is not None else ""
            except FileNotFoundError:
                raise Vanished from None
            if row is None:
                raise QuarantinedError(self.quarantine(chain, p, "foreign", "not in this store's ledger (a file "
                                                       "this store did not write)"))
            if sha != row.sha256:
                raise QuarantinedError(self.quarantine(chain, p, "damaged", f"SHA-256 {sha[:12]}... differs from "
                                                       f"the {row.sha256[:12]}... recorded when it was written"))
            VERIFIED[p.path] = now

    def damaged(self, chain: str, p: Partition, why: str) -> StoreError:
        """The error for a damaged file: quarantined with a ledger; named and left in place without one."""
        if self.state is None:
            return StoreError(f"damaged block partition {p.path}: {why}", chain=chain)
        return QuarantinedError(self.quarantine(chain, p, "damaged", why))

    def quarantine(self, chain: str, p: Partition, kind: Literal["damaged", "foreign"], detail: str) -> Problem:
        """Move ``p`` aside (or rewrite it, for a damaged truncation marker) and record its range for refetch."""
        row = None
        if self.state is not None and kind == "damaged":
            with self.state() as st:
                row = ledger_rows(st, chain).get(p.path.name)
        if row is not None and row.marker:  # a marker's content follows from its name: write it again
            p.path.unlink(missing_ok=True)
            self._forget(p.path)
            self._rewrite_marker(chain, p)
            return Problem(chain, p.path, kind, detail, p.first, p.last, None, marker=True)
        dest = self.quarantine_dir / chain / p.path.name
        n = 1
        while dest.exists():
            n += 1
            dest = self.quarantine_dir / chain / f"{p.path.name}.{n}"
        # The repair is recorded before the file moves (a process killed after the move must not lose the
        # range: a continuing ingest would never fetch it again), and the ledger entry dropped after it (a
        # file without one would be taken for a foreign file). A repair whose blocks are still held is
        # cleared by the next ingest at no cost.
        if self.state is not None:
            with self.state() as st:
                add_repair(st, chain, p.first, p.last, f"{kind}: {detail}", str(dest))
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(p.path, dest)
        except FileNotFoundError:
            raise Vanished from None
        except OSError as exc:
            raise StoreError(f"cannot quarantine a {kind} block partition: {exc}", file=str(p.path)) from None
        self._forget(p.path)
        if self.state is not None:
            with self.state() as st:
                ledger_remove(st, chain, [p.path.name])
        return Problem(chain, p.path, kind, detail, p.first, p.last, dest)
