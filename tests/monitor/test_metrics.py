"""The Prometheus metrics: values after a round, exposition served on loopback."""

from __future__ import annotations

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from seqrisk.health import Observation
from seqrisk.monitor.feed import FeedReading
from seqrisk.monitor.metrics import MonitorMetrics
from seqrisk.monitor.poll import EndpointAnswer, RoundResult
from seqrisk.monitor.types import Evidence, Status


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def a_round() -> tuple[RoundResult, Status]:
    obs = (Observation("http://a", 1000.0, 120, 990.0), Observation("http://b", 1000.0, 110, 970.0),
           Observation("http://c", 1000.0, None, error="no answer within 1.5 s"))
    ev = Evidence("base", 1000.0, obs, feed_up=True, feed_started_utc=500.0, l1_batch_age_s=42.0)
    res = RoundResult(ev, tuple(EndpointAnswer(o) for o in obs), FeedReading(3, 0, 500.0, 500.0), None, 0.02)
    st = Status(chain="base", observed_utc=1000.0, state="degraded", p_down=0.25, head_number=120,
                head_age_observer_s=8.0, head_age_block_s=10.0, down_for_s=8.0)
    return res, st


def test_a_round_sets_every_gauge() -> None:
    m = MonitorMetrics()
    m.observe_round(*a_round())
    m.set_alerted("base", "healthy")
    s = samples(generate_latest(m.registry).decode())
    assert s[("seqrisk_head_age_seconds", (("chain", "base"), ("clock", "observer")))] == 8.0
    assert s[("seqrisk_head_age_seconds", (("chain", "base"), ("clock", "block")))] == 10.0
    assert s[("seqrisk_last_block_time_seconds", (("chain", "base"),))] == 990.0
    assert s[("seqrisk_status_p_down", (("chain", "base"),))] == 0.25
    assert s[("seqrisk_status_state", (("chain", "base"), ("state", "degraded")))] == 1.0
    assert s[("seqrisk_status_state", (("chain", "base"), ("state", "down")))] == 0.0
    assert s[("seqrisk_alerted_state", (("chain", "base"), ("state", "healthy")))] == 1.0
    assert s[("seqrisk_replica_lag_blocks", (("chain", "base"), ("endpoint", "http://b")))] == 10.0
    assert s[("seqrisk_replica_lag_blocks", (("chain", "base"), ("endpoint", "http://a")))] == 0.0
    assert s[("seqrisk_endpoint_up", (("chain", "base"), ("endpoint", "http://c")))] == 0.0
    assert s[("seqrisk_poll_failures_total", (("chain", "base"), ("endpoint", "http://c")))] == 1.0
    assert s[("seqrisk_uptime_feed_answer", (("chain", "base"),))] == 0.0
    assert s[("seqrisk_l1_batch_age_seconds", (("chain", "base"),))] == 42.0
    assert s[("seqrisk_round_seconds_count", ())] == 1.0


def test_the_endpoint_serves_on_loopback_and_registries_stay_apart() -> None:
    m, other = MonitorMetrics(), MonitorMetrics()  # two monitors in one process: no duplicate-metric clash
    m.observe_round(*a_round())
    m.sent.labels("hook").inc()
    port = m.serve("127.0.0.1", 0)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        m.close()
    s = samples(text)
    assert s[("seqrisk_alerts_sent_total", (("receiver", "hook"),))] == 1.0
    assert s[("seqrisk_head_number", (("chain", "base"),))] == 120.0
    assert ("seqrisk_head_number", (("chain", "base"),)) not in samples(generate_latest(other.registry).decode())
