"""Shared builders for store tests."""

from __future__ import annotations

import pyarrow as pa


def headers(first: int, last: int, salt: int = 0) -> pa.Table:
    """Block headers ``first..last`` (a canonical chain per ``salt``: each parent hash is the previous hash)."""
    n = list(range(first, last + 1))
    return pa.table({
        "number": n,
        "timestamp": [1_700_000_000 + 2 * x for x in n],
        "hash": [x.to_bytes(31, "big") + bytes([salt]) for x in n],
        "parent_hash": [max(x - 1, 0).to_bytes(31, "big") + bytes([salt]) for x in n],
        "tx_count": [x % 7 for x in n],
        "gas_used": [21_000 * (x % 7) for x in n],
    })
