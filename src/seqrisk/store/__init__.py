"""Local storage (edge layer): SQLite state in WAL mode and a Parquet block store."""

from seqrisk.store.blocks import BLOCK_SCHEMA, BlockStore, Partition, Problem, QuarantinedError
from seqrisk.store.home import Home
from seqrisk.store.state import MIGRATIONS, SCHEMA_VERSION, DetectedEvent, StateStore

__all__ = ["BLOCK_SCHEMA", "MIGRATIONS", "SCHEMA_VERSION", "BlockStore", "DetectedEvent", "Home", "Partition",
           "Problem", "QuarantinedError", "StateStore"]
