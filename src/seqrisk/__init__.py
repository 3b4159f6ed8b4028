"""seqrisk: measure and reduce Layer-2 sequencer risk.

The public face of the library. Import what you need from here::

    import seqrisk
    cat = seqrisk.load_catalog()
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seqrisk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

from seqrisk.catalog import Catalog, Chain, Incident, RiskEntry, load_catalog, risk_entries
from seqrisk.exceptions import (
    CatalogError,
    ConflictError,
    DataError,
    NotFittedError,
    RpcError,
    SeqriskError,
    StoreError,
    UnknownChainError,
    UsageError,
    ValidationError,
)
from seqrisk.outage import ChainOutageLaw, CommonShock, DurationLaw, Hawkes, OutageModel
from seqrisk.units import format_duration, parse_duration

__all__ = [
    "Catalog",
    "CatalogError",
    "Chain",
    "ChainOutageLaw",
    "CommonShock",
    "ConflictError",
    "DataError",
    "DurationLaw",
    "Hawkes",
    "Incident",
    "NotFittedError",
    "OutageModel",
    "RiskEntry",
    "RpcError",
    "SeqriskError",
    "StoreError",
    "UnknownChainError",
    "UsageError",
    "ValidationError",
    "__version__",
    "format_duration",
    "load_catalog",
    "parse_duration",
    "risk_entries",
]
