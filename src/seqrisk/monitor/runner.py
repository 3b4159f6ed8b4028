"""The monitor process: every chain polled on its own schedule, statuses scored, alerts sent, metrics kept.

:class:`Monitor` runs on one asyncio loop. Each chain has its own task: a round every ``interval_s``
(:func:`~seqrisk.monitor.poll.poll_round`, every endpoint at once, each bounded by ``timeout_s``), the
status model's update, the alert machine's step, one store transaction, the metrics. A chain whose round
overran its interval starts the next one at once and skips the rounds it missed; no chain waits for
another. A chain that looks late is polled every ``suspect_interval_s`` until it is judged down or its head
moves (:meth:`Monitor.interval_after`). Work that can take long runs beside the rounds, never in them: the
now-cast (in a worker thread) and webhook deliveries (their own tasks, with retries), the L1 reader (one task
per L1, blocks read in a worker thread) and probe transactions.

Failures are logged and counted, never fatal: an endpoint that does not answer is unreachable for the
round; a feed that cannot be read is counted and left out of the evidence; a receiver that stays down gets
its alerts in the dead-letter file. The status model and the now-cast come from
:mod:`seqrisk.monitor.status` and :mod:`seqrisk.monitor.nowcast` (injectable: ``status_factory``,
``nowcaster``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from seqrisk.exceptions import SeqriskError
from seqrisk.monitor.alerts import AlertMachine, Transition, alert_document, alertmanager_alerts
from seqrisk.monitor.config import MonitorConfig, ResolvedChain, WebhookSettings
from seqrisk.monitor.l1 import L1Watcher
from seqrisk.monitor.metrics import MonitorMetrics
from seqrisk.monitor.persist import MonitorStore
from seqrisk.monitor.poll import EndpointPoller, RoundResult, poll_round
from seqrisk.monitor.types import Evidence, Status
from seqrisk.monitor.webhook import append_dead_letter, deliver
from seqrisk.rpc import RpcClient, redact

__all__ = ["Monitor", "Nowcaster", "StatusFactory", "StatusModelLike", "default_nowcaster", "default_status_factory"]

log = logging.getLogger("seqrisk.monitor")


class StatusModelLike(Protocol):
    """What the monitor needs of a status model (:class:`seqrisk.monitor.status.StatusModel`)."""

    def update(self, ev: Evidence) -> Status: ...

    def to_state(self) -> dict[str, Any]: ...


#: ``(chain, saved state or None) -> status model``
StatusFactory = Callable[[ResolvedChain, dict[str, Any] | None], StatusModelLike]
#: ``(chain, down_for_s) -> now-cast as a JSON-able dict`` (runs in a worker thread)
Nowcaster = Callable[[str, float], dict[str, Any]]


def default_status_factory(model: Any, catalog: Any) -> StatusFactory:
    """Status models from :mod:`seqrisk.monitor.status` for the fitted outage ``model`` (one fit for all chains),
    each with its chain's status settings; a saved state resumes where the last run stopped."""
    from seqrisk.monitor.status import StatusModel

    def make(chain: ResolvedChain, saved: dict[str, Any] | None) -> StatusModelLike:
        if saved is not None:
            return StatusModel.from_state(chain.id, saved, model=model, catalog=catalog, **chain.status)
        return StatusModel.for_chain(chain.id, model=model, catalog=catalog, **chain.status)
    return make


def default_nowcaster(model: Any, catalog: Any, cfg: MonitorConfig) -> Nowcaster:
    """The now-cast of :mod:`seqrisk.monitor.nowcast` with the config's books, scenario, paths and seed. The books
    and the scenario are read here, at start: a bad file stops the monitor before it watches anything, rather
    than failing each down alert's now-cast."""
    from seqrisk.engine import load_scenario
    from seqrisk.monitor.nowcast import nowcast
    from seqrisk.portfolio import load_book

    n = cfg.nowcast
    books = [load_book(b, chains=catalog.chain_ids()) for b in n.books]
    scenario = None if n.scenario is None else load_scenario(n.scenario)

    def run(chain: str, down_for_s: float) -> dict[str, Any]:
        out: dict[str, Any] = nowcast(chain, down_for_s, model=model, books=books, paths=n.paths, seed=n.seed,
                                      catalog=catalog, scenario=scenario).to_dict()
        return out
    return run


