"""The monitor's writes to the state store, and the reads ``seqrisk monitor status`` makes.

Every round of a chain is one transaction: its endpoints' head observations (``head_observations``, the
table ``ingest --follow`` writes too), the chain's status (``observations``), a status change
(``status_changes``) when the state moved, an alerted change (``alerts``, unique by fingerprint, with one
``alert_deliveries`` row per receiver) and the chain's saved state (``monitor_state``: status model, alert
machine). A monitor killed between two rounds restarts from the last committed one: the alert machine
comes back in the incident it was in, so nothing is alerted twice, and deliveries still ``pending`` are
retried. An incident alerted down becomes a ``downtime`` event of detector ``monitor`` from the head's last
advance to the round that first saw it move again (ongoing, right-censored, until cleared), which
``seqrisk fit --detected`` counts with the other detected events.

The store is SQLite in WAL mode: the CLI (and the service) read while the monitor writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seqrisk.health import Observation
from seqrisk.monitor.alerts import Transition
from seqrisk.monitor.types import Status
from seqrisk.store import DetectedEvent, StateStore

__all__ = ["DETECTOR", "MONITOR_STATUS_SCHEMA", "ChainRecord", "MonitorStore", "PendingDelivery"]

#: The detector name of the events the monitor writes.
DETECTOR = "monitor"
MONITOR_STATUS_SCHEMA = "seqrisk.monitor.status/1"  # the layout of `seqrisk monitor status --json`


@dataclass(frozen=True)
class PendingDelivery:
    alert_id: int
    fingerprint: str
    receiver: str
    document: dict[str, Any]


@dataclass(frozen=True)
class ChainRecord:
    """What the store knows of a watched chain: its saved state and its last status row."""

    chain: str
    status_model: dict[str, Any] | None
    alerting: dict[str, Any]
    nowcast: dict[str, Any] | None
    updated_utc: float


class MonitorStore:
    """The monitor's view of a :class:`~seqrisk.store.StateStore` (one writer: the monitor process)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    @property
    def _conn(self) -> sqlite3.Connection:
        return self.store._conn

    # -- restart ---------------------------------------------------------------
    def load(self, chain: str) -> ChainRecord | None:
        row = self._conn.execute("SELECT status_model, alerting, nowcast, updated_utc FROM monitor_state "
                                 "WHERE chain=?", (chain,)).fetchone()
        if row is None:
            return None
        return ChainRecord(chain, json.loads(row[0]) if row[0] else None, json.loads(row[1]),
                           json.loads(row[2]) if row[2] else None, float(row[3]))

    def last_state(self, chain: str) -> str | None:
        row = self._conn.execute("SELECT status FROM observations WHERE chain=? ORDER BY observed_utc DESC LIMIT 1",
                                 (chain,)).fetchone()
        return None if row is None else str(row[0])

    def last_posting_utc(self, chain: str) -> float | None:
        row = self._conn.execute("SELECT MAX(l1_time_utc) FROM batch_postings WHERE chain=?", (chain,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def pending_deliveries(self) -> list[PendingDelivery]:
        rows = self._conn.execute(
            "SELECT a.id, a.fingerprint, d.receiver, a.document FROM alert_deliveries d JOIN alerts a "
            "ON a.id = d.alert_id WHERE d.status='pending' ORDER BY a.id").fetchall()
        return [PendingDelivery(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3])) for r in rows]

    # -- one round ---------------------------------------------------------------
    def record_round(self, status: Status, observations: Sequence[Observation], *, feed_up: bool | None,
                     l1_batch_age_s: float | None, previous_state: str | None, status_model: dict[str, Any] | None,
                     alerting: dict[str, Any], transition: Transition | None = None,
                     document: dict[str, Any] | None = None, receivers: Sequence[str] = ()) -> int | None:
        """Write one round (see the module docstring); the new alert's row id when ``transition`` is new."""
        alert_id = None
        with self.store.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO head_observations(chain, observed_utc, endpoint, head_number, head_time_utc, "
                "safe_number, safe_time_utc, finalized_number, finalized_time_utc, error) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(status.chain, o.observed_utc, o.endpoint, o.head_number, o.head_time_utc, o.safe_number,
                  o.safe_time_utc, o.finalized_number, o.finalized_time_utc, o.error) for o in observations])
            best = max((o for o in observations if o.head_number is not None), key=lambda o: o.head_number or 0,
                       default=None)
            c.execute(
                "INSERT OR REPLACE INTO observations(chain, observed_utc, head_number, head_time_utc, lag_s, status, "
                "p_down, down_for_s, head_age_observer_s, feed_up, l1_batch_age_s, reasons) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (status.chain, status.observed_utc, status.head_number, None if best is None else best.head_time_utc,
                 status.head_age_block_s, status.state, status.p_down, status.down_for_s, status.head_age_observer_s,
                 None if feed_up is None else int(feed_up), l1_batch_age_s, json.dumps(list(status.reasons))))
            if previous_state is not None and previous_state != status.state:
                c.execute("INSERT OR REPLACE INTO status_changes(chain, changed_utc, from_state, to_state, p_down, "
                          "reasons) VALUES (?,?,?,?,?,?)", (status.chain, status.observed_utc, previous_state,
                                                             status.state, status.p_down,
                                                             json.dumps(list(status.reasons))))
            if transition is not None:
                alert_id = self._alert(c, transition, document or {}, receivers)
                self._event(c, transition)
            c.execute("INSERT INTO monitor_state(chain, status_model, alerting, updated_utc) VALUES (?,?,?,?) "
                      "ON CONFLICT(chain) DO UPDATE SET status_model=excluded.status_model, "
                      "alerting=excluded.alerting, updated_utc=excluded.updated_utc",
                      (status.chain, None if status_model is None else json.dumps(status_model),
                       json.dumps(alerting), status.observed_utc))
        return alert_id

    def _alert(self, c: sqlite3.Connection, tr: Transition, document: dict[str, Any],
               receivers: Sequence[str]) -> int | None:
        cur = c.execute("INSERT INTO alerts(chain, raised_utc, kind, message, fingerprint, state, p_down, document) "
                        "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(fingerprint) DO NOTHING",
                        (tr.chain, tr.at_utc, tr.kind, f"{tr.chain}: {tr.from_state} -> {tr.to_state} "
                         f"(p_down {tr.p_down:.3f})", tr.fingerprint, tr.to_state, tr.p_down,
                         json.dumps(document, sort_keys=True, default=str)))
        if cur.rowcount == 0:
            return None
        alert_id = int(cur.lastrowid or 0)
        if tr.to_state == "healthy":  # the incident's alerts are cleared
            c.execute("UPDATE alerts SET cleared_utc=? WHERE chain=? AND cleared_utc IS NULL AND id<>?",
                      (tr.at_utc, tr.chain, alert_id))
        c.executemany("INSERT INTO alert_deliveries(alert_id, receiver, status, updated_utc) VALUES (?,?,?,?)",
                      [(alert_id, r, "pending", tr.at_utc) for r in receivers])
        return alert_id

    def _event(self, c: sqlite3.Connection, tr: Transition) -> None:
        """The incident as a detected ``downtime`` event once it has been alerted down."""
        row = c.execute("SELECT id FROM events WHERE chain=? AND type='downtime' AND detector=? AND start_utc=?",
                        (tr.chain, DETECTOR, tr.incident_start_utc)).fetchone()
        ev = {"alerted_utc": tr.at_utc, "p_down": tr.p_down}
        if tr.to_state == "down" and row is None:
            c.execute("INSERT INTO events(chain, type, start_utc, end_utc, ongoing, confidence, detector, evidence, "
                      "created_utc) VALUES (?,?,?,?,?,?,?,?,?)",
                      (tr.chain, "downtime", tr.incident_start_utc, None, 1, round(tr.p_down, 6), DETECTOR,
                       json.dumps(ev, sort_keys=True), tr.at_utc))
        elif tr.to_state == "healthy" and row is not None:
            end = tr.since_utc if tr.since_utc is not None else tr.at_utc
            c.execute("UPDATE events SET end_utc=?, ongoing=0 WHERE id=?", (max(end, tr.incident_start_utc),
                                                                           int(row[0])))

    def set_nowcast(self, chain: str, nowcast: dict[str, Any] | None, alert_id: int | None = None,
                    document: dict[str, Any] | None = None) -> None:
        """The chain's latest now-cast (and the alert document carrying it, before it is sent)."""
        with self.store.transaction() as c:
            c.execute("UPDATE monitor_state SET nowcast=? WHERE chain=?",
                      (None if nowcast is None else json.dumps(nowcast, default=str), chain))
            if alert_id is not None and document is not None:
                c.execute("UPDATE alerts SET document=? WHERE id=?",
                          (json.dumps(document, sort_keys=True, default=str), alert_id))

    def delivered(self, alert_id: int, receiver: str, ok: bool, attempts: int, error: str | None,
                  at_utc: float) -> None:
        with self.store.transaction() as c:
            c.execute("UPDATE alert_deliveries SET status=?, attempts=attempts+?, last_error=?, updated_utc=? "
                      "WHERE alert_id=? AND receiver=?", ("sent" if ok else "failed", attempts, error, at_utc,
                                                          alert_id, receiver))

    def add_postings(self, rows: Sequence[tuple[str, int, float, str]]) -> None:
        if rows:
            with self.store.transaction() as c:
                c.executemany("INSERT OR IGNORE INTO batch_postings(chain, l1_block, l1_time_utc, tx_hash) "
                              "VALUES (?,?,?,?)", rows)

    def prune(self, chains: Sequence[str], before_utc: float) -> int:
        """Delete the per-round rows (``observations``, ``head_observations``) of ``chains`` observed before
        ``before_utc``; status changes, alerts and events stay. Returns the rows deleted."""
        marks = ",".join("?" * len(chains))
        n = 0
        with self.store.transaction() as c:
            for table in ("observations", "head_observations"):
                n += c.execute(f"DELETE FROM {table} WHERE chain IN ({marks}) AND observed_utc < ?",
                               (*chains, before_utc)).rowcount
        return n

    # -- reads for the CLI ---------------------------------------------------------
    def status_report(self, *, alerts: int = 20) -> dict[str, Any]:
        """Every watched chain's last status, alerted state and open incident, and the latest alerts."""
        chains = []
        for row in self._conn.execute("SELECT chain, alerting, nowcast, updated_utc FROM monitor_state ORDER BY chain"):
            chain, alerting, nowcast, updated = row[0], json.loads(row[1]), row[2], row[3]
            last = self._conn.execute(
                "SELECT observed_utc, status, p_down, head_number, head_time_utc, head_age_observer_s, lag_s, "
                "down_for_s, feed_up, l1_batch_age_s, reasons FROM observations WHERE chain=? "
                "ORDER BY observed_utc DESC LIMIT 1", (chain,)).fetchone()
            entry: dict[str, Any] = {"chain": chain, "alerted_state": alerting.get("state"),
                                     "incident_start_utc": alerting.get("incident_start_utc"),
                                     "updated_utc": updated, "nowcast": json.loads(nowcast) if nowcast else None}
            if last is not None:
                entry.update({"observed_utc": last[0], "state": last[1], "p_down": last[2], "head_number": last[3],
                              "head_time_utc": last[4], "head_age_observer_s": last[5], "head_age_block_s": last[6],
                              "down_for_s": last[7], "feed_up": None if last[8] is None else bool(last[8]),
                              "l1_batch_age_s": last[9], "reasons": json.loads(last[10]) if last[10] else []})
            chains.append(entry)
        recent = [{"id": r[0], "chain": r[1], "raised_utc": r[2], "kind": r[3], "message": r[4], "cleared_utc": r[5],
                   "fingerprint": r[6], "p_down": r[7],
                   "deliveries": {d[0]: d[1] for d in self._conn.execute(
                       "SELECT receiver, status FROM alert_deliveries WHERE alert_id=?", (r[0],))}}
                  for r in self._conn.execute(
                      "SELECT id, chain, raised_utc, kind, message, cleared_utc, fingerprint, p_down FROM alerts "
                      "WHERE fingerprint IS NOT NULL ORDER BY id DESC LIMIT ?", (alerts,))]
        return {"schema": MONITOR_STATUS_SCHEMA, "chains": chains, "alerts": recent}

    def events(self, chain: str | None = None) -> list[DetectedEvent]:
        return [e for e in self.store.events(chain=chain, type="downtime") if e.detector == DETECTOR]
