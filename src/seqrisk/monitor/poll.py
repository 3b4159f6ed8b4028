"""One polling round of a chain: every endpoint asked at once, each bounded by its own timeout.

An endpoint is asked, in one JSON-RPC batch, for its chain id, its ``latest`` head and, where it serves
them, its ``safe`` and ``finalized`` heads, plus ``latestRoundData()`` of the chain's uptime feed when it has
one. Endpoints are asked concurrently (a shared semaphore bounds the requests in flight across all
chains); one that has not answered within ``timeout_s`` is recorded as unreachable for this round, so a
slow endpoint costs at most the timeout and never holds up another chain. An endpoint that refuses a block
tag (older nodes, some providers) is not asked for it again. An endpoint on another chain id is an error
for that endpoint, never data.

Transports are injectable (``httpx.AsyncClient(transport=...)``) so unit tests need no network.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from seqrisk.health import Observation
from seqrisk.monitor.feed import FeedError, FeedReading, decode_round_data, feed_call
from seqrisk.monitor.types import Evidence
from seqrisk.rpc import parse_header, redact

__all__ = ["EndpointAnswer", "EndpointPoller", "RoundResult", "poll_round"]

_TAGS = ("safe", "finalized")


@dataclass(frozen=True)
class EndpointAnswer:
    """What one endpoint answered in a round: the observation, the feed (or why not), seconds it took."""

    observation: Observation
    feed: FeedReading | None = None
    feed_error: str | None = None
    latency_s: float | None = None


@dataclass(frozen=True)
class RoundResult:
    """A chain's round: the evidence for the status model and every endpoint's answer."""

    evidence: Evidence
    answers: tuple[EndpointAnswer, ...]
    feed: FeedReading | None = None
    feed_error: str | None = None
    duration_s: float = 0.0


@dataclass
class EndpointPoller:
    """Polls one endpoint of one chain; remembers the block tags it refused."""

    url: str
    client: httpx.AsyncClient
    chain_id: int | None = None
    feed: str | None = None
    timeout_s: float = 1.5
    semaphore: asyncio.Semaphore | None = None
    name: str = ""
    refused_tags: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.name:
            self.name = redact(self.url)

    async def poll(self, observed_utc: float) -> EndpointAnswer:
        """Ask once; never raises for the endpoint's failures (they are in the observation's ``error``)."""
        t0 = time.perf_counter()
        try:
            if self.semaphore is None:
                ans = await asyncio.wait_for(self._ask(observed_utc), self.timeout_s)
            else:
                async with self.semaphore:
                    ans = await asyncio.wait_for(self._ask(observed_utc), self.timeout_s)
        except TimeoutError:
            return EndpointAnswer(Observation(self.name, observed_utc, None,
                                              error=f"no answer within {self.timeout_s:g} s"))
        except (httpx.HTTPError, OSError) as exc:
            return EndpointAnswer(Observation(self.name, observed_utc, None,
                                              error=f"transport failed: {type(exc).__name__}"))
        except _Refused as exc:
            return EndpointAnswer(Observation(self.name, observed_utc, None, error=str(exc)[:200]))
        return EndpointAnswer(ans.observation, ans.feed, ans.feed_error, time.perf_counter() - t0)

    async def _ask(self, observed_utc: float) -> EndpointAnswer:
        tags = [t for t in _TAGS if t not in self.refused_tags]
        calls: list[tuple[str, list[Any]]] = [("eth_chainId", []), ("eth_getBlockByNumber", ["latest", False])]
        calls += [("eth_getBlockByNumber", [t, False]) for t in tags]
        if self.feed:
            calls.append(feed_call(self.feed))
        res = await self._batch(calls)
        cid, latest = res[0], res[1]
        if isinstance(cid, _Err) or isinstance(latest, _Err):
            raise _Refused(f"JSON-RPC error: {(cid if isinstance(cid, _Err) else latest).message}")
        try:
            got = int(cid, 16)
        except (TypeError, ValueError):
            raise _Refused(f"eth_chainId answered {str(cid)[:40]!r}") from None
        if self.chain_id is not None and got != self.chain_id:
            raise _Refused(f"endpoint serves chain id {got}, expected {self.chain_id}")
        try:
            head = parse_header(latest)
        except ValueError as exc:
            raise _Refused(f"malformed latest block: {exc}") from None
        heads: dict[str, tuple[int, float] | None] = {t: None for t in _TAGS}
        for t, r in zip(tags, res[2:2 + len(tags)], strict=True):
            if isinstance(r, _Err) or r is None:
                self.refused_tags.add(t)
                continue
            try:
                h = parse_header(r)
            except ValueError:
                self.refused_tags.add(t)
                continue
            heads[t] = (h.number, float(h.timestamp))
        reading, feed_error = None, None
        if self.feed:
            r = res[-1]
            try:
                if isinstance(r, _Err):
                    raise FeedError(f"latestRoundData reverted or failed: {r.message}")
                reading = decode_round_data(r)
            except FeedError as exc:
                feed_error = str(exc)
        s, f = heads["safe"], heads["finalized"]
        obs = Observation(self.name, observed_utc, head.number, float(head.timestamp),
                          None if s is None else s[0], None if s is None else s[1],
                          None if f is None else f[0], None if f is None else f[1])
        return EndpointAnswer(obs, reading, feed_error)

    async def _batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)])
        resp = await self.client.post(self.url, content=body, headers={"content-type": "application/json"},
                                      timeout=self.timeout_s)
        if resp.status_code != 200:
            raise _Refused(f"HTTP {resp.status_code}")
        try:
            doc = json.loads(resp.content)
        except ValueError:
            raise _Refused(f"response is not JSON ({len(resp.content)} bytes)") from None
        if isinstance(doc, dict) and "error" in doc:
            raise _Refused(f"batch refused: {str(doc['error'])[:120]}")
        if not isinstance(doc, list):
            raise _Refused("response is not a JSON-RPC batch")
        out: list[Any] = [_Err("no answer")] * len(calls)
        for item in doc:
            if isinstance(item, dict) and isinstance(item.get("id"), int) and 0 <= item["id"] < len(calls):
                if item.get("error") is not None:
                    e = item["error"]
                    out[item["id"]] = _Err(str(e.get("message", e) if isinstance(e, dict) else e)[:160])
                else:
                    out[item["id"]] = item.get("result")
        return out


class _Refused(Exception):
    """Internal: the endpoint answered, but not with a usable head."""


@dataclass(frozen=True)
class _Err:
    message: str


async def poll_round(chain: str, pollers: Sequence[EndpointPoller], observed_utc: float, *,
                     l1_batch_age_s: float | None = None) -> RoundResult:
    """Poll every endpoint of ``chain`` at once; the feed is read from the endpoint serving the highest head."""
    t0 = time.perf_counter()
    answers = await asyncio.gather(*(p.poll(observed_utc) for p in pollers))
    read = [a for a in answers if a.feed is not None]
    best = max(read, key=lambda a: a.observation.head_number or -1, default=None)
    feed = best.feed if best is not None else None
    errors = [a.feed_error for a in answers if a.feed_error]
    ev = Evidence(chain=chain, observed_utc=observed_utc, observations=tuple(a.observation for a in answers),
                  feed_up=None if feed is None else feed.up,
                  feed_started_utc=None if feed is None else feed.started_utc, l1_batch_age_s=l1_batch_age_s)
    return RoundResult(ev, tuple(answers), feed, None if feed is not None or not errors else errors[0],
                       time.perf_counter() - t0)
