"""The chain and incident catalog (layer 1): validated, sourced data."""

from seqrisk.catalog.load import Catalog, load_catalog
from seqrisk.catalog.risk import risk_entries
from seqrisk.catalog.schema import EVENT_TYPES, Chain, Incident, RiskEntry, Source

__all__ = ["EVENT_TYPES", "Catalog", "Chain", "Incident", "RiskEntry", "Source", "load_catalog", "risk_entries"]
