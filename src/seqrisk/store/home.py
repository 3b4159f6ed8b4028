"""A seqrisk home directory: the state file and the block store, side by side.

The state database is never silently recreated when it was lost: a missing or
zero-length ``state.sqlite`` in a home that already held one (the
``.state-created`` mark) or that holds block partitions, and a file SQLite
cannot read, are a :class:`~seqrisk.exceptions.StoreError` that points to
``seqrisk store recover`` (:func:`seqrisk.store.recover.recover`), which
rebuilds what the block store knows.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqrisk.exceptions import StoreError

if TYPE_CHECKING:  # both imported when first opened: a command that reads neither starts without them
    from seqrisk.store.blocks import BlockStore
    from seqrisk.store.state import StateStore

__all__ = ["Home"]

RECOVER_HINT = "run `seqrisk store recover` to rebuild it from the block store"


@dataclass(frozen=True)
class Home:
    """``<root>/state.sqlite`` (operational state), ``<root>/blocks/`` (Parquet) and ``<root>/quarantine/``."""

    root: Path

    @property
    def state_path(self) -> Path:
        return self.root / "state.sqlite"

    @property
    def created_mark(self) -> Path:
        """Written when the state database is first created: its later absence is a loss, not a first use."""
        return self.root / ".state-created"

    def _partition_count(self) -> int:
        d = self.root / "blocks"
        return sum(1 for _ in d.glob("*/part-*.parquet")) if d.is_dir() else 0

    def state_lost(self) -> str | None:
        """Why the state database counts as lost (missing, empty or unreadable in a used home), else None."""
        p = self.state_path
        if p.is_dir():
            return "a directory, not a database file"
        size = p.stat().st_size if p.exists() else None
        if size:
            return None
        used = self.created_mark.exists() or self._partition_count() > 0
        if not used:
            return None
        return "missing" if size is None else "empty (0 bytes)"

    def open_state(self, *, check: bool = True) -> StateStore:
        """The state store; ``check`` refuses a lost or damaged one (see the module docstring)."""
        if check and (why := self.state_lost()):
            n = self._partition_count()
            held = f" while the block store holds {n} partitions" if n else ""
            raise StoreError(f"the state database is {why}{held}: it was lost, not new; {RECOVER_HINT}",
                             file=str(self.state_path))
        if self.root.exists() and not self.root.is_dir():
            raise StoreError("the seqrisk home is a file, not a directory", file=str(self.root))
        new = not self.state_path.exists()
        try:
            from seqrisk.store.state import StateStore

            st = StateStore(self.state_path)
        except StoreError as exc:
            hint = "" if new else f"; {RECOVER_HINT}"
            raise StoreError(f"{exc.message}{hint}", file=str(self.state_path)) from None
        except OSError as exc:
            raise StoreError(f"cannot create the state database: {exc.strerror or exc}",
                             file=str(self.state_path)) from None
        if new:
            with contextlib.suppress(OSError):
                self.created_mark.write_text("the state database of this seqrisk home was created here\n")
        if check:
            self._adopt_pending(st)
        return st

    def state(self) -> StateStore:
        return self.open_state()

    def blocks(self) -> BlockStore:
        from seqrisk.store.blocks import BlockStore  # DuckDB and Arrow: loaded when blocks are read

        return BlockStore(self.root / "blocks", state=self.state, quarantine=self.root / "quarantine")

    def _adopt_pending(self, st: StateStore) -> None:
        """Partitions written before the ledger existed: hash them into it once (checked first)."""
        row = st._conn.execute("SELECT value FROM meta WHERE key='ledger_pending'").fetchone()
        if row is None:
            return
        from seqrisk.store.recover import adopt_partitions

        adopt_partitions(self, st)
        with st.transaction() as c:
            c.execute("DELETE FROM meta WHERE key='ledger_pending'")
