"""The monitor's configuration: a YAML file listing chains and endpoints, the rest defaulted.

Each chain's endpoints, chain id, Chainlink uptime feed and L1 batch inbox default to the catalog's registry
facts; a chain can be given as its catalog id alone. Durations accept ``2s``, ``5m``; errors name the file,
the field and the value in one line.

.. code-block:: yaml

    interval_s: 2s            # one polling round per chain every 2 s
    timeout_s: 1.5s           # an endpoint that has not answered by then counts as unreachable this round
    chains:
      - base                  # endpoints, chain id, feed and inbox from the catalog
      - id: arbitrum
        endpoints: [https://arb1.example/rpc, https://arb2.example/rpc]
        feed: none            # do not read the uptime feed
    l1: {endpoints: [https://eth.example/rpc]}      # for L1 batch cadence
    alerts:
      webhooks: [{url: https://hooks.example/seqrisk, secret_env: SEQRISK_WEBHOOK_SECRET}]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from seqrisk._documents import read_mapping
from seqrisk.catalog import Catalog
from seqrisk.catalog.registry import RpcUrl, to_checksum_address
from seqrisk.exceptions import UnknownChainError, UsageError, ValidationError
from seqrisk.units import parse_duration

__all__ = ["AlertSettings", "ChainSpec", "L1Settings", "MetricsSettings", "MonitorConfig", "NowcastSettings",
           "ProbeSettings", "ResolvedChain", "WebhookSettings", "load_monitor_config", "resolve_chains"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _seconds(v: Any) -> Any:
    try:
        return parse_duration(v) if isinstance(v, str) else v
    except UsageError as exc:  # reported by pydantic with the field's full path
        raise ValueError(exc.message) from None


def _address(v: Any) -> Any:
    """An address in any case comes out EIP-55 checksummed; a mixed-case one must already be."""
    if isinstance(v, str) and v != "none":
        right = to_checksum_address(v)  # ValueError for anything but 0x + 40 hex digits
        if v != right and v[2:] not in (v[2:].lower(), v[2:].upper()):
            raise ValueError(f"address is not EIP-55 checksummed: {v!r} (checksummed: {right})")
        return right
    return v


class ProbeSettings(_Frozen):
    """Probe transactions: signed raw transactions sent to the chain's first endpoint.

    The sequencer answers a live probe, whether it accepts the transaction or refuses it ("nonce too low",
    "already known", underpriced ...): an answer means it is taking requests. No answer within ``timeout_s``
    counts against it. An *accepted* probe is then looked for in the chain (its receipt, every polling
    round) until it is included: while it is not, the status model weighs how long it has waited. Give one
    transaction signed offline (a zero-value transfer with a used nonce is refused at no cost: answers only)
    or a list with consecutive nonces (each sent in turn once the one before is included or refused; the
    last one is sent again every ``every_s``). The transactions are never built or signed here.
    """

    raw_tx: tuple[Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]+$")], ...] = Field(
        min_length=1, description="signed transaction(s), hex: one, or a list with consecutive nonces")
    every_s: float = Field(60.0, gt=0)
    timeout_s: float = Field(5.0, gt=0)

    _dur = field_validator("every_s", "timeout_s", mode="before")(_seconds)

    @field_validator("raw_tx", mode="before")
    @classmethod
    def _one_or_more(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v


class ChainSpec(_Frozen):
    """One watched chain; every field but ``id`` defaults to the catalog's registry facts."""

    id: str
    endpoints: tuple[RpcUrl, ...] | None = Field(None, description="L2 JSON-RPC endpoints (default: the catalog's)")
    chain_id: int | None = Field(None, ge=0, description="expected eth_chainId (default: the catalog's)")
    feed: str | None = Field(None, description="Chainlink sequencer uptime feed address on the chain, or 'none'")
    inbox: str | None = Field(None, description="L1 batch inbox address, or 'none'")
    posters: tuple[str, ...] | None = Field(None, description="L1 batch posters (default: the catalog's)")
    probe: ProbeSettings | None = None
    status: dict[str, Any] = Field(default_factory=dict, description="status model settings for this chain "
                                   "(over the top-level ones)")

    _addr = field_validator("feed", "inbox", mode="before")(_address)

    @field_validator("posters", mode="before")
    @classmethod
    def _posters(cls, v: Any) -> Any:
        return [_address(a) for a in v] if isinstance(v, list | tuple) else v

    @field_validator("endpoints")
    @classmethod
    def _http(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for u in v or ():
            if not u.startswith(("http://", "https://")):
                raise ValueError(f"the monitor polls over HTTP(S): {u!r}")
        return v


class L1Settings(_Frozen):
    """Where L1 batch cadence is read: endpoints of the settlement chain (Ethereum for most rollups)."""

    endpoints: tuple[RpcUrl, ...] = ()
    chain_id: int = Field(1, ge=0, description="the settlement chain's id (chains settling elsewhere are skipped)")
    interval_s: float = Field(12.0, gt=0, description="how often new L1 blocks are read")
    lookback_blocks: int = Field(64, ge=1, le=10_000, description="L1 blocks read back at start")
    max_blocks_per_round: int = Field(64, ge=1, le=10_000)

    _dur = field_validator("interval_s", mode="before")(_seconds)


class WebhookSettings(_Frozen):
    """A webhook receiver. The body is signed with HMAC-SHA256 when a secret is set (``secret_env`` names the
    environment variable holding it: secrets stay out of config files)."""

    url: RpcUrl
    name: str | None = None
    format: Literal["seqrisk", "alertmanager"] = Field(
        "seqrisk", description="seqrisk: one JSON document per alert; alertmanager: the alert list "
        "Alertmanager's POST /api/v2/alerts takes")
    secret_env: str | None = None
    timeout_s: float = Field(5.0, gt=0)
    retries: int = Field(5, ge=0, le=50)
    backoff_s: float = Field(1.0, ge=0)
    backoff_max_s: float = Field(60.0, gt=0)

    _dur = field_validator("timeout_s", "backoff_s", "backoff_max_s", mode="before")(_seconds)

    @property
    def label(self) -> str:
        from seqrisk.rpc import redact

        return self.name or redact(self.url)

    def secret(self, environ: Mapping[str, str] | None = None) -> bytes | None:
        if self.secret_env is None:
            return None
        v = (os.environ if environ is None else environ).get(self.secret_env)
        return v.encode() if v else None


class AlertSettings(_Frozen):
    """When a status change becomes an alert (hysteresis in rounds) and where alerts go."""

    raise_rounds: int = Field(2, ge=1, description="rounds a worse state must last before it is alerted")
    clear_rounds: int = Field(3, ge=1, description="rounds a better state must last before the alert clears")
    degraded: bool = Field(True, description="alert on degraded as well as down")
    webhooks: tuple[WebhookSettings, ...] = ()
    dead_letter: Path | None = Field(None, description="JSON lines of alerts no receiver took (default: "
                                     "<home>/monitor-dead-letter.jsonl)")


class MetricsSettings(_Frozen):
    host: str = Field("127.0.0.1", description="address the Prometheus endpoint binds")
    port: int | None = Field(9464, ge=0, le=65535, description="TCP port (0: any free port; null: no endpoint)")


class NowcastSettings(_Frozen):
    """The now-cast attached to a down alert, and the books its conditional loss is computed for."""

    books: tuple[Path, ...] = ()
    paths: int = Field(20_000, ge=100)
    seed: int = Field(0, ge=0)
    refresh_s: float = Field(60.0, gt=0, description="how often the now-cast is refreshed while a chain is down")
    model: Path | None = Field(None, description="outage model file (default: fitted to the catalog)")
    scenario: Path | None = Field(None, description="scenario file for the books' runs (grace period, cost of "
                                  "capital ...; default: the engine's defaults)")

    _dur = field_validator("refresh_s", mode="before")(_seconds)


class MonitorConfig(_Frozen):
    """Settings of ``seqrisk monitor`` (docs/monitor.md lists them)."""

    chains: tuple[ChainSpec, ...] = Field(min_length=1)
    interval_s: float = Field(2.0, gt=0, description="seconds between two polling rounds of a chain")
    suspect_interval_s: float | None = Field(0.5, gt=0, description="seconds between two rounds of a chain that "
                                             "looks late (its head silent past the slow-block threshold, or its "
                                             "status degraded) until it is judged down or moves again (null: "
                                             "always interval_s)")
    timeout_s: float = Field(1.5, gt=0, description="an endpoint's answer later than this is no answer")
    concurrency: int = Field(64, ge=1, le=4096, description="requests in flight across all chains")
    l1: L1Settings = L1Settings()
    alerts: AlertSettings = AlertSettings()
    metrics: MetricsSettings = MetricsSettings()
    nowcast: NowcastSettings = NowcastSettings()
    store: bool = Field(True, description="write observations, status changes and alerts to the state store")
    status: dict[str, Any] = Field(default_factory=dict, description="status model settings for every chain "
                                   "(down_at, degraded_at, replica_lag_blocks ...; docs/monitor.md)")
    retention_days: float | None = Field(7.0, gt=0, description="per-round rows (observations, head observations) "
                                         "of the watched chains older than this are deleted hourly; status "
                                         "changes, alerts and events are kept (null: keep everything)")

    _dur = field_validator("interval_s", "suspect_interval_s", "timeout_s", mode="before")(_seconds)

    @field_validator("chains", mode="before")
    @classmethod
    def _bare_ids(cls, v: Any) -> Any:
        return [{"id": c} if isinstance(c, str) else c for c in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _unique(self) -> MonitorConfig:
        seen: set[str] = set()
        for c in self.chains:
            if c.id in seen:
                raise ValueError(f"chain {c.id!r} is listed twice")
            seen.add(c.id)
        if self.timeout_s > self.interval_s:
            raise ValueError(f"timeout_s ({self.timeout_s:g}) must not exceed interval_s ({self.interval_s:g})")
        return self


class ResolvedChain(_Frozen):
    """A watched chain with every default filled in from the catalog."""

    id: str
    endpoints: tuple[str, ...]
    chain_id: int | None
    feed: str | None  # None: not watched
    inbox: str | None
    posters: tuple[str, ...]
    settlement_chain_id: int | None
    probe: ProbeSettings | None = None
    status: dict[str, Any] = Field(default_factory=dict)


def load_monitor_config(path: Path | str | None = None, *, data: Mapping[str, Any] | None = None) -> MonitorConfig:
    """The configuration from ``path`` (YAML) or ``data``; a bad value raises one line naming file and field."""
    p = None if path is None else Path(path)
    doc: Any = dict(data or {})
    if p is not None:
        doc = read_mapping(p, "the monitor config")
    try:
        cfg = MonitorConfig.model_validate(doc)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(x) for x in err["loc"]]
        value = _lookup(doc, err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ValidationError(msg, file=str(p) if p else None, field=".".join(loc) or None, value=value) from None
    base = p.parent if p is not None else Path.cwd()
    n = cfg.nowcast
    books = tuple(b if b.is_absolute() else base / b for b in n.books)
    model, scenario = (None if f is None else f if f.is_absolute() else base / f for f in (n.model, n.scenario))
    return cfg.model_copy(update={"nowcast": n.model_copy(update={"books": books, "model": model,
                                                                  "scenario": scenario})})


def _lookup(doc: Any, loc: tuple[int | str, ...]) -> Any:
    cur = doc
    for k in loc:
        try:
            cur = cur[k]
        except (KeyError, IndexError, TypeError):
            return None
    return cur if isinstance(cur, str | int | float | bool) or cur is None else None


def resolve_chains(cfg: MonitorConfig, catalog: Catalog, *, file: str | None = None) -> list[ResolvedChain]:
    """Each configured chain with the catalog's registry facts filling what the config leaves out.

    A chain not in the catalog, or one with no endpoint from either source, is an error naming the field.
    """
    out = []
    for i, spec in enumerate(cfg.chains):
        try:
            ch = catalog.chain(spec.id)
        except UnknownChainError as exc:
            raise UnknownChainError(spec.id, exc.suggestions, file=file, field=f"chains.{i}.id") from None
        endpoints = spec.endpoints if spec.endpoints is not None else ch.rpc_endpoints
        endpoints = tuple(e for e in endpoints if e.startswith(("http://", "https://")))
        if not endpoints:
            raise ValidationError("no HTTP endpoint for this chain in the config or the catalog: list some under "
                                  "endpoints", file=file, field=f"chains.{i}.endpoints", value=spec.id)
        feed = spec.feed if spec.feed is not None else ch.chainlink_uptime_feed
        inbox = spec.inbox if spec.inbox is not None else ch.batch_inbox
        out.append(ResolvedChain(
            id=ch.id, endpoints=endpoints,
            chain_id=spec.chain_id if spec.chain_id is not None else ch.evm_chain_id,
            feed=None if feed in (None, "none") else feed,
            inbox=None if inbox in (None, "none") else inbox,
            posters=spec.posters if spec.posters is not None else ch.batch_posters,
            settlement_chain_id=ch.settlement_chain_id, probe=spec.probe,
            status={**cfg.status, **spec.status}))
    return out
