"""Incidents as CSV: the layout ``seqrisk incidents --csv`` writes and ``seqrisk catalog import`` reads.

Columns (:data:`INCIDENT_CSV_COLUMNS`): the incident's fields, with ``tags``
joined by ``;``, ``scope`` by ``+`` and the sources' URLs by `` | `` (the
reference layout; a ``chain`` may be a chain id or a chain name). Written and
read back, an incident is unchanged except for sources' ``ref``/``evidence``,
which only YAML and JSON carry.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from seqrisk.catalog.schema import Incident

__all__ = ["INCIDENT_CSV_COLUMNS", "incidents_to_csv"]

INCIDENT_CSV_COLUMNS = ("id", "chain", "type", "start_utc", "start_precision", "duration_min", "duration_min_low",
                        "duration_min_high", "tags", "funds_lost", "scope", "confidence", "cause", "sources",
                        "market_context", "ongoing")


def _cell(inc: Incident, col: str) -> str:
    if col == "start_utc":
        return inc.start_utc.strftime("%Y-%m-%dT%H:%MZ" if inc.start_precision in ("minute", "hour") else
                                      ("%Y-%m-%d" if inc.start_precision == "day" else "%Y-%m"))
    if col == "tags":
        return ";".join(inc.tags)
    if col == "scope":
        return "+".join(inc.scope)
    if col == "sources":
        return " | ".join(s.url for s in inc.sources)
    if col == "ongoing":
        return "true" if inc.ongoing else ""
    v = getattr(inc, col)
    if isinstance(v, float):
        return f"{v:g}"
    return "" if v is None else str(v)


def incidents_to_csv(incidents: Iterable[Incident]) -> str:
    """The CSV text of ``incidents`` (header included, ``\\n`` line ends)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(INCIDENT_CSV_COLUMNS)
    for i in incidents:
        w.writerow([_cell(i, c) for c in INCIDENT_CSV_COLUMNS])
    return buf.getvalue()
