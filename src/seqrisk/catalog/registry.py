"""Registry facts of a chain: identifiers, L1 addresses and endpoints, each with its sources.

A chain's :class:`ChainRegistry` holds what a reader of the chain needs: its
EVM chain id (or the network id of a non-EVM chain), the chain id of the chain
it settles on, the block time, the L1 address its batches are posted to (batch
inbox or sequencer inbox contract) and the addresses that post them, the
Chainlink L2 sequencer uptime feed (or ``none``), and the public RPC endpoints
its documentation lists. Every value is a :class:`Fact`: the value, its
sources, the date it was read and a confidence.

Addresses are EIP-55 checksummed 20-byte hex strings (``0x`` + 40 hex digits
whose letter case encodes the keccak-256 hash of the lowercase address);
:func:`to_checksum_address` computes it, :func:`check_address` validates it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from Crypto.Hash import keccak
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from seqrisk.catalog.source import Source

__all__ = [
    "REGISTRY_FIELDS",
    "Address",
    "ChainRegistry",
    "Fact",
    "check_address",
    "to_checksum_address",
]

_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")
#: A URL a client can call: http(s), a host (name, IPv4 or [IPv6]), an optional port and path.
_RPC_URL = re.compile(r"^(https?|wss?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:\d{1,5})?(/\S*)?$")


def to_checksum_address(address: str) -> str:
    """The EIP-55 spelling of a 20-byte hex address (any letter case in, mixed case out).

    >>> to_checksum_address("0xff00000000000000000000000000000000008453")
    '0xFf00000000000000000000000000000000008453'
    """
    if not isinstance(address, str) or not _HEX40.match(address):
        raise ValueError(f"not a 20-byte hex address (0x and 40 hex digits): {address!r}")
    low = address[2:].lower()
    h = keccak.new(digest_bits=256, data=low.encode("ascii")).hexdigest()
    return "0x" + "".join(ch.upper() if ch.isalpha() and int(h[i], 16) >= 8 else ch for i, ch in enumerate(low))


def check_address(address: str) -> str:
    """``address`` if it is an EIP-55 checksummed 20-byte hex string, else ValueError naming the right spelling."""
    right = to_checksum_address(address)
    if address != right:
        raise ValueError(f"address is not EIP-55 checksummed: {address!r} (checksummed: {right})")
    return address


def _rpc_url(url: str) -> str:
    if not isinstance(url, str) or not _RPC_URL.match(url):
        raise ValueError(f"not an http(s) or ws(s) endpoint URL: {url!r}")
    return url


#: An EIP-55 checksummed 20-byte hex address.
Address = Annotated[str, AfterValidator(check_address)]
RpcUrl = Annotated[str, AfterValidator(_rpc_url)]


class Fact(BaseModel):
    """One registry value with its sources; subclasses type ``value`` by the field that holds the fact."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    value: Any

    sources: tuple[Source, ...] = Field(min_length=1)
    as_of: date | None = Field(None, description="the date the sources were read")
    confidence: Literal["high", "medium", "low"] = "medium"
    note: str | None = None


class IntFact(Fact):
    value: int = Field(ge=0)

    @field_validator("value", mode="before")
    @classmethod
    def _int(cls, v: object) -> object:
        # "8453" from a CSV is an integer; "8453.5", "0x2105" or True are not
        if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
            raise ValueError(f"not an integer: {v!r}")
        if isinstance(v, str) and not re.fullmatch(r"\s*\d+\s*", v):
            raise ValueError(f"not an integer: {v!r}")
        return v


class TextFact(Fact):
    value: str = Field(min_length=1)


class SecondsFact(Fact):
    value: float = Field(gt=0)


class AddressFact(Fact):
    value: Address


class FeedFact(Fact):
    """A Chainlink sequencer uptime feed address, or ``none`` when Chainlink has no feed for the chain."""

    value: Address | Literal["none"]


class UrlFact(Fact):
    value: RpcUrl


class ChainRegistry(BaseModel):
    """The registry facts of one chain (every field optional: unknown stays unknown)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evm_chain_id: IntFact | None = None
    network_id: TextFact | None = None
    settlement_chain_id: IntFact | None = None
    block_time_s: SecondsFact | None = None
    l1_batch_inbox: AddressFact | None = None
    l1_batch_poster: tuple[AddressFact, ...] = ()
    chainlink_uptime_feed: FeedFact | None = None
    rpc_public: tuple[UrlFact, ...] = ()

    def facts(self) -> list[tuple[str, Fact]]:
        """Every fact as ``(field, fact)``, in field order (several rows for posters and endpoints)."""
        out: list[tuple[str, Fact]] = []
        for name in REGISTRY_FIELDS:
            v = getattr(self, name)
            out += [(name, f) for f in v] if isinstance(v, tuple) else ([(name, v)] if v is not None else [])
        return out


#: Registry fields; the ones that take several rows (one fact each) are tuples in :class:`ChainRegistry`.
REGISTRY_FIELDS = tuple(ChainRegistry.model_fields)
MULTI_FIELDS = ("l1_batch_poster", "rpc_public")
