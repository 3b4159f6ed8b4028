"""The status model: closed forms, calibration on simulated streams, monotonicity, and what must not alarm."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest

from seqrisk.exceptions import DataError, UnknownChainError
from seqrisk.health import Observation
from seqrisk.monitor.silence import BlockIntervalLaw, RegimeMixture, completed_log_odds, silence_log_odds
from seqrisk.monitor.status import StatusConfig, StatusModel
from seqrisk.monitor.types import Evidence
from seqrisk.outage import DurationLaw, OutageModel
from seqrisk.units import YEAR_S

EXAMPLE_MODEL = OutageModel.load("examples/outage-model.json")


def _model(**kw: object) -> StatusModel:
    return StatusModel.for_chain("arbitrum", model=EXAMPLE_MODEL, **kw)  # type: ignore[arg-type]


def _round(t: float, *heads: tuple[str, int | None, float | None], feed: bool | None = None,
           batch: float | None = None, probe: float | None = None) -> Evidence:
    return Evidence("arbitrum", t, tuple(Observation(ep, t, n, ts) for ep, n, ts in heads), feed_up=feed,
                    l1_batch_age_s=batch, probe_pending_s=probe)


def _steady(m: StatusModel, t0: float, n: int, bt: float = 2.0, first_block: int = 0) -> float:
    """Blocks every ``bt`` seconds, polled as each is made; returns the time of the last round."""
    t = t0
    for i in range(n):
        t = t0 + bt * i
        m.update(_round(t, ("a", first_block + i, t)))
    return t


def test_closed_form_exponential_laws() -> None:
    """Exponential block intervals (mean b) and outage durations (mean d): the odds integral in closed form,
    lambda exp(-s/d) (1 - exp(-k s)) / k over exp(-s/b - lambda s), k = lambda + 1/b - 1/d."""
    b, d, rate = 3.0, 120.0, 2000.0  # an absurd rate so the odds are of order one
    u = 5.0
    law = BlockIntervalLaw(1e-12, u, math.exp(-u / b), b)  # no sure part: exponential
    dur = DurationLaw("exponential", {"mean_s": d})
    lam = rate / YEAR_S
    k = lam + 1 / b - 1 / d
    for s in (0.5, 4.0, 5.0, 9.0, 30.0, 100.0):
        ref = math.log(lam * math.exp(-s / d) * -math.expm1(-k * s) / k) - (-s / b - lam * s)
        assert silence_log_odds(s, law, rate, dur.sf) == pytest.approx(ref, rel=1e-7, abs=1e-9)


def test_block_law_mean_is_integral_of_survival() -> None:
    law = BlockIntervalLaw(2.0, 5.0, 0.02, 4.0)
    from scipy.integrate import quad

    ref = quad(lambda x: float(law.sf(x)), 0, 5)[0] + quad(lambda x: float(law.sf(x)), 5, np.inf)[0]
    assert law.mean() == pytest.approx(ref, rel=1e-8)


def test_monotone_in_silence_and_no_plateau() -> None:
    """P(down | silent s) rises with s and tends to 1, even when outages are short on average."""
    short = DurationLaw("lognormal", {"median_s": 60.0, "sigma": 0.5})  # mean outage about a minute
    law = BlockIntervalLaw(2.0, 5.0, 0.01, 4.0)
    s = np.unique(np.concatenate([np.linspace(0.1, 10, 50), np.geomspace(10, 86400, 200)]))
    lo = np.array([silence_log_odds(x, law, 0.5, short.sf) for x in s])
    assert np.all(np.diff(lo) > 0)
    p = 1 / (1 + np.exp(-lo))
    assert p[s >= 600].min() > 1 - 1e-9
    m = _model()
    ps = [m.p_down_given_silence(x) for x in (1, 10, 60, 120, 600, 3600, 86400, 30 * 86400)]
    assert ps == sorted(ps) and ps[-1] > 1 - 1e-9


def _simulate(law: BlockIntervalLaw, rate: float, dur: DurationLaw, years: float, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """A stream of the model itself: block intervals from ``law``, outages starting at ``rate`` per year while
    up and lasting ``dur``; at uniform random times, the silence since the last block and the truth."""
    lam = rate / YEAR_S
    horizon = years * YEAR_S
    n = int(horizon / law.mean() * 1.2) + 1000
    u = rng.random(n)
    lp = math.log(law.p_slow)
    # inverse of the block law's survival
    lu = np.log(u)
    a, uu = law.sure_s, law.slow_after_s
    b = np.where(lu >= lp, a + lu / lp * (uu - a), uu + (lp - lu) * law.slow_mean_s)
    e = rng.exponential(1 / lam, n)
    d = dur.sample(rng, n)
    out = e < b
    # an interval: up for min(b, e), then (if out) down for d; the next block ends the interval
    up_len = np.where(out, e, b)
    down_len = np.where(out, d, 0.0)
    starts = np.concatenate([[0.0], np.cumsum(up_len + down_len)[:-1]])
    assert starts[-1] > horizon
    times = np.sort(rng.uniform(0, horizon, 400_000))
    i = np.searchsorted(starts, times, side="right") - 1
    since = times - starts[i]
    down = out[i] & (since >= up_len[i])
    return since, down


def test_calibrated_on_simulated_streams() -> None:
    """When the model says p, the chain is down about a share p of the time (the stream follows the model)."""
    law = BlockIntervalLaw(2.0, 5.0, 0.02, 4.0)
    dur = DurationLaw("lognormal", {"median_s": 60.0, "sigma": 1.0})
    rate = 20_000.0  # per year: outages common enough to fill every probability bin in a simulated month
    since, down = _simulate(law, rate, dur, 1 / 12, np.random.default_rng(5))
    grid = np.geomspace(0.05, since.max() + 1, 3000)
    lo = np.array([silence_log_odds(x, law, rate, dur.sf) for x in grid])
    p = 1 / (1 + np.exp(-np.interp(since, grid, lo)))
    edges = [0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98]
    checked = 0
    for a, b in itertools.pairwise(edges):
        sel = (p >= a) & (p < b)
        if sel.sum() < 300:
            continue
        checked += 1
        freq, mean_p = down[sel].mean(), p[sel].mean()
        se = math.sqrt(mean_p * (1 - mean_p) / sel.sum())
        assert abs(freq - mean_p) < 4 * se + 0.02, (a, b, freq, mean_p, sel.sum())
    assert checked >= 4
    hi = p >= 0.98
    assert down[hi].mean() > 0.97


def test_single_slow_block_and_lagging_replica_do_not_alarm() -> None:
    m = _model(block_time_s=2.0)
    t = _steady(m, 1e9, 2000)
    # one slow block of 20 s (ten block times), polled every 2 s
    worst = max(m.update(_round(t + x, ("a", 1999, t))).p_down for x in range(2, 21, 2))
    assert worst < 0.2
    st = m.update(_round(t + 22, ("a", 2000, t + 21)))
    assert st.state == "healthy"
    # a replica 10 blocks behind, another at the head: healthy, the replica named
    t += 22
    for i in range(30):
        t += 2
        st = m.update(_round(t, ("a", 2001 + i, t), ("b", 1991 + i, t - 20)))
        assert st.state == "healthy" and st.p_down < 1e-3
    assert st.lagging_endpoints == ("b",)
    # one replica unreachable: healthy too
    st = m.update(_round(t + 2, ("a", 2031, t + 2), ("b", None, None)))
    assert st.state == "healthy" and st.unreachable_endpoints == ("b",)


def test_stalled_head_goes_down_and_restart_resumes() -> None:
    m = _model(block_time_s=2.0)
    t = _steady(m, 1e9, 500)
    seen = []
    for x in range(2, 1200, 2):
        st = m.update(_round(t + x, ("a", 499, t)))
        seen.append(st)
    ps = [s.p_down for s in seen]
    assert all(b >= a for a, b in itertools.pairwise(ps))  # monotone while the head stays silent
    assert seen[-1].state == "down" and seen[-1].down_for_s == pytest.approx(1198, abs=3)
    first_down = next(s for s in seen if s.state == "down")
    assert first_down.down_for_s < 120  # before Chainlink's 120 s rule
    # restart from the JSON state: the same answers as the model that kept running
    state = json.loads(json.dumps(m.to_state()))
    m2 = StatusModel.from_state("arbitrum", state, model=EXAMPLE_MODEL, block_time_s=2.0)
    for x in (1202, 1300):
        a, b = m.update(_round(t + x, ("a", 499, t))), m2.update(_round(t + x, ("a", 499, t)))
        assert a == b
    # the head moves again: healthy, and the outage did not teach the block law
    fit = m.interval_fit
    st = m.update(_round(t + 1302, ("a", 500, t + 1301)))
    assert st.state == "healthy" and m.interval_fit == fit


def test_feed_flip() -> None:
    """The uptime feed is strong but not infallible evidence."""
    m = _model(block_time_s=2.0)
    t = _steady(m, 1e9, 500)
    s = 40.0
    none = m.update(_round(t + s, ("a", 499, t))).p_down
    m2 = _model(block_time_s=2.0)
    _steady(m2, 1e9, 500)
    down = m2.update(_round(t + s, ("a", 499, t), feed=False))
    m3 = _model(block_time_s=2.0)
    _steady(m3, 1e9, 500)
    up = m3.update(_round(t + s, ("a", 499, t), feed=True)).p_down
    assert up < none < down.p_down
    assert "uptime feed says down" in down.reasons
    # the feed flips down while blocks flow: degraded (worth a look), not down
    m4 = _model(block_time_s=2.0)
    t4 = _steady(m4, 1e9, 500)
    st = m4.update(_round(t4 + 2, ("a", 500, t4 + 2), feed=False))
    assert st.state == "degraded" and st.p_down < 0.9
    # a feed stuck on "up" through a long silence does not stop the verdict
    st = m3.update(_round(t + 3600, ("a", 499, t), feed=True))
    assert st.state == "down"
    assert m.feed_log_lr(True, 1e6) == pytest.approx(math.log((1 - 0.98) / (1 - 1e-3)))


def test_l1_batch_age_and_no_answer() -> None:
    m = _model(block_time_s=2.0)
    assert m.batch_log_lr(60) == pytest.approx(-math.log(1.0))
    assert m.batch_log_lr(1e6) == pytest.approx(-math.log(1e-3), rel=1e-3)
    t = _steady(m, 1e9, 300)
    st = m.update(_round(t + 2, ("a", None, None)))
    assert st.state == "degraded" and "no endpoint answered" in st.reasons[-1]


def test_a_probe_waiting_for_inclusion() -> None:
    """An accepted probe not included: no weight within the usual inclusion time, then the odds grow to at most
    1 / stuck share; on a chain whose head moves it raises nothing (a stuck transaction is not an outage)."""
    m = _model(block_time_s=2.0)
    assert m.probe_log_lr(3.0) == pytest.approx(0.0, abs=1e-9)  # within 2 b + 1 s
    lrs = [m.probe_log_lr(w) for w in (5.0, 10.0, 30.0, 1e4)]
    assert all(b > a for a, b in itertools.pairwise(lrs))
    assert lrs[-1] == pytest.approx(-math.log(0.01), rel=1e-6)
    # the closed form of the up law: P(wait >= w | up) = 0.99 exp(-(w - 5) / 5) + 0.01
    assert lrs[1] == pytest.approx(-math.log(0.99 * math.exp(-1.0) + 0.01))
    t = _steady(m, 1e9, 500)
    silence = [m.update(_round(t + x, ("a", 499, t))) for x in (4, 8, 12, 16)]
    m2 = _model(block_time_s=2.0)
    _steady(m2, 1e9, 500)
    probed = [m2.update(_round(t + x, ("a", 499, t), probe=x - 1.0)) for x in (4, 8, 12, 16)]
    assert all(b.p_down > a.p_down for a, b in zip(silence[1:], probed[1:], strict=True))
    assert probed[-1].p_down / (1 - probed[-1].p_down) == pytest.approx(
        silence[-1].p_down / (1 - silence[-1].p_down) * math.exp(m.probe_log_lr(15.0)), rel=1e-6)
    assert any(r.startswith("probe transaction accepted, not included") for r in probed[-1].reasons)
    m3 = _model(block_time_s=2.0)
    t3 = _steady(m3, 1e9, 500)
    for i in range(1, 200):  # the head keeps moving while a probe stays stuck for 400 s
        st = m3.update(_round(t3 + 2 * i, ("a", 499 + i, t3 + 2 * i), probe=2.0 * i))
        assert st.state == "healthy" and st.p_down < 0.01


def test_learns_block_law_from_stream() -> None:
    """Slow blocks seen while healthy teach the tail: the same silence then weighs less."""
    m = _model(block_time_s=2.0)
    t = 1e9
    rng = np.random.default_rng(1)
    for n in range(1, 3001):
        gap = 2.0 if rng.random() > 0.05 else 5.0 + rng.exponential(8.0)
        t += gap
        m.update(_round(t, ("a", n, t)))
    law = m.interval_fit.law()
    assert float(law.sf(5.0)) == pytest.approx(0.05, rel=0.3)
    assert float(law.sf(21.0) / law.sf(5.0)) == pytest.approx(math.exp(-16.0 / 8.0), rel=0.3)
    fresh = _model(block_time_s=2.0)
    assert m.p_down_given_silence(40) < fresh.p_down_given_silence(40)


def _spells(n: int, q: float, r: float, rng: np.random.Generator, p_n: float = 0.0, m_n: float = 3.0,
            spell: str = "gamma") -> tuple[np.ndarray, np.ndarray]:
    """``n`` block intervals of a chain with slow spells: a hidden Markov chain of regimes (a spell starts with
    probability ``q`` after a normal interval, ends with ``r``); normal intervals 2 s (slow with probability
    ``p_n``, then 5 s plus an exponential of mean ``m_n``), spell intervals 2 s plus a gamma(2, 3 s) delay
    (``spell="gamma"``) or, slow with probability 0.6, 5 s plus an exponential of mean 6 s (``"exp"``)."""
    regime = np.zeros(n, bool)
    u = rng.random(n)
    for i in range(1, n):
        regime[i] = u[i] >= r if regime[i - 1] else u[i] < q
    iv = np.full(n, 2.0)
    slow_n = ~regime & (rng.random(n) < p_n)
    iv[slow_n] = 5.0 + rng.exponential(m_n, int(slow_n.sum()))
    if spell == "gamma":
        iv[regime] += rng.gamma(2.0, 3.0, int(regime.sum()))
    else:
        slow_s = regime & (rng.random(n) < 0.6)
        iv[slow_s] = 5.0 + rng.exponential(6.0, int(slow_s.sum()))
    return iv, regime


def test_two_regime_law_recovers_known_parameters_and_tells_the_regimes_apart() -> None:
    """Intervals simulated from the two-regime model itself (known q, r, p and m of each regime): the online
    fit finds them, and its filter knows a spell from ordinary times."""
    q, r = 0.004, 0.08
    iv, regime = _spells(100_000, q, r, np.random.default_rng(7), p_n=0.002, m_n=3.0, spell="exp")
    fit = StatusConfig("arbitrum", 2.0, 1.0, EXAMPLE_MODEL.chains["arbitrum"].durations["downtime"]).interval_prior()
    filtered = np.empty(iv.size)
    for i, x in enumerate(iv):
        fit = fit.add(1, float(x))
        filtered[i] = fit.p_spell
    p_n, m_n, p_s, m_s, q_hat, r_hat = fit.params()
    assert q_hat == pytest.approx(q, rel=0.15) and r_hat == pytest.approx(r, rel=0.15)
    assert p_s == pytest.approx(0.6, rel=0.1) and m_s == pytest.approx(6.0, rel=0.1)
    assert p_n == pytest.approx(0.002, rel=0.35) and m_n == pytest.approx(3.0, rel=0.35)
    # the filter: in a spell it says spell, in ordinary times normal (after the first few intervals of each)
    assert np.mean(filtered[regime]) > 0.75 and np.mean(filtered[~regime]) < 0.03
    # the predictive law of the next interval is calibrated: where the filter says "normal", the share of next
    # intervals longer than 10 s is what the mixture says (a spell starting, or a slow normal block)
    calm = np.flatnonzero(filtered[:-1] < 0.01)
    w = float(np.mean((1 - filtered[calm]) * q_hat + filtered[calm] * (1 - r_hat)))
    want = float(RegimeMixture((1 - w, w), fit.regime_laws()).sf(10.0))
    got = float(np.mean(iv[calm + 1] > 10.0))
    assert got == pytest.approx(want, rel=0.3)


def test_slow_spells_raise_no_alarm_and_ordinary_silences_are_called_sooner() -> None:
    """A chain with slow spells (a spell starts after 0.2% of intervals and lasts 20 on average, each interval
    2 s plus a gamma(2, 3 s) delay; timestamps in whole seconds), polled every 2 s: no round of the healthy
    stream reaches even P(down) 0.5. A silence in ordinary times reaches P(down) 0.9 sooner under the
    two-regime law than under one law fitted to all the same intervals (where the spells' slow intervals
    explain any silence), and much sooner than a silence that begins inside a spell."""
    iv, _regime = _spells(20_000, 0.002, 0.05, np.random.default_rng(3))
    m = _model(block_time_s=2.0)
    t_blocks = 1e9 + np.cumsum(iv)
    stamps = np.floor(t_blocks)
    polls = np.arange(t_blocks[0] + 0.3, t_blocks[-1], 2.0)
    heads = np.searchsorted(t_blocks + 0.3, polls, side="right") - 1
    worst = max(m.update(_round(float(t), ("a", int(h), float(stamps[h])))).p_down
                for t, h in zip(polls, heads, strict=True))
    assert worst < 0.5
    seen = np.diff(stamps)  # the intervals the model saw
    assert seen.max() > 25.0  # silences that a rule of a few block times would call
    fit = m.interval_fit
    assert fit.p_spell < 0.01  # the stream ended in ordinary times
    rate, sf = m.config.downtime_rate_per_year, m.config.duration.sf

    def first_down(law: Any) -> float:
        return next(s for s in np.arange(2.0, 600.0, 0.5) if silence_log_odds(s, law, rate, sf) >= math.log(9))

    slow = seen > 5.0
    one_law = BlockIntervalLaw(2.0, 5.0, float(slow.mean()), float(np.mean(seen[slow] - 5.0)))
    in_spell = RegimeMixture((0.1, 0.9), fit.regime_laws())
    calm = first_down(fit.law())
    assert calm < first_down(one_law) - 5 and calm < first_down(in_spell) - 8  # 65 s against 76 s and 76 s
    # the status model's closed form for short silences agrees with the full integral
    for s in (1.0, 3.0, 6.0, 10.0):
        assert m.silence_log_odds(s) == pytest.approx(silence_log_odds(s, fit.law(), rate, sf), abs=1e-3)


def test_bad_input() -> None:
    with pytest.raises(UnknownChainError):
        StatusModel.for_chain("arbitrun", model=EXAMPLE_MODEL)
    with pytest.raises(DataError, match="unknown status model setting"):
        _model(no_such=1)
    with pytest.raises(DataError, match="out of range"):
        _model(down_at=0.1, degraded_at=0.5)
    with pytest.raises(DataError, match="another chain"):
        StatusModel.from_state("optimism", _model().to_state(), model=EXAMPLE_MODEL)


def test_ladder_tail_matches_the_gamma_law_it_was_fed() -> None:
    """Spell intervals are 2 s plus a gamma(2, 3 s) delay, a tail that is not exponential: the spell regime's
    learned survival at its ladder thresholds is scipy's gamma survival there (the normal regime, never slow,
    stays far below), and its mean excess past u is the gamma's closed form E[G - c | G > c]."""
    from scipy import stats as sps

    iv, _regime = _spells(60_000, 0.005, 0.05, np.random.default_rng(11))
    fit = StatusConfig("arbitrum", 2.0, 1.0, EXAMPLE_MODEL.chains["arbitrum"].durations["downtime"]).interval_prior()
    for x in iv:
        fit = fit.add(1, float(x))
    normal, spell = fit.regime_laws()
    g = sps.gamma(2.0, scale=3.0)
    for t in (5.0, 7.0, 9.0, 13.0, 17.0, 21.0):
        assert float(spell.sf(t)) == pytest.approx(float(g.sf(t - 2.0)), rel=0.2), t
        assert float(normal.sf(t)) < 0.01 * float(g.sf(t - 2.0))
    c = 3.0  # u - 2 s
    want = 3.0 * (1.0 + 1.0 / (1.0 + c / 3.0))  # E[G - c | G > c] of a gamma of shape 2, scale 3
    assert fit.params()[3] == pytest.approx(want, rel=0.15)


