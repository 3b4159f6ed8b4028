"""Local storage (edge layer): SQLite state in WAL mode and a Parquet block store.

The state database and the block store (DuckDB, Arrow) are imported on first
use of their names, so a command that needs neither starts without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqrisk.store.home import Home

if TYPE_CHECKING:
    from seqrisk.store.blocks import BLOCK_SCHEMA, BlockStore, Partition, Problem, QuarantinedError
    from seqrisk.store.state import MIGRATIONS, SCHEMA_VERSION, DetectedEvent, StateStore

_LAZY = {**dict.fromkeys(("BLOCK_SCHEMA", "BlockStore", "Partition", "Problem", "QuarantinedError"),
                         "seqrisk.store.blocks"),
         **dict.fromkeys(("MIGRATIONS", "SCHEMA_VERSION", "DetectedEvent", "StateStore"), "seqrisk.store.state")}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seqrisk.store' has no attribute {name!r}")


__all__ = ["BLOCK_SCHEMA", "MIGRATIONS", "SCHEMA_VERSION", "BlockStore", "DetectedEvent", "Home", "Partition",
           "Problem", "QuarantinedError", "StateStore"]
