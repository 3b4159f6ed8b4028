"""Validated records of the catalog: chains, their risk entries, incidents.

Unknown values are ``None`` (rendered "unknown"), never guessed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from seqrisk.catalog.registry import ChainRegistry, check_address
from seqrisk.catalog.source import Frozen, Source

__all__ = [
    "EVENT_TYPES",
    "Chain",
    "Incident",
    "RiskEntry",
    "Source",
]

#: Event types of docs/statistics.md section 1, plus ``other`` for catalog rows whose
#: main effect is none of them (bridge, protocol or operator issues).
EVENT_TYPES = ("downtime", "degraded", "censorship", "reorg", "da_delay", "other")
EventType = Literal["downtime", "degraded", "censorship", "reorg", "da_delay", "other"]
Sentiment = Literal["good", "warning", "bad", "unknown"]
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class RiskEntry(Frozen):
    """An L2BEAT-style risk entry: renders as prose, sorts by sentiment and metric."""

    name: str
    value: str
    description: str
    sentiment: Sentiment
    defining_metric: float | None = Field(None, description="the number the entry turns on, in its unit")
    metric_unit: str | None = None


class Chain(Frozen):
    """One chain's design, as declared data with its sources."""

    id: str
    name: str
    stack: str
    layer: Literal["L2", "L3"]
    settles_on: str
    mainnet_launch_date: date | None = None
    sunset_date: date | None = None
    sequencer: Literal["centralized", "centralized-ha", "decentralized", "based"] | None = None
    sequencer_operator: str | None = None
    forced_inclusion: Literal["self-sequence", "enqueue", "force-via-l1", "none"] | None = None
    forced_inclusion_delay_s: float | None = Field(None, ge=0)
    data_availability: str | None = None
    proof_system: Literal["fraud-permissionless", "fraud-permissioned", "validity", "none"] | None = None
    l2beat_stage: str | None = None
    block_time_s: float | None = Field(None, gt=0)
    empty_blocks_backfilled: bool | None = None
    chainlink_uptime_feed: str | None = Field(
        None, description="feed address, 'none' when Chainlink has no feed, None when unknown")
    groups: tuple[str, ...] = ()
    sources: tuple[Source, ...] = Field(min_length=1)
    confidence: Literal["high", "medium", "low"]
    notes: str | None = None
    registry: ChainRegistry = Field(default_factory=ChainRegistry,
                                    description="identifiers, L1 addresses, endpoints; each fact with its sources")

    @model_validator(mode="before")
    @classmethod
    def _from_registry(cls, data: object) -> object:
        """``block_time_s`` and ``chainlink_uptime_feed`` default to the registry's facts; the two must agree."""
        if not isinstance(data, dict) or not isinstance(data.get("registry"), dict):
            return data
        data = dict(data)
        for name in ("block_time_s", "chainlink_uptime_feed"):
            fact = data["registry"].get(name)
            value = fact.get("value") if isinstance(fact, dict) else getattr(fact, "value", None)
            if value is None:
                continue
            if data.get(name) is None:
                data[name] = value
            elif str(data[name]) != str(value) and not _same_number(data[name], value):
                raise ValueError(f"{name} {data[name]!r} differs from the registry's {value!r}")
        return data

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError(f"chain id must be a lowercase slug (a-z, 0-9, -): {v!r}")
        return v

    @field_validator("chainlink_uptime_feed")
    @classmethod
    def _feed(cls, v: str | None) -> str | None:
        if v is not None and v != "none":
            if not re.fullmatch(r"0x[0-9a-fA-F]{40}", v):
                raise ValueError(f"uptime feed must be an address, 'none' or empty: {v!r}")
            check_address(v)
        return v

    @model_validator(mode="after")
    def _window(self) -> Chain:
        if self.mainnet_launch_date and self.sunset_date and self.sunset_date < self.mainnet_launch_date:
            raise ValueError(f"sunset_date {self.sunset_date} is before mainnet_launch_date {self.mainnet_launch_date}")
        return self

    @property
    def stage(self) -> int | None:
        """L2BEAT stage as a number (0, 1, 2), None when not applicable or unknown."""
        m = re.match(r"^\s*(\d)", self.l2beat_stage or "")
        return int(m.group(1)) if m else None

    @property
    def evm_chain_id(self) -> int | None:
        """The EVM chain id (``eth_chainId``), None for non-EVM chains or when unknown."""
        f = self.registry.evm_chain_id
        return f.value if f is not None else None

    @property
    def settlement_chain_id(self) -> int | None:
        """The chain id of the chain this one settles on (1 for Ethereum)."""
        f = self.registry.settlement_chain_id
        return f.value if f is not None else None

    @property
    def batch_inbox(self) -> str | None:
        """The L1 address batches are posted to (checksummed), None when unknown."""
        f = self.registry.l1_batch_inbox
        return f.value if f is not None else None

    @property
    def batch_posters(self) -> tuple[str, ...]:
        """The L1 addresses that post the batches (checksummed)."""
        return tuple(f.value for f in self.registry.l1_batch_poster)

    @property
    def rpc_endpoints(self) -> tuple[str, ...]:
        """The public JSON-RPC endpoints the chain's documentation lists, in catalog order."""
        return tuple(f.value for f in self.registry.rpc_public)

    def exposure_start(self) -> datetime | None:
        """Start of the exposure window for rate fitting (public mainnet launch, UTC)."""
        d = self.mainnet_launch_date
        return datetime(d.year, d.month, d.day, tzinfo=UTC) if d else None

    def exposure_end(self, as_of: datetime) -> datetime:
        """End of the exposure window: the sunset date if earlier than ``as_of``."""
        if self.sunset_date:
            s = datetime(self.sunset_date.year, self.sunset_date.month, self.sunset_date.day, tzinfo=UTC)
            return min(s, as_of)
        return as_of


