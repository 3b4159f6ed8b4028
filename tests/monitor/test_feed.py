"""Reading Chainlink's uptime feed from raw eth_call results."""

from __future__ import annotations

import pytest
from Crypto.Hash import keccak
from hypothesis import given
from hypothesis import strategies as st

from seqrisk.monitor.feed import LATEST_ROUND_DATA, FeedError, decode_round_data, feed_call


def word(n: int) -> str:
    return (n % (1 << 256)).to_bytes(32, "big").hex()


def test_selector_is_the_keccak_of_the_signature() -> None:
    h = keccak.new(digest_bits=256, data=b"latestRoundData()").hexdigest()
    assert "0x" + h[:8] == LATEST_ROUND_DATA
    assert feed_call("0xabc")[1] == [{"to": "0xabc", "data": LATEST_ROUND_DATA}, "latest"]


@given(rid=st.integers(0, 2**80 - 1), answer=st.sampled_from([0, 1]), started=st.integers(0, 2**64 - 1),
       updated=st.integers(0, 2**64 - 1))
def test_round_trip_of_the_abi_words(rid: int, answer: int, started: int, updated: int) -> None:
    r = decode_round_data("0x" + word(rid) + word(answer) + word(started) + word(updated) + word(rid))
    assert (r.round_id, r.answer, r.started_utc, r.updated_utc) == (rid, answer, float(started), float(updated))
    assert r.up is (answer == 0)


@pytest.mark.parametrize(("result", "needle"), [
    ("0x", "no data"),                                        # eth_call to an address without code
    ("0x" + word(1) * 2, "64 bytes"),
    ("0x" + word(1) + word(-1) + word(0) * 3, "answered -1"),  # a price feed, not an uptime feed
    ("0x" + word(1) + word(2500) + word(0) * 3, "answered 2500"),
    (None, "not hex"),
    ("0x" + "zz" * 160, "non-hex"),
])
def test_what_is_not_an_uptime_round_is_a_feed_error(result: object, needle: str) -> None:
    with pytest.raises(FeedError, match=needle):
        decode_round_data(result)
