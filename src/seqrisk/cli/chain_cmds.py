"""``seqrisk ingest``, ``seqrisk scan``, ``seqrisk detect``: reading real chains over JSON-RPC."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqrisk.cli.app import app, state
from seqrisk.cli.interrupt import graceful_stop
from seqrisk.cli.modeling import catalog_provenance
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, messages, table
from seqrisk.exceptions import UsageError
from seqrisk.units import format_duration, parse_datetime, parse_duration

if TYPE_CHECKING:  # imported by the commands that use them: the JSON-RPC client and ingestion are not start-up costs
    from seqrisk.health import ChainHealth
    from seqrisk.ingest import IngestResult
    from seqrisk.rpc import RpcClient

__all__: list[str] = []

RpcOpt = Annotated[list[str], typer.Option("--rpc", help="JSON-RPC endpoint URL; repeat for failover, tried in order "
                                           "(default: the catalog's public endpoints for the chain).")]
ChainIdOpt = Annotated[int | None, typer.Option("--chain-id", help="Expected EVM chain id (default: the catalog's; "
                                                "another id reads a private network, e.g. 31337 for a local node).")]


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (silent when ``quiet`` or not a terminal); yields ``update(done, total)``."""
    err = messages()
    if quiet or not err.is_terminal:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
        yield update


def _client(rpc: list[str], chain_id: int | None, batch_size: int, concurrency: int, timeout_s: float,
            retries: int) -> RpcClient:
    from seqrisk.rpc import RpcClient

    if not rpc:
        raise UsageError("give at least one --rpc URL", field="--rpc")
    return RpcClient(rpc, chain_id=chain_id, batch_size=batch_size, concurrency=concurrency, timeout_s=timeout_s,
                     max_retries=retries)


def _since_block(client: RpcClient, since: str) -> int:
    from seqrisk.ingest import block_at_time

    t = parse_datetime(since, field="--since").timestamp()
    head = client.block_number()
    block, _ = block_at_time(lambda ns: [h.timestamp for h in client.headers(ns)], t, 0, head)
    if block == head and (head_t := client.header(head).timestamp) < t:
        raise UsageError(f"no block at or after this time: the node's head block {head} is from {_iso(head_t)}",
                         field="--since", value=since)
    return block


def _result_doc(r: IngestResult) -> dict[str, Any]:
    return {"chain": r.chain, "from": r.start, "to": r.end, "written": r.written, "seconds": round(r.seconds, 3),
            "headers_per_s": round(r.written / r.seconds, 1) if r.seconds > 0 else None, "calls": r.calls,
            "http_requests": r.requests,
            "reorgs": [{"depth": e.evidence["depth"], "first_orphaned": e.evidence["first_orphaned"],
                        "start_utc": _iso(e.start_utc)} for e in r.reorgs],
            "repaired": [[a, b] for a, b in r.repaired], "quarantined": [p.line() for p in r.quarantined]}


def _age(s: float | None) -> str:
    return "?" if s is None else format_duration(max(0.0, s))


def _health_doc(h: ChainHealth) -> dict[str, Any]:
    return {"observed_utc": _iso(h.observed_utc), "number": h.head_number, "time_utc": _iso(h.head_time_utc),
            "age_block_s": h.age_block_s, "age_observer_s": h.age_observer_s, "verdict": h.verdict,
            "stale_by": list(h.stale_by), "reasons": list(h.reasons), "rounds": h.rounds,
            "endpoints": [{"endpoint": e.endpoint, "head": e.head_number, "lag_blocks": e.lag_blocks,
                           "age_block_s": e.age_block_s, "age_observer_s": e.age_observer_s, "verdict": e.verdict,
                           "error": e.observation.error} for e in h.endpoints]}


def _health_line(chain: str, h: ChainHealth) -> str:
    """One line: the head, its age by block time and by the observer's clock, the verdict and why."""
    if h.head_number is None:
        return f"{chain}: no endpoint answered at {_iso(h.observed_utc)} ({h.verdict})"
    why = f" ({'; '.join(h.reasons)})" if h.reasons else ""
    return (f"{chain}: head {h.head_number} at {_iso(h.observed_utc)}: {_age(h.age_block_s)} old by its block time, "
            f"unchanged for {_age(h.age_observer_s)} by the observer's clock ({h.rounds} observations): "
            f"{h.verdict}{why}")


