"""The monitor's live status as the service reads it from the state store, and the changes it streams.

``seqrisk monitor`` writes a row of ``observations`` per chain and round (the
label in ``status``, and, from store version 6, ``p_down``, ``down_for_s`` and
the ``reasons``), each label change in ``status_changes``, and its per-chain
state with the latest now-cast in ``monitor_state``. The service only reads:
:func:`live_status` returns each chain's latest round (none when no monitor
ever ran on this home), with the now-cast while the chain is down;
:class:`ChangeTracker` turns successive reads into the events of the
server-sent-event stream: a snapshot first, then only the chains whose label,
probability (to 0.1 %) or now-cast changed. Columns a store does not have yet
read as None, so the service works on a store of any version.
"""

from __future__ import annotations

import json
from typing import Any

from seqrisk.store import StateStore

__all__ = ["ChangeTracker", "live_status", "transitions", "with_nowcasts"]

_OPTIONAL = ("p_down", "down_for_s", "head_age_observer_s", "feed_up", "l1_batch_age_s", "reasons")


def _columns(st: StateStore, table: str) -> set[str]:
    return {str(r[1]) for r in st._conn.execute(f"PRAGMA table_info({table})")}


def _json(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def live_status(st: StateStore, chain: str | None = None) -> list[dict[str, Any]]:
    """Each watched chain's latest status: ``chain``, ``label``, ``p_down``, ``observed_utc``, ``head_number``,
    ``lag_s``, ``down_for_s``, ``reasons`` and ``nowcast`` (None where the store or the round has none)."""
    cols = _columns(st, "observations")
    if not cols:
        return []
    extra = [c for c in _OPTIONAL if c in cols]
    sel = ", ".join(["o.chain", "o.observed_utc", "o.head_number", "o.head_time_utc", "o.lag_s", "o.status",
                     *(f"o.{c}" for c in extra)])
    q = (f"SELECT {sel} FROM observations o JOIN (SELECT chain, MAX(observed_utc) AS t FROM observations "
         "GROUP BY chain) m ON m.chain = o.chain AND m.t = o.observed_utc")
    args: tuple[Any, ...] = ()
    if chain:
        q += " WHERE o.chain = ?"
        args = (chain,)
    rows = st._conn.execute(q + " ORDER BY o.chain", args).fetchall()
    nowcasts: dict[str, Any] = {}
    if rows and "nowcast" in _columns(st, "monitor_state"):
        nowcasts = {str(c): _json(n) for c, n in st._conn.execute("SELECT chain, nowcast FROM monitor_state")}
    out = []
    for r in rows:
        d: dict[str, Any] = dict(zip(["chain", "observed_utc", "head_number", "head_time_utc", "lag_s", "label",
                                      *extra], r, strict=True))
        for c in _OPTIONAL:
            d.setdefault(c, None)
        d["reasons"] = _json(d["reasons"])
        d["nowcast"] = nowcasts.get(d["chain"]) if d["label"] == "down" else None
        out.append(d)
    return out


def with_nowcasts(rows: list[dict[str, Any]], model: Any, catalog: Any) -> list[dict[str, Any]]:
    """Each down chain without a stored now-cast gets one (:func:`seqrisk.monitor.nowcast.nowcast`) from the
    served outage model and how long it has been down (``down_for_s``, else the head's lag at the round)."""
    out = []
    for r in rows:
        if r.get("label") == "down" and r.get("nowcast") is None:
            down_for = r.get("down_for_s") if r.get("down_for_s") is not None else r.get("lag_s")
            if isinstance(down_for, int | float) and down_for >= 0 and r["chain"] in model.chains:
                from seqrisk.monitor.nowcast import nowcast

                r = {**r, "nowcast": nowcast(r["chain"], float(down_for), model=model, catalog=catalog).to_dict()}
        out.append(r)
    return out


def transitions(st: StateStore, chain: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The latest label changes, newest first: ``chain``, ``at_utc``, ``from``, ``to``, ``p_down``, ``reasons``."""
    cols = _columns(st, "status_changes")
    if not cols:
        return []
    cur = st._conn.execute("SELECT chain, changed_utc, from_state, to_state, p_down, reasons FROM status_changes" +
                           (" WHERE chain=?" if chain else "") + " ORDER BY changed_utc DESC LIMIT ?",
                           ((chain, limit) if chain else (limit,)))
    return [{"chain": c, "at_utc": t, "from": f, "to": to, "p_down": p, "reasons": _json(rs)}
            for c, t, f, to, p, rs in cur.fetchall()]


def _fingerprint(row: dict[str, Any]) -> tuple[Any, ...]:
    p = round(float(row.get("p_down") or 0.0), 3)
    return (row.get("label"), p, json.dumps(row.get("nowcast"), sort_keys=True, default=str))


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
