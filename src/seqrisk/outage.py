"""The outage process as data: what the engine samples and what ``seqrisk fit`` saves.

This is the contract between the statistics (layer 2, ``seqrisk.stats``) and
the loss engine (layer 3): per chain and event type an annual rate and a
duration law, common-shock groups (Marshall-Olkin: one group event hits every
member at once), the volatility coupling ``beta`` (docs/statistics.md section 6) and
optional self-excitation. It is saved as a versioned JSON *model file*.

Rates are per year (365 days); durations in seconds.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import special

from seqrisk._documents import too_deep
from seqrisk._typing import FloatArray
from seqrisk.exceptions import DataError

__all__ = [
    "MODEL_FILE_SCHEMA",
    "AnyDurationLaw",
    "ChainOutageLaw",
    "CommonShock",
    "DurationLaw",
    "Hawkes",
    "OutageModel",
    "PredictiveDuration",
    "duration_law_from_dict",
    "family_logcdf",
    "family_logpdf",
    "family_logsf",
    "family_ppf",
    "hawkes_immigrant_rates",
]

#: Version of the model-file JSON layout; bump on any incompatible change.
MODEL_FILE_SCHEMA = 2

Family = Literal["lognormal", "weibull", "loglogistic", "exponential", "fixed"]
_PARAMS: dict[str, tuple[str, ...]] = {
    "lognormal": ("median_s", "sigma"),      # log D ~ N(log median, sigma^2)
    "weibull": ("scale_s", "shape"),         # P(D > x) = exp(-(x/scale)^shape)
    "loglogistic": ("scale_s", "shape"),     # P(D > x) = 1 / (1 + (x/scale)^shape)
    "exponential": ("mean_s",),
    "fixed": ("duration_s",),
}


def family_logcdf(family: str, z: FloatArray) -> FloatArray:
    """``log P(W <= z)`` of the standard variate W of a log-location-scale family (``log D = mu + sigma W``)."""
    if family == "lognormal":
        return np.asarray(special.log_ndtr(z))
    if family == "weibull":
        zc = np.clip(z, -30.0, 700.0)
        return np.where(z < -30.0, z, np.log(-np.expm1(-np.exp(zc))))
    return np.asarray(-np.logaddexp(0.0, -z))


def family_logsf(family: str, z: FloatArray) -> FloatArray:
    """``log P(W > z)`` (see :func:`family_logcdf`)."""
    if family == "lognormal":
        return np.asarray(special.log_ndtr(-z))
    if family == "weibull":
        return np.asarray(-np.exp(np.minimum(z, 700.0)))
    return np.asarray(-np.logaddexp(0.0, z))


def family_logpdf(family: str, z: FloatArray) -> FloatArray:
    """Log density of W (see :func:`family_logcdf`)."""
    if family == "lognormal":
        return np.asarray(-0.5 * z * z - 0.5 * np.log(2 * np.pi))
    if family == "weibull":
        return np.asarray(z - np.exp(np.minimum(z, 700.0)))
    return np.asarray(-z - 2.0 * np.logaddexp(0.0, -z))


def family_ppf(family: str, p: Any) -> Any:
    """Quantile of W (so ``log q_p = mu + sigma * family_ppf(p)``): normal, minimum-Gumbel or logistic."""
    p = np.asarray(p, dtype=float)
    if family == "lognormal":
        return special.ndtri(p)
    if family == "weibull":
        return np.log(-np.log1p(-p))
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class DurationLaw:
    """A duration distribution in seconds: ``family`` and its named ``params``.

    >>> DurationLaw("lognormal", {"median_s": 3600.0, "sigma": 1.0}).ppf(0.5)
    3600.0
    """

    family: Family
    params: Mapping[str, float]

    def __post_init__(self) -> None:
        if self.family not in _PARAMS:
            raise DataError(f"unknown duration family (known: {', '.join(_PARAMS)})",
                            field="family", value=self.family)
        need = _PARAMS[self.family]
        if set(self.params) != set(need):
            raise DataError(f"{self.family} takes parameters {', '.join(need)}",
                            field="params", value=dict(self.params))
        for k, v in self.params.items():
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise DataError("duration parameters must be finite and > 0", field=k, value=v)

    def frozen(self) -> Any:
        """The equivalent ``scipy.stats`` frozen distribution (None for ``fixed``), built once per law (building
        one costs milliseconds; the law is immutable, so the first one serves every later call)."""
        try:
            return self.__dict__["_frozen"]
        except KeyError:
            dist = self._build_frozen()
            object.__setattr__(self, "_frozen", dist)
            return dist

    def _build_frozen(self) -> Any:
        from scipy import stats as sps  # imported here: scipy.stats costs ~1 s at CLI start-up

        p = self.params
        if self.family == "lognormal":
            return sps.lognorm(s=p["sigma"], scale=p["median_s"])
        if self.family == "weibull":
            return sps.weibull_min(c=p["shape"], scale=p["scale_s"])
        if self.family == "loglogistic":
            return sps.fisk(c=p["shape"], scale=p["scale_s"])
        if self.family == "exponential":
            return sps.expon(scale=p["mean_s"])
        return None

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        """Draw ``size`` durations (seconds) by inversion of one uniform each."""
        return self.ppf(rng.random(size))

    def ppf(self, q: Any) -> Any:
        """Quantile function (seconds)."""
        if self.family == "fixed":
            return np.full(np.shape(q), self.params["duration_s"]) if np.ndim(q) else self.params["duration_s"]
        out = self.frozen().ppf(q)
        return float(out) if np.ndim(out) == 0 else out

    def sf(self, x: Any) -> Any:
        """Survival P(D > x), x in seconds."""
        if self.family == "fixed":
            return (np.asarray(x) < self.params["duration_s"]).astype(float)
        return self.frozen().sf(x)

    def pdf(self, x: Any) -> Any:
        """Density of D at x (1/s; a fixed duration has none: 0)."""
        if self.family == "fixed":
            return np.zeros(np.shape(x)) if np.ndim(x) else 0.0
        return self.frozen().pdf(x)

    def cdf(self, x: Any) -> Any:
        """P(D <= x), x in seconds."""
        return 1.0 - np.asarray(self.sf(x))

    def mean(self) -> float:
        if self.family == "fixed":
            return float(self.params["duration_s"])
        return float(self.frozen().mean())

    def scaled(self, factor: float) -> DurationLaw:
        """The law of ``factor * D``."""
        p = dict(self.params)
        for k in ("median_s", "scale_s", "mean_s", "duration_s"):
            if k in p:
                p[k] *= factor
        return DurationLaw(self.family, p)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DurationLaw:
        return cls(d["family"], {k: float(v) for k, v in d["params"].items()})


_GH_X, _GH_W = np.polynomial.hermite.hermgauss(20)
_GH_Z = np.sqrt(2.0) * _GH_X           # nodes and weights of E[g(Z)], Z standard normal
_GH_P = _GH_W / np.sqrt(np.pi)
_BASES = ("lognormal", "weibull", "loglogistic")


def _sig(x: float) -> float:
    """``x`` rounded to 7 significant digits (model-file numbers: exact round trip, compact text)."""
    return float(f"{x:.7g}")


@dataclass(frozen=True, eq=False)
class PredictiveDuration:
    """A predictive duration law in seconds: an equal-weight mixture over ``M`` posterior draws.

    In draw ``j`` the log duration is ``loc[j] + loc_sd[j] * Z + sigma[j] * W``
    with ``Z`` standard normal (what the data leave unknown of the chain's own
    location: its chain effect's posterior spread, or the whole between-chain
    spread ``tau`` for a chain without durations) and ``W`` the standard
    variate of ``base`` (normal, minimum-Gumbel or logistic: lognormal,
    Weibull or log-logistic). Sampling is exact: a draw index, one normal and
    one uniform per duration (:meth:`sample`, :meth:`from_uniforms`).
    ``loc_sd = 0`` and one draw give the plain parametric law.

    With parameter uncertainty a simulation fixes a draw ``j`` and the chain's
    location ``loc[j] + loc_sd[j] * Z`` for a whole path (:meth:`location`):
    then the durations of one chain's outages on that path share them.
    """

    base: Literal["lognormal", "weibull", "loglogistic"]
    loc: FloatArray
    loc_sd: FloatArray
    sigma: FloatArray

    family: ClassVar[str] = "predictive"

    def __post_init__(self) -> None:
        if self.base not in _BASES:
            raise DataError(f"predictive law base must be one of {', '.join(_BASES)}", field="base", value=self.base)
        arrs = [np.atleast_1d(np.asarray(a, dtype=float)) for a in (self.loc, self.loc_sd, self.sigma)]
        if len({a.shape for a in arrs}) != 1 or arrs[0].ndim != 1 or arrs[0].size == 0:
            raise DataError("predictive law needs loc, loc_sd and sigma of one equal length", field="loc")
        if not all(np.all(np.isfinite(a)) for a in arrs) or np.any(arrs[1] < 0) or np.any(arrs[2] <= 0):
            raise DataError("predictive law parameters must be finite, loc_sd >= 0 and sigma > 0", field="sigma")
        for name, a in zip(("loc", "loc_sd", "sigma"), arrs, strict=True):
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @property
    def n_draws(self) -> int:
        return int(self.loc.size)

    @property
    def params(self) -> dict[str, float]:
        """A display summary: predictive median and p99 (s) and the number of draws (not a parametrisation)."""
        return {"median_s": float(self.ppf(0.5)), "p99_s": float(self.ppf(0.99)), "draws": float(self.n_draws)}

    def _cdf_log(self, lx: FloatArray) -> FloatArray:
        """P(log D <= lx) for an array ``lx`` (any shape)."""
        lx = np.asarray(lx, dtype=float)[..., None]
        if self.base == "lognormal":
            s = np.sqrt(self.loc_sd ** 2 + self.sigma ** 2)
            return np.asarray(special.ndtr((lx - self.loc) / s).mean(axis=-1))
        z = (lx[..., None] - self.loc[:, None] - self.loc_sd[:, None] * _GH_Z) / self.sigma[:, None]
        return np.asarray(np.exp(family_logcdf(self.base, z)) @ _GH_P).mean(axis=-1)

    def cdf(self, x: Any) -> Any:
        """P(D <= x), x in seconds."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            out = np.where(x > 0, self._cdf_log(np.log(np.maximum(x, 1e-300))), 0.0)
        return float(out) if out.ndim == 0 else out

    def sf(self, x: Any) -> Any:
        """P(D > x), x in seconds."""
        out = 1.0 - np.asarray(self.cdf(x))
        return float(out) if out.ndim == 0 else out

    def pdf(self, x: Any) -> Any:
        """Density of D at x (1/s): the log-scale density over x."""
        x = np.maximum(np.asarray(x, dtype=float), 1e-300)
        out = np.asarray(self._pdf_log(np.log(x))) / x
        return float(out) if out.ndim == 0 else out

    def _pdf_log(self, lx: FloatArray) -> FloatArray:
        """Density of log D at ``lx``."""
        lx = np.asarray(lx, dtype=float)[..., None]
        if self.base == "lognormal":
            s = np.sqrt(self.loc_sd ** 2 + self.sigma ** 2)
            return np.asarray((np.exp(-0.5 * ((lx - self.loc) / s) ** 2) / (s * np.sqrt(2 * np.pi))).mean(axis=-1))
        z = (lx[..., None] - self.loc[:, None] - self.loc_sd[:, None] * _GH_Z) / self.sigma[:, None]
        return np.asarray((np.exp(family_logpdf(self.base, z)) / self.sigma[:, None]) @ _GH_P).mean(axis=-1)

    def pdf_log(self, lx: Any) -> FloatArray:
        """Density of ``log D`` at ``lx`` (log seconds)."""
        return self._pdf_log(np.asarray(lx, dtype=float))

    def ppf(self, q: Any) -> Any:
        """Quantile function (seconds): a tabulated start, then safeguarded Newton steps on the log scale
        (to 1e-12), so arrays of many uniforms invert fast and exactly."""
        q = np.asarray(q, dtype=float)
        spread = float(np.max(self.loc_sd + 40.0 * self.sigma))
        grid = np.linspace(float(self.loc.min()) - spread, float(self.loc.max()) + spread, 1025)
        cdf = np.maximum.accumulate(self._cdf_log(grid))
        k = np.clip(np.searchsorted(cdf, q), 1, grid.size - 1)
        lo, hi = grid[k - 1], grid[k]
        f_lo, f_hi = cdf[k - 1], cdf[k]
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(f_hi > f_lo, lo + (q - f_lo) / (f_hi - f_lo) * (hi - lo), 0.5 * (lo + hi))
        act = np.flatnonzero(np.ones(y.shape, bool).ravel())
        y, lo, hi, qf = y.ravel().copy(), lo.ravel().copy(), hi.ravel().copy(), q.ravel()
        for _ in range(60):  # Newton on the elements not yet converged (usually 3-4 steps)
            ya = y[act]
            f = self._cdf_log(ya) - qf[act]
            lo[act] = np.where(f < 0, ya, lo[act])
            hi[act] = np.where(f < 0, hi[act], ya)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = f / self._pdf_log(ya)
            y_new = ya - step
            done = (np.abs(step) < 1e-10) | (np.abs(f) < 1e-15) | (hi[act] - lo[act] < 1e-10)
            bad = ~done & (~np.isfinite(y_new) | (y_new <= lo[act]) | (y_new >= hi[act]))
            y[act] = np.where(bad, 0.5 * (lo[act] + hi[act]), np.where(done & ~np.isfinite(y_new), ya, y_new))
            act = act[~done]
            if act.size == 0:
                break
        y = y.reshape(q.shape)
        out = np.exp(y)
        return float(out) if out.ndim == 0 else out

    def mean(self) -> float:
        """Mean duration (s); ``inf`` when a log-logistic draw has shape <= 1 (sigma >= 1)."""
        shift = self.loc + 0.5 * self.loc_sd ** 2
        if self.base == "lognormal":
            return float(np.mean(np.exp(shift + 0.5 * self.sigma ** 2)))
        if self.base == "weibull":
            return float(np.mean(np.exp(shift + special.gammaln(1.0 + self.sigma))))
        if np.any(self.sigma >= 1.0):
            return math.inf
        x = np.pi * self.sigma
        return float(np.mean(np.exp(shift) * x / np.sin(x)))

    def from_uniforms(self, u_draw: FloatArray, z: FloatArray, u: FloatArray) -> FloatArray:
        """Durations (s) from a uniform choosing the draw, a standard normal for the location and a uniform
        for the family variate (exact inversion of the mixture's parts)."""
        j = np.minimum((np.asarray(u_draw) * self.n_draws).astype(np.int64), self.n_draws - 1)
        return self.at_location(self.loc[j] + self.loc_sd[j] * np.asarray(z), j, u)

    def location(self, j: Any, z: Any) -> FloatArray:
        """The chain's location (log s) in draw ``j`` with standard normal ``z``: ``loc[j] + loc_sd[j] z``."""
        j = np.asarray(j, dtype=np.int64)
        return np.asarray(self.loc[j] + self.loc_sd[j] * np.asarray(z))

    def at_location(self, location: Any, j: Any, u: Any) -> FloatArray:
        """Durations (s) at a given location (log s) in draw ``j``, from uniforms ``u``."""
        u = np.clip(np.asarray(u, dtype=float), 1e-300, 1.0 - 1e-16)
        return np.asarray(np.exp(np.asarray(location) + self.sigma[np.asarray(j, dtype=np.int64)]
                                 * family_ppf(self.base, u)))

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        """Draw ``size`` durations (seconds) from the predictive law."""
        return self.from_uniforms(rng.random(size), rng.standard_normal(size), rng.random(size))

    def scaled(self, factor: float) -> PredictiveDuration:
        """The law of ``factor * D``."""
        return PredictiveDuration(self.base, self.loc + math.log(factor), self.loc_sd, self.sigma)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "base": self.base, "loc_log_s": [_sig(x) for x in self.loc],
                "loc_sd": [_sig(x) for x in self.loc_sd], "sigma": [_sig(x) for x in self.sigma]}

    @classmethod
    def from_draws(cls, base: str, loc: Sequence[float] | FloatArray, loc_sd: Sequence[float] | FloatArray,
                   sigma: Sequence[float] | FloatArray) -> PredictiveDuration:
        """The law with every number rounded as the model file stores it (so a saved law is the same law)."""
        r = np.vectorize(_sig, otypes=[float])
        return cls(base, r(np.asarray(loc, dtype=float)), r(np.asarray(loc_sd, dtype=float)),  # type: ignore[arg-type]
                   r(np.asarray(sigma, dtype=float)))


