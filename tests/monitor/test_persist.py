"""The monitor's rows in the state store: rounds, status changes, alerts once, events, restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from seqrisk.health import Observation
from seqrisk.monitor.alerts import AlertMachine
from seqrisk.monitor.persist import MONITOR_STATUS_SCHEMA, MonitorStore
from seqrisk.monitor.types import State, Status
from seqrisk.store import MIGRATIONS, SCHEMA_VERSION, StateStore


def status(t: float, state: State, down_for_s: float = 0.0) -> Status:
    return Status(chain="base", observed_utc=t, state=state, p_down={"healthy": 0.01, "degraded": 0.4, "down": 0.98}[
        state], head_number=100, head_age_observer_s=down_for_s, head_age_block_s=down_for_s + 1,
        down_for_s=down_for_s, reasons=("why",))


def obs(t: float) -> tuple[Observation, ...]:
    return (Observation("http://a", t, 100, t - 1), Observation("http://b", t, None, error="HTTP 500"))


def rounds(ms: MonitorStore, machine: AlertMachine, states: list[State], t0: float = 1000.0) -> list[int]:
    ids, prev = [], ms.last_state("base")
    for i, s in enumerate(states):
        t = t0 + 2 * i
        st = status(t, s, 0.0 if s == "healthy" else 2.0 * i)
        tr = machine.step(st)
        aid = ms.record_round(st, obs(t), feed_up=True, l1_batch_age_s=30.0, previous_state=prev,
                              status_model={"round": i}, alerting=machine.to_state(), transition=tr,
                              document={"kind": tr.kind} if tr else None, receivers=["hook"])
        prev = s
        if aid is not None:
            ids.append(aid)
    return ids


def test_an_incident_is_stored_once_with_its_event_and_deliveries(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.sqlite") as st:
        ms = MonitorStore(st)
        m = AlertMachine("base", raise_rounds=2, clear_rounds=2)
        ids = rounds(ms, m, ["healthy", "down", "down", "down", "healthy", "healthy"])
        assert len(ids) == 2
        c = st._conn
        assert c.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == 6
        assert c.execute("SELECT COUNT(*) FROM head_observations WHERE error IS NOT NULL").fetchone()[0] == 6
        changes = c.execute("SELECT from_state, to_state FROM status_changes ORDER BY changed_utc").fetchall()
        assert changes == [("healthy", "down"), ("down", "healthy")]
        kinds = c.execute("SELECT kind, cleared_utc IS NOT NULL FROM alerts ORDER BY id").fetchall()
        assert kinds == [("down", 1), ("resolved", 0)]
        (ev,) = ms.events("base")
        assert ev.type == "downtime" and ev.detector == "monitor" and not ev.ongoing
        assert ev.start_utc == 1000.0 and ev.end_utc == 1008.0  # from the head's last advance to the clearing round
        assert [p.receiver for p in ms.pending_deliveries()] == ["hook", "hook"]
        ms.delivered(ids[0], "hook", True, 2, None, 1010.0)
        assert [p.alert_id for p in ms.pending_deliveries()] == [ids[1]]
        assert c.execute("SELECT status, attempts FROM alert_deliveries WHERE alert_id=?",
                         (ids[0],)).fetchone() == ("sent", 2)


def test_a_restart_resumes_the_incident_and_writes_no_second_alert(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with StateStore(path) as st:
        ms = MonitorStore(st)
        m = AlertMachine("base", raise_rounds=2)
        assert len(rounds(ms, m, ["healthy", "down", "down"])) == 1
    with StateStore(path) as st:  # the monitor process starts again
        ms = MonitorStore(st)
        rec = ms.load("base")
        assert rec is not None and rec.status_model == {"round": 2}
        m2 = AlertMachine.from_state("base", rec.alerting, raise_rounds=2)
        assert rounds(ms, m2, ["down", "down", "down"], t0=1100.0) == []
        assert st._conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 1
        (ev,) = ms.events("base")
        assert ev.ongoing and ev.end_utc is None  # still going on: right-censored


def test_status_report_is_read_while_the_writer_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with StateStore(path) as writer, StateStore(path) as reader:
        ms = MonitorStore(writer)
        rounds(ms, AlertMachine("base", raise_rounds=1), ["healthy", "down"])
        with writer.transaction():  # a write in progress does not block the reader (WAL)
            doc = MonitorStore(reader).status_report()
        assert doc["schema"] == MONITOR_STATUS_SCHEMA
        (chain,) = doc["chains"]
        assert chain["chain"] == "base" and chain["state"] == "down" and chain["alerted_state"] == "down"
        assert chain["feed_up"] is True and chain["l1_batch_age_s"] == 30.0 and chain["reasons"] == ["why"]
        assert doc["alerts"][0]["kind"] == "down" and doc["alerts"][0]["deliveries"] == {"hook": "pending"}


def test_the_migration_upgrades_a_version_5_store_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    for i, sql in enumerate(MIGRATIONS[:5]):
        con.executescript("BEGIN;" + sql + f";PRAGMA user_version={i + 1};COMMIT;")
    con.execute("INSERT INTO alerts(chain, raised_utc, kind, message) VALUES ('base', 1.0, 'old', 'before 6')")
    con.close()
    with StateStore(path) as st:
        assert st.version == SCHEMA_VERSION
        assert st._conn.execute("SELECT kind, fingerprint FROM alerts").fetchall() == [("old", None)]
        assert st.integrity_ok()


def test_prune_deletes_old_rounds_of_watched_chains_only(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.sqlite") as st:
        ms = MonitorStore(st)
        ids = rounds(ms, AlertMachine("base", raise_rounds=1, clear_rounds=1), ["healthy", "down", "healthy"])
        st._conn.execute("INSERT INTO head_observations(chain, observed_utc, endpoint, head_number) "
                         "VALUES ('optimism', 1.0, 'x', 1)")
        assert ms.prune(["base"], 1003.0) == 2 * 3  # rounds at 1000 and 1002: one status row, two endpoints each
        c = st._conn
        assert c.execute("SELECT observed_utc FROM observations").fetchall() == [(1004.0,)]
        assert c.execute("SELECT COUNT(*) FROM head_observations WHERE chain='optimism'").fetchone()[0] == 1
        # what happened stays: the status changes, both alerts and the event
        assert c.execute("SELECT COUNT(*) FROM status_changes").fetchone()[0] == 2 and len(ids) == 2
        assert len(ms.events("base")) == 1
