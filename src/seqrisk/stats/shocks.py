"""Common shocks: events that hit several chains of one common-failure group at once.

Two events of one type on different member chains of a group that start
within ``window_s`` of each other (default one day, the catalog's coarsest
usual start precision) belong to one *joint event*. Each joint event is
assigned to one group that contains every chain it hit, so overlapping groups
do not count it twice: a group named in the incidents' cause text (e.g.
"Conduit") first, else the smallest such group (the most specific shared
cause), ties broken by name. A joint event counts once, as a group event, and is removed
from its members' own (idiosyncratic) counts.

Per group: the joint events among its members whichever group they are
attributed to (``joint_among_members``; the other groups they are counted
under in ``counted_under``), the share of member events that were part of
one, and the group rate = joint events *attributed to the group*
(``joint_events``) / group exposure (the time at least two members were live),
with a Garwood interval. So a group can show a share of 1 and a rate of 0 when
its joint events are counted under a more specific group. A group with no
joint event of its own gets rate 0 and its 95% upper bound is reported
(``high``); the model file carries no shock for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from seqrisk.stats.events import EventSet
from seqrisk.stats.rates import garwood_interval
from seqrisk.units import DAY_S, YEAR_S

__all__ = ["GroupShock", "common_shocks", "joint_durations"]


@dataclass(frozen=True)
class GroupShock:
    """Joint-event statistics of one common-failure group (rates per year)."""

    group: str
    members: tuple[str, ...]
    member_events: int
    joint_events: int
    events_in_joint: int
    exposure_years: float
    rate_per_year: float
    low: float
    high: float
    type: str
    joint_sources: tuple[tuple[str, ...], ...]
    joint_indices: tuple[tuple[int, ...], ...] = ()
    #: Joint events that hit >= 2 members, whichever group they are attributed to (>= ``joint_events``).
    joint_among_members: int = 0
    #: The other groups under which joint events among the members are counted (sorted).
    counted_under: tuple[str, ...] = ()

    @property
    def share(self) -> float:
        """Share of member events that hit several members at once (0 when no member event)."""
        return self.events_in_joint / self.member_events if self.member_events else 0.0


def _two_live_years(windows: Sequence[Sequence[tuple[float, float]]]) -> float:
    """Years during which at least two of the chains were live."""
    pts = sorted([(a, 1) for w in windows for a, _ in w] + [(b, -1) for w in windows for _, b in w])
    live, last, total = 0, 0.0, 0.0
    for t, d in pts:
        if live >= 2:
            total += t - last
        live += d
        last = t
    return total / YEAR_S


def common_shocks(es: EventSet, groups: Mapping[str, Sequence[str]], *, window_s: float = DAY_S,
                  level: float = 0.95) -> tuple[list[GroupShock], set[int]]:
    """Joint events per group, and the indices (into ``es.events``) of events that were part of one."""
    ev = es.events
    groups = {g: tuple(m for m in mem if m in es.windows) for g, mem in groups.items()}
    groups = {g: m for g, m in groups.items() if len(m) >= 2}
    member_of: dict[str, list[str]] = {}
    for g, mem in groups.items():
        for c in mem:
            member_of.setdefault(c, []).append(g)
    # union-find over pairs of events that share a group, type and start window
    parent = list(range(len(ev)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(ev):
        for j in range(i + 1, len(ev)):
            b = ev[j]
            if b.start_utc - a.start_utc > window_s:
                break
            if a.chain != b.chain and a.type == b.type and set(member_of.get(a.chain, ())) & set(
                    member_of.get(b.chain, ())):
                parent[find(j)] = find(i)
    clusters: dict[int, list[int]] = {}
    for i in range(len(ev)):
        clusters.setdefault(find(i), []).append(i)
    joint_by_group: dict[str, list[list[int]]] = {g: [] for g in groups}
    in_joint: set[int] = set()
    multi: list[tuple[list[int], set[str], str]] = []
    for idx in clusters.values():
        chains = {ev[i].chain for i in idx}
        if len(chains) < 2:
            continue
        cands = [g for g, mem in groups.items() if chains <= set(mem)]
        if not cands:  # chains linked through different groups: attribute to the pair's smallest group
            cands = [g for g, mem in groups.items() if len(chains & set(mem)) >= 2]
        cause = " ".join(ev[i].cause for i in idx).lower()
        g = min(cands, key=lambda x: (x.lower() not in cause, len(groups[x]), x))
        joint_by_group[g].append(sorted(idx))
        multi.append((idx, chains, g))
        in_joint.update(idx)
    out = []
    for g, mem in sorted(groups.items()):
        member_idx = [i for i, e in enumerate(ev) if e.chain in mem]
        joints = joint_by_group[g]
        expo = _two_live_years([es.windows[c] for c in mem])
        lo, hi = garwood_interval(len(joints), expo, level=level)
        types = [ev[i].type for j in joints for i in j]
        typ = max(set(types), key=types.count) if types else "downtime"
        among = [(idx, h) for idx, ch, h in multi if len(ch & set(mem)) >= 2]  # hit >= 2 members
        out.append(GroupShock(
            group=g, members=tuple(mem), member_events=len(member_idx), joint_events=len(joints),
            events_in_joint=sum(ev[i].chain in mem for idx, _ in among for i in idx),
            exposure_years=expo, rate_per_year=len(joints) / expo if expo > 0 else 0.0,
            low=float(lo), high=float(hi), type=typ,
            joint_sources=tuple(tuple(ev[i].source for i in j) for j in joints),
            joint_indices=tuple(tuple(j) for j in joints), joint_among_members=len(among),
            counted_under=tuple(sorted({h for _, h in among if h != g}))))
    return out, in_joint


def joint_durations(shock: GroupShock, es: EventSet) -> tuple[np.ndarray, np.ndarray]:
    """Duration bounds (s) of a group's joint events: the longest member outage of each."""
    lo = [max(es.events[i].low_s for i in idx) for idx in shock.joint_indices]
    hi = [max(es.events[i].high_s for i in idx) for idx in shock.joint_indices]
    return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