#: Either kind of duration law the model carries.
AnyDurationLaw = DurationLaw | PredictiveDuration


def duration_law_from_dict(d: Mapping[str, Any]) -> AnyDurationLaw:
    """A duration law from its model-file form (parametric or predictive)."""
    if d.get("family") == PredictiveDuration.family:
        return PredictiveDuration(d["base"], np.asarray(d["loc_log_s"], dtype=float),
                                  np.asarray(d["loc_sd"], dtype=float), np.asarray(d["sigma"], dtype=float))
    return DurationLaw.from_dict(d)


#: Posterior draws of a rate: in draw ``j`` the rate per year is ``Gamma(shape[j], rate[j])`` (rate in years).
RateDraws = tuple[tuple[float, ...], tuple[float, ...]]


def _rate_draws(d: Any) -> RateDraws:
    shape, rate = (tuple(float(x) for x in d[k]) for k in ("shape", "rate_years"))
    if len(shape) != len(rate) or not shape or min(shape) <= 0 or min(rate) <= 0:
        raise DataError("rate draws need equal-length positive shape and rate_years", field="rate_draws")
    return shape, rate


def _rate_draws_doc(d: RateDraws) -> dict[str, list[float]]:
    return {"shape": [_sig(x) for x in d[0]], "rate_years": [_sig(x) for x in d[1]]}


