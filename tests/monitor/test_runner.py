"""The monitor process over faked endpoints and receivers, with the real status model and now-cast."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from seqrisk.catalog import load_catalog
from seqrisk.monitor.config import MonitorConfig, load_monitor_config, resolve_chains
from seqrisk.monitor.metrics import MonitorMetrics
from seqrisk.monitor.persist import MonitorStore
from seqrisk.monitor.runner import Monitor, default_nowcaster, default_status_factory
from seqrisk.monitor.webhook import verify
from seqrisk.stats import fit_outage_statistics
from seqrisk.store import StateStore

CAT = load_catalog()
SECRET = "s3cret"


@pytest.fixture(scope="module")
def model() -> Any:
    return fit_outage_statistics(CAT).model


class Chain:
    """A fake L2 behind two endpoints: the head moves while ``live``; endpoint b can be made to fail."""

    def __init__(self) -> None:
        self.head, self.t, self.live, self.b_fails = 100, 1_000_000, True, False

    def tick(self) -> None:
        if self.live:
            self.head += 1
            self.t += 1

    def answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "b.test" and self.b_fails:
            return httpx.Response(502)
        out = []
        for c in json.loads(request.content):
            if c["method"] == "eth_chainId":
                out.append({"id": c["id"], "result": hex(8453)})
            elif c["params"][0] == "latest":
                out.append({"id": c["id"], "result": {
                    "number": hex(self.head), "timestamp": hex(self.t), "hash": "0x" + f"{self.head:064x}",
                    "parentHash": "0x" + f"{self.head - 1:064x}", "gasUsed": "0x0", "transactions": []}})
            else:
                out.append({"id": c["id"], "error": {"code": -32602, "message": "no such tag"}})
        return httpx.Response(200, json=out)


class Receiver:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.got: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.got.append(request)
        return httpx.Response(500 if self.fail else 200)


def config(tmp_path: Path, hooks: list[dict[str, Any]]) -> MonitorConfig:
    return load_monitor_config(data={
        "chains": [{"id": "base", "endpoints": ["http://a.test/", "http://b.test/"], "feed": "none", "inbox": "none",
                    "status": {"block_time_s": 1.0}}],
        "interval_s": 1, "timeout_s": 1, "metrics": {"port": None},
        "alerts": {"raise_rounds": 2, "clear_rounds": 3, "webhooks": hooks},
        "nowcast": {"paths": 200}})


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.5

    def __call__(self) -> float:
        return self.t


async def drive(mon: Monitor, chain: Chain, clock: Clock, live: list[bool]) -> list[Any]:
    out = []
    for up in live:
        chain.live = up
        chain.tick()
        clock.t += 1.0
        out.append(await mon.round("base"))
    return out


def make(tmp_path: Path, model: Any, chain: Chain, receivers: dict[str, Receiver], store: StateStore,
         hooks: list[dict[str, Any]], clock: Clock) -> Monitor:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host in ("a.test", "b.test"):
            return chain.answer(request)
        return receivers[request.url.host](request)
    cfg = config(tmp_path, hooks)
    return Monitor(cfg, resolve_chains(cfg, CAT), status_factory=default_status_factory(model, CAT),
                   nowcaster=default_nowcaster(model, CAT, cfg), store=MonitorStore(store),
                   metrics=MonitorMetrics(), clock=clock, transport=httpx.MockTransport(handler),
                   dead_letter=tmp_path / "dead.jsonl", environ={"HOOK_SECRET": SECRET})


HOOKS = [{"url": "http://ok.test/hook", "name": "ok", "secret_env": "HOOK_SECRET"},
         {"url": "http://am.test/api/v2/alerts", "name": "am", "format": "alertmanager", "retries": 0},
         {"url": "http://dead.test/hook", "name": "dead", "retries": 1, "backoff_s": 0}]


def test_a_stall_is_alerted_once_signed_with_the_nowcast_and_resumed_after_restart(tmp_path: Path, model: Any
                                                                                   ) -> None:
    chain, clock = Chain(), Clock()
    recv = {"ok.test": Receiver(), "am.test": Receiver(), "dead.test": Receiver(fail=True)}
    path = tmp_path / "state.sqlite"

    async def first() -> list[Any]:
        with StateStore(path) as st:
            mon = make(tmp_path, model, chain, recv, st, HOOKS, clock)
            async with mon.session():
                chain.b_fails = True  # one endpoint failing while the head moves: no alarm
                rs = await drive(mon, chain, clock, [True] * 30)
                chain.b_fails = False
                rs += await drive(mon, chain, clock, [False] * 120)
                await mon.drain()  # the down alert delivered (its now-cast runs in a thread) ...
                rs += await drive(mon, chain, clock, [False] * 61)  # ... then a refresh is due within 61 rounds
            assert mon.counts.alerts == 1 or mon.counts.alerts == 2  # down (maybe degraded first)
            return rs
    rs = asyncio.run(first())
    states = [r[1].state for r in rs]
    assert set(states[:30]) == {"healthy"}
    assert states[-1] == "down"
    trs = [r[2] for r in rs if r[2] is not None]
    assert trs[-1].to_state == "down"
    down = trs[-1]
    # the incident starts when the head last moved (round 30), and is alerted within the silence
    assert down.incident_start_utc == pytest.approx(1_000_000.5 + 30, abs=1.0)
    ok = [json.loads(r.content) for r in recv["ok.test"].got]
    assert [d["to_state"] for d in ok] == [t.to_state for t in trs]
    doc = ok[-1]
    assert doc["p_down"] >= 0.9 and doc["nowcast"]["chain"] == "base" and doc["nowcast"]["p_still_down"]
    assert 0 < doc["nowcast"]["p_still_down"][0]["p"] <= 1
    r = recv["ok.test"].got[-1]
    assert verify(SECRET.encode(), r.headers["x-seqrisk-timestamp"], r.content, r.headers["x-seqrisk-signature"],
                  now_utc=clock.t)
    by_id = {r.headers["x-seqrisk-alert-id"]: json.loads(r.content) for r in recv["am.test"].got}
    down_am = by_id[down.fingerprint]
    assert down_am[-1]["labels"]["alertname"] == "L2SequencerDown" and "endsAt" not in down_am[-1]
    # while down, the firing alert is posted to Alertmanager again every refresh_s (60 s: 120 rounds of 1 s
    # after the stall began), unchanged but for its annotations, so Alertmanager never resolves it on its own
    reposts = [d for k, d in by_id.items() if k not in {t.fingerprint for t in trs}]
    assert len(reposts) >= 1 and len(by_id) == len(trs) + len(reposts)
    for rp in reposts:
        (firing,) = rp
        assert firing["labels"] == down_am[-1]["labels"] and "endsAt" not in firing
        assert firing["startsAt"] == down_am[-1]["startsAt"]
    # nothing reaches Alertmanager before the change it refreshes
    sent = [r.headers["x-seqrisk-alert-id"] for r in recv["am.test"].got]
    assert sent.index(down.fingerprint) < min(sent.index(k) for k in by_id if k not in {t.fingerprint for t in trs})
    dead = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert len(dead) == len(trs) and len(recv["dead.test"].got) == 2 * len(trs)  # 1 retry each, then dead-lettered
    with StateStore(path) as st:
        rep = MonitorStore(st).status_report()
        assert rep["chains"][0]["alerted_state"] == "down"
        statuses = {a["deliveries"]["ok"] for a in rep["alerts"]} | {a["deliveries"]["dead"] for a in rep["alerts"]}
        assert statuses == {"sent", "failed"}
    sent_before = len(recv["ok.test"].got)

    async def second() -> list[Any]:  # a new process on the same store: still down, then the head moves again
        with StateStore(path) as st:
            mon = make(tmp_path, model, chain, recv, st, HOOKS, clock)
            async with mon.session():
                rs = await drive(mon, chain, clock, [False] * 10 + [True] * 10)
            return rs
    rs2 = asyncio.run(second())
    trs2 = [r[2] for r in rs2 if r[2] is not None]
    assert [(t.from_state, t.to_state) for t in trs2] == [("down", "healthy")]
    new = [json.loads(r.content) for r in recv["ok.test"].got[sent_before:]]
    assert [d["kind"] for d in new] == ["resolved"]  # nothing alerted twice
    with StateStore(path) as st:
        (ev,) = MonitorStore(st).events("base")
        assert not ev.ongoing and ev.start_utc == down.incident_start_utc
        assert ev.end_utc is not None and ev.end_utc - ev.start_utc == pytest.approx(120 + 61 + 10, abs=2)


@pytest.mark.parametrize(("answer", "ok"), [
    ({"jsonrpc": "2.0", "id": 1, "result": "0x" + "ab" * 32}, True),                      # accepted
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "nonce too low"}}, True),  # refused: up
    (None, False),                                                                        # connection refused
    ("garbage", False),
])
def test_a_probe_counts_any_answer_of_the_sequencer(tmp_path: Path, answer: Any, ok: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["method"] == "eth_sendRawTransaction"
        if answer is None:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, content=answer.encode() if isinstance(answer, str) else json.dumps(answer))
    cfg = config(tmp_path, [])

    async def go() -> bool:
        mon = Monitor(cfg, [], status_factory=lambda c, s: None, transport=httpx.MockTransport(handler))  # type: ignore
        async with mon.session():
            return await mon.probe("http://a.test/", "0x02f8", 1.0)
    assert asyncio.run(go()) is ok


class ProbedNode(Chain):
    """A fake sequencer that takes probe transactions: accepted ones wait in a pool, included while ``live``
    (when a receipt is asked for); a used one is refused."""

    def __init__(self) -> None:
        super().__init__()
        self.pool: list[str] = []
        self.included: list[str] = []
        self.sent: list[str] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        doc = json.loads(request.content)
        if isinstance(doc, list):
            self.tick()
            return super().answer(request)
        if doc["method"] == "eth_sendRawTransaction":
            tx = doc["params"][0]
            self.sent.append(tx)
            if tx in self.included or tx in self.pool:
                return httpx.Response(200, json={"id": 1, "error": {"code": -32000, "message": "nonce too low"}})
            self.pool.append(tx)
            return httpx.Response(200, json={"id": 1, "result": "0xhash" + tx[2:]})
        assert doc["method"] == "eth_getTransactionReceipt"
        tx = "0x" + doc["params"][0].removeprefix("0xhash")
        if self.live and tx in self.pool:
            self.pool.remove(tx)
            self.included.append(tx)
        return httpx.Response(200, json={"id": 1, "result": {"status": "0x1"} if tx in self.included else None})


def test_probe_inclusion_feeds_the_status(tmp_path: Path, model: Any) -> None:
    """Probes are sent in turn; one the sequencer accepted but does not include makes the rounds' evidence
    (``probe_pending_s``) and the status's reasons; included, it stops counting and the next one goes out."""
    node = ProbedNode()
    cfg = load_monitor_config(data={
        "chains": [{"id": "base", "endpoints": ["http://a.test/"], "feed": "none", "inbox": "none",
                    "probe": {"raw_tx": ["0x01", "0x02", "0x03"], "every_s": "0.05s", "timeout_s": "0.5s"},
                    "status": {"block_time_s": 1.0, "probe_include_s": 0.05}}],
        "interval_s": 0.05, "timeout_s": 0.05, "metrics": {"port": None}, "store": False})
    metrics = MonitorMetrics()
    mon = Monitor(cfg, resolve_chains(cfg, CAT), status_factory=default_status_factory(model, CAT), metrics=metrics,
                  transport=httpx.MockTransport(node.answer))
    ch: Any = None

    async def until(cond: Any) -> None:
        while not cond():
            await asyncio.sleep(0.01)

    def reason() -> bool:
        st = ch.last_status
        return st is not None and any(r.startswith("probe transaction accepted, not included") for r in st.reasons)

    async def go() -> None:
        nonlocal ch
        stop = asyncio.Event()
        task = asyncio.create_task(mon.run(stop=stop))
        try:
            await until(lambda: "base" in mon._chains)
            ch = mon._chains["base"]
            await until(lambda: node.included == ["0x01"])
            node.live = False  # the sequencer stops: the next probe is accepted and waits
            await until(lambda: node.pool == ["0x02"] and reason())
            assert ch.last_status.head_number == node.head and ch.probe_hash == "0xhash02"
            assert metrics.probe_pending.labels("base")._value.get() > 0
            node.live = True
            await until(lambda: node.included == ["0x01", "0x02", "0x03"])
            await until(lambda: ch.probe_since_utc is None and not reason())
            await until(lambda: node.sent.count("0x03") >= 2)  # the last one again: refused, yet answered
        finally:
            stop.set()
            await task
    asyncio.run(asyncio.wait_for(go(), 60))
    assert metrics.probe_ok.labels("base")._value.get() == 1.0
    assert metrics.probe_pending.labels("base")._value.get() == 0.0
    assert ch.probe_index == 2 and node.pool == []