def _same_number(a: object, b: object) -> bool:
    try:
        return float(str(a)) == float(str(b))
    except ValueError:
        return False


class Incident(Frozen):
    """One historical incident, with its duration range and its sources.

    Durations are minutes here because the sources give minutes; the
    ``duration_s*`` properties convert. ``duration_min_low``/``_high`` carry the
    disagreement between sources (an interval-censored duration).
    """

    id: str
    chain: str
    chain_name_in_source: str | None = None
    type: EventType
    start_utc: datetime
    start_precision: Literal["minute", "hour", "day", "month"]
    duration_min: float | None = Field(None, gt=0)
    duration_min_low: float | None = Field(None, gt=0)
    duration_min_high: float | None = Field(None, gt=0)
    cause: str
    tags: tuple[Literal["deliberate", "planned", "+reorg", "+da_delay"], ...] = ()
    funds_lost: Literal["no", "yes", "indirect", "unknown"] = "unknown"
    market_context: str | None = None
    scope: tuple[str, ...] = ()
    sources: tuple[Source, ...] = Field(min_length=1)
    confidence: Literal["high", "medium", "low"]
    ongoing: bool = Field(False, description="the outage had not ended when recorded (right-censored)")

    @field_validator("start_utc", mode="before")
    @classmethod
    def _start(cls, v: object) -> object:
        if isinstance(v, str):
            s = v.strip()
            if re.fullmatch(r"\d{4}-\d{2}", s):
                s += "-01"
            if s.endswith(("Z", "z")):
                s = s[:-1] + "+00:00"
            return s
        return v

    @field_validator("start_utc")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @field_validator("scope")
    @classmethod
    def _scope(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        known = {"sequencer", "feed", "batch_poster", "proposer", "rpc", "frontend", "explorer",
                 "bridge", "operator", "protocol"}
        bad = [s for s in v if s not in known]
        if bad:
            raise ValueError(f"unknown scope {bad[0]!r} (known: {', '.join(sorted(known))})")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> Incident:
        lo, best, hi = self.duration_min_low, self.duration_min, self.duration_min_high
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"duration_min_low {lo} > duration_min_high {hi}")
        if best is not None and lo is not None and best < lo:
            raise ValueError(f"duration_min {best} < duration_min_low {lo}")
        if best is not None and hi is not None and best > hi:
            raise ValueError(f"duration_min {best} > duration_min_high {hi}")
        return self

    @property
    def deliberate(self) -> bool:
        """The operator chose to halt or censor (e.g. in response to an exploit)."""
        return "deliberate" in self.tags

    @property
    def planned(self) -> bool:
        """Scheduled maintenance or sunset."""
        return "planned" in self.tags

    @property
    def also_reorg(self) -> bool:
        """Blocks were also reverted."""
        return "+reorg" in self.tags

    @property
    def also_da_delay(self) -> bool:
        """Data posting to L1 was also delayed."""
        return "+da_delay" in self.tags

    @property
    def is_failure(self) -> bool:
        """Neither deliberate nor planned: the hazard that failure rates count."""
        return not (self.deliberate or self.planned)

    @property
    def sequencer_down(self) -> bool:
        """The sequencer itself failed (blocks stopped); other scopes kept blocks coming."""
        return "sequencer" in self.scope

    def duration_bounds_s(self) -> tuple[float, float]:
        """Duration in seconds as an interval ``(low, high)``.

        Exact when sources agree; ``(low, high)`` when they disagree; when only
        the best estimate is known it is taken as exact; an unknown duration is
        ``(0, inf)`` (it then carries no duration information, only a count);
        an ongoing outage is right-censored at its known length ``(best, inf)``.
        """
        lo = self.duration_min_low if self.duration_min_low is not None else self.duration_min
        hi = self.duration_min_high if self.duration_min_high is not None else self.duration_min
        if self.duration_min is not None:
            lo = self.duration_min if lo is None else lo
            hi = self.duration_min if hi is None else hi
        if self.ongoing:
            return ((lo or 0.0) * 60.0, float("inf"))
        if lo is None and hi is None:
            return (0.0, float("inf"))
        if lo is None:
            lo = 0.0
        if hi is None:
            return (lo * 60.0, float("inf"))
        return (lo * 60.0, hi * 60.0)

    @property
    def duration_s(self) -> float | None:
        """Best estimate of the duration in seconds, None when not verified."""
        return None if self.duration_min is None else self.duration_min * 60.0
