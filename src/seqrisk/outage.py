"""The outage process as data: what the engine samples and what ``seqrisk fit`` saves.

This is the contract between the statistics (layer 2, ``seqrisk.stats``) and
the loss engine (layer 3): per chain and event type an annual rate and a
duration law, common-shock groups (Marshall-Olkin: one group event hits every
member at once), the volatility coupling ``beta`` of MODEL.md section 2 and
optional self-excitation. It is saved as a versioned JSON *model file*.

Rates are per year (365 days); durations in seconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from seqrisk._typing import FloatArray
from seqrisk.exceptions import DataError

__all__ = [
    "MODEL_FILE_SCHEMA",
    "ChainOutageLaw",
    "CommonShock",
    "DurationLaw",
    "Hawkes",
    "OutageModel",
]

#: Version of the model-file JSON layout; bump on any incompatible change.
MODEL_FILE_SCHEMA = 1

Family = Literal["lognormal", "weibull", "loglogistic", "exponential", "fixed"]
_PARAMS: dict[str, tuple[str, ...]] = {
    "lognormal": ("median_s", "sigma"),      # log D ~ N(log median, sigma^2)
    "weibull": ("scale_s", "shape"),         # P(D > x) = exp(-(x/scale)^shape)
    "loglogistic": ("scale_s", "shape"),     # P(D > x) = 1 / (1 + (x/scale)^shape)
    "exponential": ("mean_s",),
    "fixed": ("duration_s",),
}


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
        """The equivalent ``scipy.stats`` frozen distribution (None for ``fixed``)."""
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

    def mean(self) -> float:
        if self.family == "fixed":
            return float(self.params["duration_s"])
        return float(self.frozen().mean())

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DurationLaw:
        return cls(d["family"], {k: float(v) for k, v in d["params"].items()})


@dataclass(frozen=True)
class ChainOutageLaw:
    """One chain's own (idiosyncratic) outage process, per event type."""

    chain: str
    rates_per_year: Mapping[str, float]
    durations: Mapping[str, DurationLaw]
    forced_inclusion_delay_s: float | None = None
    #: optional, for reports: interval of the pooled rate per type, (low, high) per year
    rate_intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for t, r in self.rates_per_year.items():
            if not (math.isfinite(r) and r >= 0):
                raise DataError("rate must be finite and >= 0", chain=self.chain, field=f"rates_per_year.{t}", value=r)
            if r > 0 and t not in self.durations:
                raise DataError("an event type with a rate needs a duration law", chain=self.chain,
                                field=f"durations.{t}")


@dataclass(frozen=True)
class CommonShock:
    """A common-failure group event: hits every member chain at once (Marshall-Olkin)."""

    group: str
    members: tuple[str, ...]
    rate_per_year: float
    duration: DurationLaw
    type: str = "downtime"


@dataclass(frozen=True)
class Hawkes:
    """Exponential-kernel self-excitation: each event adds ``branching * decay * exp(-decay t)``."""

    branching: float
    decay_per_day: float

    def __post_init__(self) -> None:
        if not (0 <= self.branching < 1) or not self.decay_per_day > 0:
            raise DataError("Hawkes needs 0 <= branching < 1 and decay > 0",
                            field="hawkes", value=(self.branching, self.decay_per_day))


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

    def to_json(self) -> str:
        doc = {
            "schema": MODEL_FILE_SCHEMA,
            "kind": "seqrisk.outage_model",
            "beta": self.beta,
            "beta_interval": list(self.beta_interval) if self.beta_interval else None,
            "sigma_ref": self.sigma_ref,
            "hawkes": asdict(self.hawkes) if self.hawkes else None,
            "chains": {
                c: {
                    "rates_per_year": dict(law.rates_per_year),
                    "rate_intervals": {k: list(v) for k, v in law.rate_intervals.items()},
                    "durations": {t: d.to_dict() for t, d in law.durations.items()},
                    "forced_inclusion_delay_s": law.forced_inclusion_delay_s,
                } for c, law in sorted(self.chains.items())
            },
            "shocks": [{"group": s.group, "members": list(s.members), "rate_per_year": s.rate_per_year,
                        "duration": s.duration.to_dict(), "type": s.type} for s in self.shocks],
            "meta": dict(self.meta),
        }
        return json.dumps(doc, indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str, *, file: str | None = None) -> OutageModel:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"model file is not JSON: {exc.msg}", file=file) from None
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
                    durations={t: DurationLaw.from_dict(x) for t, x in d["durations"].items()},
                    forced_inclusion_delay_s=d.get("forced_inclusion_delay_s"),
                    rate_intervals={k: (float(v[0]), float(v[1])) for k, v in d.get("rate_intervals", {}).items()},
                ) for c, d in doc["chains"].items()
            }
            shocks = tuple(CommonShock(s["group"], tuple(s["members"]), float(s["rate_per_year"]),
                                       DurationLaw.from_dict(s["duration"]), s.get("type", "downtime"))
                           for s in doc.get("shocks", []))
            hk = doc.get("hawkes")
            bi = doc.get("beta_interval")
            return cls(chains=chains, shocks=shocks, beta=float(doc.get("beta", 0.0)),
                       beta_interval=(float(bi[0]), float(bi[1])) if bi else None,
                       sigma_ref=float(doc.get("sigma_ref", 0.6)),
                       hawkes=Hawkes(**hk) if hk else None, meta=doc.get("meta", {}))
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