def test_ladder_law_closed_forms() -> None:
    """A ladder law's mean is the integral of its survival, and a ladder on an exponential tail is that tail."""
    from scipy.integrate import quad

    law = BlockIntervalLaw(2.0, 5.0, 0.02, 3.0, (6.0, 9.0, 20.0), (math.log(0.02) - 0.5, math.log(0.02) - 0.6,
                                                                     math.log(0.02) - 8.0))
    cuts = [0.0, 2.0, 5.0, 6.0, 9.0, 20.0]
    ref = sum(quad(lambda x: float(law.sf(x)), a, b)[0] for a, b in itertools.pairwise(cuts))
    ref += quad(lambda x: float(law.sf(x)), 20.0, np.inf)[0]
    assert law.mean() == pytest.approx(ref, rel=1e-8)
    assert law.integral_sf(7.5) == pytest.approx(sum(quad(lambda x: float(law.sf(x)), a, b)[0]
                                                     for a, b in itertools.pairwise([0, 2, 5, 6, 7.5])), rel=1e-8)
    assert [law.logsf_scalar(x) for x in (1.0, 4.0, 7.0, 30.0)] == pytest.approx(
        [float(law.logsf(x)) for x in (1.0, 4.0, 7.0, 30.0)], rel=1e-12)
    flat = BlockIntervalLaw(2.0, 5.0, 0.02, 4.0, (7.0, 13.0), (math.log(0.02) - 0.5, math.log(0.02) - 2.0))
    plain = BlockIntervalLaw(2.0, 5.0, 0.02, 4.0)
    assert float(flat.sf(20.0)) == pytest.approx(float(plain.sf(20.0)), rel=1e-12)
    assert flat.excess_mean() == pytest.approx(4.0, rel=1e-12)


