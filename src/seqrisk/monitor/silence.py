"""The head's silence as evidence: a chain's block-interval law, in two regimes, and the odds that it is down.

**Block-interval law.** While the sequencer is up, the time ``B`` from one
block to the next is about the chain's block time ``b`` except in slow blocks.
No interval ends before ``a = min(b, u / 2)``; up to a threshold ``u``
(default ``2 b + 1 s``) the survival falls log-linearly to ``p_u = P(B > u)``;
past ``u`` it is counted on a *ladder* of thresholds ``t_0 = u < t_1 < ...``
(``u`` plus 0, 0.5, 1, 1.5, 2, 3, 4, 6 ... 64 times ``max(b, 1 s)``), each step
``h_j = P(B > t_{j+1} | B > t_j)`` learned from the intervals seen, the
log-survival linear between thresholds and past the last one
(:class:`BlockIntervalLaw`). The ladder learns how heavy or light the chain's
tail is without assuming a shape (an exponential tail is one ladder among
many); where the chain never showed an interval, a step keeps its prior: an
exponential tail of the chain's own mean excess past ``u`` (``m_0`` until it
shows a slow interval), so past the longest interval seen the tail falls as the
chain's did.

**Two regimes.** Chains have slow spells: for a while many blocks in a row are
slow, then the chain is fast again. One law for all intervals mixes them, and
the share of slow intervals it learns (most of them inside spells) then
explains any silence in ordinary times too. So the chain is in one of two
regimes, *normal* or *spell*, each with a law of the form above (``p_N`` small,
``p_S`` large), and the regime of each interval follows a Markov chain: a spell
starts after an interval with probability ``q`` and ends with probability ``r``
(a hidden Markov model, :class:`RegimeFit`). The regime is never seen: after
each interval the filter gives ``P(spell)`` from the intervals so far (only
whether an interval exceeded ``u``, and by how much, tells the regimes apart),
and the law of the interval in progress is the mixture of the two laws with the
predicted regime probabilities (:class:`RegimeMixture`). In ordinary times a
silence must be explained by a spell *starting*, with probability ``q`` (a few
in 100,000 intervals on a chain with a few spells a day), not by the share of
slow intervals overall.

The parameters are learned from the chain's own intervals: each regime's
``p`` and each of its ladder steps ``h_j`` has a beta prior (the steps' means
``exp(-(t_{j+1} - t_j) / m)``, ``m`` the mean excess above), ``q`` and ``r``
beta priors, updated with every interval that was no outage (see
:mod:`seqrisk.monitor.status`), each interval counted in each regime (and each
transition) with its posterior weight from the filter (an online expectation
step; the point estimates are the posterior means given those weighted counts).
A share of slow intervals ``p`` is thus never below about half one over the
number of intervals seen (the priors weigh half a slow interval): a year
without a slow block bounds ``P(B > u)`` near ``1 / (2 N)``, it does not make
it zero. A spell's ``p_S`` is kept at least half its prior mean: a "spell" whose
intervals are as fast as ordinary ones is no spell, and without the floor the
spell regime of a chain that has none drifts to the normal law while ``q``
stays at its prior.

**Silence.** After the last block, the sequencer stays up until the next block
(after ``B``) unless an outage starts first; outages start at rate ``lambda``
(the chain's downtime rate) and last ``D`` (its predictive duration law, with
survival ``S_D``). After a silence of ``s`` seconds::

    P(up, silent s)   = S_B(s) exp(-lambda s)
    P(down, silent s) = integral_0^s lambda exp(-lambda x) S_B(x) S_D(s - x) dx

and the posterior odds of *down* are their ratio (:func:`silence_log_odds`);
``S_B`` is the mixture's survival. Since ``S_B`` falls exponentially and
``S_D`` more slowly (every fitted duration law has a heavier tail than an
exponential of a few seconds), the odds grow without bound: ``P(down | silent
s) -> 1`` as the silence lasts, however short the typical outage. A silence the
block law explains (a slow block, a spell like those seen before) keeps the
odds low.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqrisk.units import YEAR_S

__all__ = ["BlockIntervalLaw", "RegimeFit", "RegimeMixture", "completed_log_odds", "silence_log_odds"]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(32)
_GL16_X, _GL16_W = np.polynomial.legendre.leggauss(16)
#: beyond this many tail means past ``u`` the block law's survival is below e^-40: the integral stops there
_TAIL_SPAN = 40.0


@dataclass(frozen=True)
class BlockIntervalLaw:
    """Time between consecutive blocks while the sequencer is up (seconds); see the module doc.

    ``P(B > s) = 1`` up to ``a = min(b, u / 2)`` (intervals last about the block time ``b``), then
    ``p_u ** ((s - a) / (u - a))`` up to ``u``; past ``u`` the log-survival is linear between the ``knots``
    (thresholds past ``u``, with ``knot_logsf = log P(B > knot)``) and falls with slope ``-1 / slow_mean_s``
    past the last one (past ``u`` itself when there are no knots: a plain exponential tail of mean
    ``slow_mean_s``).
    """

    block_time_s: float
    slow_after_s: float
    p_slow: float
    slow_mean_s: float
    knots: tuple[float, ...] = ()
    knot_logsf: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        xs = (self.slow_after_s, *self.knots)
        ls = (math.log(self.p_slow) if 0 < self.p_slow < 1 else math.nan, *self.knot_logsf)
        if not (self.block_time_s > 0 and self.slow_after_s > 0 and 0 < self.p_slow < 1 and self.slow_mean_s > 0
                and len(self.knots) == len(self.knot_logsf) and all(b > a for a, b in itertools.pairwise(xs))
                and all(b <= a for a, b in itertools.pairwise(ls))):
            raise ValueError(f"bad block-interval law: {self}")
        object.__setattr__(self, "_xs", xs)
        object.__setattr__(self, "_ls", ls)

    @classmethod
    def _checked_elsewhere(cls, block_time_s: float, slow_after_s: float, p_slow: float, slow_mean_s: float,
                           knots: tuple[float, ...], knot_logsf: tuple[float, ...]) -> BlockIntervalLaw:
        """The law without :meth:`__post_init__`'s checks, for :class:`RegimeFit` (whose ladder and posterior
        means satisfy them by construction) every round."""
        law = object.__new__(cls)
        for name, value in (("block_time_s", block_time_s), ("slow_after_s", slow_after_s), ("p_slow", p_slow),
                            ("slow_mean_s", slow_mean_s), ("knots", knots), ("knot_logsf", knot_logsf),
                            ("_xs", (slow_after_s, *knots)), ("_ls", (math.log(p_slow), *knot_logsf))):
            object.__setattr__(law, name, value)
        return law

    @property
    def sure_s(self) -> float:
        """Below this no interval ends: ``min(b, u / 2)``."""
        return min(self.block_time_s, 0.5 * self.slow_after_s)

    def logsf_scalar(self, s: float) -> float:
        """``log P(B > s)`` of one number (no NumPy: the monitor calls it every round)."""
        xs, ls = self._xs, self._ls  # type: ignore[attr-defined]
        a = self.sure_s
        if s <= xs[0]:
            return ls[0] * max(s - a, 0.0) / (xs[0] - a)
        i = bisect.bisect_right(xs, s)
        if i == len(xs):
            return ls[-1] - (s - xs[-1]) / self.slow_mean_s
        a, c = xs[i - 1], xs[i]
        return ls[i - 1] + (ls[i] - ls[i - 1]) * (s - a) / (c - a)

    def log_hazard_scalar(self, s: float) -> float:
        """``log`` of the hazard ``-d/ds log P(B > s)`` (1/s): the survival is log-linear on every piece, so
        the hazard is constant on each (``-inf`` before ``a``, where no interval ends)."""
        xs, ls = self._xs, self._ls  # type: ignore[attr-defined]
        a = self.sure_s
        if s <= a:
            return -math.inf
        if s <= xs[0]:
            slope = -ls[0] / (xs[0] - a)
        else:
            i = bisect.bisect_right(xs, s)
            slope = 1.0 / self.slow_mean_s if i == len(xs) else (ls[i - 1] - ls[i]) / (xs[i] - xs[i - 1])
        return math.log(slope) if slope > 0 else -math.inf

    def logpdf_scalar(self, s: float) -> float:
        """``log`` of the density of ``B`` at ``s`` (1/s)."""
        return self.logsf_scalar(s) + self.log_hazard_scalar(s)

    def logsf(self, s: Any) -> Any:
        """``log P(B > s)``, vectorised."""
        s = np.asarray(s, dtype=float)
        xs, ls = self._xs, self._ls  # type: ignore[attr-defined]
        a = self.sure_s
        out = np.where(s <= xs[0], ls[0] * np.maximum(s - a, 0.0) / (xs[0] - a),
                       np.where(s <= xs[-1], np.interp(s, xs, ls), ls[-1] - (s - xs[-1]) / self.slow_mean_s))
        return float(out) if out.ndim == 0 else out

    def integral_sf(self, s: float) -> float:
        """``integral_0^s P(B > x) dx`` (s), closed form (the survival is exponential on every piece)."""
        xs, ls = self._xs, self._ls  # type: ignore[attr-defined]
        u, lp, a = xs[0], ls[0], self.sure_s
        if s <= a:
            return max(s, 0.0)
        if s <= u:
            return a + (u - a) * math.expm1(lp * (s - a) / (u - a)) / lp
        total = a + (u - a) * math.expm1(lp) / lp
        for a, c, la, lc in zip(xs, xs[1:], ls, ls[1:], strict=False):
            if s <= a:
                break
            w, k = min(s, c) - a, (la - lc) / (c - a)
            total += math.exp(la) * (w if k == 0.0 else -math.expm1(-k * w) / k)
        if s > xs[-1]:
            total += math.exp(ls[-1]) * self.slow_mean_s * -math.expm1(-(s - xs[-1]) / self.slow_mean_s)
        return total

    def sf(self, s: Any) -> Any:
        """``P(B > s)``."""
        return np.exp(self.logsf(s))

    def mean(self) -> float:
        """``E[B]`` (s): the integral of the survival."""
        return self.integral_sf(math.inf)

    def excess_mean(self) -> float:
        """``E[B - u | B > u]`` (s): how far past ``u`` a slow interval runs on average."""
        return (self.mean() - self.integral_sf(self.slow_after_s)) / self.p_slow

    def pieces(self, s: float) -> list[tuple[float, float]]:
        """``[0, s]`` cut where the survival has a kink, and past the point where it is below ``p_u e^-40``."""
        xs, ls = self._xs, self._ls  # type: ignore[attr-defined]
        floor = ls[0] - _TAIL_SPAN
        i = next((j for j, lj in enumerate(ls) if lj <= floor), None)
        if i is None:
            end = xs[-1] + (ls[-1] - floor) * self.slow_mean_s
        else:
            end = xs[i - 1] + (ls[i - 1] - floor) / (ls[i - 1] - ls[i]) * (xs[i] - xs[i - 1])
        cuts = [0.0, *(x for x in (self.sure_s, *xs) if x < min(s, end)), min(s, end)]
        return [(a, c) for a, c in itertools.pairwise(cuts) if c > a]

    def components(self) -> tuple[tuple[float, BlockIntervalLaw], ...]:
        return ((1.0, self),)


@dataclass(frozen=True)
class RegimeMixture:
    """The law of the interval in progress: the regimes' laws weighted by the predicted regime probabilities."""

    weights: tuple[float, ...]
    laws: tuple[BlockIntervalLaw, ...]

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.laws) or not all(w >= 0 for w in self.weights) or \
                abs(sum(self.weights) - 1.0) > 1e-9:
            raise ValueError(f"bad regime mixture: {self}")

    def components(self) -> tuple[tuple[float, BlockIntervalLaw], ...]:
        return tuple((w, law) for w, law in zip(self.weights, self.laws, strict=True) if w > 0)

    def logsf_scalar(self, s: float) -> float:
        """``log P(B > s)`` (log-sum-exp over the regimes)."""
        terms = [math.log(w) + law.logsf_scalar(s) for w, law in self.components()]
        top = max(terms)
        return top + math.log(sum(math.exp(t - top) for t in terms))

    def logpdf_scalar(self, s: float) -> float:
        """``log`` of the mixture's density at ``s`` (1/s)."""
        terms = [math.log(w) + law.logpdf_scalar(s) for w, law in self.components()]
        top = max(terms)
        if top == -math.inf:
            return top
        return top + math.log(sum(math.exp(t - top) for t in terms))

    def logsf(self, s: Any) -> Any:
        """``log P(B > s)``, vectorised."""
        terms = np.array([math.log(w) + np.asarray(law.logsf(s)) for w, law in self.components()])
        out = np.logaddexp.reduce(terms, axis=0)
        return float(out) if np.ndim(out) == 0 else out

    def sf(self, s: Any) -> Any:
        return np.exp(self.logsf(s))

    def integral_sf(self, s: float) -> float:
        return sum(w * law.integral_sf(s) for w, law in self.components())

    def mean(self) -> float:
        return self.integral_sf(math.inf)