def rate_draws(shape: Any, rate: Any) -> RateDraws:
    """Rate draws with the model file's rounding (so a saved model is the same model)."""
    return tuple(_sig(float(x)) for x in shape), tuple(_sig(float(x)) for x in rate)


@dataclass(frozen=True)
class ChainOutageLaw:
    """One chain's own (idiosyncratic) outage process, per event type.

    ``rates_per_year`` are posterior means (at the as-of date); ``rate_draws``
    (optional, per type) the posterior the engine draws from when parameter
    uncertainty is asked for; ``durations`` are predictive laws (or parametric
    ones in hand-written models).
    """

    chain: str
    rates_per_year: Mapping[str, float]
    durations: Mapping[str, AnyDurationLaw]
    forced_inclusion_delay_s: float | None = None
    #: optional, for reports: interval of the pooled rate per type, (low, high) per year
    rate_intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    rate_draws: Mapping[str, RateDraws] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for t, r in self.rates_per_year.items():
            if not (math.isfinite(r) and r >= 0):
                raise DataError("rate must be finite and >= 0", chain=self.chain, field=f"rates_per_year.{t}", value=r)
            if r > 0 and t not in self.durations:
                raise DataError("an event type with a rate needs a duration law", chain=self.chain,
                                field=f"durations.{t}")


