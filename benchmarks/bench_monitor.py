"""Detection latency and false positives of the status model against Chainlink's 120 s rule (not a test).

A simulated year of blocks on three chains, replayed through a fake clock. Every chain uses base's outage
prior (its fitted downtime rate and duration law); the observer sees a block 0.3 s after it is made and
polls one endpoint every ``POLL_S`` seconds:

- **slow spells** (blocks made on demand, stamped when made): 2 s blocks; about ``SPELLS_PER_DAY`` times a
  day a slow spell starts and lasts a geometric number of blocks (mean ``SPELL_BLOCKS``), its intervals 2 s
  plus a gamma(2, 3 s) delay (mean 8 s, the longest of the year around 40 s); timestamps in whole seconds.
  The status model is base's with ``fixed_cadence=False`` (a chain on a schedule cannot stamp slow blocks).
- **steady** (an OP-stack schedule): block ``k`` is due and stamped at ``2 k`` s and made on time. An outage
  stops the sequencer; at its end the blocks due meanwhile are made at once, stamped on schedule (the
  catalog's "back-filled"). The status model is base's as the catalog describes it (fixed cadence).
- **late blocks**: the steady chain whose sequencer, while up, is now and then late (``LATE_PER_DAY`` a day:
  a failover or restart): the block then comes 3 s plus an exponential of mean ``LATE_MEAN_S`` late, and the
  blocks due meanwhile with it. These stalls are no outage: every one called down is a false positive.

Into each, ``OUTAGES`` outages are injected at random after the first week, lasting a duration drawn from
the fitted downtime law above 5 minutes (so both detectors can see every one). seqrisk's detector is
:class:`seqrisk.monitor.status.StatusModel`, starting the year at the catalog's priors and learning online,
polled as the monitor polls: every ``POLL_S`` seconds, and every ``SUSPECT_S`` while the chain looks late
(:meth:`seqrisk.monitor.runner.Monitor.interval_after`); on the steady chain it is also replayed on the
plain ``POLL_S`` grid, to show what the faster polls add, and the two fixed-cadence chains again with the
priors of a chain that makes blocks on demand (``JEFFREYS``), to show what the fixed-cadence priors buy
and cost. A detection is its first *down* state in an
outage, a false positive an entry into *down* outside every outage. Chainlink's rule: the head's
observer-clock age reaches 120 s on the ``POLL_S`` grid (:func:`seqrisk.health.step` under
``HealthRules.chainlink()``, re-computed in closed form over the year and checked against ``step`` on the
first day). Latency is from the outage's start. Results: ``benchmarks/results/monitor.md`` and
``monitor.json``.
"""

from __future__ import annotations

import json
import math
import os
import time
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from seqrisk.health import HealthRules, HealthState, Observation, step
from seqrisk.monitor.priors import chain_prior
from seqrisk.monitor.runner import looks_late
from seqrisk.monitor.status import StatusModel
from seqrisk.monitor.types import Evidence

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
YEAR_S = 365 * 86400.0
POLL_S = 4.0
SUSPECT_S = 0.5
BLOCK_S = 2.0
POLL_PHASE_S = 0.7
PROPAGATION_S = 0.3
SPELLS_PER_DAY = 3.0
SPELL_BLOCKS = 20.0
LATE_PER_DAY = 0.5
LATE_MEAN_S = 8.0
OUTAGES = 40
MIN_OUTAGE_S = 300.0
WARMUP_S = 7 * 86400.0
CHAINLINK_S = 120.0
SEED = 2026
CHAIN = "base"
#: the priors of a chain that makes blocks on demand (half a slow interval's weight, Jeffreys', for the slow
#: share and for spell starts), where a fixed-cadence chain's defaults weigh a twentieth of one
JEFFREYS: dict[str, Any] = {"prior_p_slow": 0.01, "prior_spell_start_n": 500.0}
#: (name, chain kind, fixed cadence, polls as the monitor does: every POLL_S and every SUSPECT_S while late,
#: status model settings)
RUNS: tuple[tuple[str, str, bool, bool, dict[str, Any]], ...] = (
    ("slow spells", "slow spells", False, True, {}), ("steady", "steady", True, True, {}),
    ("late blocks", "late blocks", True, True, {}), ("steady, 4 s polls only", "steady", True, False, {}),
    ("steady, Jeffreys prior", "steady", True, True, JEFFREYS),
    ("late blocks, Jeffreys prior", "late blocks", True, True, JEFFREYS))
