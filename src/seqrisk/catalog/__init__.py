"""The chain and incident catalog (layer 1): validated, sourced data."""

from seqrisk.catalog.catalog import Catalog
from seqrisk.catalog.coverage import ChainCoverage, Coverage
from seqrisk.catalog.load import load_catalog
from seqrisk.catalog.registry import ChainRegistry, Fact, check_address, to_checksum_address
from seqrisk.catalog.risk import risk_entries
from seqrisk.catalog.schema import EVENT_TYPES, Chain, Incident, RiskEntry
from seqrisk.catalog.source import Source

__all__ = [
    "EVENT_TYPES",
    "Catalog",
    "Chain",
    "ChainCoverage",
    "ChainRegistry",
    "Coverage",
    "Fact",
    "Incident",
    "RiskEntry",
    "Source",
    "check_address",
    "load_catalog",
    "risk_entries",
    "to_checksum_address",
]
