"""Operational state in SQLite (WAL): cursors, detected events, observations, alerts.

WAL mode lets one writer (a monitor, an ingest) and several readers (the CLI,
the web service) use the file at once; every write is one transaction, so a
process killed mid-write leaves the last committed state. The schema is
versioned with ``PRAGMA user_version`` and upgraded by ordered migrations.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqrisk.detect import Event
from seqrisk.exceptions import StoreError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "DetectedEvent", "StateStore"]

#: Ordered migrations; migration ``i`` brings the schema from version i to i + 1.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE ingest_cursors (
        chain TEXT PRIMARY KEY,
        next_block INTEGER NOT NULL,
        last_hash TEXT,
        updated_utc REAL NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        chain TEXT NOT NULL,
        type TEXT NOT NULL,
        start_utc REAL NOT NULL,
        end_utc REAL,
        ongoing INTEGER NOT NULL DEFAULT 0,
        confidence REAL NOT NULL,
        detector TEXT NOT NULL,
        evidence TEXT NOT NULL DEFAULT '{}',
        created_utc REAL NOT NULL,
        UNIQUE (chain, type, detector, start_utc)
    );
    CREATE INDEX events_chain_start ON events (chain, start_utc);
    CREATE TABLE observations (
        chain TEXT NOT NULL,
        observed_utc REAL NOT NULL,
        head_number INTEGER,
        head_time_utc REAL,
        lag_s REAL,
        status TEXT NOT NULL,
        PRIMARY KEY (chain, observed_utc)
    );
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        chain TEXT NOT NULL,
        raised_utc REAL NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        cleared_utc REAL
    );
    CREATE TABLE user_incidents (id TEXT PRIMARY KEY, record TEXT NOT NULL, added_utc REAL NOT NULL);
    """,
    # 1 -> 2 (ingestion, issue 7): L1 batch postings of a chain, and head / safe / finalized observations.
    """
    CREATE TABLE batch_postings (
        chain TEXT NOT NULL,
        l1_block INTEGER NOT NULL,
        l1_time_utc REAL NOT NULL,
        tx_hash TEXT NOT NULL,
        PRIMARY KEY (chain, tx_hash)
    );
    CREATE INDEX batch_postings_time ON batch_postings (chain, l1_time_utc);
    CREATE TABLE head_observations (
        chain TEXT NOT NULL,
        observed_utc REAL NOT NULL,
        head_number INTEGER NOT NULL,
        head_time_utc REAL NOT NULL,
        safe_number INTEGER,
        safe_time_utc REAL,
        finalized_number INTEGER,
        finalized_time_utc REAL,
        PRIMARY KEY (chain, observed_utc)
    );
    """,
    # 2 -> 3 (issue 14): head observations per endpoint (a polling round shares observed_utc; head NULL and
    # error set where the endpoint did not answer), for the cross-replica height check and head ageing.
    """
    CREATE TABLE head_observations_v3 (
        chain TEXT NOT NULL,
        observed_utc REAL NOT NULL,
        endpoint TEXT NOT NULL DEFAULT '',
        head_number INTEGER,
        head_time_utc REAL,
        safe_number INTEGER,
        safe_time_utc REAL,
        finalized_number INTEGER,
        finalized_time_utc REAL,
        error TEXT,
        PRIMARY KEY (chain, observed_utc, endpoint)
    );
    INSERT INTO head_observations_v3 (chain, observed_utc, endpoint, head_number, head_time_utc, safe_number,
        safe_time_utc, finalized_number, finalized_time_utc)
        SELECT chain, observed_utc, '', head_number, head_time_utc, safe_number, safe_time_utc, finalized_number,
               finalized_time_utc FROM head_observations;
    DROP TABLE head_observations;
    ALTER TABLE head_observations_v3 RENAME TO head_observations;
    """,
    # 3 -> 4 (issue 14): the block store's ledger (a content hash per partition file) and the block ranges
    # whose partition was quarantined and must be fetched again. Partitions already on disk are adopted
    # (hashed) once, on the next open through the home (meta key ledger_pending).
    """
    CREATE TABLE partitions (
        chain TEXT NOT NULL,
        name TEXT NOT NULL,
        first INTEGER NOT NULL,
        last INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        marker INTEGER NOT NULL DEFAULT 0,
        added_utc REAL NOT NULL,
        PRIMARY KEY (chain, name)
    );
    CREATE TABLE repairs (
        chain TEXT NOT NULL,
        first INTEGER NOT NULL,
        last INTEGER NOT NULL,
        reason TEXT NOT NULL,
        file TEXT,
        added_utc REAL NOT NULL,
        PRIMARY KEY (chain, first, last)
    );
    INSERT OR REPLACE INTO meta(key, value) VALUES ('ledger_pending', '1');
    """,
    # 4 -> 5 (issue 17, seqrisk serve): API tokens (SHA-256 of the token, never the token), uploaded books,
    # the job queue with each job's full record (inputs, seed, as-of, catalog and seqrisk versions), every
    # attempt to run a job (so a restart shows what was interrupted and nothing runs twice), and the artifacts
    # of finished jobs.
    """
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
        hash TEXT NOT NULL UNIQUE,
        created_utc REAL NOT NULL,
        revoked_utc REAL,
        last_used_utc REAL
    );
    CREATE TABLE books (
        digest TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        document TEXT NOT NULL,
        positions INTEGER NOT NULL,
        chains TEXT NOT NULL,
        token_id TEXT,
        added_utc REAL NOT NULL
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        token_id TEXT,
        idempotency_key TEXT,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
        request TEXT NOT NULL,
        book_digest TEXT,
        seed INTEGER,
        as_of TEXT,
        catalog_version TEXT NOT NULL,
        seqrisk_version TEXT NOT NULL,
        submitted_utc REAL NOT NULL,
        started_utc REAL,
        finished_utc REAL,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        progress_done REAL,
        progress_total REAL,
        stage TEXT,
        error TEXT,
        result TEXT,
        UNIQUE (token_id, idempotency_key)
    );
    CREATE INDEX jobs_status_seq ON jobs (status, seq);
    CREATE INDEX jobs_token_status ON jobs (token_id, status);
    CREATE TABLE job_runs (
        run_id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES jobs (id),
        attempt INTEGER NOT NULL,
        worker TEXT NOT NULL,
        pid INTEGER,
        server TEXT,
        started_utc REAL NOT NULL,
        ended_utc REAL,
        outcome TEXT
    );
    CREATE INDEX job_runs_job ON job_runs (job_id, attempt);
    CREATE TABLE job_artifacts (
        job_id TEXT NOT NULL REFERENCES jobs (id),
        name TEXT NOT NULL,
        media_type TEXT NOT NULL,
        content BLOB NOT NULL,
        PRIMARY KEY (job_id, name)
    );
    """,
    # 5 -> 6 (issue 15, seqrisk monitor): each round's status beside the per-chain observation row, the status
    # changes, alerts keyed by fingerprint with the document sent and one delivery row per receiver, and the
    # monitor's per-chain state (status model, alert machine, last now-cast) so a restart resumes without
    # alerting again.
    """
    ALTER TABLE observations ADD COLUMN p_down REAL;
    ALTER TABLE observations ADD COLUMN down_for_s REAL;
    ALTER TABLE observations ADD COLUMN head_age_observer_s REAL;
    ALTER TABLE observations ADD COLUMN feed_up INTEGER;
    ALTER TABLE observations ADD COLUMN l1_batch_age_s REAL;
    ALTER TABLE observations ADD COLUMN reasons TEXT;
    CREATE TABLE status_changes (
        chain TEXT NOT NULL,
        changed_utc REAL NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        p_down REAL NOT NULL,
        reasons TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (chain, changed_utc)
    );
    ALTER TABLE alerts ADD COLUMN fingerprint TEXT;
    ALTER TABLE alerts ADD COLUMN state TEXT;
    ALTER TABLE alerts ADD COLUMN p_down REAL;
    ALTER TABLE alerts ADD COLUMN document TEXT;
    CREATE UNIQUE INDEX alerts_fingerprint ON alerts (fingerprint);
    CREATE TABLE alert_deliveries (
        alert_id INTEGER NOT NULL REFERENCES alerts (id),
        receiver TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_utc REAL NOT NULL,
        PRIMARY KEY (alert_id, receiver)
    );
    CREATE TABLE monitor_state (
        chain TEXT PRIMARY KEY,
        status_model TEXT,
        alerting TEXT NOT NULL,
        nowcast TEXT,
        updated_utc REAL NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class DetectedEvent(Event):
    """A detected event (:class:`seqrisk.detect.Event`) as stored, with its row ``id``.

    Times are UTC epoch seconds; ``end_utc`` is None while ongoing (right-censored).
    """

    id: int | None = None


class StateStore:
    """The SQLite state file of one seqrisk home."""

    def __init__(self, path: Path | str, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open state store: {exc}", file=str(self.path)) from None

    # -- schema ---------------------------------------------------------------
    @property
    def version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction; return the new version."""
        v = self.version
        if v > SCHEMA_VERSION:
            raise StoreError(f"state store has schema {v}, newer than this seqrisk ({SCHEMA_VERSION}); "
                             "upgrade seqrisk", file=str(self.path))
        for i in range(v, SCHEMA_VERSION):
            try:
                self._conn.executescript("BEGIN IMMEDIATE;" + MIGRATIONS[i] + f";PRAGMA user_version={i + 1};COMMIT;")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        return self.version

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any exception."""
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cursors ---------------------------------------------------------------
    def cursor(self, chain: str) -> tuple[int, str | None] | None:
        row = self._conn.execute("SELECT next_block, last_hash FROM ingest_cursors WHERE chain=?",
                                 (chain,)).fetchone()
        return (int(row[0]), row[1]) if row else None

    def set_cursor(self, chain: str, next_block: int, last_hash: str | None,
                   conn: sqlite3.Connection | None = None) -> None:
        sql = ("INSERT INTO ingest_cursors(chain, next_block, last_hash, updated_utc) VALUES (?,?,?,?) "
               "ON CONFLICT(chain) DO UPDATE SET next_block=excluded.next_block, "
               "last_hash=excluded.last_hash, updated_utc=excluded.updated_utc")
        args = (chain, next_block, last_hash, time.time())  # clock-ok: when the cursor moved (shown, not used)
        if conn is not None:
            conn.execute(sql, args)
        else:
            with self.transaction() as c:
                c.execute(sql, args)

    # -- events ----------------------------------------------------------------
    def add_events(self, events: Sequence[DetectedEvent]) -> int:
        """Insert or update events (keyed by chain, type, detector, start); return rows written."""
        now = time.time()  # clock-ok: when the event was stored (shown, not used)
        with self.transaction() as c:
            for e in events:
                c.execute(
                    "INSERT INTO events(chain,type,start_utc,end_utc,ongoing,confidence,detector,evidence,"
                    "created_utc) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(chain,type,detector,start_utc) DO "
                    "UPDATE SET end_utc=excluded.end_utc, ongoing=excluded.ongoing, "
                    "confidence=excluded.confidence, evidence=excluded.evidence",
                    (e.chain, e.type, e.start_utc, e.end_utc, int(e.ongoing), e.confidence, e.detector,
                     json.dumps(e.evidence, sort_keys=True), now))
        return len(events)

    def events(self, chain: str | None = None, type: str | None = None,
               since_utc: float | None = None, until_utc: float | None = None) -> list[DetectedEvent]:
        q = "SELECT id,chain,type,start_utc,end_utc,ongoing,confidence,detector,evidence FROM events WHERE 1=1"
        args: list[Any] = []
        for col, op, val in (("chain", "=", chain), ("type", "=", type), ("start_utc", ">=", since_utc),
                             ("start_utc", "<", until_utc)):
            if val is not None:
                q += f" AND {col} {op} ?"
                args.append(val)
        rows = self._conn.execute(q + " ORDER BY start_utc, id", args).fetchall()
        return [DetectedEvent(id=r[0], chain=r[1], type=r[2], start_utc=r[3], end_utc=r[4], ongoing=bool(r[5]),
                              confidence=r[6], detector=r[7], evidence=json.loads(r[8])) for r in rows]

    def counts(self) -> dict[str, int]:
        """Row count per table."""
        tables = [r[0] for r in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: int(self._conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]) for t in tables}

    def integrity_ok(self) -> bool:
        return bool(self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