AnyIntervalLaw = BlockIntervalLaw | RegimeMixture


#: the filter's fast intervals in one batch are stepped one by one up to this many; the rest at the fixed point
_MAX_STEPS = 64
#: an interval is counted (by regime and transition) once this many later intervals are known
_LAG = 4
#: the ladder: thresholds past ``u`` at which each regime counts the intervals that ran longer, in units of
#: ``max(b, 1 s)`` past ``u`` (fine near ``u``, where a silence is judged first; coarser further out)
LADDER = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0)
_NL = len(LADDER)
#: a regime whose slow share falls below this fraction of the spell prior's is no spell (see RegimeFit.params)
_SPELL_FLOOR = 0.5


@functools.lru_cache(maxsize=64)
def _ladder(block_time_s: float, slow_after_s: float) -> tuple[float, ...]:
    unit = max(block_time_s, 1.0)
    return tuple(slow_after_s + e * unit for e in LADDER)


@functools.lru_cache(maxsize=256)
def _log_steps(ts: tuple[float, ...], ks: tuple[float, ...], m0: float, nh: float) -> tuple[float, ...]:
    """``log P(B > t_j) - log P(B > u)`` at every threshold: the sums of the steps' posterior mean logs (cached:
    a round in which no interval ran past ``u`` leaves the ladder counts, and so the steps, as they were).

    Each step's prior is the exponential tail of the chain's mean excess past ``u`` (:func:`_mean_excess`:
    the prior ``m0`` until the chain shows slow intervals), so past the longest interval seen the tail goes on
    falling as the chain's own did, not as the prior's."""
    m = _mean_excess(ts, ks, m0, nh)
    out = [0.0]
    for j in range(len(ts) - 1):
        rho = math.exp(-(ts[j + 1] - ts[j]) / m)
        out.append(out[-1] + math.log((rho * nh + ks[j + 1]) / (nh + ks[j])))
    return tuple(out)