def test_a_short_history_is_not_over_confident() -> None:
    """A chain whose every interval is exactly 2 s: the silence it takes to reach P(down) 0.9 shrinks as the
    history grows (the share of slow intervals is bounded by how many were seen), and after a short history
    it is long; the law never says a slow interval is rarer than one in the number of intervals seen."""
    m = _model(block_time_s=2.0)
    fit = m.config.interval_prior()
    grid = np.arange(2.0, 400.0, 0.5)
    needed, seen = [], 0
    for n in (1_000, 30_000, 300_000, 3_000_000):
        while seen < n:
            step = min(1_000, n - seen)
            fit = fit.add(step, 2.0 * step)
            seen += step
        m._fit = fit
        needed.append(next(s for s in grid if m.p_down_given_silence(float(s)) >= 0.9))
        assert float(fit.law().sf(5.0)) >= 0.5 / (n + m.config.prior_intervals)  # calibrated bound
    assert all(a > b for a, b in itertools.pairwise(needed)), needed
    assert needed[0] > 2 * needed[-1] and needed[0] > 40.0, needed


def test_a_version_2_state_still_loads() -> None:
    """A state written before the ladder (version 2: per regime intervals, slow ones and their seconds past u)
    resumes with the same share of slow intervals as that version's fit and about its mean excess past u (the
    ladder steps' priors pull the far tail a little towards theirs)."""
    m = _model(block_time_s=2.0)
    _steady(m, 1e9, 50)
    state = json.loads(json.dumps(m.to_state()))
    counts = [5000.0, 40.0, 40.0 * 7.0, 300.0, 150.0, 150.0 * 9.0, 5100.0, 10.0, 300.0, 12.0]
    state |= {"version": 2, "intervals": {"counts": counts, "p_spell_before": 0.0, "window": [2.0, 2.0],
                                          "p_spell": 0.0}}
    m2 = StatusModel.from_state("arbitrum", state, model=EXAMPLE_MODEL, block_time_s=2.0)
    p_n, m_n, p_s, m_s, q, r = m2.interval_fit.params()
    c = m2.config
    m0 = c.prior_slow_mean_s or 4.0
    assert p_n == pytest.approx((c.slow_share_prior * c.prior_intervals + 40) / (c.prior_intervals + 5000), rel=1e-9)
    assert m_n == pytest.approx((c.prior_slow_n * m0 + 280) / (c.prior_slow_n + 40), rel=0.12)
    assert m_s == pytest.approx((c.prior_slow_n * m0 + 1350) / (c.prior_slow_n + 150), rel=0.12)
    assert q == pytest.approx((c.prior_spell_start * c.spell_start_weight + 10) / (c.spell_start_weight + 5100))
    assert p_s == pytest.approx((c.prior_spell_p_slow * c.prior_spell_intervals + 150)
                                / (c.prior_spell_intervals + 300))
    assert r == pytest.approx((c.prior_spell_end_n / c.prior_spell_blocks + 12) / (c.prior_spell_end_n + 300))
    assert m2.to_state()["version"] == 3
    with pytest.raises(DataError, match="version"):
        StatusModel.from_state("arbitrum", state | {"version": 1}, model=EXAMPLE_MODEL)