@dataclass(frozen=True)
class CommonShock:
    """A common-failure group event: it hits several member chains at once.

    By default (``extra_hit_probability`` None) every member is hit
    (Marshall-Olkin) with an event of ``type`` lasting ``duration``. A fitted
    shock hits two members at random and each other member with probability
    ``extra_hit_probability``; each hit chain's event type is drawn from
    ``type_mix`` and its duration from ``durations[type]``. ``rate_per_year``
    counts the group's joint events (posterior mean), ``rate_draws`` its
    posterior.
    """

    group: str
    members: tuple[str, ...]
    rate_per_year: float
    duration: AnyDurationLaw
    type: str = "downtime"
    type_mix: Mapping[str, float] = field(default_factory=dict)
    durations: Mapping[str, AnyDurationLaw] = field(default_factory=dict)
    extra_hit_probability: float | None = None
    rate_interval: tuple[float, float] | None = None
    rate_draws: RateDraws | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_per_year) and self.rate_per_year >= 0):
            raise DataError("shock rate must be finite and >= 0", field=f"shocks.{self.group}",
                            value=self.rate_per_year)
        q = self.extra_hit_probability
        if q is not None and not 0 <= q <= 1:
            raise DataError("extra_hit_probability must lie in [0, 1]", field=f"shocks.{self.group}", value=q)
        if self.type_mix and abs(sum(self.type_mix.values()) - 1.0) > 1e-6:
            raise DataError("a shock's type mix must sum to 1", field=f"shocks.{self.group}.type_mix")

    @property
    def mix(self) -> dict[str, float]:
        """Type probabilities of a hit chain's event (``{type: 1}`` without a mix)."""
        return dict(self.type_mix) if self.type_mix else {self.type: 1.0}

    def law(self, type_: str) -> AnyDurationLaw:
        """Duration law of a hit chain's event of ``type_``."""
        return self.durations.get(type_, self.duration)

    def hit_probability(self) -> float:
        """P(a given member is hit by one of the group's events)."""
        n, q = len(self.members), self.extra_hit_probability
        if q is None or n <= 2:
            return 1.0
        return (2.0 + (n - 2) * q) / n


