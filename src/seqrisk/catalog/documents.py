"""Chains and incidents as JSON documents: the layout of ``seqrisk chains|chain|incidents --json`` and the API.

Every catalog field is kept (``null`` where unknown); a chain adds its L2BEAT
stage number and risk entries, an incident its derived flags, its duration and
the bounds the sources allow (``[low, high]`` seconds, ``high`` null when open).
"""

from __future__ import annotations

from typing import Any

from seqrisk.catalog.risk import risk_entries
from seqrisk.catalog.schema import Chain, Incident

__all__ = ["chain_doc", "incident_doc"]


def chain_doc(c: Chain) -> dict[str, Any]:
    """A chain with every catalog field, ``l2beat_stage_number`` and ``risk`` entries."""
    d = c.model_dump(mode="json")
    d["l2beat_stage_number"] = c.stage
    d["risk"] = [r.model_dump(mode="json") for r in risk_entries(c)]
    return d


def incident_doc(i: Incident) -> dict[str, Any]:
    """An incident with ``start_utc`` as ISO ``Z``, its flags, ``duration_s`` and ``duration_bounds_s``."""
    d = i.model_dump(mode="json")
    d["start_utc"] = i.start_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    d.update(deliberate=i.deliberate, planned=i.planned, also_reorg=i.also_reorg,
             also_da_delay=i.also_da_delay, duration_s=i.duration_s)
    lo, hi = i.duration_bounds_s()
    d["duration_bounds_s"] = [lo, hi if hi != float("inf") else None]
    return d