T0_UTC = 1.7e9


def spell_chain(rng: np.random.Generator, law: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Blocks made on demand: (timestamps, times made, outage starts, outage ends), seconds from the start.

    The outages are added to the intervals they start in (the later blocks move on), so the replay lasts a
    year of healthy time plus the downtime."""
    n = int(YEAR_S / BLOCK_S * 1.02)
    iv = np.full(n, BLOCK_S)
    starts = np.flatnonzero(rng.random(n) < SPELLS_PER_DAY * BLOCK_S / 86400.0)
    lengths = rng.geometric(1.0 / SPELL_BLOCKS, starts.size)
    mark = np.zeros(n + 1, np.int64)
    np.add.at(mark, starts, 1)
    np.add.at(mark, np.minimum(starts + lengths, n), -1)
    spell = np.cumsum(mark[:-1]) > 0
    iv[spell] += rng.gamma(2.0, 3.0, int(spell.sum()))
    t_nat = np.cumsum(iv)
    lo, hi = np.searchsorted(t_nat, [WARMUP_S, YEAR_S * 0.97])
    ks = np.sort(rng.choice(np.arange(lo, hi), OUTAGES, replace=False))
    dur = durations(rng, law)
    frac = rng.random(OUTAGES)
    iv[ks + 1] += dur
    made = np.cumsum(iv)
    start = made[ks] + frac * (iv[ks + 1] - dur)
    return np.floor(made), made, start, start + dur


def durations(rng: np.random.Generator, law: Any) -> np.ndarray:
    """``OUTAGES`` durations from the law above ``MIN_OUTAGE_S``."""
    u_min = 1.0 - float(law.sf(MIN_OUTAGE_S))
    return np.asarray(law.ppf(u_min + (1 - u_min) * rng.random(OUTAGES)), dtype=float)


def schedule_chain(rng: np.random.Generator, law: Any, late: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Blocks on a fixed schedule, back-filled: (timestamps, times made, outage starts, outage ends, number of
    late-block stalls)."""
    n = int(YEAR_S / BLOCK_S)
    ts = BLOCK_S * np.arange(1, n + 1)
    delay = np.zeros(n)
    if late:
        hit = rng.random(n) < LATE_PER_DAY * BLOCK_S / 86400.0
        delay[hit] = 3.0 + rng.exponential(LATE_MEAN_S, int(hit.sum()))
    while True:  # outages far apart from each other (an hour at least between two)
        start = np.sort(rng.uniform(WARMUP_S, YEAR_S * 0.97, OUTAGES))
        dur = durations(rng, law)
        if np.all(start[1:] > start[:-1] + dur[:-1] + 3600.0) and start[-1] + dur[-1] < ts[-1]:
            break
    near = inside(ts, start - 600.0, start + dur + 600.0)  # no stall just before, in or just after an outage
    delay[near] = 0.0
    made = ts + delay
    due = np.searchsorted(ts, start)  # the first block due after each outage starts
    made[due] = np.maximum(made[due], start + dur)  # the sequencer is back at the end, not sooner
    # blocks come in order: one due while an earlier one is late (or the sequencer down) comes with it
    made = np.maximum.accumulate(made)
    return ts, made, start, start + dur, int(np.sum(delay > 0))


def replay(run: str, kind: str, fixed: bool, adaptive: bool, ts: np.ndarray, made: np.ndarray,
           starts: np.ndarray, ends: np.ndarray, overrides: dict[str, Any]) -> dict[str, object]:
    """Poll the year through the status model and Chainlink's rule; latencies and false positives."""
    visible = made + PROPAGATION_S
    horizon = float(made[-1])
    assert ends.max() < horizon, "an injected outage falls outside the replayed year"
    model = StatusModel.for_chain(CHAIN, fixed_cadence=fixed, **overrides)
    u = model.config.slow_after
    code = {"healthy": 0, "degraded": 1, "down": 2}
    times, states, fast = array("d"), array("b"), 0
    t = float(visible[0]) + POLL_PHASE_S
    cpu = time.process_time()
    while t < horizon:
        h = int(np.searchsorted(visible, t, side="right")) - 1
        tu = T0_UTC + t
        st = model.update(Evidence(CHAIN, tu, (Observation("rpc", tu, h, T0_UTC + float(ts[h])),)))
        times.append(t)
        states.append(code[st.state])
        if adaptive and looks_late(st, u):  # the monitor's own rule (Monitor.interval_after)
            t += SUSPECT_S
            fast += 1
        else:
            t += POLL_S
    cpu = time.process_time() - cpu
    t_s, state = np.frombuffer(times, dtype=float), np.frombuffer(states, dtype=np.int8)
    out: dict[str, object] = {"kind": kind, "fixed_cadence": fixed, "adaptive_polls": adaptive, "prior": overrides,
                              "polls": int(t_s.size), "fast_polls": fast,
                              "replayed_days": round(horizon / 86400.0, 2), "status_cpu_s": round(cpu, 1),
                              "status_cpu_us_per_poll": round(cpu / t_s.size * 1e6, 2)}
    out["seqrisk"] = score(t_s, state == 2, starts, ends)
    deg = (state >= 1) & ~np.concatenate([[False], state[:-1] >= 1])
    out["seqrisk"]["degraded_episodes_outside_outages"] = int(np.sum(deg & ~inside(t_s, starts, ends)))  # type: ignore[index]
    if adaptive and not overrides:  # the head-age rules poll on their own grid: once per chain kind
        out |= rules(ts, made, starts, ends, horizon)
    return out


def inside(polls: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(starts, polls, side="right") - 1
    out = np.zeros(polls.size, bool)
    out[idx >= 0] = polls[idx >= 0] < ends[np.maximum(idx, 0)][idx >= 0]
    return out


def score(polls: np.ndarray, alarm: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> dict[str, Any]:
    lat = []
    for a, b in zip(starts, ends, strict=True):
        j = np.flatnonzero(alarm & (polls >= a) & (polls < b))
        lat.append(float(polls[j[0]] - a) if j.size else math.inf)
    onset = alarm & ~np.concatenate([[False], alarm[:-1]])
    lat_a = np.array(lat)
    det = lat_a[np.isfinite(lat_a)]
    return {"detected": int(det.size), "missed": int((~np.isfinite(lat_a)).sum()),
            "false_positives": int(np.sum(onset & ~inside(polls, starts, ends))),
            "latency_s": {q: round(float(np.percentile(det, p)), 1) for q, p in
                          (("p10", 10), ("median", 50), ("p90", 90), ("max", 100))} if det.size else {}}


def rules(ts: np.ndarray, made: np.ndarray, starts: np.ndarray, ends: np.ndarray, horizon: float
          ) -> dict[str, object]:
    """Chainlink's 120 s rule and the hindsight rule on the plain ``POLL_S`` grid."""
    visible = made + PROPAGATION_S
    polls = np.arange(float(visible[0]) + POLL_PHASE_S, horizon, POLL_S)
    head = np.searchsorted(visible, polls, side="right") - 1
    changed = np.concatenate([[True], head[1:] != head[:-1]])
    first_seen = polls[np.maximum.accumulate(np.where(changed, np.arange(polls.size), 0))]
    age = polls - first_seen
    stale = age >= CHAINLINK_S
    st, ok = HealthState(), True
    for j in np.flatnonzero(polls < 86400.0):
        h = int(head[j])
        st, ch = step(st, [Observation("rpc", float(polls[j]), h, float(ts[h]))], HealthRules.chainlink())
        ok &= (ch.verdict != "healthy") == bool(stale[j])
    assert ok, "the closed-form Chainlink rule disagrees with seqrisk.health.step"
    # hindsight: the shortest head-age threshold with no false positive in this year (the longest head age seen
    # outside the outages, the head standing when an outage began left out), as a rule of its own
    standing = np.searchsorted(made, starts, side="right") - 1  # made before the outage, maybe seen after
    quiet = ~inside(polls, starts, ends) & ~np.isin(head, standing)
    threshold = float(age[quiet].max())
    gaps = np.diff(visible)
    healthy_gaps = gaps[~np.isin(np.arange(gaps.size), standing)]
    return {"chainlink_120s": score(polls, stale, starts, ends),
            "hindsight": score(polls, age > threshold, starts, ends), "hindsight_threshold_s": round(threshold, 1),
            "longest_healthy_interval_s": round(float(healthy_gaps.max()), 1)}


def one_run(run: str) -> dict[str, object]:
    """One chain's simulated year, replayed (a process of its own: the runs go side by side)."""
    name, kind, fixed, adaptive, overrides = next(r for r in RUNS if r[0] == run)
    rng = np.random.default_rng([SEED, [r[1] for r in RUNS].index(kind)])  # the same year for one kind
    law = chain_prior(CHAIN).duration
    if kind == "slow spells":
        ts, made, s, e = spell_chain(rng, law)
        stalls = None
    else:
        ts, made, s, e, stalls = schedule_chain(rng, law, kind == "late blocks")
    r = replay(name, kind, fixed, adaptive, ts, made, s, e, overrides)
    if stalls:
        r["late_block_stalls"] = stalls
    print(name, json.dumps(r), flush=True)
    return r


def _child(run: str, q: Any) -> None:
    q.put((run, one_run(run)))


def main() -> dict[str, object]:
    import multiprocessing as mp

    wall = time.time()
    load0 = os.getloadavg()[0]
    res: dict[str, object] = {"seed": SEED, "poll_s": POLL_S, "suspect_poll_s": SUSPECT_S, "outages": OUTAGES,
                              "chain_prior": CHAIN, "late_per_day": LATE_PER_DAY, "late_mean_s": LATE_MEAN_S}
    ctx = mp.get_context("fork")  # forked children need no import of this file (the driver loads it by path)
    q = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(r[0], q)) for r in RUNS]  # side by side (CPU time is per process)
    for pr in procs:
        pr.start()
    got = dict(q.get() for _ in procs)
    for pr in procs:
        pr.join()
    res["chains"] = {r[0]: got[r[0]] for r in RUNS}
    res["wall_s"] = round(time.time() - wall)
    res["load"] = [round(load0, 1), round(os.getloadavg()[0], 1)]
    res["date_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "monitor.md").write_text(render(res))
    print(render(res))
    return res


def render(res: dict[str, Any]) -> str:
    ch = res["chains"]
    lines = [f"One run of the monitor benchmark (`make bench` or `.venv/bin/python benchmarks/run.py monitor`): "
             f"{res['date_utc']}, seed {res['seed']}, a simulated year per chain, {res['outages']} injected outages "
             f"each (5 min or longer, durations from {res['chain_prior']}'s fitted downtime law). seqrisk polls "
             f"every {res['poll_s']:g} s and every {res['suspect_poll_s']:g} s while a chain looks late (the "
             f"monitor's `suspect_interval_s`); the head-age rules every {res['poll_s']:g} s.", "",
             "| chain | detector | median latency | p10-p90 | max | missed | false positives |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in ch.values():
        label = "seqrisk status (down at P >= 0.9)" if r["adaptive_polls"] else \
            f"seqrisk status, {res['poll_s']:g} s polls only"
        if r["prior"]:
            label = "seqrisk status, on-demand priors (" + ", ".join(f"{k} {v:g}" for k, v in r["prior"].items()) + ")"
        rows = [("seqrisk", label)]
        if "chainlink_120s" in r:
            rows += [("chainlink_120s", "Chainlink 120 s"),
                     ("hindsight", f"hindsight head age > {r['hindsight_threshold_s']:.1f} s")]
        for name, label in rows:
            d = r[name]
            la = d["latency_s"]
            lines.append(f"| {r['kind']} | {label} | **{la['median']:.1f} s** | {la['p10']:.1f}-{la['p90']:.1f} s | "
                         f"{la['max']:.1f} s | {d['missed']} | **{d['false_positives']}** |")
    lines.append("")
    notes = []
    for run, r in ch.items():
        extra = f"; longest healthy interval {r['longest_healthy_interval_s']:.1f} s" \
            if "longest_healthy_interval_s" in r else ""
        stalls = f"; {r['late_block_stalls']} late-block stalls" if "late_block_stalls" in r else ""
        notes.append(f"{run}: {r['polls']:,} polls ({r['fast_polls']:,} fast){extra}{stalls}; seqrisk degraded "
                     f"episodes outside outages {r['seqrisk']['degraded_episodes_outside_outages']}; status model "
                     f"{r['status_cpu_us_per_poll']:.1f} us CPU per poll")
    lines.append("; ".join(notes) + ".")
    target = 2 * BLOCK_S + float(res["poll_s"])
    reached = {run: r["seqrisk"]["latency_s"]["median"] <= target and r["seqrisk"]["false_positives"] == 0
               for run, r in ch.items() if r["adaptive_polls"]}
    lines += ["", f"Target: no false positive and a median latency within two block times plus the poll interval "
              f"({target:g} s): " + ", ".join(f"{k} {'reached' if v else 'not reached'}" for k, v in reached.items())
              + ". No head-age rule can call an outage sooner than the longest healthy silence it must sit out "
              "without a false alarm (the hindsight rule, which knows the year in advance, is that bound)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