@dataclass(frozen=True)
class Hawkes:
    """Exponential-kernel excitation: each event begets on average ``branching`` follow-on outages on its own
    chain (same type) and ``cross_branching`` on the other chains, at delays ``Exp(decay_per_day)``.

    Cross-chain offspring go to chain ``c`` with probability proportional to
    its own mean rate among the other chains (``s_{c|d}``), with a type drawn
    from ``c``'s own rates. ``draws`` (optional): posterior draws of
    ``(branching, cross_branching, decay_per_day)``.
    """

    branching: float
    decay_per_day: float
    cross_branching: float = 0.0
    draws: tuple[tuple[float, float, float], ...] = ()

    def __post_init__(self) -> None:
        if (not (0 <= self.branching < 1) or not (0 <= self.cross_branching < 1)
                or self.branching + self.cross_branching >= 1 or not self.decay_per_day > 0):
            raise DataError("Hawkes needs branching, cross_branching >= 0 with sum < 1, and decay > 0",
                            field="hawkes", value=(self.branching, self.cross_branching, self.decay_per_day))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"branching": self.branching, "decay_per_day": self.decay_per_day,
                             "cross_branching": self.cross_branching}
        if self.draws:
            d["draws"] = {"branching": [_sig(x[0]) for x in self.draws],
                          "cross_branching": [_sig(x[1]) for x in self.draws],
                          "decay_per_day": [_sig(x[2]) for x in self.draws]}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Hawkes:
        dr = d.get("draws") or {}
        draws = tuple(zip(*(map(float, dr[k]) for k in ("branching", "cross_branching", "decay_per_day")),
                          strict=True)) if dr else ()
        return cls(float(d["branching"]), float(d["decay_per_day"]), float(d.get("cross_branching", 0.0)),
                   draws)


