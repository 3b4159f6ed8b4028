"""seqrisk: measure and reduce Layer-2 sequencer risk.

The public face of the library. Import what you need from here::

    import seqrisk
    cat = seqrisk.load_catalog()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqrisk._version import __version__
from seqrisk.catalog import Catalog, Chain, Incident, RiskEntry, load_catalog, risk_entries
from seqrisk.exceptions import (
    BackendError,
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
from seqrisk.units import format_duration, parse_duration

if TYPE_CHECKING:  # what type checkers see; at run time the same names load lazily (below)
    from seqrisk.decide import Comparison, Strategy, compare, parse_strategy, sweep
    from seqrisk.engine import Scenario, SimulationResult, simulate, stress_grid
    from seqrisk.outage import ChainOutageLaw, CommonShock, DurationLaw, Hawkes, OutageModel
    from seqrisk.portfolio import Book, load_book
    from seqrisk.report import ReportInputs, build_report
    from seqrisk.stats import OutageStatistics, fit_outage_model, fit_outage_statistics

#: Heavier parts of the API, imported on first use so ``import seqrisk`` stays fast (keep in step with the
#: ``TYPE_CHECKING`` imports above; tests/test_public_api.py checks both lists name the same objects).
_LAZY = {
    "Book": "seqrisk.portfolio",
    "load_book": "seqrisk.portfolio",
    "Scenario": "seqrisk.engine",
    "SimulationResult": "seqrisk.engine",
    "simulate": "seqrisk.engine",
    "stress_grid": "seqrisk.engine",
    "ChainOutageLaw": "seqrisk.outage",
    "CommonShock": "seqrisk.outage",
    "DurationLaw": "seqrisk.outage",
    "Hawkes": "seqrisk.outage",
    "OutageModel": "seqrisk.outage",
    "OutageStatistics": "seqrisk.stats",
    "fit_outage_model": "seqrisk.stats",
    "fit_outage_statistics": "seqrisk.stats",
    "Comparison": "seqrisk.decide",
    "Strategy": "seqrisk.decide",
    "compare": "seqrisk.decide",
    "parse_strategy": "seqrisk.decide",
    "sweep": "seqrisk.decide",
    "ReportInputs": "seqrisk.report",
    "build_report": "seqrisk.report",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seqrisk' has no attribute {name!r}")


__all__ = [
    "BackendError",
    "Catalog",
    "CatalogError",
    "Chain",
    "ConflictError",
    "DataError",
    "Incident",
    "NotFittedError",
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
# The lazily loaded names, listed by name so documentation tools that read ``__all__`` see them too.
__all__ += [
    "Book",
    "ChainOutageLaw",
    "CommonShock",
    "Comparison",
    "DurationLaw",
    "Hawkes",
    "OutageModel",
    "OutageStatistics",
    "ReportInputs",
    "Scenario",
    "SimulationResult",
    "Strategy",
    "build_report",
    "compare",
    "fit_outage_model",
    "fit_outage_statistics",
    "load_book",
    "parse_strategy",
    "simulate",
    "stress_grid",
    "sweep",
]