@pytest.mark.parametrize(("age_s", "faster"), [(0.0, False), (8.0, True), (7200.0, False)])
def test_a_late_chain_is_polled_faster_until_judged_down(tmp_path: Path, model: Any, age_s: float,
                                                         faster: bool) -> None:
    """Rounds every 1 s, every 0.1 s while the chain looks late: a head that keeps moving is polled at the usual
    pace, one silent for 8 s (past the 3 s slow-block threshold of a 1 s chain, not yet judged down) about ten
    times as often, one silent for two hours (judged down at once) at the usual pace again."""
    import time

    chain = Chain()
    t0 = time.time()  # clock-ok: the monitor's own loop runs on real time here

    def handler(request: httpx.Request) -> httpx.Response:
        now = time.time()  # clock-ok
        chain.head = 100 + int(now - t0) if age_s == 0.0 else 100
        chain.t = int(now) if age_s == 0.0 else int(t0 - age_s)
        return chain.answer(request)

    cfg = load_monitor_config(data={
        "chains": [{"id": "base", "endpoints": ["http://a.test/"], "feed": "none", "inbox": "none",
                    "status": {"block_time_s": 1.0}}],
        "interval_s": 1, "suspect_interval_s": 0.1, "timeout_s": 1, "metrics": {"port": None}, "store": False})
    mon = Monitor(cfg, resolve_chains(cfg, CAT), status_factory=default_status_factory(model, CAT),
                  metrics=MonitorMetrics(), transport=httpx.MockTransport(handler), environ={})

    async def go() -> int:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(1.5, stop.set)
        await mon.run(stop=stop)
        return mon._chains["base"].rounds

    rounds = asyncio.run(go())
    st = mon._chains["base"].last_status
    assert st is not None and (st.state == "down") == (age_s > 3600)
    assert mon.interval_after("base") == (0.1 if faster else 1.0)
    if faster:
        assert rounds >= 6, rounds
    else:
        assert rounds <= 3, rounds