def _mean_excess(ts: tuple[float, ...], ks: tuple[float, ...], m0: float, nh: float) -> float:
    """Posterior mean of how far past ``u`` a slow interval runs (s): ``nh`` prior intervals of mean excess
    ``m0`` and the counted ones, whose excess is read off the ladder (the area under the counted survival,
    log-linear between thresholds, the last threshold's intervals at their lower bound)."""
    area = 0.0
    for j in range(len(ts) - 1):
        a, b = ks[j], ks[j + 1]
        if a > b > 0:  # the counted survival falls exponentially from a to b: its logarithmic mean
            area += (ts[j + 1] - ts[j]) * (a - b) / math.log(a / b)
        else:
            area += (ts[j + 1] - ts[j]) * 0.5 * (a + b)
    return (nh * m0 + area) / (nh + ks[0])


def _bin_log(ls: tuple[float, ...], j: int) -> float:
    """``log P(t_j < B <= t_{j+1})`` from the log-survival ``ls`` at the thresholds (the last bin: ``B > t_j``)."""
    if j == len(ls) - 1:
        return ls[j]
    return ls[j] + math.log1p(-math.exp(ls[j + 1] - ls[j]))


@dataclass(frozen=True)
class RegimeFit:
    """Learned two-regime block-interval law (see the module doc): priors, weighted counts and the filter.

    Priors: the normal regime's ``p_N ~ Beta`` with mean ``normal_p_slow`` worth ``normal_intervals``
    intervals; each step of its ladder, ``P(B > t_{j+1} | B > t_j) ~ Beta`` with mean
    ``exp(-(t_{j+1} - t_j) / normal_slow_mean_s)`` worth ``normal_slow_n`` intervals (an exponential tail of
    that mean until the chain shows its own); the same for the spell regime; a spell starts after an interval
    with ``q ~ Beta`` (mean ``spell_start``, worth ``spell_start_n`` intervals) and lasts ``1/r ~``
    ``spell_blocks`` intervals (``r ~ Beta``, worth ``spell_end_n`` spell intervals). ``counts``: per regime
    (normal, spell) the weighted number of intervals and, per ladder threshold, of those longer; then the
    weighted transitions (from normal, normal to spell, from spell, spell to normal), counted with their
    smoothed weights once ``_LAG`` later intervals are known (``window``: those not counted yet).
    ``p_spell``: the filter's probability that the last interval was a spell's.
    """

    block_time_s: float
    slow_after_s: float
    normal_p_slow: float  # the defaults are StatusConfig's (StatusConfig.interval_prior)
    normal_intervals: float
    normal_slow_mean_s: float
    normal_slow_n: float
    spell_p_slow: float
    spell_intervals: float
    spell_slow_mean_s: float
    spell_slow_n: float
    spell_start: float
    spell_start_n: float
    spell_blocks: float
    spell_end_n: float
    counts: tuple[float, ...] = (0.0,) * (2 * (_NL + 1) + 4)
    p_spell_before: float = 0.0        # filtered P(spell) of the interval before the window
    window: tuple[float, ...] = ()     # the last intervals, not counted yet (seconds)
    p_spell: float = 0.0               # filtered P(spell) of the last interval

    def ladder(self) -> tuple[float, ...]:
        """The thresholds ``t_0 = u < t_1 < ...`` (s) at which intervals are counted."""
        return _ladder(self.block_time_s, self.slow_after_s)

    def _regime(self, k: int) -> tuple[float, tuple[float, ...], float]:
        """Regime ``k``'s ``p_u``, log-survival at the ladder thresholds and tail mean past the last one (worked
        out once per fit: the fit is immutable, and the monitor asks for it every round)."""
        key = f"_regime{k}"
        try:
            return self.__dict__[key]
        except KeyError:
            out = self._regime_uncached(k)
            object.__setattr__(self, key, out)
            return out

    def _regime_uncached(self, k: int) -> tuple[float, tuple[float, ...], float]:
        c = self.counts[k * (_NL + 1):(k + 1) * (_NL + 1)]
        n, ks = c[0], c[1:]
        if k == 0:
            p0, n0, m0, nh = self.normal_p_slow, self.normal_intervals, self.normal_slow_mean_s, self.normal_slow_n
        else:
            p0, n0, m0, nh = self.spell_p_slow, self.spell_intervals, self.spell_slow_mean_s, self.spell_slow_n
        p = (p0 * n0 + ks[0]) / (n0 + n)
        if k == 1:  # a regime where slow intervals are rare is no spell: without this floor the spell regime
            p = max(p, _SPELL_FLOOR * p0)  # of a chain without spells drifts to the normal law, and q stays put
        steps = _log_steps(self.ladder(), ks, m0, nh)
        lp = math.log(p)
        return p, tuple(lp + x for x in steps), self.ladder_tail_mean(steps)

    def ladder_tail_mean(self, steps: tuple[float, ...]) -> float:
        """Past the last threshold the survival falls at the last step's rate: its mean (s)."""
        ts = self.ladder()
        return (ts[-1] - ts[-2]) / (steps[-2] - steps[-1])

    def params(self) -> tuple[float, float, float, float, float, float]:
        """Posterior means ``(p_N, m_N, p_S, m_S, q, r)``, ``m`` the mean excess past ``u`` of a regime's law."""
        *_, fn, nts, fs, stn = self.counts
        law_n, law_s = self.regime_laws()
        q = (self.spell_start * self.spell_start_n + nts) / (self.spell_start_n + fn)
        r = (self.spell_end_n / self.spell_blocks + stn) / (self.spell_end_n + fs)
        return law_n.p_slow, law_n.excess_mean(), law_s.p_slow, law_s.excess_mean(), q, r

    def _qr(self) -> tuple[float, float]:
        *_, fn, nts, fs, stn = self.counts
        return ((self.spell_start * self.spell_start_n + nts) / (self.spell_start_n + fn),
                (self.spell_end_n / self.spell_blocks + stn) / (self.spell_end_n + fs))

    def regime_laws(self) -> tuple[BlockIntervalLaw, BlockIntervalLaw]:
        """The normal and the spell regime's plug-in laws."""
        ts = self.ladder()
        out = []
        for k in (0, 1):
            p, ls, tail = self._regime(k)
            out.append(BlockIntervalLaw._checked_elsewhere(self.block_time_s, self.slow_after_s, p, tail, ts[1:],
                                                           ls[1:]))
        return out[0], out[1]

    def p_spell_next(self) -> float:
        """Predicted probability that the interval in progress is a spell's."""
        q, r = self._qr()
        return (1.0 - self.p_spell) * q + self.p_spell * (1.0 - r)

    def law(self) -> RegimeMixture:
        """The law of the interval in progress: the two laws weighted by the predicted regime."""
        try:
            return self.__dict__["_law"]
        except KeyError:
            w = self.p_spell_next()
            law = RegimeMixture((1.0 - w, w), self.regime_laws())
            object.__setattr__(self, "_law", law)
            return law

    def add(self, n_blocks: int, span_s: float) -> RegimeFit:
        """Fold in ``n_blocks`` intervals that together lasted ``span_s`` seconds.

        When the head moved by several blocks between two looks, ``n_blocks - 1`` intervals are taken at the
        block time and the rest of the span as one interval, the last (the longest the data allow for one of
        them, and the most recent: a slow interval keeps a spell likely). An interval is counted once the
        ``_LAG`` intervals after it are known (fixed-lag smoothing: the first slow interval of a spell looks
        like one slow block until the next ones show the spell, and counting it at once would miss most
        spell starts).
        """
        if n_blocks <= 0:
            return self
        q, r = self._qr()
        ts = self.ladder()
        u = self.slow_after_s
        # log P(interval in ladder bin j) per regime: bin j is (t_j, t_{j+1}], the last one (t_last, inf)
        (p_n, ls_n, _), (p_s, ls_s, _) = self._regime(0), self._regime(1)
        fast_e = (1.0 - p_n, 1.0 - p_s)
        trans = ((1.0 - q, q), (r, 1.0 - r))
        c = list(self.counts)
        window = list(self.window)
        a0 = self.p_spell_before
        at_s = _NL + 1

        def emission(x: float) -> tuple[float, float]:
            if x <= u:
                return fast_e
            j = bisect.bisect_left(ts, x) - 1  # t_j < x <= t_{j+1}
            ln, ls_ = _bin_log(ls_n, j), _bin_log(ls_s, j)
            top = max(ln, ls_)  # a common factor of both regimes changes no posterior
            return math.exp(ln - top), math.exp(ls_ - top)

        def forward(a: float, e: tuple[float, float]) -> float:
            f0 = ((1.0 - a) * trans[0][0] + a * trans[1][0]) * e[0]
            f1 = ((1.0 - a) * trans[0][1] + a * trans[1][1]) * e[1]
            return f1 / (f0 + f1)

        def count_oldest(times: float) -> float:
            """Count the window's oldest interval (smoothed over the window) ``times`` times; its filtered P(S)."""
            es = [emission(x) for x in window]
            beta = (1.0, 1.0)
            for e in reversed(es[1:]):
                b0 = trans[0][0] * e[0] * beta[0] + trans[0][1] * e[1] * beta[1]
                b1 = trans[1][0] * e[0] * beta[0] + trans[1][1] * e[1] * beta[1]
                beta = (b0 / (b0 + b1), b1 / (b0 + b1))
            e0, prev = es[0], (1.0 - a0, a0)
            xi = [[prev[i] * trans[i][j] * e0[j] * beta[j] for j in (0, 1)] for i in (0, 1)]
            z = xi[0][0] + xi[0][1] + xi[1][0] + xi[1][1]
            g = ((xi[0][0] + xi[1][0]) / z, (xi[0][1] + xi[1][1]) / z)
            x = window[0]
            longer = bisect.bisect_left(ts, x)  # how many thresholds x exceeds
            for k in (0, 1):
                w, base = times * g[k], k * at_s
                c[base] += w
                for j in range(longer):
                    c[base + 1 + j] += w
            c[2 * at_s] += times * (xi[0][0] + xi[0][1]) / z
            c[2 * at_s + 1] += times * xi[0][1] / z
            c[2 * at_s + 2] += times * (xi[1][0] + xi[1][1]) / z
            c[2 * at_s + 3] += times * xi[1][0] / z
            return forward(a0, e0)

        fast = n_blocks - 1
        xs = [self.block_time_s] * min(fast, _MAX_STEPS) + [span_s - fast * self.block_time_s]
        for i, x in enumerate(xs):
            window.append(x)
            if len(window) > _LAG:
                extra = fast - _MAX_STEPS if (i == _MAX_STEPS - 1 and fast > _MAX_STEPS) else 0
                if extra:  # the filter sits at its fixed point by now: the rest counted like this one
                    count_oldest(float(extra))
                a0 = count_oldest(1.0)
                window.pop(0)
        p = a0
        for x in window:
            p = forward(p, emission(x))
        return dataclasses.replace(self, counts=tuple(c), p_spell_before=a0, window=tuple(window), p_spell=p)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": list(self.counts), "p_spell_before": self.p_spell_before, "window": list(self.window),
                "p_spell": self.p_spell}

    def with_state(self, state: dict[str, Any]) -> RegimeFit:
        """This prior with the counts and filter of :meth:`to_dict` (or of a version-2 state: see
        :meth:`counts_from_v2`)."""
        counts = tuple(float(x) for x in state["counts"])
        window = tuple(float(x) for x in state["window"])
        a0, p = float(state["p_spell_before"]), float(state["p_spell"])
        if not all(math.isfinite(x) and x >= 0 for x in counts + window) or len(window) > _LAG or \
                not (0 <= a0 <= 1 and 0 <= p <= 1):
            raise ValueError(f"bad regime counts: {state!r}")
        if len(counts) == 10:
            counts = self.counts_from_v2(counts)
        if len(counts) != len(self.counts):
            raise ValueError(f"bad regime counts: {state!r}")
        return dataclasses.replace(self, counts=counts, p_spell_before=a0, window=window, p_spell=p)

    def counts_from_v2(self, old: tuple[float, ...]) -> tuple[float, ...]:
        """A version-2 state's counts (per regime: intervals, slow ones, their seconds past ``u``; then the
        transitions) as ladder counts: the slow intervals spread over the ladder as that version's fitted
        exponential tail (posterior mean tail mean) would spread them, in expectation."""
        ts = self.ladder()
        out: list[float] = []
        for n, slow, excess, m0, nh in ((old[0], old[1], old[2], self.normal_slow_mean_s, self.normal_slow_n),
                                        (old[3], old[4], old[5], self.spell_slow_mean_s, self.spell_slow_n)):
            m = (nh * m0 + excess) / (nh + slow)
            out += [n, *(slow * math.exp(-(t - ts[0]) / m) for t in ts)]
        return (*out, *old[6:])


