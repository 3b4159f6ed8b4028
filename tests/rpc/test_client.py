"""RpcClient against httpx.MockTransport: batching, retries, Retry-After, failover, typed errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from seqrisk.exceptions import RpcError
from seqrisk.rpc import (
    ChainIdMismatchError,
    RpcClient,
    RpcMalformedError,
    RpcNullBlockError,
    RpcRemoteError,
    RpcTransportError,
    parse_header,
    parse_retry_after,
)


def block(n: int, *, txs: int = 2, ts0: int = 1_700_000_000) -> dict[str, Any]:
    return {"number": hex(n), "timestamp": hex(ts0 + 2 * n), "hash": "0x" + f"{n + 1:064x}",
            "parentHash": "0x" + f"{n:064x}", "gasUsed": hex(21000 * txs), "transactions": ["0x" + "ab" * 32] * txs}


class FakeNode:
    """A JSON-RPC handler over a perfect chain; ``fault(request_index, body) -> Response | None`` injects."""

    def __init__(self, chain_id: int = 10, head: int = 10_000,
                 fault: Callable[[int, list[dict[str, Any]]], httpx.Response | None] | None = None) -> None:
        self.chain_id = chain_id
        self.head = head
        self.fault = fault
        self.requests: list[list[dict[str, Any]]] = []

    def result(self, method: str, params: list[Any]) -> Any:
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "eth_blockNumber":
            return hex(self.head)
        if method == "eth_getBlockByNumber":
            n = self.head if params[0] == "latest" else int(params[0], 16)
            return block(n) if n <= self.head else None
        raise KeyError(method)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if self.fault is not None:
            r = self.fault(len(self.requests) - 1, body)
            if r is not None:
                return r
        out = []
        for c in body:
            try:
                out.append({"jsonrpc": "2.0", "id": c["id"], "result": self.result(c["method"], c["params"])})
            except KeyError:
                out.append({"jsonrpc": "2.0", "id": c["id"], "error": {"code": -32601, "message": "no method"}})
        return httpx.Response(200, json=out[::-1])  # out of order on purpose


def client(handler: Callable[[httpx.Request], httpx.Response], endpoints: list[str] | None = None,
           **kw: Any) -> tuple[RpcClient, list[float]]:
    sleeps: list[float] = []
    c = RpcClient(endpoints or ["http://node-a"], transport=httpx.MockTransport(handler), sleep=sleeps.append,
                  seed=1, **kw)
    return c, sleeps


def test_headers_are_batched_ordered_and_parsed() -> None:
    node = FakeNode()
    c, _ = client(node, batch_size=100, concurrency=3)
    hs = c.headers(range(50, 360))
    assert [h.number for h in hs] == list(range(50, 360))
    assert hs[0].timestamp == 1_700_000_100 and hs[0].tx_count == 2 and hs[0].gas_used == 42000
    assert hs[0].hash == (51).to_bytes(32, "big") and hs[0].parent_hash == (50).to_bytes(32, "big")
    assert sorted(len(r) for r in node.requests) == [1, 10, 100, 100, 100]  # eth_chainId first, once
    assert node.requests[0][0]["method"] == "eth_chainId"
    assert c.calls == 311 and c.requests == 5
    c.close()


def test_500_then_success_retries_with_exponential_backoff() -> None:
    c, sleeps = client(FakeNode(fault=lambda i, b: httpx.Response(500) if i < 3 else None), max_retries=4,
                       backoff_base_s=0.1)
    assert c.block_number() == 10_000
    # request 0 is eth_chainId (fails), so the schedule restarts for the call: the jittered steps double.
    assert len(sleeps) == 3
    assert all(0.05 <= s <= 0.4 for s in sleeps)
    c.close()


def test_429_retry_after_is_honoured() -> None:
    def fault(i: int, body: list[dict[str, Any]]) -> httpx.Response | None:
        return httpx.Response(429, headers={"Retry-After": "7"}) if i == 1 else None
    c, sleeps = client(FakeNode(fault=fault))
    assert c.headers([5])[0].number == 5
    assert sleeps == [7.0]
    c.close()


@pytest.mark.parametrize(("header", "wait_s"), [
    ("Tue, 01 Dec 2026 12:00:07 GMT", 7.0),      # an HTTP date 7 s after the client's clock
    ("Tue, 01 Dec 2026 11:59:00 GMT", 0.0),      # a date in the past: retry at once
    ("Tuesday, 01-Dec-26 12:00:30 GMT", 30.0),   # the obsolete RFC 850 form
    ("  12  ", 12.0),
    ("soon", None), ("nan", None), ("-3", 0.0),  # unreadable: the client's own backoff
])
def test_retry_after_seconds_or_http_date(header: str, wait_s: float | None) -> None:
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(header, now) == wait_s

    def fault(i: int, body: list[dict[str, Any]]) -> httpx.Response | None:
        return httpx.Response(503, headers={"Retry-After": header}) if i == 1 else None
    c, sleeps = client(FakeNode(fault=fault), clock=lambda: now, backoff_base_s=0.25)
    assert c.block_number() == 10_000
    assert len(sleeps) == 1 and (sleeps[0] == wait_s if wait_s is not None else 0.125 <= sleeps[0] <= 0.25)
    c.close()


def test_backoff_is_equal_jitter_as_documented() -> None:
    """The wait before retry k is uniform in [0.5, 1] x min(max, base * 2**k): never below half the step,
    spread over the other half (checked over 2,000 draws per step)."""
    c, _ = client(FakeNode(), backoff_base_s=0.25, backoff_max_s=8.0)
    for k in range(7):
        step = min(8.0, 0.25 * 2 ** k)
        w = [c._backoff_s(k, None) / step for _ in range(2000)]
        assert 0.5 <= min(w) < 0.51 and 0.99 < max(w) <= 1.0
        assert abs(sum(w) / len(w) - 0.75) < 0.01
    assert c._backoff_s(3, 500.0) == 60.0  # Retry-After replaces it, capped at retry_after_max_s
    c.close()


def test_refused_tags_are_remembered_per_endpoint_without_retries() -> None:
    def fault(i: int, body: list[dict[str, Any]]) -> httpx.Response | None:
        if body[0]["method"] == "eth_getBlockByNumber" and body[0]["params"][0] == "safe":
            return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": 0,
                                              "error": {"code": -32000, "message": "unknown block"}}])
        if body[0]["method"] == "eth_getBlockByNumber" and body[0]["params"][0] == "finalized":
            return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": 0, "result": None}])
        return None
    node = FakeNode(fault=fault)
    c, sleeps = client(node, ["http://a", "http://b/key"])
    for _ in range(3):
        assert c.tag_header("safe") is None and c.tag_header("finalized") is None
        assert c.tag_header("safe", endpoint=1) is None
    tags = [b[0]["params"][0] for b in node.requests if b[0]["method"] == "eth_getBlockByNumber"]
    assert sorted(tags) == ["finalized", "safe", "safe"] and sleeps == []
    assert c.refused_tags == {"http://a": {"safe", "finalized"}, "http://b/key": {"safe"}}
    assert c.endpoint_names() == ["http://a", "http://b/***"]
    c.close()


def test_fail_over_and_per_endpoint_heads() -> None:
    a, b = FakeNode(head=100), FakeNode(head=90)

    def route(request: httpx.Request) -> httpx.Response:
        return (a if request.url.host == "a" else b)(request)
    c, _ = client(route, ["http://a", "http://b"])
    assert c.heads() == [100, 90] and c.block_number() == 100
    assert c.fail_over() and c.preferred == 1 and c.block_number() == 90
    assert c.fail_over() and c.preferred == 0
    single, _ = client(a)
    assert not single.fail_over()
    c.close()
    single.close()


@pytest.mark.parametrize("bad", [
    b'[{"jsonrpc":"2.0","id":0,"result":{"number":"0x5"',          # truncated
    b'{"jsonrpc":"2.0","id":0,"result":"0x1"}',                      # not a batch
    b'[{"jsonrpc":"2.0","id":7,"result":null}]',                      # unknown id
    b"<html>bad gateway</html>",
])
def test_malformed_responses_are_retried_then_raise(bad: bytes) -> None:
    def fault(i: int, body: list[dict[str, Any]]) -> httpx.Response | None:
        return httpx.Response(200, content=bad) if body[0]["method"] == "eth_getBlockByNumber" else None
    c, sleeps = client(FakeNode(fault=fault), max_retries=2)
    with pytest.raises(RpcMalformedError) as ei:
        c.headers([5])
    assert len(sleeps) == 2
    assert ei.value.context["endpoint"] == "http://node-a"
    assert ei.value.context["method"] == "eth_getBlockByNumber" and ei.value.context["block"] == 5
    c.close()


def test_wrong_block_and_bad_hash_are_errors() -> None:
    def wrong_number(i: int, body: list[dict[str, Any]]) -> httpx.Response | None:
        if body[0]["method"] != "eth_getBlockByNumber":
            return None
        return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": c["id"], "result": block(999)} for c in body])
    c, _ = client(FakeNode(fault=wrong_number), max_retries=0)
    with pytest.raises(RpcMalformedError, match="asked for block 5, got block 999"):
        c.headers([5])
    with pytest.raises(ValueError, match="hash"):
        parse_header({**block(3), "hash": "0x1234"}, 3)
    with pytest.raises(ValueError, match="transactions"):
        parse_header({k: v for k, v in block(3).items() if k != "transactions"}, 3)


def test_null_block_is_an_error_naming_the_block() -> None:
    c, _ = client(FakeNode(head=100), max_retries=1)
    with pytest.raises(RpcNullBlockError) as ei:
        c.headers([99, 100, 101])
    assert ei.value.context["block"] == 101
    assert "block=101" in str(ei.value) and "endpoint=http://node-a" in str(ei.value)


def test_failover_to_second_endpoint() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "node-a":
            raise httpx.ConnectError("refused", request=request)
        return FakeNode()(request)
    c, _ = client(handler, endpoints=["http://node-a", "http://node-b"], max_retries=1)
    assert [h.number for h in c.headers(range(3))] == [0, 1, 2]
    assert c.failovers >= 1
    # the working endpoint is now preferred
    before = c.failovers
    c.headers([7])
    assert c.failovers == before


def test_all_endpoints_down_raises_transport_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)
    c, sleeps = client(handler, endpoints=["http://a", "http://b"], max_retries=2)
    with pytest.raises(RpcTransportError, match="timed out"):
        c.block_number()
    assert len(sleeps) == 4


def test_wrong_chain_id_is_an_error() -> None:
    c, _ = client(FakeNode(chain_id=1), chain_id=10)
    with pytest.raises(ChainIdMismatchError, match="chain id 1, expected 10"):
        c.headers([1])
    # endpoints disagreeing among themselves
    def handler(request: httpx.Request) -> httpx.Response:
        return FakeNode(chain_id=10 if request.url.host == "a" else 11)(request)
    c2, _ = client(handler, endpoints=["http://a", "http://b"])
    assert c2.chain_id_checked() == 10
    c2._preferred = 1
    with pytest.raises(ChainIdMismatchError):
        c2.block_number()


def test_remote_error_not_retried_unless_retryable() -> None:
    c, sleeps = client(FakeNode())
    with pytest.raises(RpcRemoteError) as ei:
        c.call("eth_nothing")
    assert ei.value.code == -32601 and sleeps == []

    def limited(i: int, body: list[dict[str, Any]]) -> httpx.Response | None:
        if i in (1, 2):
            return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": 0,
                                              "error": {"code": -32005, "message": "limit exceeded"}}])
        return None
    c2, sleeps2 = client(FakeNode(fault=limited))
    assert c2.block_number() == 10_000 and len(sleeps2) == 2
    assert isinstance(ei.value, RpcError)


def test_errors_do_not_show_api_keys_in_urls() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)
    c, _ = client(handler, endpoints=["https://eth.example.com/v2/SECRETKEY?apikey=S2"], max_retries=0)
    with pytest.raises(RpcTransportError) as ei:
        c.block_number()
    assert "SECRET" not in str(ei.value) and "S2" not in str(ei.value)
    assert ei.value.context["endpoint"] == "https://eth.example.com/***"


@pytest.mark.parametrize("refusal", ["error-object", "413"])
def test_refused_batches_are_split_and_later_batches_shrink(refusal: str) -> None:
    node = FakeNode()

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if len(body) > 30:
            node.requests.append(body)
            if refusal == "413":
                return httpx.Response(413)
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": None,
                                             "error": {"code": -32600, "message": "batch too large"}})
        return node(request)
    c, sleeps = client(handler, batch_size=100, concurrency=1)
    hs = c.headers(range(200))
    assert [h.number for h in hs] == list(range(200))
    assert c.batch_size == 25 and sleeps == []
    before = len(node.requests)
    assert [h.number for h in c.headers(range(200, 300))] == list(range(200, 300))
    assert [len(r) for r in node.requests[before:]] == [25, 25, 25, 25]


@pytest.mark.parametrize(("field", "value"), [
    ("number", "0x1_0"), ("number", "0x"), ("number", 5), ("timestamp", None), ("gasUsed", "0x" + "f" * 17),
    ("hash", "0x" + "zz" * 32), ("hash", "0x" + "42" * 31 + " 4"), ("parentHash", "0x" + "42" * 31),
])
def test_parse_header_rejects_odd_fields(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field if field != "gasUsed" else "63 bits"):
        parse_header({**block(1), field: value}, 1)
    assert parse_header(block(1), 1).number == 1


def test_http_client_errors_fail_over_at_once_and_bad_urls_are_usage_errors() -> None:
    from seqrisk.exceptions import UsageError

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "node-a":
            return httpx.Response(401, text="invalid API key")
        return FakeNode()(request)
    c, sleeps = client(handler, endpoints=["http://node-a/v2/KEY", "http://node-b"])
    assert [h.number for h in c.headers(range(3))] == [0, 1, 2]
    assert c.failovers >= 1 and sleeps == []          # a 401 is not retried, the next endpoint serves
    only, sleeps2 = client(lambda r: httpx.Response(403, text="forbidden"), endpoints=["https://a.example/KEY"])
    with pytest.raises(RpcTransportError, match="HTTP 403") as ei:
        only.block_number()
    assert sleeps2 == [] and "KEY" not in str(ei.value)
    for bad in ("notaurl", "ftp://host:21", "http://", "127.0.0.1:8545"):
        with pytest.raises(UsageError, match="http:// or https://") as ue:
            RpcClient([bad])
        assert ue.value.exit_code == 2 and ue.value.context["field"] == "--rpc"