def test_no_false_alarm_on_a_steady_chain_with_rare_long_stalls() -> None:
    """A 2 s chain that stalls now and then while healthy (one interval in 1,000 runs past 5 s by an exponential
    of mean 6 s, a heavier tail than the prior's 4 s), polled every 4 s for three and a half days: the ladder
    learns the stalls as they come, and no round reaches P(down) 0.9 although the longest stall is well past
    what a rule of a few block times (or of 20 s) would call an outage (a calibrated model says down with 90%
    confidence only where a healthy silence is nine times less likely than an outage's start)."""
    rng = np.random.default_rng(21)
    n = 150_000
    iv = np.full(n, 2.0)
    stall = rng.random(n) < 1 / 1000
    iv[stall] = 5.0 + rng.exponential(6.0, int(stall.sum()))
    assert iv.max() > 30.0
    m = StatusModel.for_chain("base", model=EXAMPLE_MODEL, fixed_cadence=False)  # timestamps show the stalls
    t_blocks = 1e9 + np.cumsum(iv)
    polls = np.arange(t_blocks[0] + 0.3, t_blocks[-1], 4.0)
    heads = np.searchsorted(t_blocks + 0.3, polls, side="right") - 1
    worst = max(m.update(Evidence("base", float(t), (Observation("a", float(t), int(h), float(t_blocks[h])),))).p_down
                for t, h in zip(polls, heads, strict=True))
    assert worst < 0.9
    # it learned the stalls: the normal regime's slow share and mean excess past u are the stream's
    p_n, m_n, *_ = m.interval_fit.params()
    share = float(np.mean(iv > 5.0))
    assert p_n == pytest.approx(share, rel=0.35) and m_n == pytest.approx(6.0, rel=0.35)


