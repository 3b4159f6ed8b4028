"""Outage statistics (layer 2): rates, durations, clustering, common shocks, volatility coupling.

The entry point is :func:`fit_outage_model` (the engine's model) or
:func:`fit_outage_statistics` (every fitted piece). Methods: docs/statistics.md.
Plot builders live in :mod:`seqrisk.stats.plots` (imported on use: plotly).
"""

from seqrisk.stats.coupling import VolatilityCoupling
from seqrisk.stats.derived import FIGURES, derived_figures
from seqrisk.stats.durations import FAMILIES, DurationFitter, compare_families
from seqrisk.stats.events import MODELLED_TYPES, EventLike, EventSet, OutageEvent, build_event_set
from seqrisk.stats.hawkes import HawkesFitter, simulate_hawkes
from seqrisk.stats.model import OutageStatistics, fit_outage_model, fit_outage_statistics
from seqrisk.stats.prices import daily_realized_vol, load_prices
from seqrisk.stats.rates import GammaPoissonPooling, garwood_interval
from seqrisk.stats.shocks import GroupShock, common_shocks
from seqrisk.stats.survival import kaplan_meier, km_points_from_bounds, turnbull

__all__ = [
    "FAMILIES",
    "FIGURES",
    "MODELLED_TYPES",
    "DurationFitter",
    "EventLike",
    "EventSet",
    "GammaPoissonPooling",
    "GroupShock",
    "HawkesFitter",
    "OutageEvent",
    "OutageStatistics",
    "VolatilityCoupling",
    "build_event_set",
    "common_shocks",
    "compare_families",
    "daily_realized_vol",
    "derived_figures",
    "fit_outage_model",
    "fit_outage_statistics",
    "garwood_interval",
    "kaplan_meier",
    "km_points_from_bounds",
    "load_prices",
    "simulate_hawkes",
    "turnbull",
]
