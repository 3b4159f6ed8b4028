"""Alerts: a chain's status turned into alerted state changes, with hysteresis, and the documents sent.

:class:`AlertMachine` holds the *alerted* state of one chain (healthy, degraded, down). A worse status
must last ``raise_rounds`` consecutive rounds before it is alerted, a better one ``clear_rounds``: one slow
round neither raises nor clears. Rounds that are worse (or better) in different ways count together, and
the change goes to the mildest of the worse states seen in that run (the worst of the better ones), so a
status flickering between degraded and down still raises, as degraded first. Its state is JSON-able
(:meth:`AlertMachine.to_state`), stored every round, so a restarted monitor resumes the incident it was
in instead of alerting it again.

An *incident* starts when the chain leaves healthy (at the head's last advance by the observer's clock,
``observed_utc - down_for_s`` of the round that raised it) and ends when it is alerted healthy again.
Every alerted change has a fingerprint (chain, incident start, new state, time of the change): the store
keeps one alert per fingerprint.

:func:`alert_document` is what a webhook receives; :func:`alertmanager_alerts` the same change as the
alert list Alertmanager's ``POST /api/v2/alerts`` takes (labels, string annotations, RFC 3339 times).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from seqrisk.monitor.types import State, Status

__all__ = ["SEVERITY", "AlertMachine", "Transition", "alert_document", "alertmanager_alerts"]

SEVERITY: dict[str, int] = {"healthy": 0, "degraded": 1, "down": 2}
_BY_SEVERITY: tuple[State, State, State] = ("healthy", "degraded", "down")
ALERT_SCHEMA = "seqrisk.alert/1"


@dataclass(frozen=True)
class Transition:
    """An alerted state change of one chain (times UTC epoch seconds, observer's clock)."""

    chain: str
    from_state: State
    to_state: State
    at_utc: float
    incident_start_utc: float
    p_down: float
    since_utc: float | None = None  # when the run of rounds that made this change began (see AlertMachine.step)

    @property
    def fingerprint(self) -> str:
        return f"{self.chain}:{self.incident_start_utc:.3f}:{self.to_state}:{self.at_utc:.3f}"

    @property
    def kind(self) -> str:
        """``down``, ``degraded`` or ``resolved`` (back to healthy)."""
        return "resolved" if self.to_state == "healthy" else self.to_state

    @property
    def detection_latency_s(self) -> float:
        """Seconds from the incident's start (the head's last advance) to this alert."""
        return self.at_utc - self.incident_start_utc


@dataclass
class AlertMachine:
    """The alerted state of one chain, moved by statuses with hysteresis (see the module docstring)."""

    chain: str
    raise_rounds: int = 2
    clear_rounds: int = 3
    degraded: bool = True
    state: State = "healthy"
    incident_start_utc: float | None = None
    pending_direction: int = 0
    pending_rounds: int = 0
    pending_target: int = 0
    pending_start_utc: float | None = None

    def __post_init__(self) -> None:
        if self.raise_rounds < 1 or self.clear_rounds < 1:
            raise ValueError("raise_rounds and clear_rounds are at least 1")

    def step(self, status: Status) -> Transition | None:
        """Fold one round's status; the alerted change it completes, if any."""
        if status.chain != self.chain:
            raise ValueError(f"status of {status.chain!r} given to the alert machine of {self.chain!r}")
        sev = SEVERITY[status.state]
        if sev == 1 and not self.degraded:
            sev = 0
        cur = SEVERITY[self.state]
        direction = (sev > cur) - (sev < cur)
        if direction == 0:
            self.pending_direction = self.pending_rounds = 0
            self.pending_start_utc = None
            return None
        # worse: the incident began at the head's last advance; better: the head was seen moving again when
        # the first better round saw its new head
        start = status.observed_utc - (status.down_for_s if direction > 0 else (status.head_age_observer_s or 0.0))
        if direction != self.pending_direction:
            self.pending_direction, self.pending_rounds, self.pending_target = direction, 0, sev
            self.pending_start_utc = start
        self.pending_rounds += 1
        self.pending_target = min(self.pending_target, sev) if direction > 0 else max(self.pending_target, sev)
        if direction > 0 and self.pending_start_utc is not None:
            self.pending_start_utc = min(self.pending_start_utc, start)
        if self.pending_rounds < (self.raise_rounds if direction > 0 else self.clear_rounds):
            return None
        new = _BY_SEVERITY[self.pending_target]
        if self.state == "healthy":
            self.incident_start_utc = self.pending_start_utc if self.pending_start_utc is not None else start
        incident = self.incident_start_utc if self.incident_start_utc is not None else start
        tr = Transition(self.chain, self.state, new, status.observed_utc, incident, status.p_down,
                        self.pending_start_utc if self.pending_start_utc is not None else start)
        self.state = new
        if new == "healthy":
            self.incident_start_utc = None
        self.pending_direction = self.pending_rounds = 0
        self.pending_start_utc = None
        return tr

    def to_state(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("chain")
        return d

    @classmethod
    def from_state(cls, chain: str, state: dict[str, Any], **settings: Any) -> AlertMachine:
        """The machine saved by :meth:`to_state`; ``settings`` (raise_rounds ...) from the current config win."""
        known = {k: v for k, v in state.items() if k in cls.__dataclass_fields__ and k != "chain"}
        if known.get("state") not in SEVERITY:
            raise ValueError(f"saved alert state of {chain!r} is not healthy, degraded or down: {known.get('state')!r}")
        return cls(chain=chain, **{**known, **settings})


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def alert_document(tr: Transition, status: Status, nowcast: dict[str, Any] | None = None,
                   nowcast_error: str | None = None) -> dict[str, Any]:
    """The JSON document a webhook receives for ``tr``: the change, the status that made it, the now-cast
    (with the books' conditional loss when books are configured) and the same change as Alertmanager alerts."""
    return {
        "schema": ALERT_SCHEMA,
        "id": tr.fingerprint,
        "kind": tr.kind,
        "chain": tr.chain,
        "from_state": tr.from_state,
        "to_state": tr.to_state,
        "at_utc": tr.at_utc,
        "at": _iso(tr.at_utc),
        "incident_start_utc": tr.incident_start_utc,
        "detection_latency_s": round(tr.detection_latency_s, 3),
        "p_down": status.p_down,
        "status": {"state": status.state, "p_down": status.p_down, "head_number": status.head_number,
                   "head_age_observer_s": status.head_age_observer_s, "head_age_block_s": status.head_age_block_s,
                   "down_for_s": status.down_for_s, "lagging_endpoints": list(status.lagging_endpoints),
                   "unreachable_endpoints": list(status.unreachable_endpoints), "reasons": list(status.reasons)},
        "nowcast": nowcast,
        "nowcast_error": nowcast_error,
        "alertmanager": alertmanager_alerts(tr, status, nowcast),
    }


_ALERTNAME = {"down": "L2SequencerDown", "degraded": "L2SequencerDegraded"}
_SEVERITY_LABEL = {"down": "critical", "degraded": "warning"}


def alertmanager_alerts(tr: Transition, status: Status, nowcast: dict[str, Any] | None = None
                        ) -> list[dict[str, Any]]:
    """``tr`` as Alertmanager alerts: the state left resolves (``endsAt``), the state entered fires."""
    out = []
    summary = "; ".join(status.reasons[:3]) or f"{tr.chain} is {tr.to_state}"
    if tr.from_state != "healthy":
        out.append({"labels": {"alertname": _ALERTNAME[tr.from_state], "chain": tr.chain,
                               "severity": _SEVERITY_LABEL[tr.from_state], "source": "seqrisk"},
                    "annotations": {"summary": f"{tr.chain}: no longer {tr.from_state}",
                                    "p_down": f"{status.p_down:.4f}"},
                    "startsAt": _iso(tr.incident_start_utc), "endsAt": _iso(tr.at_utc)})
    if tr.to_state != "healthy":
        ann = {"summary": f"{tr.chain} {tr.to_state} (p_down {status.p_down:.3f}): {summary}",
               "p_down": f"{status.p_down:.4f}", "down_for_s": f"{status.down_for_s:.1f}",
               "detection_latency_s": f"{tr.detection_latency_s:.1f}"}
        if nowcast is not None:
            ann["nowcast"] = json.dumps(nowcast, sort_keys=True, default=str)
        out.append({"labels": {"alertname": _ALERTNAME[tr.to_state], "chain": tr.chain,
                               "severity": _SEVERITY_LABEL[tr.to_state], "source": "seqrisk"},
                    "annotations": ann, "startsAt": _iso(tr.incident_start_utc)})
    return out