def test_fixed_cadence_comes_from_the_catalog() -> None:
    """OP-stack chains give block n the timestamp genesis + n b and back-fill a stall with blocks stamped on
    schedule (the catalog's empty_blocks_backfilled); Arbitrum makes blocks on demand. Their tails' priors
    differ: a late block on a schedule is late by about one more block time (max(b, 1 s)); on demand by
    max(2 b, 2 s)."""
    base = StatusModel.for_chain("base", model=EXAMPLE_MODEL)
    arb = StatusModel.for_chain("arbitrum", model=EXAMPLE_MODEL)
    assert base.config.fixed_cadence and not arb.config.fixed_cadence
    assert base.interval_fit.normal_slow_mean_s == 2.0 and arb.interval_fit.normal_slow_mean_s == 2.0
    assert StatusModel.for_chain("base", model=EXAMPLE_MODEL, block_time_s=0.5).interval_fit.normal_slow_mean_s == 1.0
    assert StatusModel.for_chain("arbitrum", model=EXAMPLE_MODEL, block_time_s=3.0).interval_fit.normal_slow_mean_s \
        == 6.0


def test_completed_odds_against_numerical_integration() -> None:
    """The odds that a silence which ended after x was an outage: the integral against scipy's quad, and the
    verdicts it exists for (a stall of seconds ended: a slow interval; one of ten minutes: an outage)."""
    from scipy import integrate, stats

    law = BlockIntervalLaw(2.0, 5.0, 1e-3, 3.0, (6.0, 9.0), (math.log(1e-3) - 0.5, math.log(1e-3) - 1.2))
    dur = stats.lognorm(s=1.5, scale=3000.0)
    rate = 50.0
    lam = rate / YEAR_S
    for x in (7.0, 12.0, 40.0, 600.0):
        down = integrate.quad(lambda y, x=x: lam * math.exp(-lam * y) * float(law.sf(y)) * dur.pdf(x - y), 0.0, x,
                              points=[2.0, 5.0, 6.0, 9.0], limit=200, epsabs=0)[0]
        h = 1e-6
        up = (float(law.sf(x - h)) - float(law.sf(x + h))) / (2 * h) * math.exp(-lam * x)
        got = completed_log_odds(x, law, rate, dur.pdf)
        assert got == pytest.approx(math.log(down / up), abs=2e-3), x
    assert completed_log_odds(12.0, law, rate, dur.pdf) < -5.0
    assert completed_log_odds(600.0, law, rate, dur.pdf) > 5.0


