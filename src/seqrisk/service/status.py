"""The monitor's live status as the service reads it from the state store, and the changes it streams.

``seqrisk monitor`` writes one row per watched chain (label, probabilities,
head ages, the latest now-cast) and every label transition. The service only
reads: :func:`live_status` returns the rows (none when no monitor ever ran on
this home), :class:`ChangeTracker` turns successive reads into the events of
the server-sent-event stream: a snapshot first, then only the chains whose
label, probabilities (to 0.1 %) or now-cast changed.
"""

from __future__ import annotations

import json
from typing import Any

from seqrisk.store import StateStore

__all__ = ["ChangeTracker", "live_status", "transitions"]

_JSON_COLS = ("reasons", "nowcast")


def _has_table(st: StateStore, name: str) -> bool:
    return st._conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def live_status(st: StateStore, chain: str | None = None) -> list[dict[str, Any]]:
    """Each watched chain's current status (JSON columns decoded; the monitor's filter state left out)."""
    if not _has_table(st, "monitor_status"):
        return []
    cur = st._conn.execute("SELECT * FROM monitor_status" + (" WHERE chain=?" if chain else "") + " ORDER BY chain",
                           (chain,) if chain else ())
    cols = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        d = dict(zip(cols, row, strict=True))
        d.pop("state", None)
        for k in _JSON_COLS:
            if isinstance(d.get(k), str):
                d[k] = json.loads(d[k])
        out.append(d)
    return out


def transitions(st: StateStore, chain: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The latest label transitions, newest first."""
    if not _has_table(st, "status_changes"):
        return []
    cur = st._conn.execute("SELECT * FROM status_changes" + (" WHERE chain=?" if chain else "") +
                           " ORDER BY at_utc DESC LIMIT ?", ((chain, limit) if chain else (limit,)))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _fingerprint(row: dict[str, Any]) -> tuple[Any, ...]:
    p = tuple(round(float(row.get(k) or 0.0), 3) for k in ("p_healthy", "p_degraded", "p_down"))
    return (row.get("label"), p, row.get("episode"), json.dumps(row.get("nowcast"), sort_keys=True, default=str))


class ChangeTracker:
    """Successive status reads -> the rows that changed since the previous read."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Any, ...]] = {}

    def changes(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        current = set()
        for r in rows:
            current.add(r["chain"])
            fp = _fingerprint(r)
            if self._seen.get(r["chain"]) != fp:
                self._seen[r["chain"]] = fp
                out.append(r)
        for gone in set(self._seen) - current:
            del self._seen[gone]
            out.append({"chain": gone, "label": None, "removed": True})
        return out
