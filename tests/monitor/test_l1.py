"""L1 batch cadence: one block read serves every watched inbox; posters filter; a bounded look-back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from seqrisk.monitor.l1 import L1Watcher
from seqrisk.rpc import RpcClient

INBOX_A = "0xff00000000000000000000000000000000008453"
INBOX_B = "0xFF00000000000000000000000000000000000010"  # any letter case matches
POSTER = "0x5050f69a9786f081509234f1a7f4684b5e5b76c9"


class L1:
    """A fake L1: block n has timestamp 1000 + 12 n and the transactions in ``txs[n]``."""

    def __init__(self, head: int, txs: dict[int, list[dict[str, str]]]) -> None:
        self.head, self.txs = head, txs
        self.read: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        out: list[dict[str, Any]] = []
        for c in json.loads(request.content):
            if c["method"] == "eth_chainId":
                out.append({"id": c["id"], "result": "0x1"})
            elif c["method"] == "eth_blockNumber":
                out.append({"id": c["id"], "result": hex(self.head)})
            else:
                n = int(c["params"][0], 16)
                self.read.append(n)
                txs = [{"hash": "0x" + f"{n:062x}{i:02x}", "from": t.get("from", "0x" + "11" * 20), "to": t["to"]}
                       for i, t in enumerate(self.txs.get(n, []))]
                out.append({"id": c["id"], "result": {
                    "number": hex(n), "timestamp": hex(1000 + 12 * n), "hash": "0x" + f"{n:064x}",
                    "parentHash": "0x" + f"{max(n - 1, 0):064x}", "gasUsed": "0x0", "transactions": txs}})
        return httpx.Response(200, json=out)


def watcher(node: L1, **kw: Any) -> L1Watcher:
    client = RpcClient(["http://l1.test/"], chain_id=1, transport=httpx.MockTransport(node), max_retries=0)
    return L1Watcher(client, {"base": (INBOX_A, ()), "optimism": (INBOX_B.lower(), (POSTER,))}, **kw)


def test_postings_per_chain_from_one_read_of_each_block() -> None:
    node = L1(100, {95: [{"to": INBOX_A}], 97: [{"to": INBOX_B, "from": POSTER}, {"to": INBOX_A}],
                    99: [{"to": INBOX_B}]})  # 99: to optimism's inbox but not from its poster
    w = watcher(node, lookback_blocks=10)
    found = w.step()
    assert sorted((p.chain, p.l1_block) for p in found) == [("base", 95), ("base", 97), ("optimism", 97)]
    assert sorted(node.read) == list(range(91, 101)) and w.next_block == 101
    assert w.batch_age_s("base", 1000 + 12 * 100) == 36.0      # last posting in block 97
    assert w.batch_age_s("optimism", 1000 + 12 * 100) == 36.0
    node.head, node.read = 103, []
    node.txs[102] = [{"to": INBOX_A}]
    assert [(p.chain, p.l1_block) for p in w.step()] == [("base", 102)]
    assert node.read == [101, 102, 103]  # new blocks only


def test_reading_is_bounded_per_round_and_unknown_age_is_none() -> None:
    node = L1(1000, {})
    w = watcher(node, lookback_blocks=500, max_blocks_per_round=64)
    assert w.step() == [] and len(node.read) == 64 and w.next_block == 501 + 64
    assert w.batch_age_s("base", 99999.0) is None  # no posting seen: unknown, not zero
    w.seed("base", 5000.0)                         # a posting the store already holds
    w.seed("base", 4000.0)                         # an older one changes nothing
    assert w.batch_age_s("base", 5100.0) == pytest.approx(100.0)