@app.command("ingest")
def ingest_cmd(
    chain: Annotated[str, typer.Argument(help="Chain id from the catalog (e.g. base, arbitrum).")],
    rpc: RpcOpt = [],  # noqa: B006 (typer reads the default)
    from_block: Annotated[int | None, typer.Option("--from", help="First block.")] = None,
    to_block: Annotated[int | None, typer.Option("--to", help="Last block (default: the node's head).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Start at the first block at or after this UTC "
                                              "date/time (found by binary search).")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep ingesting new blocks until interrupted.")] = False,
    poll: Annotated[str, typer.Option("--poll", help="Polling interval with --follow.")] = "5s",
    confirmations: Annotated[int, typer.Option("--confirmations", help="Stay this many blocks behind the head.")] = 0,
    chain_id: ChainIdOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="JSON-RPC calls per HTTP request.")] = 500,
    concurrency: Annotated[int, typer.Option("--concurrency", help="HTTP requests in flight.")] = 4,
    chunk: Annotated[int, typer.Option("--chunk", help="Headers per stored partition (and cursor step).")] = 20_000,
    timeout: Annotated[str, typer.Option("--timeout", help="Per-request timeout.")] = "20s",
    retries: Annotated[int, typer.Option("--retries", help="Retries per endpoint before failing over.")] = 4,
    l1_rpc: Annotated[list[str], typer.Option("--l1-rpc", help="L1 endpoint, to read batch postings.")] = [],  # noqa: B006
    batch_inbox: Annotated[str | None, typer.Option("--batch-inbox", help="The chain's batch inbox address on L1 "
                                                    "(default: the catalog's).")] = None,
    batch_sender: Annotated[list[str], typer.Option("--batch-sender", help="Only postings from this address "
                                                    "(repeatable; default: the catalog's batch posters).")]
    = [],  # noqa: B006
    l1_chain_id: Annotated[int | None, typer.Option("--l1-chain-id", help="Expected chain id of the L1 endpoint "
                                                    "(default: the catalog's settlement chain id).")] = None,
    l1_from: Annotated[int | None, typer.Option("--l1-from", help="First L1 block to read postings from.")] = None,
    l1_to: Annotated[int | None, typer.Option("--l1-to", help="Last L1 block (default: L1 head).")] = None,
    compact_above: Annotated[int, typer.Option("--compact-above", hidden=True,
                                               help="Compact when a chain has more partitions.")] = 64,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Store block headers of CHAIN from JSON-RPC: resumable, idempotent, crash-safe, reorg-aware."""
    from seqrisk.cli.targets import Target, l1_target, record_endpoints, target
    from seqrisk.ingest import Ingestor, ingest_batch_postings, l1_cursor_key
    from seqrisk.rpc import RpcClient

    home = state.home
    home.state().close()  # a lost or unreadable state database stops here, before any request
    tgt = target(state.catalog.chain(chain), rpc, chain_id, home)
    chain = tgt.chain.id
    modes = sum(x is not None for x in (from_block, since)) + int(follow)
    if sum(x is not None for x in (from_block, since)) > 1:
        raise UsageError("give --from or --since, not both", field="--from")
    if batch_inbox is not None and not l1_rpc:  # checked before any work, not after the L2 ingest
        raise UsageError("L1 postings need --l1-rpc", field="--l1-rpc")
    l1 = l1_target(tgt, batch_inbox, batch_sender, l1_chain_id) if l1_rpc else None
    if l1_rpc:
        RpcClient(l1_rpc).close()  # checks the URLs (no request is made)
    docs: list[dict[str, Any]] = []
    l1_doc: dict[str, Any] | None = None
    with _client(list(tgt.rpc), tgt.chain_id, batch_size, concurrency, parse_duration(timeout, field="--timeout"),
                 retries) as c, _progress(f"ingest {chain}", quiet or as_json) as update:
            tgt.check(c)  # a node of another chain is refused before anything is stored
            record_endpoints(home, chain, tgt.rpc)
            ing = Ingestor(c, home, chain, chunk_blocks=chunk, compact_above=compact_above, progress=update)
            if follow:
                start = from_block if from_block is not None else (_since_block(c, since) if since else None)
                waits: list[str] = []

                def on_round(r: IngestResult) -> None:
                    waits.clear()
                    if not (as_json or quiet) and (r.written or r.reorgs):
                        console().print(f"{chain}: +{r.written} blocks to {r.end}"
                                        + "".join(f"; reorg of depth {e.evidence['depth']} at block "
                                                  f"{e.evidence['first_orphaned']} replaced" for e in r.reorgs))

                def on_wait(exc: Exception) -> None:
                    if str(exc) not in waits:  # say it once, not every round
                        waits.append(str(exc))
                        messages().print(f"{chain}: waiting: {exc}", markup=False)
                def on_first_interrupt() -> None:
                    messages().print(f"{chain}: stopping after this round (Ctrl-C again to stop at once)")
                with suppress(KeyboardInterrupt), graceful_stop(on_first_interrupt) as stop:
                    ing.follow(from_block=start, poll_s=parse_duration(poll, field="--poll"),
                               confirmations=confirmations, on_round=on_round, on_wait=on_wait,
                               stop=stop.is_set, sleep=stop.wait)
            else:
                if modes == 0:
                    with home.state() as st:
                        cur = st.cursor(chain)
                    if cur is None:
                        raise UsageError("no cursor for this chain yet: give --from N, --since DATE or --follow",
                                         chain=chain, field="--from")
                    start = cur[0]
                else:
                    start = from_block if from_block is not None else _since_block(c, str(since))
                docs.append(_result_doc(ing.run(start, to_block)))  # to_block None: the node's head
                ing.observe()
    if l1 is not None:
        l1_tgt = Target(tgt.chain, tuple(l1_rpc), l1.chain_id, tgt.private,
                        "--l1-chain-id" if l1_chain_id is not None else "the catalog's settlement chain")
        with RpcClient(l1_rpc, chain_id=l1.chain_id, batch_size=batch_size, concurrency=concurrency,
                       max_retries=retries) as l1c, _progress(f"L1 postings {chain}", quiet or as_json) as update:
            if l1.chain_id is not None:
                l1_tgt.check(l1c)
            if l1_from is None:
                with home.state() as st:
                    cur = st.cursor(l1_cursor_key(chain))
                if cur is None:
                    raise UsageError("give --l1-from for the first L1 postings run", field="--l1-from")
                l1_from = cur[0]
            end = l1_to if l1_to is not None else l1c.block_number()
            pr = ingest_batch_postings(l1c, home, chain, l1.inbox, l1_from, end, sender=l1.senders or None,
                                       progress=update)
            l1_doc = {"l1_from": pr.start, "l1_to": pr.end, "postings": pr.postings}
    if as_json:
        echo_json("ingest", {"runs": docs, "l1": l1_doc}, catalog_provenance())
        return
    out = console()
    for d in docs:
        rate = f"{d['headers_per_s']:,.0f} headers/s" if d["headers_per_s"] else "-"
        out.print(f"{chain}: blocks {d['from']}..{d['to']}: {d['written']} stored in {d['seconds']:.2f}s ({rate}), "
                  f"{d['calls']} calls in {d['http_requests']} HTTP requests")
        for r in d["reorgs"]:
            out.print(f"  reorg of depth {r['depth']} at block {r['first_orphaned']} ({r['start_utc']}): replaced")
        for line in d["quarantined"]:
            out.print(f"  {line}", soft_wrap=True)
        for a, b in d["repaired"]:
            out.print(f"  blocks {a}..{b} (a quarantined partition) fetched again")
    if l1_doc:
        out.print(f"{chain}: L1 blocks {l1_doc['l1_from']}..{l1_doc['l1_to']}: {l1_doc['postings']} batch postings")


@app.command("scan")
def scan_cmd(
    chain: Annotated[str, typer.Argument(help="Chain id from the catalog.")],
    rpc: RpcOpt = [],  # noqa: B006
    since: Annotated[str | None, typer.Option("--since", help="Scan from this UTC date/time.")] = None,
    from_block: Annotated[int | None, typer.Option("--from", help="Scan from this block.")] = None,
    to_block: Annotated[int | None, typer.Option("--to", help="Scan to this block (default: head).")] = None,
    threshold: Annotated[str, typer.Option("--threshold", help="Gap threshold (e.g. 120s, 10m).")] = "120s",
    min_interval: Annotated[float, typer.Option("--min-interval", help="Guaranteed minimum seconds between "
                                                "consecutive blocks (1 where timestamps strictly increase; 0 is "
                                                "always safe).")] = 0.0,
    block_time: Annotated[float | None, typer.Option("--block-time", help="Seconds per block (default: the "
                                                     "catalog's, else estimated).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Also run the full scan and compare.")] = False,
    chain_id: ChainIdOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="JSON-RPC calls per HTTP request.")] = 500,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Find timestamp gaps without fetching every header (adaptive sampling and bisection)."""
    from seqrisk.cli.targets import target
    from seqrisk.ingest import adaptive_scan, full_scan

    cat_chain = state.catalog.chain(chain)
    tgt = target(cat_chain, rpc, chain_id)
    chain = cat_chain.id
    thr = parse_duration(threshold, field="--threshold")
    if not thr > min_interval >= 0:
        raise UsageError("need --threshold > --min-interval >= 0", field="--threshold", value=(thr, min_interval))
    with _client(list(tgt.rpc), tgt.chain_id, batch_size, 4, 20.0, 4) as c:
        tgt.check(c)
        def fetch(ns: Any) -> list[int]:
            return [h.timestamp for h in c.headers(ns)]
        head = c.block_number()
        end = head if to_block is None else min(to_block, head)
        if from_block is not None:
            start = from_block
        elif since is not None:
            start = _since_block(c, since)
        else:
            raise UsageError("give --since DATE or --from N", field="--since")
        if start > end:
            raise UsageError(f"scan range {start}..{end} is empty (the node's head is {head})", field="--from")
        bt = block_time if block_time is not None else cat_chain.block_time_s
        t0 = time.perf_counter()
        res = adaptive_scan(fetch, start, end, threshold_s=thr, block_time_s=bt, min_interval_s=min_interval)
        secs = time.perf_counter() - t0
        ref = full_scan(fetch, start, end, threshold_s=thr, batch=max(batch_size, 1)) if full else None
    doc = {"chain": chain, "from": start, "to": end,
           "threshold_s": thr, "step": res.step,
           "min_interval_s": min_interval, "calls": res.calls, "rounds": res.rounds,
           "full_scan_calls": res.full_scan_calls, "fraction": res.fraction, "seconds": round(secs, 3),
           "gaps": [{"block": g.block, "start_utc": _iso(g.start_utc), "gap_s": g.gap_s} for g in res.gaps],
           "full_scan_agrees": None if ref is None else [g.block for g in ref.gaps] == [g.block for g in res.gaps]}
    if as_json:
        echo_json("scan", doc, catalog_provenance())
        return
    out = console()
    t = table(f"Gaps >= {format_duration(thr)} on {chain}, blocks {start}..{end}", "after block", "start (UTC)",
              "gap", right=("after block", "gap"))
    for g in res.gaps:
        t.add_row(str(g.block), str(_iso(g.start_utc)), format_duration(g.gap_s))
    out.print(t if res.gaps else f"No gap >= {format_duration(thr)} on {chain}, blocks {start}..{end}.")
    out.print(f"requests: {res.calls:,} block fetches in {res.rounds} rounds, against {res.full_scan_calls:,} for "
              f"a full scan ({100 * res.fraction:.3g}%), step {res.step} blocks")
    if ref is not None:
        out.print(f"full scan: {len(ref.gaps)} gaps, {'same' if doc['full_scan_agrees'] else 'DIFFERENT'} blocks")


