"""L1 batch postings of a rollup: transactions to the chain's batch inbox, read from an L1 endpoint.

Rows go to the state store's ``batch_postings`` table (idempotent by
transaction hash); the cursor ``<chain>:l1-batches`` records the next L1 block.
:func:`seqrisk.detect.detect_posting_delays` turns their cadence into
``da_delay`` events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from seqrisk.exceptions import DataError, UsageError
from seqrisk.rpc import RpcClient, RpcMalformedError, redact
from seqrisk.store import Home

__all__ = ["PostingsResult", "ingest_batch_postings", "l1_cursor_key"]

_ADDR = re.compile(r"^0x[0-9a-fA-F]{40}$")


def l1_cursor_key(chain: str) -> str:
    return f"{chain}:l1-batches"


@dataclass
class PostingsResult:
    """L1 blocks ``start..end`` read; ``postings`` transactions to the inbox found in them."""

    start: int
    end: int
    postings: int


def ingest_batch_postings(client: RpcClient, home: Home, chain: str, inbox: str, start: int, end: int, *,
                          sender: str | Sequence[str] | None = None, chunk_blocks: int = 500,
                          progress: Callable[[int, int], None] | None = None) -> PostingsResult:
    """Record every L1 transaction to ``inbox`` (optionally only from ``sender``, one address or several)
    in blocks ``start..end``."""
    senders = [sender] if isinstance(sender, str) else list(sender or ())
    for name, addr in (("inbox", inbox), *(("sender", a) for a in senders)):
        if addr is not None and not _ADDR.match(addr):
            raise UsageError("not a 20-byte hex address", field=name, value=addr)
    if end < start:
        raise DataError("L1 block range is empty", chain=chain, value=f"{start}..{end}")
    inbox_l, senders_l = inbox.lower(), {a.lower() for a in senders}
    found = 0
    for a in range(start, end + 1, chunk_blocks):
        b = min(end, a + chunk_blocks - 1)
        rows = []
        for blk in client.blocks_with_txs(range(a, b + 1)):
            h = blk["_header"]
            for tx in blk["transactions"]:
                to, frm, txh = tx.get("to"), tx.get("from"), tx.get("hash")
                if not isinstance(txh, str) or not isinstance(frm, str) or not (to is None or isinstance(to, str)):
                    raise RpcMalformedError("transaction lacks hash/from/to", endpoint=redact(client.endpoints[0]),
                                            method="eth_getBlockByNumber", block=h.number)
                if to is not None and to.lower() == inbox_l and (not senders_l or frm.lower() in senders_l):
                    rows.append((chain, h.number, float(h.timestamp), txh.lower()))
        with home.state() as st, st.transaction() as c:
            c.executemany("INSERT OR IGNORE INTO batch_postings(chain, l1_block, l1_time_utc, tx_hash) "
                          "VALUES (?,?,?,?)", rows)
            st.set_cursor(l1_cursor_key(chain), b + 1, None, conn=c)
        found += len(rows)
        if progress:
            progress(b - start + 1, end - start + 1)
    return PostingsResult(start, end, found)
