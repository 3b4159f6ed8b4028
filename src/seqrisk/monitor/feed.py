"""Chainlink's L2 sequencer uptime feed: the ``latestRoundData()`` call and its answer.

The feed is an aggregator on the L2 whose answer is 0 while the sequencer is up and 1 while it is down;
``startedAt`` is when the current status began (the L1 timestamp of the status update). It is read with a
plain ``eth_call`` (selector ``0xfeaf968c``), no ABI library needed: five 32-byte words, ``roundId``,
``answer`` (signed), ``startedAt``, ``updatedAt``, ``answeredInRound``.

>>> word = lambda n: f"{n:064x}"
>>> r = decode_round_data("0x" + word(3) + word(1) + word(1700000000) + word(1700000000) + word(3))
>>> r.up, r.started_utc
(False, 1700000000.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["LATEST_ROUND_DATA", "FeedError", "FeedReading", "decode_round_data", "feed_call"]

#: keccak256("latestRoundData()")[:4]
LATEST_ROUND_DATA = "0xfeaf968c"


class FeedError(ValueError):
    """The feed could not be read: no contract at the address, a revert, or an answer that is not a round."""


@dataclass(frozen=True)
class FeedReading:
    """One ``latestRoundData()`` answer; times are UTC epoch seconds."""

    round_id: int
    answer: int
    started_utc: float
    updated_utc: float

    @property
    def up(self) -> bool:
        """The feed says the sequencer is up (answer 0); 1 is down."""
        return self.answer == 0


def feed_call(address: str) -> tuple[str, list[Any]]:
    """The JSON-RPC call that reads the feed at ``address`` (latest block)."""
    return "eth_call", [{"to": address, "data": LATEST_ROUND_DATA}, "latest"]


def decode_round_data(result: Any) -> FeedReading:
    """The reading in an ``eth_call`` result; :class:`FeedError` for an empty or malformed one."""
    if not isinstance(result, str) or not result.startswith("0x"):
        raise FeedError(f"eth_call result is not hex: {str(result)[:40]!r}")
    body = result[2:]
    if not body:
        raise FeedError("the feed address returned no data (no contract there, or not an aggregator)")
    if len(body) < 5 * 64:
        raise FeedError(f"latestRoundData returned {len(body) // 2} bytes, expected 160")
    try:
        words = [int(body[i * 64:(i + 1) * 64], 16) for i in range(5)]
    except ValueError:
        raise FeedError("latestRoundData returned non-hex data") from None
    answer = words[1] - (1 << 256) if words[1] >= 1 << 255 else words[1]
    if answer not in (0, 1):
        raise FeedError(f"an uptime feed answers 0 or 1, this one answered {answer}")
    return FeedReading(words[0], answer, float(words[2]), float(words[3]))
