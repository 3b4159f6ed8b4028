"""``seqrisk monitor --config FILE``: the live monitor; ``seqrisk monitor status``: what it has stored.

The monitor runs until interrupted (Ctrl-C or SIGTERM end it cleanly: the round in progress is committed,
pending deliveries are finished or left pending for the next start). ``status`` reads the state store
while a monitor writes it (SQLite WAL).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli.app import app, state
from seqrisk.cli.modeling import catalog_provenance
from seqrisk.cli.render import JsonOpt, console, echo_json, set_quiet, table
from seqrisk.exceptions import UsageError
from seqrisk.units import format_duration

__all__: list[str] = []

monitor_app = typer.Typer(help="Watch sequencers live: status with a probability, alerts, metrics.",
                          invoke_without_command=True)
app.add_typer(monitor_app, name="monitor")

#: Exit code of ``monitor status`` when a watched chain is alerted degraded or down.
EXIT_ALERTED = 3


class _JsonLines(logging.Formatter):
    """A log record as one JSON object (``{"schema": "seqrisk.monitor/1", "time_utc", "level", "message"}``)."""

    def format(self, record: logging.LogRecord) -> str:
        from seqrisk.schemas import output_id

        return json.dumps({"schema": output_id("monitor"), "time_utc": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)), "level": record.levelname.lower(),
            "message": record.getMessage()}, ensure_ascii=False)


def _logging(level: int, as_json: bool = False) -> None:
    h = logging.StreamHandler(sys.stderr)
    fmt: logging.Formatter = _JsonLines() if as_json else logging.Formatter("%(asctime)sZ %(levelname)s %(message)s",
                                                                              "%Y-%m-%dT%H:%M:%S")
    fmt.converter = time.gmtime
    h.setFormatter(fmt)
    lg = logging.getLogger("seqrisk.monitor")
    lg.handlers[:] = [h]
    lg.setLevel(level)
    lg.propagate = False


@monitor_app.callback()
def monitor_cmd(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Monitor config (YAML): chains, endpoints, "
                                                "webhooks, metrics; docs/monitor.md.")] = None,
    rounds: Annotated[int | None, typer.Option("--rounds", min=1, help="Stop after this many rounds per chain "
                                               "(default: run until interrupted).")] = None,
    metrics_port: Annotated[int | None, typer.Option("--metrics-port", min=0, max=65535,
                                                     help="Prometheus endpoint port (overrides the config; 0: any "
                                                     "free port).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", callback=set_quiet, help="Log alerts and failures "
                                        "only.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every unreachable endpoint too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Log as JSON lines on stderr, one object a record "
                                          "(layout: seqrisk schema output monitor).")] = False,
) -> None:
    """Run the monitor (``--config FILE``), or a subcommand."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        raise UsageError("give the monitor's config (--config FILE; docs/monitor.md), or a subcommand: status",
                         field="--config")
    from seqrisk.monitor.config import load_monitor_config, resolve_chains

    cfg = load_monitor_config(config)
    chains = resolve_chains(cfg, state.catalog, file=str(config))
    if metrics_port is not None:
        cfg = cfg.model_copy(update={"metrics": cfg.metrics.model_copy(update={"port": metrics_port})})
    _logging(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO, as_json)
    import asyncio  # the event loop is the monitor's own: not a start-up cost of every command

    asyncio.run(_run(cfg, chains, rounds))


async def _run(cfg: Any, chains: Any, rounds: int | None) -> None:
    import asyncio

    from seqrisk.cli.modeling import fitted_model
    from seqrisk.monitor.metrics import MonitorMetrics
    from seqrisk.monitor.persist import MonitorStore
    from seqrisk.monitor.runner import Monitor, default_nowcaster, default_status_factory

    log = logging.getLogger("seqrisk.monitor")
    model, _stats, _prov = fitted_model(cfg.nowcast.model, None)
    catalog = state.catalog
    store = state.home.open_state() if cfg.store else None
    metrics = MonitorMetrics()
    try:
        if cfg.metrics.port is not None:
            try:
                port = metrics.serve(cfg.metrics.host, cfg.metrics.port)
            except OSError as exc:
                raise UsageError(f"cannot serve metrics: {exc.strerror or exc}", field="metrics.port",
                                 value=cfg.metrics.port) from None
            log.info("metrics at http://%s:%d/metrics", cfg.metrics.host, port)
        mon = Monitor(cfg, chains, status_factory=default_status_factory(model, catalog),
                      nowcaster=default_nowcaster(model, catalog, cfg),
                      store=MonitorStore(store) if store is not None else None, metrics=metrics,
                      dead_letter=cfg.alerts.dead_letter or state.home.root / "monitor-dead-letter.jsonl")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("watching %s every %g s", ", ".join(c.id for c in chains), cfg.interval_s)
        await mon.run(rounds=rounds, stop=stop)
        log.info("stopped: %d alerts, %d delivered, %d failed", mon.counts.alerts, mon.counts.sent, mon.counts.failed)
    finally:
        metrics.close()
        if store is not None:
            store.close()


@monitor_app.command("status")
def status_cmd(
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", callback=set_quiet, help="Print nothing; exit 3 when a "
                                        "watched chain is alerted degraded or down, 0 when all are healthy.")
                     ] = False,
    alerts: Annotated[int, typer.Option("--alerts", min=0, max=10_000, help="How many recent alerts to list.")] = 10,
) -> None:
    """Show each watched chain's last status and alerted state, and the latest alerts, from the store."""
    from seqrisk.monitor.persist import MonitorStore

    with state.home.state() as st:
        doc = MonitorStore(st).status_report(alerts=alerts)
    alerted = [c for c in doc["chains"] if c.get("alerted_state") not in (None, "healthy")]
    if as_json:
        echo_json("monitor.status", doc, catalog_provenance())
    elif not quiet:
        _render(doc)
    if alerted:
        raise typer.Exit(EXIT_ALERTED)


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "-"
    if unit == "s":
        return format_duration(float(v))
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _render(doc: dict[str, Any]) -> None:
    out = console()
    if not doc["chains"]:
        out.print("no monitor has written to this store yet: run `seqrisk monitor --config FILE`")
        return
    t = table(None, "chain", "state", "p_down", "alerted", "head", "head age", "feed", "L1 batch age",
              right=("p_down", "head", "head age", "L1 batch age"))
    for c in doc["chains"]:
        feed = None if c.get("feed_up") is None else ("up" if c["feed_up"] else "DOWN")
        t.add_row(c["chain"], _fmt(c.get("state")), _fmt(c.get("p_down")), _fmt(c.get("alerted_state")),
                  _fmt(c.get("head_number")), _fmt(c.get("head_age_observer_s"), "s"), _fmt(feed),
                  _fmt(c.get("l1_batch_age_s"), "s"))
    out.print(t)
    for c in doc["chains"]:
        nc = c.get("nowcast")
        if c.get("alerted_state") == "down" and nc:
            rows = ", ".join(f"{r['at']} {r['p']:.2f}" for r in nc.get("p_still_down", []) if "at" in r)
            out.print(f"{c['chain']}: down for {format_duration(float(nc.get('down_for_s', 0)))}; P(still down): "
                      f"{rows}", soft_wrap=True)
    if doc["alerts"]:
        a = table("\nRecent alerts", "id", "chain", "kind", "p_down", "deliveries", right=("id", "p_down"))
        for r in doc["alerts"]:
            a.add_row(str(r["id"]), r["chain"], r["kind"], _fmt(r.get("p_down")),
                      ", ".join(f"{k}: {v}" for k, v in r["deliveries"].items()) or "-")
        out.print(a)