@app.command("detect")
def detect_cmd(
    chain: Annotated[str, typer.Argument(help="Chain id from the catalog (headers ingested first).")],
    since: Annotated[str | None, typer.Option("--since", help="Report events from this UTC date/time.")] = None,
    gap_threshold: Annotated[str, typer.Option("--gap-threshold", help="Absolute downtime threshold.")] = "120s",
    z: Annotated[float, typer.Option("--z", help="Relative threshold: z-score of a block interval.")] = 15.0,
    window: Annotated[str, typer.Option("--window", help="Rolling baseline window.")] = "30d",
    stall_threshold: Annotated[str, typer.Option("--stall-threshold", help="Back-filled stall threshold.")] = "120s",
    bucket: Annotated[str, typer.Option("--bucket", help="Throughput bucket for degraded detection.")] = "10m",
    system_txs: Annotated[int | None, typer.Option("--system-txs", help="System transactions per block (default: "
                                                   "1 on the OP Stack, else 0).")] = None,
    backfilled: Annotated[bool | None, typer.Option("--backfilled/--not-backfilled", help="Whether the chain "
                                                    "back-fills stalls with empty blocks (default: catalog).")] = None,
    posting_gap: Annotated[str, typer.Option("--posting-gap", help="L1 batch posting delay threshold.")] = "1h",
    safe_lag: Annotated[str, typer.Option("--safe-lag", help="Safe-head lag threshold.")] = "1h",
    replica_lag: Annotated[int, typer.Option("--replica-lag", help="Blocks an endpoint may lag behind the best "
                                             "head seen before it counts as a lagging replica.")] = 6,
    head_clock: Annotated[str, typer.Option("--head-clock", help="Which clock calls the head stale: either, "
                                            "observer (unchanged since first seen) or block (its timestamp).")]
    = "either",
    no_write: Annotated[bool, typer.Option("--no-write", help="Do not store the events.")] = False,
    chain_id: ChainIdOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Detect downtime, back-filled stalls, degraded throughput and DA delays in stored headers; store events."""
    from seqrisk.cli.targets import check_stored_chain_id
    from seqrisk.ingest import DETECTORS, chain_health, config_for_chain, run_detection
    from seqrisk.store.ledger import repairs

    cat_chain = state.catalog.chain(chain)
    chain = cat_chain.id
    home = state.home
    check_stored_chain_id(home, cat_chain, chain_id)
    if home.blocks().head(chain) is None:
        raise UsageError("no headers stored for this chain: run `seqrisk ingest` first", chain=chain)
    cfg = config_for_chain(
        cat_chain, gap_threshold_s=parse_duration(gap_threshold, field="--gap-threshold"), z_threshold=z,
        baseline_window_s=parse_duration(window, field="--window"),
        stall_threshold_s=parse_duration(stall_threshold, field="--stall-threshold"),
        bucket_s=parse_duration(bucket, field="--bucket"), system_txs_per_block=system_txs, backfilled=backfilled,
        posting_gap_s=parse_duration(posting_gap, field="--posting-gap"),
        safe_lag_s=parse_duration(safe_lag, field="--safe-lag"), replica_lag_blocks=replica_lag,
        head_clock=head_clock)
    since_utc = parse_datetime(since, field="--since").timestamp() if since else None
    found = run_detection(home, chain, cfg, since_utc=since_utc, write=not no_write)
    with home.state() as st:
        for r in repairs(st, chain):
            messages().print(f"note: {chain} blocks {r.first}..{r.last} are missing (a quarantined partition); "
                              f"`seqrisk ingest {chain} --rpc URL` fetches them again", soft_wrap=True, markup=False,
                              highlight=False)
    rounds = chain_health(home, chain, cfg)
    head = _health_doc(rounds[-1]) if rounds else None
    with home.state() as st:
        events = st.events(chain=chain, since_utc=since_utc)
    if no_write:  # the store's reorg events (from ingestion) and what was found now
        events = sorted([e for e in events if e.detector not in DETECTORS] + found, key=lambda e: e.start_utc)
    rows = [{"id": getattr(e, "id", None), "type": e.type, "start_utc": _iso(e.start_utc),
             "end_utc": _iso(e.end_utc), "ongoing": e.ongoing,
             "duration_s": e.duration_s, "confidence": e.confidence, "detector": e.detector, "evidence": e.evidence}
            for e in events]
    if as_json:
        echo_json("detect", {"chain": chain, "config": cfg.__dict__, "head": head, "events": rows},
                  catalog_provenance())
        return
    out = console()
    if rounds:
        out.print(_health_line(chain, rounds[-1]))
    if not rows:
        out.print(f"No events detected on {chain}.")
        return
    t = table(f"Events detected on {chain}", "id", "type", "start (UTC)", "duration", "conf.", "detector",
              right=("id", "duration", "conf."))
    for e in events:
        dur = "ongoing" if e.ongoing else format_duration(e.duration_s or 0.0)
        eid = getattr(e, "id", None)
        t.add_row("-" if eid is None else str(eid), e.type, str(_iso(e.start_utc)), dur, f"{e.confidence:.2f}",
                  e.detector)
    out.print(t)