def silence_log_odds(silence_s: float, law: AnyIntervalLaw, rate_per_year: float, duration_sf: Any,
                     closed_form_below_s: float = 0.0) -> float:
    """``log`` of the posterior odds ``P(down, silent s) / P(up, silent s)`` (see the module doc).

    ``law`` is one block-interval law or a regime mixture; ``duration_sf`` the outage duration law's survival
    function (vectorised, seconds). The integral is a sum over the mixture's laws, each by Gauss-Legendre
    quadrature on ``[0, min(s, u)]`` and on ``[u, min(s, u + 40 m)]`` (where its integrand is smooth); when a
    cheap bound puts the odds below ``1e-7``, ``S_D = 1`` and ``exp(-lambda x) = 1`` there and the integral of
    ``S_B`` is taken in closed form (a probability far below any threshold, to a relative error of order
    ``lambda s + P(D < s)``). The same closed form serves any silence up to ``closed_form_below_s``: the
    caller picks it where ``lambda s + P(D < s)`` is negligible (the status model: ``P(D < s) <= 1e-4``).
    """
    lam = rate_per_year / YEAR_S
    s = max(float(silence_s), 0.0)
    if lam <= 0.0:
        return -math.inf
    if s == 0.0:
        return -math.inf
    log_up = law.logsf_scalar(s) - lam * s
    # cheap bound: the integrand is at most lam * S_B(x), whose integral is at most lam * E[B]
    if s <= closed_form_below_s or math.log(lam * min(s, law.mean())) - log_up < math.log(1e-7):
        # odds this small: S_D = 1 and exp(-lam x) = 1 on [0, s] (relative errors of order lam s and
        # P(D < s)), the integral of S_B in closed form
        return math.log(lam * law.integral_sf(s)) - log_up
    comps = law.components()
    nodes = [_nodes(s, one) for _w, one in comps]
    xs_all = np.concatenate([xs for xs, _ws in nodes])
    sd_all = np.asarray(duration_sf(np.maximum(s - xs_all, 0.0)), dtype=float)  # one call for every law's nodes
    total, at = 0.0, 0
    for (w, one), (xs, ws) in zip(comps, nodes, strict=True):
        sd = sd_all[at:at + xs.size]
        at += xs.size
        total += w * float(np.sum(ws * lam * np.exp(-lam * xs + np.asarray(one.logsf(xs))) * sd))
    if total <= 0.0:  # the duration law says no outage lasts this long; the block law says it is not a block
        total = 1e-300
    return math.log(total) - log_up


