"""Registry facts: EIP-55 addresses, integer chain ids, user registry files merged over the bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqrisk.catalog import ChainRegistry, check_address, load_catalog, to_checksum_address
from seqrisk.exceptions import ValidationError

#: The test vectors of EIP-55 (all caps, all lower, mixed).
EIP55 = ["0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
         "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
         "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
         "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"]
REG_HEADER = "chain,field,value,sources,as_of,confidence,note\n"


@pytest.mark.parametrize("addr", EIP55)
def test_checksum_matches_the_eip55_vectors(addr: str) -> None:
    assert to_checksum_address(addr.lower()) == addr
    assert check_address(addr) == addr


def test_wrong_case_or_length_is_refused_with_the_right_spelling() -> None:
    wrong = "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    with pytest.raises(ValueError, match="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"):
        check_address(wrong)
    for bad in ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00",
                "0xZZAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"):
        with pytest.raises(ValueError, match="20-byte hex"):
            to_checksum_address(bad)


def test_registry_model_types_its_facts() -> None:
    src = [{"url": "https://docs.example.org/chain"}]
    reg = ChainRegistry.model_validate({"evm_chain_id": {"value": "8453", "sources": src},
                                        "l1_batch_poster": [{"value": EIP55[4], "sources": src}],
                                        "chainlink_uptime_feed": {"value": "none", "sources": src},
                                        "rpc_public": [{"value": "https://mainnet.example.org", "sources": src}]})
    assert reg.evm_chain_id is not None and reg.evm_chain_id.value == 8453
    assert [f for f, _ in reg.facts()] == ["evm_chain_id", "l1_batch_poster", "chainlink_uptime_feed", "rpc_public"]
    for bad in ("8453.5", "0x2105", "base", True):
        with pytest.raises(ValueError, match="integer"):
            ChainRegistry.model_validate({"evm_chain_id": {"value": bad, "sources": src}})
    with pytest.raises(ValueError, match="sources"):
        ChainRegistry.model_validate({"evm_chain_id": {"value": 1, "sources": []}})


def _user(tmp_path: Path, rows: str) -> Path:
    (tmp_path / "registry.csv").write_text(REG_HEADER + rows)
    return tmp_path


def test_user_registry_merges_over_the_bundle(tmp_path: Path) -> None:
    d = _user(tmp_path, f"base,evm_chain_id,8453,https://docs.base.org/chain/network-information,2026-12-01,high,\n"
                        f"base,l1_batch_poster,{EIP55[4]},https://example.org/a | https://example.org/b,,medium,\n"
                        f"base,l1_batch_poster,{EIP55[5]},https://example.org/a,,medium,\n"
                        "base,block_time_s,0.2,https://docs.base.org/upgrades,2026-11-05,high,Denim\n"
                        "base,rpc_public,https://mainnet.base.org,https://docs.base.org/x,,high,\n")
    base = load_catalog(d).chain("base")
    assert base.evm_chain_id == 8453 and base.batch_posters == (EIP55[4], EIP55[5])
    assert base.block_time_s == 0.2  # the flat field follows the registry fact
    assert base.rpc_endpoints == ("https://mainnet.base.org",)
    assert [s.url for s in base.registry.l1_batch_poster[0].sources] == ["https://example.org/a",
                                                                         "https://example.org/b"]


@pytest.mark.parametrize(("row", "field", "value"), [
    ("base,evm_chain_id,eight,https://x.org/a,,high,", "evm_chain_id.value", "eight"),
    (f"base,l1_batch_inbox,{EIP55[4].lower()},https://x.org/a,,high,", "l1_batch_inbox.value", EIP55[4].lower()),
    ("base,l1_batch_inbox,0x1234,https://x.org/a,,high,", "l1_batch_inbox.value", "0x1234"),
    ("base,rpc_public,mainnet.base.org,https://x.org/a,,high,", "rpc_public.value", "mainnet.base.org"),
    ("base,evm_chain_id,8453,,,high,", "evm_chain_id.sources", None),
    ("base,colour,blue,https://x.org/a,,high,", "field", "colour"),
])
def test_bad_registry_row_names_file_row_field_and_value(tmp_path: Path, row: str, field: str,
                                                         value: object) -> None:
    d = _user(tmp_path, row + "\n")
    with pytest.raises(ValidationError) as err:
        load_catalog(d)
    ctx = err.value.context
    assert ctx["file"].endswith("registry.csv") and ctx["row"] == "row 2" and ctx["field"] == field
    if value is not None:
        assert ctx["value"] == value
    assert "\n" not in str(err.value)


def test_registry_for_an_unknown_chain_is_refused(tmp_path: Path) -> None:
    from seqrisk.exceptions import UnknownChainError

    d = _user(tmp_path, "bsae,evm_chain_id,8453,https://x.org/a,,high,\n")
    with pytest.raises(UnknownChainError, match="did you mean base"):
        load_catalog(d)