def _fixed_cadence_stream(rng: np.random.Generator, n: int, share: float, mean_excess: float,
                          bt: float = 2.0, lag: float = 0.3, poll: float = 4.0
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Blocks due every ``bt`` (timestamps on schedule); a ``share`` of them late by ``bt + 1`` s plus an
    exponential of mean ``mean_excess`` (the blocks due meanwhile come with it, back-filled); seen ``lag`` s
    after they are made. Returns the polls, the head seen at each, the heads' timestamps, the late blocks'
    delays."""
    ts = 1e9 + bt * np.arange(n)
    late = rng.random(n) < share
    late[:10] = False
    delay = np.where(late, bt + 1.0 + rng.exponential(mean_excess, n), 0.0)
    made = np.maximum.accumulate(ts + delay)  # a block comes no sooner than the ones before it
    polls = np.arange(ts[0] + lag, made[-1], poll)
    heads = np.searchsorted(made + lag, polls, side="right") - 1
    return polls, heads, ts, delay[late]


def test_fixed_cadence_chain_learns_its_late_blocks_from_the_observer_clock() -> None:
    """A fixed-cadence chain whose blocks are now and then late (one in 1,000 by 3 s plus an exponential of mean
    8 s), back-filled: the timestamps always say 2 s, so only the observer's clock shows the stalls. The
    model learns their share and tail from it; a stall it alarmed on while it lasted still teaches the law
    once it ended (a stall of seconds is no outage), so after the first few no stall is alarmed on again."""
    rng = np.random.default_rng(5)
    polls, heads, ts, delays = _fixed_cadence_stream(rng, 150_000, 1e-3, 8.0)
    assert delays.max() > 20.0
    m = StatusModel.for_chain("base", model=EXAMPLE_MODEL)
    down = np.array([m.update(Evidence("base", float(t), (Observation("a", float(t), int(h), float(ts[h])),))).p_down
                     >= 0.9 for t, h in zip(polls, heads, strict=True)])
    onsets = np.flatnonzero(down & ~np.concatenate([[False], down[:-1]]))
    assert onsets.size <= 3, onsets.size  # the first long stalls, before the chain showed any
    assert not np.any(onsets > polls.size // 4)  # none once a few were learned
    p_n, m_n, p_s, _m_s, _q, _r = m.interval_fit.params()
    # slow intervals past u = 5 s: the late blocks' delays beyond 3 s (each is one interval of 2 s + delay)
    share = float(np.mean(delays > 3.0)) * delays.size / ts.size
    seen = (1.0 - m.interval_fit.p_spell) * p_n + m.interval_fit.p_spell * p_s
    assert seen == pytest.approx(share, rel=0.5), (seen, share)
    assert m_n == pytest.approx(8.0, rel=0.5)


def test_fixed_cadence_stalls_are_invisible_to_timestamps() -> None:
    """The same stream judged by the timestamps alone (the chain taken for one that stamps blocks when they are
    made): every interval is 2 s, nothing is learned, and the stalls keep being alarmed on all along (15 times
    here, 8 in the second half, against once above)."""
    rng = np.random.default_rng(5)
    polls, heads, ts, _ = _fixed_cadence_stream(rng, 150_000, 1e-3, 8.0)
    m = StatusModel.for_chain("base", model=EXAMPLE_MODEL, fixed_cadence=False, prior_slow_mean_s=2.0)
    down = np.array([m.update(Evidence("base", float(t), (Observation("a", float(t), int(h), float(ts[h])),))).p_down
                     >= 0.9 for t, h in zip(polls, heads, strict=True)])
    onsets = np.flatnonzero(down & ~np.concatenate([[False], down[:-1]]))
    assert np.sum(onsets > polls.size // 2) >= 5
    assert m.interval_fit.params()[0] < 1e-4


def test_the_block_clock_is_trusted_within_the_gap_in_which_the_head_appeared() -> None:
    """A head first seen by a round 4 s after the one before it may have appeared any time in those 4 s: its
    block-clock age counts up to that gap (plus the 2 s slack) past the observer age, also in the quick rounds
    that follow (the monitor polls a late chain every 0.5 s); a timestamp further back than that is not
    believed."""
    m = _model(block_time_s=2.0)
    t = _steady(m, 1e9, 50)
    head = 49
    st = m.update(_round(t + 4.0, ("a", head + 1, t + 0.2)))  # made 0.2 s after the last round, seen 3.8 s later
    assert st.down_for_s == pytest.approx(3.8)
    for k in range(1, 6):  # quick rounds: the silence is the block's age, not observer age + 0.5 + 2
        st = m.update(_round(t + 4.0 + 0.5 * k, ("a", head + 1, t + 0.2)))
        assert st.down_for_s == pytest.approx(3.8 + 0.5 * k)
    st = m.update(_round(t + 8.0, ("a", head + 2, t - 30.0)))  # a timestamp from long ago: not believed
    assert st.down_for_s == pytest.approx(1.5 + 2.0)  # observer age 0, the 1.5 s gap it appeared in, 2 s slack


def test_the_tail_past_the_longest_interval_seen_falls_as_the_chain_s_did() -> None:
    """Isolated slow intervals 5 s plus an exponential of mean 8 s, one in 2,000: the normal regime learns a mean
    excess near 8 s, and past the longest interval it saw its survival goes on falling at that rate (the
    ladder steps no interval reached keep the chain's tail, not the prior's 4 s), so a silence longer than
    any seen so far is judged against the chain's own tail: the predicted survival there is the truth's to
    within a factor of three, where the prior's tail would put it hundreds of times lower."""
    rng = np.random.default_rng(11)
    fit = _model(block_time_s=2.0).interval_fit
    excess = rng.exponential(8.0, 300)
    for x in excess:
        fit = fit.add(2000, 2.0 * 1999 + 5.0 + float(x))
    law_n, _ = fit.regime_laws()
    assert law_n.excess_mean() == pytest.approx(8.0, rel=0.2)
    far = 5.0 + float(excess.max()) + 24.0  # past every interval seen
    share = law_n.p_slow
    ratio = float(law_n.sf(far)) / share / math.exp(-(far - 5.0) / 8.0)
    assert 1 / 3 < ratio < 3, ratio
    assert float(law_n.sf(far)) / share > 100 * math.exp(-(far - 5.0) / 4.0)


def test_duration_densities_are_the_survival_s_slope() -> None:
    """The densities the completed-silence odds use: the fitted (predictive) law's and a parametric one's match
    the slope of their survival; a fixed duration has none."""
    x = np.array([60.0, 600.0, 7200.0])
    for law in (StatusModel.for_chain("base", model=EXAMPLE_MODEL).config.duration,
                DurationLaw("lognormal", {"median_s": 3000.0, "sigma": 1.5})):
        h = 1e-4 * x
        slope = (np.asarray(law.sf(x - h)) - np.asarray(law.sf(x + h))) / (2 * h)
        assert np.asarray(law.pdf(x)) == pytest.approx(slope, rel=1e-4)
    assert DurationLaw("fixed", {"duration_s": 600.0}).pdf(60.0) == 0.0
