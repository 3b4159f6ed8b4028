"""What the status model and the now-cast take from the catalog and the fitted outage model, per chain.

:func:`chain_prior` gives a chain's downtime rate (its own events plus the
common-shock events that hit it, per year), its predictive downtime duration
law and the registry facts the monitor uses (block time, whether blocks
keep a fixed cadence, forced-inclusion delay, Chainlink uptime feed). :func:`default_model` is the outage model
fitted to the bundled catalog as of its coverage date (what ``seqrisk fit``
fits without options), fitted once per process and catalog.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqrisk.exceptions import DataError

if TYPE_CHECKING:
    from seqrisk.catalog import Catalog
    from seqrisk.outage import AnyDurationLaw, OutageModel

__all__ = ["ChainPrior", "chain_prior", "default_model"]

_MODELS: dict[str, OutageModel] = {}
_LOCK = threading.Lock()


def default_model(catalog: Catalog | None = None) -> OutageModel:
    """The outage model fitted to ``catalog`` (default: the bundled one) as of its coverage date; cached by the
    catalog's digest, so a long-running monitor fits it once."""
    from seqrisk.catalog import load_catalog
    from seqrisk.stats import fit_outage_model

    cat = catalog if catalog is not None else load_catalog(None)
    with _LOCK:
        if cat.digest not in _MODELS:
            _MODELS[cat.digest] = fit_outage_model(cat)
        return _MODELS[cat.digest]


@dataclass(frozen=True)
class ChainPrior:
    """A chain's outage prior and registry facts (seconds, per year)."""

    chain: str
    downtime_rate_per_year: float
    duration: AnyDurationLaw
    block_time_s: float | None
    forced_inclusion_delay_s: float | None
    uptime_feed: str | None
    fixed_cadence: bool = False


def chain_prior(chain: str, model: OutageModel | None = None, catalog: Catalog | None = None) -> ChainPrior:
    """The chain's downtime prior from ``model`` (default :func:`default_model`) and its catalog facts.

    Unknown chains raise :class:`~seqrisk.exceptions.UnknownChainError` (with the closest ids); a chain the
    model has no downtime law for raises :class:`~seqrisk.exceptions.DataError`.
    """
    from seqrisk.catalog import load_catalog

    cat = catalog if catalog is not None else load_catalog(None)
    c = cat.chain(chain)
    om = model if model is not None else default_model(cat)
    law = om.chains.get(c.id)
    rate = 0.0
    duration = None
    if law is not None and "downtime" in law.durations:
        rate = float(law.rates_per_year.get("downtime", 0.0))
        duration = law.durations["downtime"]
    for s in om.shocks:  # common-shock events that hit this chain with a downtime
        if c.id in s.members:
            share = s.mix.get("downtime", 0.0)
            rate += s.rate_per_year * s.hit_probability() * share
            if duration is None and share > 0:
                duration = s.law("downtime")
    if duration is None:
        raise DataError("the outage model has no downtime duration law for this chain", chain=c.id)
    fid = law.forced_inclusion_delay_s if law is not None and law.forced_inclusion_delay_s is not None \
        else c.forced_inclusion_delay_s
    feed = c.chainlink_uptime_feed if c.chainlink_uptime_feed not in (None, "none") else None
    return ChainPrior(c.id, rate, duration, c.block_time_s, fid, feed, c.empty_blocks_backfilled is True)