def hawkes_immigrant_rates(own_mean: FloatArray, shock_hits: FloatArray, within: float, cross: float) -> FloatArray:
    """Immigrant rates (C, T) that keep each chain's fitted own mean rates ``own_mean`` (C, T) when events beget
    follow-ons: ``mu = own_mean - within * total - cross * mix * sum_d s_{c|d} total_d`` with ``total = own_mean
    + shock_hits`` (the shocks' hits are immigrants and parents too), ``s_{c|d}`` the share of chain ``c`` among
    the chains other than ``d`` by own mean rate, ``mix`` the chain's own type mix; clipped at 0."""
    own_mean = np.asarray(own_mean, dtype=float)
    total = own_mean + np.asarray(shock_hits, dtype=float)
    r = own_mean.sum(axis=1)
    tot_c = total.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(r.sum() - r[None, :] > 0, r[:, None] / (r.sum() - r[None, :]), 0.0)  # s_{c|d}, (C, C)
        mix = np.where(r[:, None] > 0, own_mean / np.where(r[:, None] > 0, r[:, None], 1.0), 0.0)
    np.fill_diagonal(share, 0.0)
    into = cross * (share @ tot_c)
    return np.asarray(np.maximum(own_mean - within * total - into[:, None] * mix, 0.0))


@dataclass(frozen=True)
class OutageModel:
    """Everything the engine needs to sample outages; saved as the model file."""

    chains: Mapping[str, ChainOutageLaw]
    shocks: tuple[CommonShock, ...] = ()
    beta: float = 0.0
    beta_interval: tuple[float, float] | None = None
    sigma_ref: float = 0.6
    hawkes: Hawkes | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def independent(self) -> OutageModel:
        """The same chains with every cross-chain dependence removed and every chain's mean rates kept: each
        common shock becomes one single-member shock per member at the rate it hits that member (same type mix,
        durations and posterior, scaled), and cross-chain excitation is switched off (within-chain excitation
        stays). Comparing a book's risk under this and under the model says how much of its diversification
        benefit the dependence takes away."""
        shocks = []
        for s in self.shocks:
            p = s.hit_probability()
            draws = (s.rate_draws[0], tuple(r / p for r in s.rate_draws[1])) if s.rate_draws else None
            shocks += [CommonShock(f"{s.group}:{m}", (m,), s.rate_per_year * p, s.duration, s.type,
                                   type_mix=dict(s.type_mix), durations=dict(s.durations), rate_draws=draws)
                       for m in s.members]
        hk = self.hawkes
        hawkes = (Hawkes(hk.branching, hk.decay_per_day, 0.0, tuple((b, 0.0, d) for b, _, d in hk.draws))
                  if hk is not None and hk.branching > 0 else None)
        return OutageModel(chains=dict(self.chains), shocks=tuple(shocks), beta=self.beta,
                           beta_interval=self.beta_interval, sigma_ref=self.sigma_ref, hawkes=hawkes,
                           meta={**self.meta, "independent": True})

    @property
    def has_posterior_draws(self) -> bool:
        """True when the model carries posterior draws of its rates (a fitted model; needed for parameter
        uncertainty in the engine)."""
        return any(law.rate_draws for law in self.chains.values()) or any(s.rate_draws for s in self.shocks)

    def to_json(self) -> str:
        doc = {
            "schema": MODEL_FILE_SCHEMA,
            "kind": "seqrisk.outage_model",
            "beta": self.beta,
            "beta_interval": list(self.beta_interval) if self.beta_interval else None,
            "sigma_ref": self.sigma_ref,
            "hawkes": self.hawkes.to_dict() if self.hawkes else None,
            "chains": {
                c: {
                    "rates_per_year": dict(law.rates_per_year),
                    "rate_intervals": {k: list(v) for k, v in law.rate_intervals.items()},
                    "durations": {t: d.to_dict() for t, d in law.durations.items()},
                    "forced_inclusion_delay_s": law.forced_inclusion_delay_s,
                    **({"rate_draws": {t: _rate_draws_doc(d) for t, d in law.rate_draws.items()}}
                       if law.rate_draws else {}),
                } for c, law in sorted(self.chains.items())
            },
            "shocks": [{"group": s.group, "members": list(s.members), "rate_per_year": s.rate_per_year,
                        "duration": s.duration.to_dict(), "type": s.type,
                        **({"type_mix": dict(s.type_mix)} if s.type_mix else {}),
                        **({"durations": {t: d.to_dict() for t, d in s.durations.items()}} if s.durations else {}),
                        **({"extra_hit_probability": s.extra_hit_probability}
                           if s.extra_hit_probability is not None else {}),
                        **({"rate_interval": list(s.rate_interval)} if s.rate_interval else {}),
                        **({"rate_draws": _rate_draws_doc(s.rate_draws)} if s.rate_draws else {})}
                       for s in self.shocks],
            "meta": dict(self.meta),
        }
        text = json.dumps(doc, indent=2, sort_keys=False)
        # arrays of numbers (posterior draws) on one line each: the file stays readable and small
        return re.sub(r"\[\s+([-+0-9.eE]+(?:,\s+[-+0-9.eE]+)*)\s+\]",
                      lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)

    @classmethod
    def from_json(cls, text: str, *, file: str | None = None) -> OutageModel:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"model file is not JSON: {exc.msg}", file=file) from None
        except RecursionError:  # nested deeper than the parser can follow
            raise too_deep("the model file", text, file=file) from None
        if not isinstance(doc, dict) or doc.get("kind") != "seqrisk.outage_model":
            raise DataError("not a seqrisk outage model file", file=file, field="kind",
                            value=doc.get("kind") if isinstance(doc, dict) else None)
        if doc.get("schema") != MODEL_FILE_SCHEMA:
            raise DataError(f"model file schema {doc.get('schema')} is not supported (expected "
                            f"{MODEL_FILE_SCHEMA}); refit with this version", file=file, field="schema",
                            value=doc.get("schema"))
        try:
            chains = {
                c: ChainOutageLaw(
                    chain=c,
                    rates_per_year={k: float(v) for k, v in d["rates_per_year"].items()},
                    durations={t: duration_law_from_dict(x) for t, x in d["durations"].items()},
                    forced_inclusion_delay_s=d.get("forced_inclusion_delay_s"),
                    rate_intervals={k: (float(v[0]), float(v[1])) for k, v in d.get("rate_intervals", {}).items()},
                    rate_draws={k: _rate_draws(v) for k, v in d.get("rate_draws", {}).items()},
                ) for c, d in doc["chains"].items()
            }
            shocks = tuple(CommonShock(
                s["group"], tuple(s["members"]), float(s["rate_per_year"]), duration_law_from_dict(s["duration"]),
                s.get("type", "downtime"), type_mix={k: float(v) for k, v in s.get("type_mix", {}).items()},
                durations={t: duration_law_from_dict(x) for t, x in s.get("durations", {}).items()},
                extra_hit_probability=(float(s["extra_hit_probability"]) if s.get("extra_hit_probability")
                                       is not None else None),
                rate_interval=tuple(s["rate_interval"]) if s.get("rate_interval") else None,
                rate_draws=_rate_draws(s["rate_draws"]) if s.get("rate_draws") else None)
                for s in doc.get("shocks", []))
            hk = doc.get("hawkes")
            bi = doc.get("beta_interval")
            return cls(chains=chains, shocks=shocks, beta=float(doc.get("beta", 0.0)),
                       beta_interval=(float(bi[0]), float(bi[1])) if bi else None,
                       sigma_ref=float(doc.get("sigma_ref", 0.6)),
                       hawkes=Hawkes.from_dict(hk) if hk else None, meta=doc.get("meta", {}))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise DataError(exc.message, file=file, **exc.context) from None
            raise DataError(f"malformed model file: {exc!r}", file=file) from None

    def save(self, path: Path | str) -> None:
        """Write atomically (temporary file, then rename)."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(p)

    @classmethod
    def load(cls, path: Path | str) -> OutageModel:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"cannot read model file: {exc.strerror}", file=str(p)) from None
        return cls.from_json(text, file=str(p))