def completed_log_odds(interval_s: float, law: AnyIntervalLaw, rate_per_year: float, duration_pdf: Any) -> float:
    """``log`` of the odds that a silence which *ended* after ``interval_s`` seconds (the head moved) was an
    outage rather than a slow interval: ``P(down, ended at x) / P(up, ended at x)`` with::

        P(up, ended at x)   = f_B(x) exp(-lambda x)
        P(down, ended at x) = integral_0^x lambda exp(-lambda y) S_B(y) f_D(x - y) dy

    (an outage that started after ``y`` quiet seconds and lasted the rest; ``f`` the densities,
    ``duration_pdf`` vectorised in seconds). A short stall ends where outage durations have almost no
    density, so once it ends it is known for a slow interval even if its silence was judged down while it
    lasted; a long one ends where only an outage could. Quadrature as :func:`silence_log_odds`.
    """
    lam = rate_per_year / YEAR_S
    x = max(float(interval_s), 0.0)
    if lam <= 0.0 or x == 0.0:
        return -math.inf
    log_up = law.logpdf_scalar(x) - lam * x
    total = 0.0
    for w, one in law.components():
        ys, ws = _nodes(x, one)
        fd = np.asarray(duration_pdf(np.maximum(x - ys, 0.0)), dtype=float)
        total += w * float(np.sum(ws * lam * np.exp(-lam * ys + np.asarray(one.logsf(ys))) * fd))
    if total <= 0.0:
        return -math.inf if log_up > -math.inf else 0.0
    return math.log(total) - log_up


def _nodes(s: float, law: BlockIntervalLaw) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes and weights on ``[0, s]``, one Gauss-Legendre rule per smooth piece of the block law."""
    xs, ws = [], []
    for i, (a, b) in enumerate(law.pieces(s)):
        gx, gw = (_GL_X, _GL_W) if i == 0 else (_GL16_X, _GL16_W)
        h = 0.5 * (b - a)
        xs.append(a + h * (gx + 1.0))
        ws.append(h * gw)
    return np.concatenate(xs), np.concatenate(ws)
