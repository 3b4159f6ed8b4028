"""Backtest: rolling-origin evaluation of the predictive outage counts and durations on later events.

At each origin ``t_k = train_until + k * step`` (while ``t_k < test_until``; whole calendar years for a
step of whole years)
the whole model is refitted on the data before ``t_k`` (the catalog as it
stood, and detected events when given), and each chain's number of events of
the type in ``[t_k, min(t_k + step, test_until))`` is forecast from its
observed exposure in that window ``E`` (years) by three models:

* ``model``: the fitted predictive law: the chain's own count is a mixture
  of negative binomials over the pooled rate's posterior (``sum_g w_g
  NB(k; s_g, r_g / (r_g + E))``), its common-shock hits Poisson with mean
  ``shock rate * E``, convolved;
* ``pooled-equal``: naive pooling, every chain at the same rate (all events
  of the type over all exposure), Poisson;
* ``per-chain``: each chain's raw rate ``k_c / T_c`` (all its events of the
  type, shock hits included), Poisson; a chain without events gets ``0.5 /
  T_c`` (and one without exposure the pooled-equal rate), so its score stays
  finite.

Scores per model over all chain-windows: the log score ``sum log p(k_obs)``
(higher is better; the difference of two models is a log Bayes factor of
their forecasts), the mean log score, the coverage of the central 90%
predictive interval (``[q_0.05, q_0.95]``, which for counts holds at least
90%), and the randomized-free mid-PIT ``F(k - 1) + p(k) / 2`` with its
histogram (flat for a calibrated forecast; a U shape: too narrow; a hump: too
wide). Durations of the type's events in the windows are scored by the log
density of ``log D`` (exact) or the log probability of their interval, under
the chain's predictive law (``model``) and under the plug-in law at the
estimated parameters and a zero chain effect (``plug-in``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy import stats as sps

from seqrisk._typing import FloatArray
from seqrisk.cancel import checkpoint
from seqrisk.catalog import Catalog
from seqrisk.exceptions import DataError, UsageError
from seqrisk.outage import AnyDurationLaw, PredictiveDuration
from seqrisk.stats.events import EventLike, EventSet, OutageEvent, Window, build_event_set
from seqrisk.stats.rates import GammaPoissonPooling
from seqrisk.units import DAY_S, YEAR_S

__all__ = ["COUNT_MODELS", "MIN_STEP_S", "PIT_BINS", "Backtest", "backtest", "backtest_window", "count_forecasts",
           "count_scores", "nb_mixture_pmf"]

#: The count forecasts compared, in display order.
COUNT_MODELS = ("model", "pooled-equal", "per-chain")
_KMAX = 200
PIT_BINS = 10
#: The shortest step between origins: a forecast window of at least a day.
MIN_STEP_S = DAY_S


def nb_mixture_pmf(weights: FloatArray, shape: FloatArray, rate_years: FloatArray, exposure_years: float,
                   shock_mean: float = 0.0, k_max: int = _KMAX) -> FloatArray:
    """``P(K = k)``, ``k = 0..k_max``: a gamma-mixed Poisson count over ``exposure_years`` (a mixture of negative
    binomials, ``weights`` over the gamma atoms ``(shape, rate_years)``) plus an independent Poisson count of mean
    ``shock_mean``."""
    k = np.arange(k_max + 1)
    w = np.asarray(weights, float)
    s, r = np.asarray(shape, float), np.asarray(rate_years, float)
    p = r / (r + exposure_years)
    own = np.asarray(w @ np.exp(sps.nbinom.logpmf(k[None, :], s[:, None], p[:, None])))
    if shock_mean <= 0:
        return own
    return np.convolve(own, sps.poisson.pmf(k, shock_mean))[: k_max + 1]


def count_forecasts(pool: GammaPoissonPooling, chain: int, train_count: int, train_years: float,
                    equal_rate_per_year: float, exposure_years: float, shock_mean: float = 0.0
                    ) -> dict[str, FloatArray]:
    """The three count forecasts (pmfs over ``0..200``) of chain index ``chain`` over ``exposure_years``:
    the fitted pooling's predictive plus ``shock_mean`` Poisson shock hits (``model``), the equal rate
    (``pooled-equal``) and the chain's raw rate (``per-chain``; see the module doc)."""
    k = np.arange(_KMAX + 1)
    raw = (max(train_count, 0.5) / train_years) if train_years > 0 else equal_rate_per_year
    w, shape, rate = pool.gamma_atoms(chain)
    return {"model": nb_mixture_pmf(w, shape, rate, exposure_years, shock_mean),
            "pooled-equal": sps.poisson.pmf(k, equal_rate_per_year * exposure_years),
            "per-chain": sps.poisson.pmf(k, raw * exposure_years)}


