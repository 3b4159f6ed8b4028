"""The bundled monitor config resolves against the catalog; the Grafana dashboard asks only for metrics the
monitor exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from seqrisk.catalog import load_catalog
from seqrisk.monitor.config import load_monitor_config, resolve_chains
from seqrisk.monitor.metrics import MonitorMetrics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_config_resolves() -> None:
    cfg = load_monitor_config(EXAMPLES / "monitor.yaml")
    chains = {c.id: c for c in resolve_chains(cfg, load_catalog())}
    assert set(chains) == {"base", "optimism", "arbitrum"}
    assert chains["arbitrum"].endpoints[0] == "http://127.0.0.1:8547"
    assert cfg.nowcast.books == (EXAMPLES / "desk.yaml",) and (EXAMPLES / "desk.yaml").exists()
    assert cfg.metrics.host == "127.0.0.1"


def exported() -> set[str]:
    m = MonitorMetrics()
    for name in ("sent", "failed", "alerts", "poll_failures", "feed_failures"):
        getattr(m, name).labels(*(["x"] * len(getattr(m, name)._labelnames))).inc()
    for g in (m.head_age, m.head_number, m.last_block_time, m.p_down, m.state, m.alerted, m.replica_lag,
              m.endpoint_up, m.feed_answer, m.feed_started, m.l1_batch_age, m.probe_ok, m.probe_pending,
              m.detection_latency, m.nowcast):
        g.labels(*(["x"] * len(g._labelnames))).set(1)
    text = generate_latest(m.registry).decode()
    return {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_dashboard_queries_exported_metrics_only() -> None:
    dash = json.loads((EXAMPLES / "grafana-monitor.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {n for e in exprs for n in re.findall(r"\b(seqrisk_[a-z0-9_]+)", e)}
    assert used and used <= exported(), used - exported()
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])


def test_readme_and_docs_quote_the_recorded_overhead() -> None:
    root = EXAMPLES.parent
    r = json.loads((root / "benchmarks" / "results" / "monitor_overhead.json").read_text())
    assert len(r["pairs"]) >= 3 and r["chains"] == 26 and r["endpoints_per_chain"] == 2 and r["interval_s"] == 2
    share = f"{r['median_full']['cpu_share'] * 100:.1f}% of one core"
    rss = f"{r['median_full']['rss_mb_max']:.0f} MB resident"
    ratio = f"ratio of {r['median_cpu_ratio_full_over_no_store']:.2f}"
    for doc in ("README.md", "docs/monitor.md"):
        text = " ".join((root / doc).read_text().split())
        assert share in text and rss in text and ratio in text, doc
