"""The status model: a chain's healthy / degraded / down state with the probability that it is down.

One :class:`StatusModel` per chain folds the monitor's polling rounds
(:class:`~seqrisk.monitor.types.Evidence`) into a :class:`~seqrisk.monitor.types.Status`.
It is a small Bayesian model with two states, *up* and *down* (docs/monitor.md, "Status model"):

1. **Silence.** The head is tracked across endpoints with :func:`seqrisk.health.step` (the best head seen by
   any endpoint; a replica more than ``replica_lag_blocks`` behind is *lagging* and its head does not count,
   so one lagging or unreachable replica changes nothing while another serves the head). The silence ``s`` is
   the observer-clock age of that head, refined by the block clock: the head block's own timestamp age,
   kept within ``[observer age, observer age + g + clock_slack_s]`` with ``g`` the poll gap in which the head
   appeared (a back-filled or skewed timestamp cannot stretch it further); before the head has moved once
   since the monitor started, the observer clock knows nothing and the block clock alone is used. The prior
   odds given the silence come from the chain's block-interval law (two regimes, normal and slow spell,
   learned online), outage rate and duration law (:mod:`seqrisk.monitor.silence`).
2. **Uptime feed** (where watched): says down with probability ``feed_sensitivity * (1 - exp(-(s -
   feed_delay_s)^+ / feed_delay_s))`` when the chain is down (the feed's own node waits for a stale head,
   then a round must land), at least ``feed_floor``; and with probability ``feed_false_down`` when it is up.
   Strong evidence, never certainty: a feed stuck on "up" through a long silence divides the odds by at
   most ``1 / (1 - feed_sensitivity)``.
3. **L1 batch age** (where watched): batches arrive about every ``batch_interval_s`` while the chain is up
   (exponential beyond one interval), except that a batch poster can stall on its own
   (``batch_stall_share`` of the time); when the chain is down no batch comes. A batch age beyond the usual
   cadence multiplies the odds by at most ``1 / batch_stall_share``.
4. **Probe transaction** (where sent): an accepted probe is normally included within ``probe_include_s``
   (default the slow-block threshold ``2 b + 1 s``), exponential beyond, except that a transaction can be
   stuck on its own (underpriced, dropped: ``probe_stuck_share``); a down sequencer includes nothing. A probe
   waiting ``w`` multiplies the odds by ``1 / P(wait >= w | up)``, at most ``1 / probe_stuck_share``.
5. **No endpoint answered**: the silence evidence stays at its last answered value; the round multiplies the
   odds by ``unreachable_odds`` (public endpoints often fail with the sequencer, but not only then).

These are conditionally independent given the state, so their log likelihood ratios add to the silence's
log odds. States: *down* when ``p_down >= down_at``; *degraded* when ``p_down >= degraded_at``, the feed
says down, or no endpoint answered; otherwise *healthy*. Intervals that were not outages (peak ``p_down``
of the silence below one half, or, once the head moved, a silence that ended sooner than outages do) teach
the block-interval law; on a fixed-cadence chain (blocks due every ``b``, late ones back-filled with
timestamps on schedule) they are timed by the observer's clock, since the timestamps always say ``b``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from seqrisk.exceptions import DataError
from seqrisk.health import HealthRules, HealthState, step
from seqrisk.monitor.priors import chain_prior
from seqrisk.monitor.silence import RegimeFit, completed_log_odds, silence_log_odds
from seqrisk.monitor.types import Evidence, State, Status
from seqrisk.units import YEAR_S

if TYPE_CHECKING:
    from seqrisk.catalog import Catalog
    from seqrisk.outage import AnyDurationLaw, OutageModel

__all__ = ["STATE_VERSION", "StatusConfig", "StatusModel"]

#: Version of :meth:`StatusModel.to_state`'s layout.
STATE_VERSION = 3  # 2: the two-regime block-interval law; 3: its tails counted on a ladder (2 still loads)
#: Relative error allowed to the silence odds' closed form (see StatusModel.__init__).
_CLOSED_FORM_ERROR = 1e-4
#: Block time assumed for a chain whose catalog entry has none (seconds).
DEFAULT_BLOCK_TIME_S = 2.0


@dataclass(frozen=True)
class StatusConfig:
    """Everything the status model assumes about one chain (seconds, per year, probabilities)."""

    chain: str
    block_time_s: float
    downtime_rate_per_year: float
    duration: AnyDurationLaw
    fixed_cadence: bool = False             # blocks due every block_time_s, late ones back-filled on schedule
    slow_after_s: float | None = None       # default 2 * block_time_s + 1
    prior_p_slow: float | None = None       # default 0.001 if fixed_cadence else 0.01 (see slow_share_prior)
    prior_intervals: float = 50.0
    prior_slow_mean_s: float | None = None  # default max(b, 1) if fixed_cadence else max(2 b, 2)
    prior_slow_n: float = 3.0
    prior_spell_p_slow: float = 0.5
    prior_spell_intervals: float = 10.0
    prior_spell_slow_mean_s: float | None = None  # default prior_slow_mean_s
    prior_spell_start: float = 1e-3
    prior_spell_start_n: float | None = None  # default 50 if fixed_cadence else 500
    prior_spell_blocks: float = 20.0
    prior_spell_end_n: float = 20.0
    learn: bool = True
    down_at: float = 0.9
    degraded_at: float = 0.2
    replica_lag_blocks: int = 6
    clock_slack_s: float = 2.0
    feed_delay_s: float = 120.0
    feed_sensitivity: float = 0.98
    feed_floor: float = 0.05
    feed_false_down: float = 1e-3
    batch_interval_s: float = 600.0
    batch_stall_share: float = 1e-3
    unreachable_odds: float = 3.0
    probe_include_s: float | None = None    # default slow_after
    probe_stuck_share: float = 0.01

    def __post_init__(self) -> None:
        checks = {"block_time_s": self.block_time_s > 0, "downtime_rate_per_year": self.downtime_rate_per_year >= 0,
                  "down_at": 0 < self.degraded_at <= self.down_at < 1,
                  "feed_sensitivity": 0 < self.feed_false_down < self.feed_sensitivity < 1,
                  "feed_floor": 0 < self.feed_floor <= self.feed_sensitivity,
                  "batch_stall_share": 0 < self.batch_stall_share < 1, "batch_interval_s": self.batch_interval_s > 0,
                  "unreachable_odds": self.unreachable_odds > 0, "probe_stuck_share": 0 < self.probe_stuck_share < 1,
                  "probe_include_s": self.probe_include_s is None or self.probe_include_s > 0,
                  "prior_p_slow": 0 < self.slow_share_prior < 1,
                  "prior_intervals": self.prior_intervals > 0, "prior_slow_n": self.prior_slow_n > 0,
                  "prior_spell_p_slow": self.slow_share_prior < self.prior_spell_p_slow < 1,
                  "prior_spell_intervals": self.prior_spell_intervals > 0,
                  "prior_spell_start": 0 < self.prior_spell_start < 1,
                  "prior_spell_blocks": self.prior_spell_blocks > 1,
                  "prior_spell_start_n": self.spell_start_weight > 0,
                  "prior_spell_end_n": self.prior_spell_end_n > 0,
                  "prior_slow_mean_s": self.prior_slow_mean_s is None or self.prior_slow_mean_s > 0,
                  "prior_spell_slow_mean_s": self.prior_spell_slow_mean_s is None or self.prior_spell_slow_mean_s > 0}
        for name, ok in checks.items():
            if not ok:
                raise DataError("status model setting out of range", chain=self.chain, field=name,
                                value=getattr(self, name))

    @property
    def slow_share_prior(self) -> float:
        """Prior mean share of slow intervals in ordinary times, worth ``prior_intervals``: 1% (half a slow
        interval's weight, Jeffreys'), or 0.1% (a twentieth of one) on a fixed-cadence chain, whose protocol
        makes a block every ``b``: there a clean history is believed sooner (benchmarks/bench_monitor.py
        measures both)."""
        if self.prior_p_slow is not None:
            return self.prior_p_slow
        return 0.001 if self.fixed_cadence else 0.01

    @property
    def spell_start_weight(self) -> float:
        """How many intervals the spell-start prior (mean ``prior_spell_start``) is worth: 500 (half a spell
        start), 50 on a fixed-cadence chain."""
        if self.prior_spell_start_n is not None:
            return self.prior_spell_start_n
        return 50.0 if self.fixed_cadence else 500.0

    @property
    def slow_after(self) -> float:
        return self.slow_after_s if self.slow_after_s is not None else 2.0 * self.block_time_s + 1.0

    def interval_prior(self) -> RegimeFit:
        """The two-regime block-interval law before the chain has shown anything."""
        m0 = self.prior_slow_mean_s if self.prior_slow_mean_s is not None else \
            max(self.block_time_s, 1.0) if self.fixed_cadence else max(2.0 * self.block_time_s, 2.0)
        m_spell = self.prior_spell_slow_mean_s if self.prior_spell_slow_mean_s is not None else m0
        return RegimeFit(self.block_time_s, self.slow_after, self.slow_share_prior, self.prior_intervals, m0,
                         self.prior_slow_n, self.prior_spell_p_slow, self.prior_spell_intervals, m_spell,
                         self.prior_slow_n, self.prior_spell_start, self.spell_start_weight, self.prior_spell_blocks,
                         self.prior_spell_end_n)


@dataclass
class _Memory:
    """What the model carries between rounds (JSON-able through :meth:`StatusModel.to_state`)."""

    health: HealthState = field(default_factory=HealthState)
    started_utc: float | None = None
    last_utc: float | None = None
    moved_since_start: bool = False
    silence_s: float = 0.0
    silence_log_odds: float = -math.inf
    peak_p_down: float = 0.0
    sight_gap_s: float | None = None  # the poll gap in which the head appeared (None: not known)


def _overdue_log_lr(age_s: float, usual_s: float, stall_share: float) -> float:
    """``-log P(age >= a | up)`` for something that comes within ``usual_s`` and exponentially later (mean
    ``usual_s``) while up, except a ``stall_share`` of the time when it is late on its own."""
    tail = math.exp(-max(age_s - usual_s, 0.0) / usual_s)
    return -math.log((1.0 - stall_share) * tail + stall_share)


def _sigmoid(x: float) -> float:
    if x == math.inf:
        return 1.0
    if x == -math.inf:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


class StatusModel:
    """Stateful status of one chain; :meth:`update` folds in one polling round (see the module doc).

    >>> m = StatusModel.for_chain("base")                       # doctest: +SKIP
    >>> m.update(evidence).p_down                               # doctest: +SKIP
    """

    def __init__(self, config: StatusConfig) -> None:
        self.config = config
        self._fit = config.interval_prior()
        self._mem = _Memory()
        frozen = getattr(config.duration, "frozen", None)  # a parametric law: its scipy distribution built once
        dist = frozen() if frozen is not None else None
        self._duration_sf = dist.sf if dist is not None else config.duration.sf
        self._duration_pdf = dist.pdf if dist is not None else config.duration.pdf
        # silences this short take the odds' closed form: outages this short are rare (P(D < s) <= 1e-4) and an
        # outage this recent is unlikely (lambda s <= 1e-4), the closed form's relative errors
        lam = config.downtime_rate_per_year / YEAR_S
        self._closed_form_below_s = min(float(config.duration.ppf(_CLOSED_FORM_ERROR)),
                                        _CLOSED_FORM_ERROR / lam if lam > 0 else math.inf)

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def for_chain(cls, chain: str, *, model: OutageModel | None = None, catalog: Catalog | None = None,
                  **overrides: Any) -> StatusModel:
        """The model for ``chain`` with defaults from the catalog (block time) and the fitted outage model
        (downtime rate and predictive duration law; default: fitted to the bundled catalog); ``overrides``
        set any :class:`StatusConfig` field."""
        pr = chain_prior(chain, model, catalog)
        base: dict[str, Any] = {"chain": pr.chain, "block_time_s": pr.block_time_s or DEFAULT_BLOCK_TIME_S,
                                "downtime_rate_per_year": pr.downtime_rate_per_year, "duration": pr.duration,
                                "fixed_cadence": pr.fixed_cadence}
        names = {f.name for f in dataclasses.fields(StatusConfig)}
        bad = sorted(set(overrides) - names)
        if bad:
            raise DataError("unknown status model setting", chain=pr.chain, field=bad[0])
        return cls(StatusConfig(**(base | overrides)))

    @property
    def chain(self) -> str:
        return self.config.chain

    @property
    def interval_fit(self) -> RegimeFit:
        """The block-interval law's prior and what it learned so far."""
        return self._fit

    # -- the model ------------------------------------------------------------------------------------
    def silence_log_odds(self, silence_s: float) -> float:
        """Log posterior odds of *down* given a silence of ``silence_s`` seconds alone (current block law)."""
        c = self.config
        return silence_log_odds(silence_s, self._fit.law(), c.downtime_rate_per_year, self._duration_sf,
                                self._closed_form_below_s)

    def p_down_given_silence(self, silence_s: float) -> float:
        """``P(down | silent for silence_s)`` with no other evidence."""
        return _sigmoid(self.silence_log_odds(silence_s))

    def feed_log_lr(self, feed_up: bool, silence_s: float) -> float:
        """Log likelihood ratio (down vs up) of the uptime feed's answer after a silence of ``silence_s``."""
        c = self.config
        rise = 1.0 - math.exp(-max(silence_s - c.feed_delay_s, 0.0) / c.feed_delay_s)
        sens = max(c.feed_sensitivity * rise, c.feed_floor)
        if feed_up:
            return math.log((1.0 - sens) / (1.0 - c.feed_false_down))
        return math.log(sens / c.feed_false_down)

    def batch_log_lr(self, batch_age_s: float) -> float:
        """Log likelihood ratio (down vs up) of an L1 batch age: ``-log P(age >= a | up)``, the up law being
        ``(1 - stall) * exp(-(a - T)^+ / T) + stall`` (a down chain posts no batch: probability about 1)."""
        c = self.config
        return _overdue_log_lr(batch_age_s, c.batch_interval_s, c.batch_stall_share)

    def probe_log_lr(self, pending_s: float) -> float:
        """Log likelihood ratio (down vs up) of an accepted probe transaction not included after ``pending_s``:
        ``-log P(wait >= w | up)``, the up law being ``(1 - stuck) * exp(-(w - T)^+ / T) + stuck`` with
        ``T = probe_include_s`` (a down sequencer includes nothing: probability about 1)."""
        c = self.config
        t = c.probe_include_s if c.probe_include_s is not None else c.slow_after
        return _overdue_log_lr(pending_s, t, c.probe_stuck_share)

    def update(self, ev: Evidence) -> Status:
        """Fold one polling round into the model and return the chain's status after it."""
        c, mem = self.config, self._mem
        t = float(ev.observed_utc)
        obs = tuple(o if o.observed_utc == t else dataclasses.replace(o, observed_utc=t)
                    for o in ev.observations)  # one clock per round
        reasons: list[str] = []
        prev_head, prev_time, prev_seen = mem.health.head_number, mem.health.head_time_utc, \
            mem.health.head_first_seen_utc
        gap = t - mem.last_utc if mem.last_utc is not None else 0.0
        if mem.started_utc is None:
            mem.started_utc = t
        if obs:
            mem.health, ch = step(mem.health, obs, HealthRules(replica_lag_blocks=c.replica_lag_blocks))
            lagging = tuple(e.endpoint for e in ch.endpoints if e.verdict == "lagging")
            unreachable = tuple(e.endpoint for e in ch.endpoints if e.verdict == "unreachable")
            answered = any(e.verdict != "unreachable" for e in ch.endpoints)
        else:
            lagging, unreachable, answered = (), (), False
        head = mem.health.head_number
        age_obs = None if mem.health.head_first_seen_utc is None else t - mem.health.head_first_seen_utc
        age_blk = None if mem.health.head_time_utc is None else t - mem.health.head_time_utc
        moved = prev_head is not None and head is not None and head > prev_head
        if moved:
            assert head is not None and prev_head is not None
            if c.learn:
                self._learn(head - prev_head, prev_time, prev_seen, t)
            mem.peak_p_down = 0.0
            mem.moved_since_start = True
            mem.sight_gap_s = gap
        if answered and age_obs is not None:
            if age_blk is None:
                s = age_obs
            elif not mem.moved_since_start:
                s = max(age_blk, age_obs)
            else:
                appeared = mem.sight_gap_s if mem.sight_gap_s is not None else gap
                s = min(max(age_blk, age_obs), age_obs + appeared + c.clock_slack_s)
            mem.silence_s = s
            mem.silence_log_odds = self.silence_log_odds(s)
        s = mem.silence_s
        log_odds = mem.silence_log_odds
        if head is None:
            reasons.append("no head seen yet")
        elif answered:
            reasons.append(f"head {head} silent for {s:.0f} s: P(down | silence) {_sigmoid(log_odds):.3g}")
        if not answered and head is not None:
            log_odds += math.log(c.unreachable_odds)
            reasons.append("no endpoint answered" + (f" (silence {s:.0f} s at the last answer)" if s else ""))
        if ev.feed_up is not None:
            log_odds += self.feed_log_lr(ev.feed_up, s)
            if not ev.feed_up:
                reasons.append("uptime feed says down")
        if ev.l1_batch_age_s is not None:
            lr = self.batch_log_lr(ev.l1_batch_age_s)
            log_odds += lr
            if lr > 1.0:
                reasons.append(f"no L1 batch for {ev.l1_batch_age_s:.0f} s")
        if ev.probe_pending_s is not None:
            lr = self.probe_log_lr(ev.probe_pending_s)
            log_odds += lr
            if lr > 1.0:
                reasons.append(f"probe transaction accepted, not included for {ev.probe_pending_s:.0f} s")
        if lagging:
            reasons.append(f"lagging (ignored): {', '.join(lagging)}")
        if unreachable and answered:
            reasons.append(f"unreachable (ignored): {', '.join(unreachable)}")
        p = _sigmoid(log_odds) if head is not None or ev.feed_up is not None else 0.0
        mem.peak_p_down = max(mem.peak_p_down, p)
        mem.last_utc = t
        state: State = "healthy"
        if p >= c.down_at:
            state = "down"
        elif p >= c.degraded_at or ev.feed_up is False or (not answered and bool(obs)):
            state = "degraded"
        return Status(chain=c.chain, observed_utc=t, state=state, p_down=p, head_number=head,
                      head_age_observer_s=age_obs, head_age_block_s=age_blk, down_for_s=s if head is not None
                      else 0.0, lagging_endpoints=lagging, unreachable_endpoints=unreachable, reasons=tuple(reasons))

    def _learn(self, n: int, prev_time: float | None, prev_seen: float | None, t: float) -> None:
        """Teach the block-interval law the ``n`` intervals that ended when the head moved (seen at ``t``).

        The span: by the block clock where blocks carry timestamps; on a fixed-cadence chain, whose timestamps
        say ``b`` whatever happened, the silence the last look saw (at least ``b``) and the blocks after it
        ``b`` apart: the first new block came after that look (so the interval was at least that long) and
        by this one, and no longer bound is known (``t`` less the old head's timestamp would count every
        poll gap as a slow block; the monitor polls a late chain every ``suspect_interval_s``, so a late
        block's silence is seen to within that). The silence is learned unless it was an outage: while it
        lasted its peak ``P(down)`` stayed below one half, or, now that it ended, an outage that short is the
        less likely explanation (:func:`~seqrisk.monitor.silence.completed_log_odds`; a stall of seconds
        alarmed on while it lasted still teaches the law, so the next one like it is not alarmed on again).
        """
        c, mem = self.config, self._mem
        head_time = mem.health.head_time_utc
        if c.fixed_cadence and prev_time is not None:
            span = (n - 1) * c.block_time_s + max(c.block_time_s, mem.silence_s)
        elif head_time is not None and prev_time is not None:
            span = head_time - prev_time
        else:
            span = t - (prev_seen if prev_seen is not None else t)
        span = max(span, 0.0)
        if mem.peak_p_down >= 0.5:
            last = span - (n - 1) * c.block_time_s  # the interval RegimeFit.add takes as the long one
            if completed_log_odds(last, self._fit.law(), c.downtime_rate_per_year, self._duration_pdf) >= 0.0:
                return
        self._fit = self._fit.add(n, span)

    # -- persistence --------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """The model's memory as a JSON-able dict (for a restart: :meth:`from_state`)."""
        m, h = self._mem, self._mem.health
        return {"version": STATE_VERSION, "chain": self.chain,
                "health": {"head_number": h.head_number, "head_time_utc": h.head_time_utc,
                           "head_first_seen_utc": h.head_first_seen_utc, "rounds": h.rounds,
                           "endpoint_heads": {k: [v[0], v[1]] for k, v in h.endpoint_heads.items()}},
                "started_utc": m.started_utc, "last_utc": m.last_utc, "moved_since_start": m.moved_since_start,
                "silence_s": m.silence_s, "peak_p_down": m.peak_p_down, "sight_gap_s": m.sight_gap_s,
                "intervals": self._fit.to_dict()}

    @classmethod
    def from_state(cls, chain: str, state: dict[str, Any], **kw: Any) -> StatusModel:
        """A model for ``chain`` (built as :meth:`for_chain` with ``kw``) resuming from :meth:`to_state`."""
        model = cls.for_chain(chain, **kw)
        try:
            if state.get("version") not in (2, STATE_VERSION):  # 2: its counts migrated by RegimeFit.with_state
                raise DataError(f"status state version {state.get('version')!r} is neither 2 nor {STATE_VERSION}",
                                chain=chain, field="version", value=state.get("version"))
            if state.get("chain") != model.chain:
                raise DataError("status state belongs to another chain", chain=model.chain, field="chain",
                                value=state.get("chain"))
            h = state["health"]
            health = HealthState(h["head_number"], h["head_time_utc"], h["head_first_seen_utc"],
                                 {k: (int(v[0]), float(v[1])) for k, v in h["endpoint_heads"].items()},
                                 int(h["rounds"]))
            model._fit = model._fit.with_state(state["intervals"])
            model._mem = _Memory(health, state["started_utc"], state["last_utc"], bool(state["moved_since_start"]),
                                 float(state["silence_s"]), -math.inf, float(state["peak_p_down"]),
                                 None if state.get("sight_gap_s") is None else float(state["sight_gap_s"]))
            model._mem.silence_log_odds = model.silence_log_odds(model._mem.silence_s)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed status state: {exc!r}", chain=model.chain) from None
        return model
