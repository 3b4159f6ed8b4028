"""A seqrisk home directory: the state file and the block store, side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqrisk.store.blocks import BlockStore
from seqrisk.store.state import StateStore

__all__ = ["Home"]


@dataclass(frozen=True)
class Home:
    """``<root>/state.sqlite`` (operational state) and ``<root>/blocks/`` (Parquet)."""

    root: Path

    @property
    def state_path(self) -> Path:
        return self.root / "state.sqlite"

    def state(self) -> StateStore:
        return StateStore(self.state_path)

    def blocks(self) -> BlockStore:
        return BlockStore(self.root / "blocks")
