"""Common shocks: events that hit several chains of one common-failure group at once.

Two events on different member chains of a group that start within
``window_s`` of each other (default one day, the catalog's coarsest usual
start precision) belong to one *joint event*, whatever their types (an
Ethereum upgrade may stop one rollup and slow another). Each joint event is
assigned to one group that contains every chain it hit, so overlapping groups
do not count it twice: a group named in the incidents' cause text (e.g.
"Conduit") first, else the smallest such group (the most specific shared
cause), ties broken by name; a *wide* group (the L1-wide common cause of every
chain settling on Ethereum) only when no named group contains the chains. A
joint event counts once, as a group event, and is removed from its members'
own (idiosyncratic) counts. Each joint event records how many chains it hit
out of the members live then (``hit_sizes``) and its member events' types
(``member_types``): the model's hit and type laws are fitted from them.

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
from scipy import stats as sps

from seqrisk._typing import FloatArray
from seqrisk.stats.events import EventSet
from seqrisk.stats.rates import ROBUST_LEVEL, GammaPoissonPooling, garwood_interval
from seqrisk.units import DAY_S, YEAR_S

__all__ = ["GroupShock", "ShockModel", "common_shocks", "fit_shock_model", "joint_durations"]


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
    #: Per own joint event: (chains hit, members live at its start).
    hit_sizes: tuple[tuple[int, int], ...] = ()
    #: Types of the member events of the own joint events.
    member_types: tuple[str, ...] = ()
    #: A wide group (L1-wide cause): attributed a joint event only when no named group contains its chains.
    wide: bool = False

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


def _live(windows: Sequence[tuple[float, float]], t: float) -> bool:
    return any(a <= t < b for a, b in windows)


def common_shocks(es: EventSet, groups: Mapping[str, Sequence[str]], *, window_s: float = DAY_S,
                  level: float = 0.95, wide: Sequence[str] = ()) -> tuple[list[GroupShock], set[int]]:
    """Joint events per group, and the indices (into ``es.events``) of events that were part of one.

    ``wide`` names the groups of ``groups`` that are attributed a joint event only when no other group
    contains every chain it hit (see the module doc)."""
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
            if a.chain != b.chain and set(member_of.get(a.chain, ())) & set(member_of.get(b.chain, ())):
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
        named = {g: m for g, m in groups.items() if g not in wide}
        cands = ([g for g, mem in named.items() if chains <= set(mem)]
                 or [g for g, mem in groups.items() if g in wide and chains <= set(mem)]
                 # chains linked through different groups: attribute to the pair's smallest group
                 or [g for g, mem in named.items() if len(chains & set(mem)) >= 2]
                 or [g for g, mem in groups.items() if len(chains & set(mem)) >= 2])
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
        typ = max(sorted(set(types)), key=types.count) if types else "downtime"
        sizes = tuple((len({ev[i].chain for i in j}),
                       sum(_live(es.windows[c], min(ev[i].start_utc for i in j)) for c in mem)) for j in joints)
        among = [(idx, h) for idx, ch, h in multi if len(ch & set(mem)) >= 2]  # hit >= 2 members
        out.append(GroupShock(
            group=g, members=tuple(mem), member_events=len(member_idx), joint_events=len(joints),
            events_in_joint=sum(ev[i].chain in mem for idx, _ in among for i in idx),
            exposure_years=expo, rate_per_year=len(joints) / expo if expo > 0 else 0.0,
            low=float(lo), high=float(hi), type=typ,
            joint_sources=tuple(tuple(ev[i].source for i in j) for j in joints),
            joint_indices=tuple(tuple(j) for j in joints), joint_among_members=len(among),
            counted_under=tuple(sorted({h for _, h in among if h != g})), hit_sizes=sizes,
            member_types=tuple(types), wide=g in wide))
    return out, in_joint


def joint_durations(shock: GroupShock, es: EventSet) -> tuple[np.ndarray, np.ndarray]:
    """Duration bounds (s) of a group's joint events: the longest member outage of each."""
    lo = [max(es.events[i].low_s for i in idx) for idx in shock.joint_indices]
    hi = [max(es.events[i].high_s for i in idx) for idx in shock.joint_indices]
    return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)


