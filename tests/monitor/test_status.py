"""The status model: closed forms, calibration on simulated streams, monotonicity, and what must not alarm."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from seqrisk.exceptions import DataError, UnknownChainError
from seqrisk.health import Observation
from seqrisk.monitor.silence import BlockIntervalLaw, silence_log_odds
from seqrisk.monitor.status import StatusModel
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
    law = BlockIntervalLaw(1.0, u, math.exp(-u / b), b)
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
    b = np.where(lu >= lp, lu / lp * law.slow_after_s, law.slow_after_s + (lp - lu) * law.slow_mean_s)
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
    assert law.p_slow == pytest.approx(0.05, rel=0.25)
    assert law.slow_mean_s == pytest.approx(8.0, rel=0.25)
    fresh = _model(block_time_s=2.0)
    assert m.p_down_given_silence(40) < fresh.p_down_given_silence(40)


def test_bad_input() -> None:
    with pytest.raises(UnknownChainError):
        StatusModel.for_chain("arbitrun", model=EXAMPLE_MODEL)
    with pytest.raises(DataError, match="unknown status model setting"):
        _model(no_such=1)
    with pytest.raises(DataError, match="out of range"):
        _model(down_at=0.1, degraded_at=0.5)
    with pytest.raises(DataError, match="another chain"):
        StatusModel.from_state("optimism", _model().to_state(), model=EXAMPLE_MODEL)
