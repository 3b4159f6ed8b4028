"""Which node to read and what it must be: the catalog's registry facts as defaults of ingest, scan, detect.

A chain's registry gives its EVM chain id, public RPC endpoints, batch inbox
and posters on L1 and the chain id of its settlement chain. ``--rpc``,
``--chain-id``, ``--batch-inbox``, ``--batch-sender`` and ``--l1-chain-id``
override them; a ``--chain-id`` other than the catalog's marks a private network
(a local test node, a devnet): the catalog's endpoints and L1 addresses then do
not apply and must be given. A node that serves another chain id than expected
is refused before anything is read or stored, with one line naming both ids.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from seqrisk.catalog import Chain
from seqrisk.exceptions import DataError, UsageError
from seqrisk.rpc import ChainIdMismatchError, RpcClient, redact
from seqrisk.store import Home

__all__ = ["L1Target", "Target", "check_stored_chain_id", "l1_target", "record_endpoints", "stored_chain_id",
           "target"]


@dataclass(frozen=True)
class Target:
    """The endpoints to read ``chain`` from and the chain id they must serve (None: not checked)."""

    chain: Chain
    rpc: tuple[str, ...]
    chain_id: int | None
    private: bool
    #: where the expected id comes from: "--chain-id", "the catalog", "the store" (an earlier ingest)
    origin: str = "the catalog"

    def check(self, client: RpcClient) -> int:
        """The node's chain id; a node of another chain raises a one-line :class:`DataError` naming both ids."""
        try:
            return client.chain_id_checked()
        except ChainIdMismatchError as exc:
            got = exc.context.get("value")
            whose = {"the catalog": f"the catalog's {self.chain.id}", "the store": f"{self.chain.id} as stored by "
                     "an earlier ingest"}.get(self.origin, self.origin)
            raise DataError(f"refused: the node serves chain id {got}, expected {self.chain_id} ({whose}); nothing "
                            "was stored (--chain-id ID reads a private network)",
                            endpoint=exc.context.get("endpoint"), chain=self.chain.id) from None


def target(chain: Chain, rpc: Sequence[str], chain_id: int | None, home: Home | None = None) -> Target:
    """Endpoints (``rpc`` or the catalog's public ones) and the expected chain id: ``chain_id``, else the
    catalog's, else the one stored by an earlier ingest into ``home``."""
    private = chain_id is not None and chain_id != chain.evm_chain_id
    urls = tuple(rpc) or (() if private else chain.rpc_endpoints)
    if not urls:
        why = "a private network has no catalog endpoints" if private else \
            f"the catalog lists no public endpoint for {chain.id}"
        raise UsageError(f"give at least one --rpc URL ({why})", field="--rpc")
    if chain_id is not None:
        return Target(chain, urls, chain_id, private, "--chain-id")
    if chain.evm_chain_id is not None:
        return Target(chain, urls, chain.evm_chain_id, private, "the catalog")
    return Target(chain, urls, stored_chain_id(home, chain.id) if home is not None else None, private, "the store")


@dataclass(frozen=True)
class L1Target:
    """Where to read a chain's batch postings on L1: inbox, posters (empty: any sender), L1 chain id."""

    inbox: str
    senders: tuple[str, ...]
    chain_id: int | None


def l1_target(t: Target, batch_inbox: str | None, batch_sender: Sequence[str], l1_chain_id: int | None) -> L1Target:
    """The inbox and posters given, else the catalog's (not on a private network); the L1 chain id likewise."""
    inbox = batch_inbox or (None if t.private else t.chain.batch_inbox)
    if inbox is None:
        why = "a private network has no catalog addresses" if t.private else \
            f"the catalog has no batch inbox for {t.chain.id}"
        raise UsageError(f"L1 postings need --batch-inbox ({why})", field="--batch-inbox")
    senders = tuple(batch_sender) or (() if t.private or batch_inbox else t.chain.batch_posters)
    expected = l1_chain_id if l1_chain_id is not None else (None if t.private else t.chain.settlement_chain_id)
    return L1Target(inbox, senders, expected)


def record_endpoints(home: Home, chain: str, rpc: Sequence[str]) -> None:
    """Remember the endpoints ``chain`` was read from (scheme, host and port only), as evidence for promotions."""
    with home.state() as st, st.transaction() as c:
        c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                  (f"endpoints:{chain}", json.dumps([redact(u) for u in rpc])))


def stored_chain_id(home: Home, chain: str) -> int | None:
    """The chain id an earlier ingest of ``chain`` recorded in the store (None: never ingested)."""
    if not home.state_path.exists():
        return None
    with home.state() as st:
        row = st._conn.execute("SELECT value FROM meta WHERE key=?", (f"chain_id:{chain}",)).fetchone()
    return int(row[0]) if row else None


def check_stored_chain_id(home: Home, chain: Chain, chain_id: int | None) -> None:
    """Refuse stored headers of another chain id than the catalog's (or ``chain_id``), one line naming both."""
    stored = stored_chain_id(home, chain.id)
    expected = chain_id if chain_id is not None else chain.evm_chain_id
    if stored is not None and expected is not None and stored != expected:
        raise DataError(f"refused: the stored headers of {chain.id} are from chain id {stored}, "
                        f"{'--chain-id' if chain_id is not None else 'the catalog'} says {expected} "
                        "(--chain-id ID reads a private network's store)", chain=chain.id)
