"""Outage events and exposure windows, as the fitters read them.

Two sources feed the statistics: catalog incidents (:class:`seqrisk.catalog.Incident`)
and events detected from block data (any object with the attributes of
``seqrisk.store.state.DetectedEvent``: see :class:`EventLike`). Both become
:class:`OutageEvent` records: a chain, an event type, a start time (UTC epoch
seconds) and a duration *interval* ``(low_s, high_s)`` in seconds:

* exact duration: ``low_s == high_s``;
* interval-censored (sources disagree): ``low_s < high_s < inf``;
* right-censored (still ongoing): ``high_s == inf``;
* unknown duration: ``(0, inf)``; such an event counts toward the rate but carries
  no duration information (its likelihood factor is 1).

Exposure is a list of disjoint ``(start, end)`` windows per chain in epoch seconds.

Short stalls: a detected downtime that ended within ``SHORT_STALL_S`` (300 s)
is a stall, not an outage. It is counted apart (``EventSet.short_stalls``)
and enters neither the downtime rate nor the duration law: incident reports,
the catalog's source, never record such pauses (its shortest downtime lasted
9 minutes), so counting them would mix two different event kinds. Oracle
networks flag a sequencer as down after 120 s, so a stall of 2-5 minutes can
still trip a feed; that risk is the grace-period lever's, not the outage
rate's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, cast

from seqrisk.catalog import Catalog
from seqrisk.exceptions import DataError, UsageError
from seqrisk.units import DAY_S, YEAR_S

__all__ = [
    "MODELLED_TYPES",
    "SHORT_STALL_S",
    "EventLike",
    "EventSet",
    "OutageEvent",
    "build_event_set",
]

#: An observed window ``(start, end)``, or several disjoint ones (block data with missing ranges).
Window = tuple[datetime, datetime] | Sequence[tuple[datetime, datetime]]

#: Event types the statistics model (docs/statistics.md section 1); ``other`` is not modelled.
MODELLED_TYPES = ("downtime", "degraded", "censorship", "reorg", "da_delay")
_INF = float("inf")
#: A detected downtime shorter than this (seconds) is a short stall, not an outage (see the module doc).
SHORT_STALL_S = 300.0
_PRECISION_S = {"minute": 60.0, "hour": 3600.0, "day": DAY_S, "month": 31 * DAY_S}


class EventLike(Protocol):
    """What the fitters need from a detected event (``seqrisk.store.state.DetectedEvent``)."""

    @property
    def chain(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def start_utc(self) -> float: ...
    @property
    def end_utc(self) -> float | None: ...
    @property
    def confidence(self) -> float: ...
    @property
    def detector(self) -> str: ...


@dataclass(frozen=True)
class OutageEvent:
    """One event: chain, type, start (UTC epoch s), duration bounds (s), provenance."""

    chain: str
    type: str
    start_utc: float
    low_s: float
    high_s: float
    source: str
    start_precision_s: float = 60.0
    deliberate: bool = False
    planned: bool = False
    cause: str = ""

    @property
    def has_duration_info(self) -> bool:
        """False for an unknown duration ``(0, inf)``."""
        return not (self.low_s <= 0 and self.high_s == _INF)


@dataclass(frozen=True)
class EventSet:
    """Events of the modelled types and the exposure windows (epoch s) of every chain."""

    events: tuple[OutageEvent, ...]
    windows: Mapping[str, tuple[tuple[float, float], ...]]
    as_of_utc: float
    #: detected downtimes shorter than ``SHORT_STALL_S`` per chain (not events: see the module doc)
    short_stalls: Mapping[str, int] = field(default_factory=dict)

    def exposure_years(self, chain: str) -> float:
        """Total exposure of ``chain`` in years (365 days)."""
        return sum(b - a for a, b in self.windows.get(chain, ())) / YEAR_S

    @property
    def chains(self) -> list[str]:
        return list(self.windows)


def _ts(d: datetime) -> float:
    """Epoch seconds; a naive datetime is UTC."""
    return (d.replace(tzinfo=UTC) if d.tzinfo is None else d).timestamp()


def _censor_at(low: float, high: float, elapsed_s: float) -> tuple[float, float]:
    """Bounds as known at ``as_of``: an event not surely over by then is right-censored."""
    if high <= elapsed_s:
        return low, high
    return min(low, max(elapsed_s, 0.0)), _INF


def _in_windows(t: float, windows: Sequence[tuple[float, float]]) -> bool:
    return any(a <= t < b for a, b in windows)


def _subtract(window: tuple[float, float], cut: tuple[float, float]) -> list[tuple[float, float]]:
    a, b = window
    c, d = cut
    out = []
    if c > a:
        out.append((a, min(b, c)))
    if d < b:
        out.append((max(a, d), b))
    return [(x, y) for x, y in out if y > x]


def build_event_set(
    catalog: Catalog,
    *,
    as_of: datetime,
    include_deliberate: bool = False,
    include_planned: bool = False,
    events: Sequence[EventLike] | None = None,
    exposures: Mapping[str, Window] | None = None,
    since: datetime | None = None,
) -> EventSet:
    """Collect the events and exposure windows the fitters use.

    Catalog chains are exposed from mainnet launch (or ``since`` if later) to
    ``min(sunset, as_of, coverage date)`` (a chain with no launch date, or launched
    after ``as_of``, has no exposure): past its coverage date the catalog knows
    nothing of a chain, so that time is not counted as outage-free. Incidents
    before ``since`` or after the coverage date are left out.
    Detected ``events`` come with an ``exposures`` window per chain (or a list of
    disjoint windows, when block data are missing in between): inside it the
    detected events *replace* the catalog's incidents of that chain (block data
    see every outage in the window), outside it the catalog still counts. Without
    ``exposures`` the detected events are merged over the catalog window, and a
    detected event within one day of a catalog incident of the same chain and
    type is taken to be that incident. Deliberate and planned incidents are
    dropped unless included. Raises :class:`DataError` when no chain is exposed
    at all (``as_of`` before every launch).
    """
    as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of
    since = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since
    as_of_s = _ts(as_of)
    since_s = _ts(since) if since is not None else -float("inf")
    if since_s >= as_of_s:
        raise UsageError("the start of the data window must be before the as-of date",
                         value=(since.isoformat() if since else None, as_of.isoformat()))
    windows: dict[str, list[tuple[float, float]]] = {}
    for c in catalog.chains:
        start = c.exposure_start()
        if start is not None and since is not None:
            start = max(start, since)
        end = c.exposure_end(as_of)
        covered = catalog.coverage_end(c.id)
        if covered is not None:
            end = min(end, covered)
        windows[c.id] = [(start.timestamp(), end.timestamp())] if start and end > start else []
    detected_win: dict[str, list[tuple[float, float]]] = {}
    if events is not None and exposures is not None:
        for chain, win in exposures.items():
            pairs: list[tuple[datetime, datetime]] = (
                [cast(tuple[datetime, datetime], win)] if len(win) == 2 and isinstance(win[0], datetime)
                else list(cast(Sequence[tuple[datetime, datetime]], win)))
            segs = []
            for a, b in pairs:
                a_s, b_s = max(_ts(a), since_s), min(_ts(b), as_of_s)
                if _ts(b) < _ts(a):
                    raise UsageError("exposure window ends before it starts", chain=chain,
                                     value=(a.isoformat(), b.isoformat()))
                if b_s > a_s:  # else the window lies outside [since, as_of): nothing observed there
                    segs.append((a_s, b_s))
            if not segs:
                continue
            detected_win[chain] = segs
            kept = list(windows.get(chain, []))
            for seg in segs:
                kept = [x for w in kept for x in _subtract(w, seg)]
            windows[chain] = sorted([*kept, *segs])
    out: list[OutageEvent] = []
    stalls: dict[str, int] = {}
    for inc in catalog.incidents:
        if inc.type not in MODELLED_TYPES or not since_s <= inc.start_utc.timestamp() < as_of_s:
            continue
        if (inc.deliberate and not include_deliberate) or (inc.planned and not include_planned):
            continue
        t = inc.start_utc.timestamp()
        if inc.chain in detected_win and _in_windows(t, detected_win[inc.chain]):
            continue
        covered = catalog.coverage_end(inc.chain)
        if covered is not None and t >= covered.timestamp():
            continue  # after the chain's coverage date (`seqrisk catalog check` reports such rows)
        lo, hi = _censor_at(*inc.duration_bounds_s(), as_of_s - t)
        out.append(OutageEvent(inc.chain, inc.type, t, lo, hi, inc.id, _PRECISION_S[inc.start_precision],
                               inc.deliberate, inc.planned, inc.cause))
    for ev in events or ():
        if ev.type not in MODELLED_TYPES or not since_s <= ev.start_utc < as_of_s:
            continue
        if ev.chain not in windows and (exposures is None or ev.chain not in exposures):
            raise UsageError("detected event on a chain with no exposure window", chain=ev.chain)
        if exposures is not None:
            if ev.chain not in exposures:
                raise UsageError("detected event on a chain with no exposure window", chain=ev.chain)
            if ev.chain not in detected_win or not _in_windows(ev.start_utc, detected_win[ev.chain]):
                continue
        elif any(o.chain == ev.chain and o.type == ev.type and abs(o.start_utc - ev.start_utc) < DAY_S
                 for o in out):
            continue
        if (ev.end_utc is not None and not getattr(ev, "ongoing", False) and ev.type == "downtime"
                and ev.end_utc - ev.start_utc < SHORT_STALL_S):
            stalls[ev.chain] = stalls.get(ev.chain, 0) + 1
            continue
        if ev.end_utc is None or getattr(ev, "ongoing", False):
            lo, hi = max((ev.end_utc if ev.end_utc is not None else as_of_s) - ev.start_utc, 0.0), _INF
        else:
            d = max(ev.end_utc - ev.start_utc, 0.0)
            lo, hi = _censor_at(d, d, as_of_s - ev.start_utc)
        out.append(OutageEvent(ev.chain, ev.type, float(ev.start_utc), lo, hi, f"detected:{ev.detector}", 1.0))
    if not any(b > a for w in windows.values() for a, b in w):
        raise DataError("no chain is exposed before the as-of date (as-of before every launch)",
                        value=as_of.isoformat())
    out.sort(key=lambda e: (e.start_utc, e.chain, e.type))
    return EventSet(tuple(out), {c: tuple(w) for c, w in windows.items()}, as_of_s, stalls)
