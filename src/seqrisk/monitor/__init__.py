"""Live sequencer monitoring: confidence-scored status per chain, the now-cast of an ongoing outage, alerts.

- :mod:`seqrisk.monitor.types`: what one polling round saw (:class:`Evidence`) and the status it gives
  (:class:`Status`); shared by the status model, the monitor process, the store and the alerts.
- :mod:`seqrisk.monitor.status`: the status model (the head's silence judged against the chain's
  block-interval law, the prior outage rate, replica agreement, the uptime feed and L1 batch cadence).
- :mod:`seqrisk.monitor.nowcast`: how long an ongoing outage will last and what it costs a book.
- The monitor process: :mod:`~seqrisk.monitor.config` (the config file), :mod:`~seqrisk.monitor.poll` (one
  round of a chain's endpoints), :mod:`~seqrisk.monitor.feed` (Chainlink's uptime feed),
  :mod:`~seqrisk.monitor.l1` (L1 batch cadence), :mod:`~seqrisk.monitor.alerts` (hysteresis, alert
  documents), :mod:`~seqrisk.monitor.webhook` (signed delivery), :mod:`~seqrisk.monitor.metrics`
  (Prometheus), :mod:`~seqrisk.monitor.persist` (the state store), :mod:`~seqrisk.monitor.runner` (the
  process).
"""