@dataclass(frozen=True)
class ShockModel:
    """Common-shock rates with their posteriors, and the pooled laws of whom and how a joint event hits.

    * Rates of the named groups: their own joint-event counts over their
      exposures (time with at least two members live) pooled across groups by
      :class:`GammaPoissonPooling`, like chain rates: a group with one joint
      event no longer gets a raw rate from it alone, and a group with none gets
      a small posterior rate instead of 0. A wide group (the L1-wide cause,
      tens of members) is not exchangeable with them: its rate has the Jeffreys
      posterior ``Gamma(k + 1/2, T)``.
    * Hits: a joint event hits two members at random and each other live member
      with probability ``q``; ``q ~ Beta(1 + sum(k - 2), 1 + sum(n - k))`` over
      all joint events (k chains hit of n live), posterior mean carried.
    * Types: each hit chain's event type is drawn from ``type_mix``, the member
      types of all joint events with a prior of one event spread by the types'
      overall frequencies (Dirichlet posterior mean).

    Posteriors are kept as ``n_draws`` equally weighted atoms per group: in atom
    ``j`` the rate is ``Gamma(shape[g][j], rate[g][j])`` (per year).
    """

    groups: tuple[str, ...]
    rates: Mapping[str, float]
    intervals: Mapping[str, tuple[float, float]]
    shape: Mapping[str, FloatArray]
    rate_years: Mapping[str, FloatArray]
    q_alpha: float
    q_beta: float
    type_mix: Mapping[str, float]
    pool: GammaPoissonPooling | None = None

    @property
    def extra_hit_probability(self) -> float:
        return self.q_alpha / (self.q_alpha + self.q_beta)

    def rate(self, group: str) -> float:
        """Posterior-mean rate (per year) of the group's joint events (0 for a group not modelled)."""
        return float(self.rates.get(group, 0.0))

    def interval(self, group: str) -> tuple[float, float]:
        return self.intervals.get(group, (0.0, 0.0))

    def sample(self, group: str, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` posterior draws of the group's rate (per year)."""
        j = rng.integers(0, self.shape[group].size, n)
        return rng.gamma(self.shape[group][j], 1.0 / self.rate_years[group][j])

    def zero_probability(self, group: str, horizon_years: float, share: float = 1.0) -> float:
        """Predictive P(no event of the group hits a chain in ``horizon_years``) when a share ``share`` of its
        events do (negative binomial over the posterior atoms)."""
        sh, r = self.shape[group], self.rate_years[group]
        return float(np.mean((r / (r + horizon_years * share)) ** sh))


def fit_shock_model(shocks: Sequence[GroupShock], type_weights: Mapping[str, float],
                    n_draws: int = 64, seed: int = 1) -> ShockModel:
    """Posterior rates of the groups' joint events and the hit and type laws (see :class:`ShockModel`).

    ``type_weights``: the overall frequency of each event type (the prior of the type mix)."""
    usable = [s for s in shocks if s.exposure_years > 0]
    named = [s for s in usable if not s.wide]
    rates: dict[str, float] = {}
    ints: dict[str, tuple[float, float]] = {}
    shape: dict[str, FloatArray] = {}
    rate_y: dict[str, FloatArray] = {}
    pool = None
    k = np.array([s.joint_events for s in named], dtype=float)
    if k.sum() > 0:
        t = np.array([s.exposure_years for s in named])
        pool = GammaPoissonPooling().fit(k, t, labels=[s.group for s in named])
        sh, rt = pool.posterior_draws(n_draws, seed=seed)
        for i, s in enumerate(named):
            rates[s.group] = float(pool.rates_per_year_[i])
            ints[s.group] = (float(pool.intervals_[i, 0]), float(pool.intervals_[i, 1]))
            shape[s.group], rate_y[s.group] = sh[:, i], rt[:, i]
    for s in usable:
        if s.wide and s.joint_events > 0:
            a, b = s.joint_events + 0.5, s.exposure_years
            rates[s.group] = a / b
            lo, hi = garwood_interval(s.joint_events, b, level=ROBUST_LEVEL)
            ints[s.group] = (min(float(sps.gamma.ppf(0.025, a, scale=1 / b)), float(lo)),
                             max(float(sps.gamma.ppf(0.975, a, scale=1 / b)), float(hi)))
            shape[s.group], rate_y[s.group] = np.full(n_draws, a), np.full(n_draws, b)
    sizes = [(h, max(n, h)) for s in usable for h, n in s.hit_sizes]
    alpha = 1.0 + sum(h - 2 for h, _ in sizes)
    beta = 1.0 + sum(n - h for h, n in sizes)
    total = sum(type_weights.values())
    mix = {ty: w / total for ty, w in type_weights.items()} if total > 0 else {"downtime": 1.0}
    counts = {ty: float(sum(ty == x for s in usable for x in s.member_types)) for ty in mix}
    n = sum(counts.values())
    post = {ty: (counts[ty] + mix[ty]) / (n + 1.0) for ty in mix}
    groups = tuple(s.group for s in usable if s.group in rates)
    return ShockModel(groups, rates, ints, shape, rate_y, alpha, beta, post, pool)