def count_scores(pmf: FloatArray, k_obs: int) -> tuple[float, float, bool, float]:
    """Log score, mid-PIT, whether ``k_obs`` lies in the central 90% interval, and the mean of a count pmf."""
    cdf = np.cumsum(pmf)
    k = min(int(k_obs), pmf.size - 1)
    p_k = max(float(pmf[k]), 1e-300)
    below = float(cdf[k - 1]) if k > 0 else 0.0
    lo = int(np.searchsorted(cdf, 0.05 - 1e-12))
    hi = int(np.searchsorted(cdf, 0.95 - 1e-12))
    return float(np.log(p_k)), below + 0.5 * p_k, lo <= k_obs <= hi, float(np.arange(pmf.size) @ pmf)


@dataclass
class Backtest:
    """Per chain-window forecasts and scores (``rows``), per model summaries and the duration scores."""

    type: str
    train_until: datetime
    test_until: datetime
    step_s: float
    origins: list[datetime]
    rows: list[dict[str, Any]] = field(default_factory=list)
    durations: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per count model: chain-windows, events, log score (sum, mean), 90% coverage, PIT histogram."""
        out: dict[str, dict[str, Any]] = {}
        n = len(self.rows)
        for m in COUNT_MODELS:
            ls = np.array([r[m]["log_score"] for r in self.rows])
            pit = np.array([r[m]["pit"] for r in self.rows])
            cov = np.array([r[m]["in_90"] for r in self.rows], float)
            out[m] = {"windows": n, "events": int(sum(r["observed"] for r in self.rows)),
                      "expected_events": float(sum(r[m]["mean"] for r in self.rows)),
                      "log_score": float(ls.sum()), "mean_log_score": float(ls.mean()) if n else float("nan"),
                      "coverage_90": float(cov.mean()) if n else float("nan"),
                      "pit_histogram": np.histogram(pit, bins=PIT_BINS, range=(0.0, 1.0))[0].tolist()}
        return out

    def duration_summary(self) -> dict[str, dict[str, float]]:
        """Per duration law (``model``, ``plug-in``): scored durations and log score (sum, mean)."""
        out = {}
        for m in ("model", "plug-in"):
            ls = np.array([d[m] for d in self.durations])
            out[m] = {"durations": int(ls.size), "log_score": float(ls.sum()),
                      "mean_log_score": float(ls.mean()) if ls.size else float("nan")}
        return out

    def to_dict(self) -> dict[str, Any]:
        iso = "%Y-%m-%dT%H:%M:%SZ"
        return {"type": self.type, "train_until": self.train_until.strftime(iso),
                "test_until": self.test_until.strftime(iso), "step_days": self.step_s / 86400.0,
                "origins": [o.strftime(iso) for o in self.origins], "models": list(COUNT_MODELS),
                "summary": self.summary(), "durations": self.duration_summary(), "windows": self.rows,
                "duration_scores": self.durations}


def _overlap(windows: Sequence[tuple[float, float]], a: float, b: float) -> float:
    return sum(max(0.0, min(hi, b) - max(lo, a)) for lo, hi in windows)


def _log_duration_score(law: AnyDurationLaw, ev: OutageEvent) -> float | None:
    """Log density of ``log D`` at an exact duration, or the log probability of its interval (None: no info)."""
    lo, hi = ev.low_s, ev.high_s
    if not ev.has_duration_info:
        return None
    if lo == hi:
        x = max(lo, 1.0)
        if isinstance(law, PredictiveDuration):
            return float(np.log(max(float(np.asarray(law.pdf_log(np.array([np.log(x)])))[0]), 1e-300)))
        return float(law.frozen().logpdf(x) + np.log(x)) if law.family != "fixed" else None
    f_lo = float(law.cdf(lo)) if lo > 0 else 0.0
    f_hi = float(law.cdf(hi)) if np.isfinite(hi) else 1.0
    return float(np.log(max(f_hi - f_lo, 1e-300)))


def _windows(train: datetime, end: datetime, step_s: float) -> list[tuple[datetime, datetime]]:
    """Forecast windows ``[origin, until)`` from ``train`` to ``end``: whole calendar years when the step is a
    whole number of 365-day years (so 1y steps from 2024-01-01 start on 1 January), else ``step_s`` seconds; a
    last window shorter than a day is dropped."""
    years = step_s / YEAR_S
    out = []
    origin, k = train, 0
    while origin < end:
        k += 1
        if years.is_integer():
            nxt = train.replace(year=train.year + int(years) * k)
        else:
            nxt = datetime.fromtimestamp(train.timestamp() + k * step_s, UTC)
        until = min(nxt, end)
        if (until - origin).total_seconds() >= 86400.0:
            out.append((origin, until))
        origin = nxt
    return out


def _utc(d: datetime) -> datetime:
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


@dataclass(frozen=True)
class _Inputs:
    """What every origin of a backtest reads (sent once per worker by a backend)."""

    catalog: Catalog
    type_: str
    include_deliberate: bool
    include_planned: bool
    events: Sequence[EventLike] | None
    exposures: dict[str, Window] | None
    test_es: EventSet


def _score_origin(inp: _Inputs, bound: tuple[datetime, datetime]) -> tuple[list[dict[str, Any]],
                                                                         list[dict[str, Any]]]:
    """The count rows and duration scores of one origin: refit on the data before it, score its window.

    Pure (a module-level function of its arguments), so a backend may run origins anywhere and in any order."""
    from seqrisk.stats.model import fit_outage_statistics

    origin, until = bound
    type_, test_es = inp.type_, inp.test_es
    rows: list[dict[str, Any]] = []
    durations: list[dict[str, Any]] = []
    a, b = origin.timestamp(), until.timestamp()
    try:
        st = fit_outage_statistics(inp.catalog, as_of=origin, events=inp.events, exposures=inp.exposures,
                                   group_hawkes=False, include_deliberate=inp.include_deliberate,
                                   include_planned=inp.include_planned)
    except DataError as exc:
        raise DataError(f"cannot fit the model at origin {origin.date().isoformat()}: {exc.message}",
                        field="--train-until", value=origin.date().isoformat()) from None
    if type_ not in st.rates:
        raise DataError(f"no {type_} events before origin {origin.date().isoformat()}: nothing to forecast",
                        field="--train-until", value=origin.date().isoformat())
    pool = st.rates[type_]
    tr_counts = {c: 0 for c in st.chains}
    for e in st.events.events:
        if e.type == type_ and e.chain in tr_counts:
            tr_counts[e.chain] += 1
    tr_years = {c: st.events.exposure_years(c) for c in st.chains}
    tot_t = sum(tr_years.values())
    equal = sum(tr_counts.values()) / tot_t if tot_t > 0 else 0.0
    for i, c in enumerate(st.chains):
        e_years = _overlap(test_es.windows.get(c, ()), a, b) / YEAR_S
        if e_years <= 0:
            continue
        wins = test_es.windows.get(c, ())
        obs = [e for e in test_es.events if e.chain == c and e.type == type_ and a <= e.start_utc < b
               and any(lo <= e.start_utc < hi for lo, hi in wins)]
        k = len(obs)
        pmfs = count_forecasts(pool, i, tr_counts[c], tr_years[c], equal, e_years,
                               st.shock_rate_per_year(c, type_) * e_years)
        row: dict[str, Any] = {"chain": c, "origin": origin.strftime("%Y-%m-%d"),
                               "end": datetime.fromtimestamp(b, UTC).strftime("%Y-%m-%d"),
                               "exposure_years": e_years, "observed": k}
        for m, pmf in pmfs.items():
            ls, pit, inside, mean = count_scores(pmf, k)
            row[m] = {"mean": mean, "log_score": ls, "pit": pit, "in_90": inside}
        rows.append(row)
        law = st.model.chains[c].durations.get(type_) if c in st.model.chains else None
        plug = st.durations[type_].law(None) if type_ in st.durations else None
        for e in obs:
            if law is None or plug is None:
                continue
            s_m, s_p = _log_duration_score(law, e), _log_duration_score(plug, e)
            if s_m is not None and s_p is not None:
                durations.append({"chain": c, "start": datetime.fromtimestamp(e.start_utc, UTC)
                                  .strftime("%Y-%m-%d"), "low_s": e.low_s,
                                  "high_s": e.high_s if np.isfinite(e.high_s) else None,
                                  "model": s_m, "plug-in": s_p})
    return rows, durations


def backtest_window(catalog: Catalog, train_until: datetime, test_until: datetime | None, step_s: float
                    ) -> tuple[datetime, datetime]:
    """The first origin and the end of a backtest (``test_until`` or the catalog's coverage date), or a
    :class:`UsageError` naming the option (``--step``, ``--train-until``) of a window with no forecast in it:
    the one check of ``seqrisk backtest`` and of the service's backtest jobs, before any refit."""
    from seqrisk.units import format_duration

    train = _utc(train_until)
    end, _ = catalog.resolve_as_of(_utc(test_until) if test_until is not None else None)
    if not step_s >= MIN_STEP_S:
        raise UsageError("the step is at least a day", field="--step", value=format_duration(step_s))
    if train >= end:
        raise UsageError(f"train-until must be before the test end {end.date().isoformat()}",
                         field="--train-until", value=train.date().isoformat())
    return train, end


def backtest(catalog: Catalog, *, train_until: datetime, test_until: datetime | None = None,
             step_s: float = YEAR_S, type_: str = "downtime", include_deliberate: bool = False,
             include_planned: bool = False, events: Sequence[EventLike] | None = None,
             exposures: dict[str, Window] | None = None, backend: Any = None,
             progress: Callable[[int, int], None] | None = None) -> Backtest:
    """Rolling-origin backtest of ``type_`` forecasts (see the module doc).

    ``test_until`` defaults to the catalog's coverage date (never the clock).
    ``backend``: where the origins' refits run, any object with the engine
    backends' ``map(fn, shared, items, name=, on_done=)`` (e.g. from
    ``seqrisk.engine.backend.open_backend("dask", workers=2)``); ``None`` runs
    them here, one after the other. Results are merged in origin order, so they
    are the same on every backend. ``progress(done, total)`` is called as
    origins finish.
    """
    train, end = backtest_window(catalog, train_until, test_until, step_s)
    test_es: EventSet = build_event_set(catalog, as_of=end, events=events, exposures=exposures,
                                        include_deliberate=include_deliberate, include_planned=include_planned)
    bounds = _windows(train, end, step_s)
    bt = Backtest(type_, train, end, step_s, [o for o, _ in bounds])
    inp = _Inputs(catalog, type_, include_deliberate, include_planned, events, exposures, test_es)
    done = 0

    def finished(_: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(bounds))

    if backend is None:
        def serial() -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
            for i, bd in enumerate(bounds):
                checkpoint()
                out = _score_origin(inp, bd)
                finished(i)
                yield out
        results: Iterable[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = serial()
    else:
        results = backend.map(_score_origin, inp, bounds,
                              name=lambda i, bd: f"backtest-origin-{bd[0].date().isoformat()}", on_done=finished)
    for rows, durations in results:  # in origin order whatever order the backend ran them in
        bt.rows.extend(rows)
        bt.durations.extend(durations)
    return bt

