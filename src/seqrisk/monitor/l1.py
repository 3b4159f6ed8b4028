"""L1 batch cadence for the monitor: the time of each watched chain's last batch posting on its L1.

One :class:`L1Watcher` per settlement chain reads every new L1 block once (full transactions) and matches
each transaction against all the watched inboxes (and, where known, their posters), so 26 rollups on one
L1 cost one block read each, not 26. At start it reads ``lookback_blocks`` back; a chain with no posting
seen yet has no batch age (unknown, not zero). The postings are returned for the store's
``batch_postings`` table, which the detectors already read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from seqrisk.rpc import RpcClient

__all__ = ["L1Watcher", "Posting"]


@dataclass(frozen=True)
class Posting:
    """One L1 transaction to a watched chain's inbox (times UTC epoch seconds, by the L1 block's clock)."""

    chain: str
    l1_block: int
    l1_time_utc: float
    tx_hash: str


class L1Watcher:
    """Follows one L1 and remembers each watched chain's last batch posting.

    ``inboxes`` maps chain -> (inbox address, poster addresses; empty: any sender). :meth:`step` is
    synchronous (the monitor runs it in a worker thread) and reads at most ``max_blocks_per_round`` blocks.
    """

    def __init__(self, client: RpcClient, inboxes: Mapping[str, tuple[str, Sequence[str]]], *,
                 lookback_blocks: int = 64, max_blocks_per_round: int = 64) -> None:
        self.client = client
        self._match: dict[str, list[tuple[str, set[str]]]] = {}
        for chain, (inbox, posters) in inboxes.items():
            self._match.setdefault(inbox.lower(), []).append((chain, {p.lower() for p in posters}))
        self.lookback_blocks = lookback_blocks
        self.max_blocks_per_round = max_blocks_per_round
        self.next_block: int | None = None
        self.last_posting_utc: dict[str, float] = {}
        self.head_time_utc: float | None = None

    @property
    def chains(self) -> list[str]:
        return sorted(c for v in self._match.values() for c, _ in v)

    def seed(self, chain: str, last_posting_utc: float) -> None:
        """A posting already known (from the store, after a restart)."""
        if last_posting_utc > self.last_posting_utc.get(chain, float("-inf")):
            self.last_posting_utc[chain] = last_posting_utc

    def step(self) -> list[Posting]:
        """Read the L1 blocks not read yet (bounded); return the postings found in them."""
        head = self.client.block_number()
        if self.next_block is None:
            self.next_block = max(0, head - self.lookback_blocks + 1)
        if head < self.next_block:
            return []
        end = min(head, self.next_block + self.max_blocks_per_round - 1)
        found = []
        for blk in self.client.blocks_with_txs(range(self.next_block, end + 1)):
            h = blk["_header"]
            self.head_time_utc = float(h.timestamp)
            for tx in blk["transactions"]:
                to, frm, txh = tx.get("to"), str(tx.get("from", "")).lower(), str(tx.get("hash", "")).lower()
                for chain, posters in self._match.get(str(to).lower(), ()):
                    if not posters or frm in posters:
                        found.append(Posting(chain, h.number, float(h.timestamp), txh))
                        self.seed(chain, float(h.timestamp))
        self.next_block = end + 1
        return found

    def batch_age_s(self, chain: str, now_utc: float) -> float | None:
        """Seconds from the chain's last posting (L1 block time) to ``now_utc``; None before the first."""
        t = self.last_posting_utc.get(chain)
        return None if t is None else max(0.0, now_utc - t)
