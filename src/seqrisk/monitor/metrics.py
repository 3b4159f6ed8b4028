"""The monitor's Prometheus metrics (``prometheus-client``), on a registry of its own.

:meth:`MonitorMetrics.serve` exposes them over HTTP, bound to 127.0.0.1 unless told otherwise. Names
(all gauges by ``chain`` unless said):

=====================================================  ===============================================
``seqrisk_head_age_seconds{chain,clock}``              age of the best head: ``observer`` (since it was
                                                       first seen) and ``block`` (its timestamp)
``seqrisk_head_number``                                the best head's block number
``seqrisk_last_block_time_seconds``                    the best head's block timestamp (UTC epoch s)
``seqrisk_status_p_down``                              the status model's probability that it is down
``seqrisk_status_state{chain,state}``                  1 for the current state, 0 for the others
``seqrisk_alerted_state{chain,state}``                 the same for the alerted (hysteresis) state
``seqrisk_replica_lag_blocks{chain,endpoint}``         an endpoint's head below the best head
``seqrisk_endpoint_up{chain,endpoint}``                1 if the endpoint answered this round
``seqrisk_uptime_feed_answer``                         Chainlink feed answer (0 up, 1 down)
``seqrisk_uptime_feed_started_seconds``                the feed round's ``startedAt``
``seqrisk_l1_batch_age_seconds``                       seconds since the last L1 batch posting
``seqrisk_probe_ok``                                   1 if the last probe transaction was answered
``seqrisk_probe_pending_seconds``                      an accepted probe not yet included, for this long
``seqrisk_detection_latency_seconds``                  last down alert: seconds after the head stopped
``seqrisk_nowcast_p_still_down{chain,horizon}``        the now-cast while down
``seqrisk_alerts_total{chain,kind}``                   counter: alerted changes
``seqrisk_alerts_sent_total{receiver}``                counter: deliveries taken by a receiver
``seqrisk_alerts_failed_total{receiver}``              counter: deliveries dead-lettered
``seqrisk_poll_failures_total{chain,endpoint}``        counter: endpoint rounds without a head
``seqrisk_feed_failures_total{chain}``                 counter: rounds the feed could not be read
``seqrisk_round_seconds``                              histogram: one chain's polling round
=====================================================  ===============================================
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from seqrisk.monitor.alerts import SEVERITY
from seqrisk.monitor.poll import RoundResult
from seqrisk.monitor.types import Status

__all__ = ["MonitorMetrics"]


class MonitorMetrics:
    """Every metric of the monitor, registered on :attr:`registry` (never the process-wide default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.head_age = Gauge("seqrisk_head_age_seconds", "Age of the best head", ["chain", "clock"], registry=r)
        self.head_number = Gauge("seqrisk_head_number", "Best head block number", ["chain"], registry=r)
        self.last_block_time = Gauge("seqrisk_last_block_time_seconds", "Best head block timestamp (UTC epoch s)",
                                     ["chain"], registry=r)
        self.p_down = Gauge("seqrisk_status_p_down", "Probability the sequencer is down", ["chain"], registry=r)
        self.state = Gauge("seqrisk_status_state", "Current status (1 for the current state)", ["chain", "state"],
                           registry=r)
        self.alerted = Gauge("seqrisk_alerted_state", "Alerted state after hysteresis", ["chain", "state"],
                             registry=r)
        self.replica_lag = Gauge("seqrisk_replica_lag_blocks", "Endpoint head below the best head",
                                 ["chain", "endpoint"], registry=r)
        self.endpoint_up = Gauge("seqrisk_endpoint_up", "Endpoint answered this round", ["chain", "endpoint"],
                                 registry=r)
        self.feed_answer = Gauge("seqrisk_uptime_feed_answer", "Chainlink uptime feed answer (0 up, 1 down)",
                                 ["chain"], registry=r)
        self.feed_started = Gauge("seqrisk_uptime_feed_started_seconds", "Uptime feed round startedAt",
                                  ["chain"], registry=r)
        self.l1_batch_age = Gauge("seqrisk_l1_batch_age_seconds", "Seconds since the last L1 batch posting",
                                  ["chain"], registry=r)
        self.probe_ok = Gauge("seqrisk_probe_ok", "Last probe transaction answered", ["chain"], registry=r)
        self.probe_pending = Gauge("seqrisk_probe_pending_seconds", "Accepted probe transaction not yet included "
                                   "for this long (0: none waiting)", ["chain"], registry=r)
        self.detection_latency = Gauge("seqrisk_detection_latency_seconds",
                                       "Last down alert: seconds after the head stopped advancing", ["chain"],
                                       registry=r)
        self.nowcast = Gauge("seqrisk_nowcast_p_still_down", "Now-cast: probability still down at the horizon",
                             ["chain", "horizon"], registry=r)
        self.alerts = Counter("seqrisk_alerts", "Alerted state changes", ["chain", "kind"], registry=r)
        self.sent = Counter("seqrisk_alerts_sent", "Alert deliveries taken by a receiver", ["receiver"], registry=r)
        self.failed = Counter("seqrisk_alerts_failed", "Alert deliveries that failed (dead-lettered)", ["receiver"],
                              registry=r)
        self.poll_failures = Counter("seqrisk_poll_failures", "Endpoint rounds without a head",
                                     ["chain", "endpoint"], registry=r)
        self.feed_failures = Counter("seqrisk_feed_failures", "Rounds the uptime feed could not be read", ["chain"],
                                     registry=r)
        self.round_seconds = Histogram("seqrisk_round_seconds", "One chain's polling round",
                                       buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10), registry=r)
        self._server: Any = None

    def observe_round(self, result: RoundResult, status: Status) -> None:
        """Set the gauges of one round."""
        c = status.chain
        if status.head_age_observer_s is not None:
            self.head_age.labels(c, "observer").set(status.head_age_observer_s)
        if status.head_age_block_s is not None:
            self.head_age.labels(c, "block").set(status.head_age_block_s)
        if status.head_number is not None:
            self.head_number.labels(c).set(status.head_number)
        best = max((o for o in result.evidence.observations if o.head_number is not None),
                   key=lambda o: o.head_number or 0, default=None)
        if best is not None and best.head_time_utc is not None:
            self.last_block_time.labels(c).set(best.head_time_utc)
        self.p_down.labels(c).set(status.p_down)
        for s in SEVERITY:
            self.state.labels(c, s).set(1.0 if s == status.state else 0.0)
        top = best.head_number if best is not None else None
        for o in result.evidence.observations:
            self.endpoint_up.labels(c, o.endpoint).set(0.0 if o.head_number is None else 1.0)
            if o.head_number is None:
                self.poll_failures.labels(c, o.endpoint).inc()
            elif top is not None:
                self.replica_lag.labels(c, o.endpoint).set(max(0, top - o.head_number))
        if result.feed is not None:
            self.feed_answer.labels(c).set(result.feed.answer)
            self.feed_started.labels(c).set(result.feed.started_utc)
        elif result.feed_error is not None:
            self.feed_failures.labels(c).inc()
        if result.evidence.l1_batch_age_s is not None:
            self.l1_batch_age.labels(c).set(result.evidence.l1_batch_age_s)
        self.round_seconds.observe(result.duration_s)

    def set_alerted(self, chain: str, state: str) -> None:
        for s in SEVERITY:
            self.alerted.labels(chain, s).set(1.0 if s == state else 0.0)

    def serve(self, host: str = "127.0.0.1", port: int = 9464) -> int:
        """Expose the metrics at ``http://host:port/metrics`` (a daemon thread); return the bound port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return int(server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
