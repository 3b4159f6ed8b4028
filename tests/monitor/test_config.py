"""The monitor config: catalog defaults, one-line errors naming file, field and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqrisk.catalog import load_catalog
from seqrisk.exceptions import DataError, UnknownChainError, ValidationError
from seqrisk.monitor.config import load_monitor_config, resolve_chains

CAT = load_catalog()


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "monitor.yaml"
    p.write_text(text)
    return p


def test_bare_chain_takes_every_registry_fact_from_the_catalog(tmp_path: Path) -> None:
    cfg = load_monitor_config(write(tmp_path, "chains: [base, arbitrum-nova]\n"))
    base, nova = resolve_chains(cfg, CAT)
    cat_base = CAT.chain("base")
    assert base.endpoints == cat_base.rpc_endpoints and base.chain_id == 8453
    assert base.feed == cat_base.chainlink_uptime_feed and base.inbox == cat_base.batch_inbox
    assert base.settlement_chain_id == 1
    assert nova.feed is None  # the catalog says Chainlink has no feed there: nothing to read
    assert cfg.interval_s == 2.0 and cfg.metrics.host == "127.0.0.1"
    assert cfg.suspect_interval_s == 0.5  # a late chain is polled faster by default


def test_config_values_override_the_catalog_and_durations_parse(tmp_path: Path) -> None:
    p = write(tmp_path, """
interval_s: 5s
timeout_s: 1.5s
status: {down_at: 0.95}
chains:
  - id: base
    endpoints: [http://127.0.0.1:8545, http://127.0.0.1:8546]
    chain_id: 31337
    feed: none
    inbox: '0xff00000000000000000000000000000000008453'
    status: {replica_lag_blocks: 3}
nowcast: {books: [book.yaml], scenario: venue/scenario.yaml}
""")
    cfg = load_monitor_config(p)
    (base,) = resolve_chains(cfg, CAT)
    assert cfg.interval_s == 5.0 and cfg.timeout_s == 1.5
    assert load_monitor_config(data={"chains": ["base"], "suspect_interval_s": "0.25s"}).suspect_interval_s == 0.25
    assert load_monitor_config(data={"chains": ["base"], "suspect_interval_s": None}).suspect_interval_s is None
    assert base.endpoints == ("http://127.0.0.1:8545", "http://127.0.0.1:8546") and base.chain_id == 31337
    assert base.feed is None
    assert base.inbox == "0xFf00000000000000000000000000000000008453"  # lower case in, checksummed out
    assert base.status == {"down_at": 0.95, "replica_lag_blocks": 3}
    assert cfg.nowcast.books == (tmp_path / "book.yaml",)  # relative to the config file
    assert cfg.nowcast.scenario == tmp_path / "venue" / "scenario.yaml" and cfg.nowcast.model is None


def test_unknown_chain_names_file_field_and_suggests(tmp_path: Path) -> None:
    p = write(tmp_path, "chains: [base, optimsm]\n")
    with pytest.raises(UnknownChainError) as ei:
        resolve_chains(load_monitor_config(p), CAT, file=str(p))
    msg = str(ei.value)
    assert "unknown chain 'optimsm'" in msg and "optimism" in msg and "chains.1.id" in msg and str(p) in msg
    assert ei.value.exit_code == 2


@pytest.mark.parametrize(("text", "field", "needle"), [
    ("chains: [base]\ninterval_s: 1s\ntimeout_s: 2s\n", None, "must not exceed interval_s"),
    ("chains: [base]\ninterval_s: soon\n", "interval_s", "soon"),
    ("chains: [{id: base, feed: '0xBCF85224fc0756B9Fa45aA7892530B47e10b6434'}]\n", "chains.0.feed", "checksummed"),
    ("chains: [{id: base, endpoints: ['ftp://x']}]\n", "chains.0.endpoints.0", "ftp://x"),
    ("chains: []\n", "chains", "at least 1"),
    ("chains: [base, base]\n", None, "listed twice"),
    ("chains: [base]\nalerts: {webhooks: [{url: 'http://127.0.0.1:1/h', retries: -1}]}\n",
     "alerts.webhooks.0.retries", "greater than or equal"),
    ("chains: [base]\nbogus: 1\n", "bogus", "Extra inputs"),
])
def test_bad_values_are_one_line_naming_file_and_field(tmp_path: Path, text: str, field: str | None,
                                                        needle: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises((ValidationError, DataError)) as ei:
        load_monitor_config(p)
    msg = str(ei.value)
    assert "\n" not in msg and str(p) in msg and needle in msg
    if field is not None:
        assert ei.value.context["field"] == field


def test_unreadable_config_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read the monitor config"):
        load_monitor_config(tmp_path / "missing.yaml")
    with pytest.raises(DataError, match="mapping"):
        load_monitor_config(write(tmp_path, "- base\n"))


def test_chain_without_endpoints_anywhere_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "chains: [lighter]\n")  # the catalog lists no endpoint for it
    with pytest.raises(ValidationError, match="no HTTP endpoint") as ei:
        resolve_chains(load_monitor_config(p), CAT, file=str(p))
    assert ei.value.context["field"] == "chains.0.endpoints"


def test_webhook_secret_comes_from_the_environment_only(tmp_path: Path) -> None:
    cfg = load_monitor_config(write(tmp_path, "chains: [base]\nalerts: {webhooks: [{url: 'http://127.0.0.1:9/h', "
                                              "secret_env: HOOK_SECRET}]}\n"))
    hook = cfg.alerts.webhooks[0]
    assert hook.secret({"HOOK_SECRET": "s3cret"}) == b"s3cret"
    assert hook.secret({}) is None
    assert hook.label == "http://127.0.0.1:9/***"
