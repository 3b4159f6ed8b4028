"""Polling rounds over faked transports: heads, tags, the feed, timeouts and wrong chains."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from seqrisk.monitor.poll import EndpointPoller, poll_round

FEED = "0x00000000000000000000000000000000000feed0"


def block(n: int, t: int) -> dict[str, Any]:
    return {"number": hex(n), "timestamp": hex(t), "hash": "0x" + f"{n:064x}", "parentHash": "0x" + f"{n - 1:064x}",
            "gasUsed": "0x0", "transactions": []}


def round_data(answer: int, started: int) -> str:
    return "0x" + "".join(v.to_bytes(32, "big").hex() for v in (7, answer, started, started, 7))


class Node:
    """A fake JSON-RPC endpoint: its head, which tags it serves, its feed answer; counts what it was asked."""

    def __init__(self, head: int, t: int, *, chain_id: int = 10, tags: tuple[str, ...] = ("safe", "finalized"),
                 feed: str | None = None, hang: asyncio.Event | None = None) -> None:
        self.head, self.t, self.chain_id, self.tags, self.feed, self.hang = head, t, chain_id, tags, feed, hang
        self.asked: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.hang is not None:
            await self.hang.wait()
        out = []
        for call in json.loads(request.content):
            m, p = call["method"], call["params"]
            self.asked.append(m if m != "eth_getBlockByNumber" else p[0])
            if m == "eth_chainId":
                out.append({"id": call["id"], "result": hex(self.chain_id)})
            elif m == "eth_getBlockByNumber":
                tag = p[0]
                if tag == "latest":
                    out.append({"id": call["id"], "result": block(self.head, self.t)})
                elif tag in self.tags:
                    lag = 10 if tag == "safe" else 20
                    out.append({"id": call["id"], "result": block(self.head - lag, self.t - 2 * lag)})
                else:
                    out.append({"id": call["id"], "error": {"code": -32602, "message": f"unknown tag {tag}"}})
            elif m == "eth_call":
                out.append({"id": call["id"], "result": self.feed if self.feed is not None else "0x"})
        return httpx.Response(200, json=out)


def transport(nodes: dict[str, Callable[..., Any]]) -> httpx.MockTransport:
    async def handler(request: httpx.Request) -> httpx.Response:
        r: httpx.Response = await nodes[str(request.url)](request)
        return r
    return httpx.MockTransport(handler)


async def _round(nodes: dict[str, Node], *, chain_id: int = 10, feed: str | None = None, timeout_s: float = 5.0):
    async with httpx.AsyncClient(transport=transport(nodes)) as http:  # type: ignore[arg-type]
        pollers = [EndpointPoller(u, http, chain_id=chain_id, feed=feed, timeout_s=timeout_s) for u in nodes]
        return await poll_round("optimism", pollers, 1000.0, l1_batch_age_s=30.0), pollers


def test_a_round_reads_heads_tags_and_the_feed_from_the_best_endpoint() -> None:
    nodes = {"http://a.test/": Node(100, 990, feed=round_data(0, 500)),
             "http://b.test/": Node(104, 998, feed=round_data(1, 900))}
    res, _ = asyncio.run(_round(nodes, feed=FEED))
    a, b = res.evidence.observations
    assert (a.endpoint, a.head_number, a.head_time_utc) == ("http://a.test", 100, 990.0)
    assert (a.safe_number, a.finalized_number) == (90, 80) and a.observed_utc == b.observed_utc == 1000.0
    # b serves the higher head, so its feed reading counts: answer 1 (down), started at 900
    assert res.evidence.feed_up is False and res.evidence.feed_started_utc == 900.0 and res.feed_error is None
    assert res.evidence.l1_batch_age_s == 30.0


def test_a_refused_tag_is_not_asked_again() -> None:
    node = Node(50, 100, tags=("finalized",))
    nodes = {"http://a.test/": node}

    async def two_rounds() -> tuple[Any, Any]:
        async with httpx.AsyncClient(transport=transport(nodes)) as http:  # type: ignore[arg-type]
            p = EndpointPoller("http://a.test/", http, chain_id=10)
            return await p.poll(1.0), await p.poll(2.0)
    first, second = asyncio.run(two_rounds())
    assert first.observation.safe_number is None and first.observation.finalized_number == 30
    assert second.observation.finalized_number == 30
    assert node.asked.count("safe") == 1 and node.asked.count("finalized") == 2


def test_wrong_chain_and_failures_are_unreachable_with_the_reason() -> None:
    async def http500(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    async def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{not json")

    async def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")
    nodes: dict[str, Any] = {"http://a.test/": Node(100, 990, chain_id=8453), "http://b.test/": http500,
                             "http://c.test/": garbage, "http://d.test/": refused, "http://e.test/": Node(7, 1)}
    res, _ = asyncio.run(_round(nodes))
    errors = {o.endpoint: o.error for o in res.evidence.observations}
    assert errors["http://a.test"] == "endpoint serves chain id 8453, expected 10"
    assert errors["http://b.test"] == "HTTP 500"
    assert "not JSON" in (errors["http://c.test"] or "")
    assert errors["http://d.test"] == "transport failed: ConnectError"
    assert errors["http://e.test"] is None
    assert [o.head_number for o in res.evidence.observations] == [None, None, None, None, 7]


def test_a_feed_without_code_is_a_feed_error_not_a_verdict() -> None:
    res, _ = asyncio.run(_round({"http://a.test/": Node(100, 990, feed=None)}, feed=FEED))
    assert res.evidence.feed_up is None and res.feed is None
    assert res.feed_error is not None and "no data" in res.feed_error
    assert res.evidence.observations[0].head_number == 100  # the head still counts


def test_a_hanging_endpoint_costs_its_timeout_and_never_holds_up_another_chain() -> None:
    never = asyncio.Event()

    async def scenario() -> tuple[list[str], Any, Any]:
        order: list[str] = []
        slow = {"http://slow.test/": Node(1, 1, hang=never), "http://ok.test/": Node(5, 5)}
        fast = {"http://fast.test/": Node(9, 9)}

        async def run(name: str, nodes: dict[str, Node], timeout_s: float) -> Any:
            res, _ = await _round(nodes, timeout_s=timeout_s)
            order.append(name)
            return res
        a, b = await asyncio.gather(run("slow-chain", slow, 2.0), run("fast-chain", fast, 30.0))
        return order, a, b
    order, slow_res, fast_res = asyncio.run(scenario())
    assert order == ["fast-chain", "slow-chain"]  # the fast chain finished while the slow endpoint hung
    hung, ok = slow_res.evidence.observations
    assert hung.head_number is None and hung.error == "no answer within 2 s"
    assert ok.head_number == 5  # its sibling endpoint answered in the same round
    assert fast_res.evidence.observations[0].head_number == 9


@pytest.mark.parametrize("limit", [1, 2])
def test_the_semaphore_bounds_requests_in_flight(limit: int) -> None:
    in_flight, peak = 0, 0

    async def scenario() -> None:
        nonlocal in_flight, peak
        sem = asyncio.Semaphore(limit)

        async def handler(request: httpx.Request) -> httpx.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return await Node(1, 1)(request)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            pollers = [EndpointPoller(f"http://n{i}.test/", http, chain_id=10, semaphore=sem) for i in range(6)]
            res = await poll_round("optimism", pollers, 1.0)
            assert all(o.head_number == 1 for o in res.evidence.observations)
    asyncio.run(scenario())
    assert peak == limit