@dataclass
class _Chain:
    spec: ResolvedChain
    pollers: list[EndpointPoller]
    model: StatusModelLike
    machine: AlertMachine
    previous_state: str | None = None
    last_status: Status | None = None
    last_refresh_utc: float = float("-inf")
    dispatching: int = 0
    refreshing: bool = False
    probe_index: int = 0
    probe_hash: str | None = None         # the accepted probe not yet seen in a block
    probe_since_utc: float | None = None  # when it was accepted
    feed_error: str | None = None
    rounds: int = 0
    errors: int = 0


@dataclass
class _Counts:
    alerts: int = 0
    sent: int = 0
    failed: int = 0
    round_errors: int = 0
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


def looks_late(status: Status, late_after_s: float | None) -> bool:
    """Whether a chain is polled quickly after this status: degraded, or its head silent for ``late_after_s``
    or longer (the status model's slow-block threshold), and not yet judged down."""
    return status.state != "down" and (status.state == "degraded" or
                                       (late_after_s is not None and status.down_for_s >= late_after_s))


class Monitor:
    """Watches ``chains`` as ``cfg`` says. ``store`` (a state store) is optional; so are metrics.

    ``clock`` is the observer's clock (UTC epoch seconds); ``transport`` an httpx async transport for
    tests; ``l1_client`` builds the L1 client from endpoint URLs (default :class:`~seqrisk.rpc.RpcClient`).
    """

    def __init__(self, cfg: MonitorConfig, chains: Sequence[ResolvedChain], *, status_factory: StatusFactory,
                 nowcaster: Nowcaster | None = None, store: MonitorStore | None = None,
                 metrics: MonitorMetrics | None = None, clock: Callable[[], float] = time.time,  # clock-ok
                 transport: httpx.AsyncBaseTransport | None = None,
                 l1_client: Callable[[Sequence[str], int], RpcClient] | None = None,
                 dead_letter: Path | None = None, environ: Mapping[str, str] | None = None, seed: int = 0) -> None:
        self.cfg = cfg
        self.chains = list(chains)
        self.status_factory = status_factory
        self.nowcaster = nowcaster
        self.store = store
        self.metrics = metrics or MonitorMetrics()
        self.clock = clock
        self.transport = transport
        self.l1_client = l1_client or (lambda eps, cid: RpcClient(eps, chain_id=cid, timeout_s=10.0, max_retries=1,
                                                                  concurrency=2))
        self.dead_letter = dead_letter
        self.environ = environ
        self._rng = random.Random(seed)
        self.counts = _Counts()
        self._chains: dict[str, _Chain] = {}
        self._watchers: list[L1Watcher] = []
        self._hooks: list[WebhookSettings] = list(cfg.alerts.webhooks)
        labels = [h.label for h in self._hooks]
        if len(set(labels)) != len(labels):
            raise SeqriskError("two webhooks share a name: give each a distinct name", field="alerts.webhooks")
        self.stopped = asyncio.Event()

    # -- set-up ---------------------------------------------------------------------
    def _setup(self, http: httpx.AsyncClient, sem: asyncio.Semaphore) -> None:
        a = self.cfg.alerts
        for spec in self.chains:
            saved = self.store.load(spec.id) if self.store is not None else None
            try:
                model = self.status_factory(spec, saved.status_model if saved else None)
            except (SeqriskError, ValueError, KeyError, TypeError) as exc:
                if saved is None or saved.status_model is None:
                    raise
                log.warning("%s: saved status model not usable (%s); starting afresh", spec.id, exc)
                model = self.status_factory(spec, None)
            machine = AlertMachine(spec.id, raise_rounds=a.raise_rounds, clear_rounds=a.clear_rounds,
                                   degraded=a.degraded)
            if saved is not None:
                try:
                    machine = AlertMachine.from_state(spec.id, saved.alerting, raise_rounds=a.raise_rounds,
                                                      clear_rounds=a.clear_rounds, degraded=a.degraded)
                except (ValueError, TypeError) as exc:
                    log.warning("%s: saved alert state not usable (%s); starting healthy", spec.id, exc)
            names = [redact(u) for u in spec.endpoints]
            pollers = [EndpointPoller(u, http, chain_id=spec.chain_id, feed=spec.feed, timeout_s=self.cfg.timeout_s,
                                      semaphore=sem, name=n if names.count(n) == 1 else f"{n}#{i + 1}")
                       for i, (u, n) in enumerate(zip(spec.endpoints, names, strict=True))]
            ch = _Chain(spec, pollers, model, machine,
                        previous_state=self.store.last_state(spec.id) if self.store is not None else None)
            self._chains[spec.id] = ch
            self.metrics.set_alerted(spec.id, machine.state)
        l1 = self.cfg.l1
        watched = {c.id: (c.inbox, c.posters) for c in self.chains
                   if c.inbox is not None and c.settlement_chain_id in (None, l1.chain_id)}
        if l1.endpoints and watched:
            w = L1Watcher(self.l1_client(list(l1.endpoints), l1.chain_id),
                          {k: (v[0], v[1]) for k, v in watched.items() if v[0] is not None},
                          lookback_blocks=l1.lookback_blocks, max_blocks_per_round=l1.max_blocks_per_round)
            if self.store is not None:
                for c in watched:
                    if (t := self.store.last_posting_utc(c)) is not None:
                        w.seed(c, t)
            self._watchers.append(w)

    def l1_batch_age_s(self, chain: str, now_utc: float) -> float | None:
        for w in self._watchers:
            if chain in w.chains:
                return w.batch_age_s(chain, now_utc)
        return None

    # -- running --------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Monitor]:
        """Set up (HTTP client, chains resumed from the store, pending deliveries restarted); on exit wait for
        the deliveries in flight. :meth:`run` uses it; a test can call :meth:`round` inside it."""
        limits = httpx.Limits(max_connections=self.cfg.concurrency, max_keepalive_connections=self.cfg.concurrency)
        async with httpx.AsyncClient(transport=self.transport, limits=limits, timeout=self.cfg.timeout_s) as http:
            self._http = http
            self._setup(http, asyncio.Semaphore(self.cfg.concurrency))
            if self.store is not None:
                for p in self.store.pending_deliveries():
                    hook = next((h for h in self._hooks if h.label == p.receiver), None)
                    if hook is not None:
                        self._spawn(self._send(hook, p.alert_id, p.fingerprint, p.document))
            try:
                yield self
            finally:
                await self.drain()

    async def drain(self) -> None:
        """Wait for every now-cast and delivery in flight."""
        while self.counts.tasks:
            await asyncio.gather(*list(self.counts.tasks), return_exceptions=True)

    async def run(self, *, rounds: int | None = None, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or each chain has done ``rounds`` rounds); then wait for deliveries."""
        stop = stop or asyncio.Event()
        async with self.session():
            loops = [asyncio.create_task(self._chain_loop(ch, rounds, stop)) for ch in self._chains.values()]
            side = [asyncio.create_task(self._l1_loop(w, stop)) for w in self._watchers]
            side += [asyncio.create_task(self._probe_loop(ch, stop)) for ch in self._chains.values()
                     if ch.spec.probe is not None]
            if self.store is not None and self.cfg.retention_days is not None:
                side.append(asyncio.create_task(self._prune_loop(self.store, self.cfg.retention_days, stop)))
            try:
                await asyncio.gather(*loops)
            finally:
                stop.set()
                for t in side:
                    t.cancel()
                await asyncio.gather(*side, return_exceptions=True)
        self.stopped.set()

    def _spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self.counts.tasks.add(t)
        t.add_done_callback(self.counts.tasks.discard)

    async def _chain_loop(self, ch: _Chain, rounds: int | None, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not stop.is_set() and (rounds is None or ch.rounds < rounds):
            try:
                await self.round(ch.spec.id)
            except Exception:  # a bug in one round must not stop the watch: logged with its traceback, counted
                ch.errors += 1
                self.counts.round_errors += 1
                log.exception("%s: round failed", ch.spec.id)
            ch.rounds += 1
            due += self.interval_after(ch.spec.id)
            delay = due - loop.time()
            if delay < 0:
                due, delay = loop.time(), 0.0
            if rounds is not None and ch.rounds >= rounds:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    def interval_after(self, chain: str) -> float:
        """Seconds from this round of ``chain`` to its next: ``suspect_interval_s`` while the chain looks late
        (its head silent past the status model's slow-block threshold, or its status degraded) and is not yet
        judged down, so that a stall is called as soon as the silence says so rather than at the next regular
        round; ``interval_s`` otherwise (a chain judged down is watched at the usual pace)."""
        ch, fast, every = self._chains[chain], self.cfg.suspect_interval_s, self.cfg.interval_s
        st = ch.last_status
        if fast is None or st is None or st.state == "down":
            return every
        late_after = getattr(getattr(ch.model, "config", None), "slow_after", None)
        return min(fast, every) if looks_late(st, late_after) else every

    async def round(self, chain: str) -> tuple[RoundResult, Status, Transition | None]:
        """One round of ``chain``: poll, score, alert, store, metrics."""
        ch = self._chains[chain]
        now = self.clock()
        res = await poll_round(chain, ch.pollers, now, l1_batch_age_s=self.l1_batch_age_s(chain, now))
        if ch.probe_since_utc is not None:
            res = dataclasses.replace(res, evidence=dataclasses.replace(
                res.evidence, probe_pending_s=max(now - ch.probe_since_utc, 0.0)))
        status = ch.model.update(res.evidence)
        for o in res.evidence.observations:
            if o.head_number is None:
                log.debug("%s: %s unreachable: %s", chain, o.endpoint, o.error)
        if res.feed_error != ch.feed_error and (res.feed_error is not None or res.feed is not None):
            if res.feed_error is not None:
                log.warning("%s: uptime feed not read: %s (counted every round, logged once)", chain, res.feed_error)
            else:
                log.info("%s: uptime feed read again", chain)
            ch.feed_error = res.feed_error
        tr = ch.machine.step(status)
        doc = alert_document(tr, status) if tr is not None else None
        receivers = [h.label for h in self._hooks]
        alert_id = None
        stored = self.store is not None
        if self.store is not None:
            try:
                alert_id = self.store.record_round(
                    status, res.evidence.observations, feed_up=res.evidence.feed_up,
                    l1_batch_age_s=res.evidence.l1_batch_age_s, previous_state=ch.previous_state,
                    status_model=ch.model.to_state(), alerting=ch.machine.to_state(), transition=tr, document=doc,
                    receivers=receivers)
            except (sqlite3.Error, SeqriskError) as exc:  # the watch and the alert go on without the store
                stored = False
                self.counts.round_errors += 1
                log.error("%s: round not stored: %s", chain, exc)
        if ch.previous_state is not None and ch.previous_state != status.state:
            log.info("%s: status %s -> %s (p_down %.3f)", chain, ch.previous_state, status.state, status.p_down)
        ch.previous_state = status.state
        ch.last_status = status
        self.metrics.observe_round(res, status)
        self.metrics.set_alerted(chain, ch.machine.state)
        if tr is not None and doc is not None and (not stored or alert_id is not None):
            self.counts.alerts += 1
            self.metrics.alerts.labels(chain, tr.kind).inc()
            if tr.to_state == "down":
                self.metrics.detection_latency.labels(chain).set(tr.detection_latency_s)
            if tr.to_state == "healthy":
                log.warning("ALERT resolved %s: %s -> healthy after %.0f s, p_down %.3f", chain, tr.from_state,
                            tr.at_utc - tr.incident_start_utc, status.p_down)
            else:
                log.warning("ALERT %s %s: %s -> %s, p_down %.3f, head silent %.0f s, raised %.0f s after the head "
                            "last moved", tr.kind, chain, tr.from_state, tr.to_state, status.p_down,
                            status.down_for_s, tr.detection_latency_s)
            self._spawn(self._dispatch(ch, tr, status, alert_id))
        elif ch.machine.state != "healthy" and now - ch.last_refresh_utc >= self.cfg.nowcast.refresh_s and \
                not ch.dispatching and not ch.refreshing:  # never ahead of the alert it refreshes, one at a time
            ch.last_refresh_utc = now
            ch.refreshing = True
            self._spawn(self._refresh(ch, status))
        return res, status, tr

    # -- now-cast and delivery ----------------------------------------------------------
    async def _nowcast(self, ch: _Chain, status: Status) -> tuple[dict[str, Any] | None, str | None]:
        if self.nowcaster is None:
            return None, None
        try:
            nc = await asyncio.to_thread(self.nowcaster, ch.spec.id, status.down_for_s)
        except (SeqriskError, ValueError, OSError) as exc:
            log.warning("%s: now-cast failed: %s", ch.spec.id, exc)
            return None, str(exc)
        for row in nc.get("p_still_down", ()) if isinstance(nc, dict) else ():
            if isinstance(row, dict) and "at" in row and isinstance(row.get("p"), int | float):
                self.metrics.nowcast.labels(ch.spec.id, str(row["at"])).set(float(row["p"]))
        return nc, None

    async def _refresh(self, ch: _Chain, status: Status) -> None:
        """While a chain is alerted down or degraded: a fresh now-cast (down), and the firing alert posted again
        to Alertmanager receivers (Alertmanager resolves an alert nobody re-sends within its resolve_timeout)."""
        try:
            nc = None
            if ch.machine.state == "down":
                nc, _err = await self._nowcast(ch, status)
                if nc is not None and self.store is not None:
                    self.store.set_nowcast(ch.spec.id, nc)
            am = [h for h in self._hooks if h.format == "alertmanager"]
            if am:
                start = ch.machine.incident_start_utc
                tr = Transition(ch.spec.id, "healthy", ch.machine.state, status.observed_utc,
                                start if start is not None else status.observed_utc - status.down_for_s,
                                status.p_down)
                doc = {"alertmanager": alertmanager_alerts(tr, status, nc)}
                await asyncio.gather(*(self._send(h, None, tr.fingerprint, doc) for h in am))
        finally:
            ch.refreshing = False

    async def _dispatch(self, ch: _Chain, tr: Transition, status: Status, alert_id: int | None) -> None:
        ch.last_refresh_utc = status.observed_utc
        ch.dispatching += 1
        try:
            nc, err = (await self._nowcast(ch, status)) if tr.to_state == "down" else (None, None)
            doc = alert_document(tr, status, nc, err)
            if self.store is not None:
                self.store.set_nowcast(ch.spec.id, nc if tr.to_state == "down" else None, alert_id, doc)
            await asyncio.gather(*(self._send(h, alert_id, tr.fingerprint, doc) for h in self._hooks))
        finally:
            ch.dispatching -= 1

    async def _send(self, hook: WebhookSettings, alert_id: int | None, fingerprint: str, doc: dict[str, Any]) -> None:
        payload = doc.get("alertmanager", []) if hook.format == "alertmanager" else doc
        body = json.dumps(payload, sort_keys=True, default=str).encode()
        out = await deliver(self._http, hook, fingerprint, body, secret=hook.secret(self.environ), clock=self.clock,
                            rng=self._rng)
        if out.ok:
            self.counts.sent += 1
            self.metrics.sent.labels(hook.label).inc()
        else:
            self.counts.failed += 1
            self.metrics.failed.labels(hook.label).inc()
            log.error("alert %s not delivered to %s after %d attempts (%s)%s", fingerprint, hook.label, out.attempts,
                      out.error, "" if self.dead_letter is None else f"; written to {self.dead_letter}")
            if self.dead_letter is not None:
                append_dead_letter(self.dead_letter, fingerprint, hook.label, payload, out, self.clock())
        if self.store is not None and alert_id is not None:
            self.store.delivered(alert_id, hook.label, out.ok, out.attempts, out.error, self.clock())

    # -- L1 and probes ------------------------------------------------------------------
    async def _l1_loop(self, w: L1Watcher, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                found = await asyncio.to_thread(w.step)
                if found and self.store is not None:
                    self.store.add_postings([(p.chain, p.l1_block, p.l1_time_utc, p.tx_hash) for p in found])
            except SeqriskError as exc:
                self.metrics.poll_failures.labels("l1", redact(w.client.endpoints[0])).inc()
                log.warning("L1 batch postings not read: %s", exc)
            except Exception:  # a bug here must not end the L1 watch silently
                self.metrics.poll_failures.labels("l1", redact(w.client.endpoints[0])).inc()
                log.exception("L1 batch postings not read")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cfg.l1.interval_s)

    async def _prune_loop(self, store: MonitorStore, days: float, stop: asyncio.Event) -> None:
        """Hourly, from the start: per-round rows older than ``days`` go (the store would grow ~15 MB per chain
        per day at a 2 s interval)."""
        while not stop.is_set():
            try:
                n = store.prune(list(self._chains), self.clock() - days * 86400.0)
                if n:
                    log.info("deleted %d per-round rows older than %g days", n, days)
            except (sqlite3.Error, SeqriskError) as exc:
                log.error("old rounds not deleted: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 3600.0)

    async def _probe_loop(self, ch: _Chain, stop: asyncio.Event) -> None:
        """Send the chain's probe every ``every_s``; while an accepted one waits, look for its receipt every
        polling interval (the rounds weigh how long it has waited: ``Evidence.probe_pending_s``)."""
        probe = ch.spec.probe
        assert probe is not None
        url = ch.spec.endpoints[0]
        loop = asyncio.get_running_loop()
        next_send = loop.time()
        while not stop.is_set():
            if ch.probe_hash is not None and await self.probe_included(url, ch.probe_hash, probe.timeout_s):
                log.info("%s: probe transaction %s included %.0f s after it was accepted", ch.spec.id,
                         ch.probe_hash, self.clock() - (ch.probe_since_utc or self.clock()))
                ch.probe_hash, ch.probe_since_utc = None, None
                ch.probe_index = min(ch.probe_index + 1, len(probe.raw_tx) - 1)
                next_send = loop.time() + probe.every_s
            if loop.time() >= next_send:
                sent_utc = self.clock()
                answer = await self.send_probe(url, probe.raw_tx[ch.probe_index], probe.timeout_s)
                self.metrics.probe_ok.labels(ch.spec.id).set(0.0 if answer is None else 1.0)
                if answer is None:
                    log.info("%s: probe transaction got no answer", ch.spec.id)
                elif answer[0] == "accepted" and ch.probe_hash is None:
                    ch.probe_hash, ch.probe_since_utc = answer[1], sent_utc
                elif answer[0] == "refused" and ch.probe_hash is None:  # used or invalid: the next one, if any
                    ch.probe_index = min(ch.probe_index + 1, len(probe.raw_tx) - 1)
                next_send = loop.time() + probe.every_s
            pending = ch.probe_since_utc
            self.metrics.probe_pending.labels(ch.spec.id).set(0.0 if pending is None else self.clock() - pending)
            wait = min(self.cfg.interval_s, max(next_send - loop.time(), 0.0)) if ch.probe_hash is not None \
                else max(next_send - loop.time(), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def _rpc(self, url: str, method: str, params: list[Any], timeout_s: float) -> dict[str, Any] | None:
        """One JSON-RPC call; its answer document, or None when there was no well-formed answer in time."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        try:
            r = await asyncio.wait_for(self._http.post(url, content=body, headers={"content-type": "application/json"},
                                                       timeout=timeout_s), timeout_s + 0.5)
            doc = r.json()
        except (TimeoutError, httpx.HTTPError, OSError, ValueError):
            return None
        return doc if r.status_code == 200 and isinstance(doc, dict) and ("result" in doc or "error" in doc) \
            else None

    async def send_probe(self, url: str, raw_tx: str, timeout_s: float) -> tuple[str, str | None] | None:
        """Send ``raw_tx``: ``("accepted", tx hash)``, ``("refused", message)``, or None when the sequencer did not
        answer."""
        doc = await self._rpc(url, "eth_sendRawTransaction", [raw_tx], timeout_s)
        if doc is None:
            return None
        if "error" in doc:
            err = doc["error"]
            return "refused", str(err.get("message") if isinstance(err, dict) else err)
        res = doc["result"]
        return ("accepted", res) if isinstance(res, str) else ("refused", None)

    async def probe(self, url: str, raw_tx: str, timeout_s: float) -> bool:
        """Send ``raw_tx``; True when the sequencer answered (accepted it or refused it with a JSON-RPC error)."""
        return await self.send_probe(url, raw_tx, timeout_s) is not None

    async def probe_included(self, url: str, tx_hash: str, timeout_s: float) -> bool:
        """True when ``tx_hash`` has a receipt (it is in a block); False when not, or when nobody answered."""
        doc = await self._rpc(url, "eth_getTransactionReceipt", [tx_hash], timeout_s)
        return doc is not None and isinstance(doc.get("result"), dict)
