"""``seqrisk chains``, ``seqrisk chain ID``, ``seqrisk incidents``, ``seqrisk overview``."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from typing import Annotated

import typer

from seqrisk.catalog import EVENT_TYPES, Incident, risk_entries
from seqrisk.catalog.csvio import incidents_to_csv
from seqrisk.catalog.documents import chain_doc, incident_doc
from seqrisk.cli.app import app, state
from seqrisk.cli.modeling import catalog_provenance
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, messages, table
from seqrisk.exceptions import UsageError
from seqrisk.units import format_duration, parse_datetime

__all__: list[str] = []


_SHORT = {"ethereum-blobs": "blobs", "ethereum-calldata": "calldata", "ethereum-state-diffs": "state-diffs",
          "centralized": "central", "centralized-ha": "central-ha", "decentralized": "decentr.",
          "self-sequence": "self", "force-via-l1": "via-L1"}


def _short(v: object) -> str:
    """Compact table spelling of a catalog value (the JSON and ``seqrisk chain`` keep the full one)."""
    return _SHORT.get(str(v), _unknown(v))


def _unknown(v: object) -> str:
    return "unknown" if v is None else str(v)


@app.command("chains")
def chains_cmd(as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """List the chains in the catalog with their design and incident counts."""
    cat = state.catalog
    counts = Counter(i.chain for i in cat.incidents)
    if as_json:
        echo_json("chains", {"chains": [chain_doc(c) | {"incidents": counts.get(c.id, 0)} for c in cat.chains]},
                  catalog_provenance())
        return
    t = table(None, "id", "launch", "sequencer", "forced incl.", "DA", "stage", "inc", right=("inc",))
    for c in cat.chains:
        fi = (format_duration(c.forced_inclusion_delay_s) if c.forced_inclusion_delay_s is not None
              else _unknown(c.forced_inclusion))
        t.add_row(c.id, _unknown(c.mainnet_launch_date), _short(c.sequencer), _short(fi),
                  _short(c.data_availability), _unknown(c.stage if c.stage is not None else "n/a"),
                  str(counts.get(c.id, 0)))
    console().print(t)


@app.command("chain")
def chain_cmd(
    chain_id: Annotated[str, typer.Argument(metavar="ID", help="Chain id, e.g. arbitrum.")],
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Show one chain: profile, risk entries and incidents."""
    cat = state.catalog
    c = cat.chain(chain_id)
    incs = cat.select(chain=c.id)
    if as_json:
        echo_json("chain", {"chain": chain_doc(c), "incidents": [incident_doc(i) for i in incs]},
                  catalog_provenance())
        return
    out = console()
    out.print(f"[bold]{c.name}[/] ({c.id}) - {c.layer} on {c.settles_on}, {c.stack} stack")
    prof = table(None, "field", "value")
    for label, v in (
        ("launch", c.mainnet_launch_date), ("sunset", c.sunset_date or "-"),
        ("sequencer", f"{_unknown(c.sequencer)}, {_unknown(c.sequencer_operator)}"),
        ("forced incl.", f"{_unknown(c.forced_inclusion)}"
         + (f", {format_duration(c.forced_inclusion_delay_s)}" if c.forced_inclusion_delay_s else "")),
        ("DA", c.data_availability), ("proofs", c.proof_system), ("L2BEAT stage", c.l2beat_stage),
        ("block time", f"{c.block_time_s}s" if c.block_time_s else None),
        ("backfills", {True: "yes", False: "no"}.get(c.empty_blocks_backfilled) if
         c.empty_blocks_backfilled is not None else None),
        ("uptime feed", c.chainlink_uptime_feed),
        ("chain id", c.evm_chain_id if c.evm_chain_id is not None else (
            c.registry.network_id.value if c.registry.network_id else None)),
        ("settles on id", c.settlement_chain_id), ("batch inbox", c.batch_inbox),
        ("batch posters", ", ".join(c.batch_posters) or None), ("public RPC", ", ".join(c.rpc_endpoints) or None),
        ("groups", ", ".join(c.groups)),
        ("confidence", c.confidence),
    ):
        prof.add_row(label, _unknown(v))
    out.print(prof)
    risk = table("\nRisk", "risk", "value", "sentiment")
    for r in risk_entries(c):
        risk.add_row(r.name, r.value, r.sentiment)
    out.print(risk)
    for r in risk_entries(c):
        out.print(f"  {r.name}: {r.description}")
    it = table(f"\nIncidents ({len(incs)})", "id", "type", "start", "duration")
    for i in incs:
        it.add_row(i.id, i.type, i.start_utc.strftime("%Y-%m-%d"), _dur(i))
    out.print(it)
    out.print("\nSources:")
    for s in c.sources:
        out.print(f"  {s.url}", overflow="fold")
    facts = c.registry.facts()
    if facts:
        out.print("\nRegistry facts (sources):")
        for name, f in facts:
            out.print(f"  {name} {f.value}: " + " | ".join(x.url for x in f.sources), overflow="fold")


def _dur(i: Incident) -> str:
    if i.duration_min is None and i.duration_min_low is None and i.duration_min_high is None:
        return "unknown"
    lo, hi = i.duration_bounds_s()
    best = i.duration_s
    txt = format_duration(best) if best is not None else "?"
    if lo != hi:
        txt += f" [{format_duration(lo)}-{format_duration(hi)}]"
    return txt


def _parse_when(v: str | None, field: str) -> datetime | None:
    return parse_datetime(v, field=field) if v else None


@app.command("incidents")
def incidents_cmd(
    chain: Annotated[list[str] | None, typer.Option("--chain", "-c", help="Chain id (repeatable).")] = None,
    type_: Annotated[list[str] | None, typer.Option("--type", "-t", help="Event type (repeatable).")] = None,
    since: Annotated[str | None, typer.Option(help="Start on or after (YYYY-MM-DD or ISO time, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Start before (YYYY-MM-DD or ISO time, UTC).")] = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV output.")] = False,
    sources: Annotated[bool, typer.Option("--sources/--table", help="List each incident with its sources "
                                          "(default), or as a compact table.")] = True,
    quiet: QuietOpt = False,
) -> None:
    """List incidents, filtered by chain, type and start time, with their sources."""
    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv", field="--json/--csv")
    for t in type_ or []:
        if t not in EVENT_TYPES:
            raise UsageError(f"unknown event type (known: {', '.join(EVENT_TYPES)})", field="--type", value=t)
    cat = state.catalog
    incs = cat.select(chain=chain, type=type_, since=_parse_when(since, "--since"),
                      until=_parse_when(until, "--until"))
    if as_json:
        echo_json("incidents", {"incidents": [incident_doc(i) for i in incs]}, catalog_provenance())
        return
    if as_csv:
        sys.stdout.write(incidents_to_csv(incs))
        return
    out = console()
    if not sources:
        tbl = table(None, "id", "chain", "type", "start", "duration", "tags")
        for i in incs:
            tbl.add_row(i.id, i.chain, i.type, i.start_utc.strftime("%Y-%m-%d"), _dur(i), ",".join(i.tags) or "")
        out.print(tbl)
    else:  # one line per incident, its sources indented below it
        w_id = max((len(i.id) for i in incs), default=2)
        w_ch = max((len(i.chain) for i in incs), default=5)
        for i in incs:
            line = f"{i.id:<{w_id}} {i.chain:<{w_ch}} {i.type:<10} {i.start_utc:%Y-%m-%d} {_dur(i)}"
            tags = f"[{','.join(i.tags)}]" if i.tags else ""
            if tags and len(line) + 1 + len(tags) <= min(out.width, 120):
                line, tags = f"{line} {tags}", ""
            out.print(line, markup=False, soft_wrap=True)
            if tags:
                out.print(f"    {tags}", markup=False, soft_wrap=True)
            for src in i.sources:
                out.print(f"    {src.url}", markup=False, soft_wrap=True)
    messages().print(f"{len(incs)} incidents" + (f"; catalog complete up to {state.catalog.coverage_date}"
                                                 if state.catalog.coverage_date else ""))


@app.command("overview")
def overview_cmd(as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """The catalog at a glance: chains, incidents per chain, the longest outages."""
    cat = state.catalog
    by_chain = Counter(i.chain for i in cat.incidents)
    rows = []
    for cid, n in by_chain.most_common():
        c = cat.chain(cid)
        start, end = c.exposure_start(), cat.coverage_end(c.id)
        years = (c.exposure_end(end) - start).days / 365.0 if start and end else None
        rows.append({"chain": cid, "incidents": n,
                     "downtime": sum(1 for i in cat.incidents if i.chain == cid and i.type == "downtime"),
                     "years_live": years})
    longest = sorted((i for i in cat.incidents if i.type == "downtime" and i.duration_s),
                     key=lambda i: -(i.duration_s or 0))[:8]
    if as_json:
        echo_json("overview", {
            "version": cat.version, "chains": len(cat.chains), "incidents": len(cat.incidents),
            "first_incident_utc": cat.incidents[0].start_utc.isoformat() if cat.incidents else None,
            "last_incident_utc": cat.incidents[-1].start_utc.isoformat() if cat.incidents else None,
            "coverage_date": str(cat.coverage_date) if cat.coverage_date else None,
            "chain_coverage": [{"chain": cc.chain, "coverage_date": str(cc.coverage_date), "reason": cc.reason}
                               for cc in (cat.coverage.chains if cat.coverage is not None else [])],
            "per_chain": rows, "longest_downtimes": [incident_doc(i) for i in longest]}, catalog_provenance())
        return
    out = console()
    cov = cat.coverage_date
    out.print(f"[bold]seqrisk catalog[/] {cat.version}: {len(cat.chains)} chains, {len(cat.incidents)} incidents "
              f"({cat.incidents[0].start_utc:%Y-%m} to {cat.incidents[-1].start_utc:%Y-%m}), "
              + (f"complete up to {cov}" if cov else "no coverage date stated"))
    if cat.coverage is not None:
        for cc in cat.coverage.chains:
            out.print(f"  {cc.chain}: complete up to {cc.coverage_date} ({cc.reason})")
    t = table("\nIncidents per chain", "chain", "incidents", "downtime", "years live", right=(
        "incidents", "downtime", "years live"))
    for r in rows:
        t.add_row(str(r["chain"]), str(r["incidents"]), str(r["downtime"]),
                  "nan" if r["years_live"] is None else f"{r['years_live']:.1f}")
    out.print(t)
    lt2 = table("\nLongest downtimes", "id", "duration", "cause")
    for i in longest:
        lt2.add_row(i.id, _dur(i), i.cause[:48] + ("..." if len(i.cause) > 48 else ""))
    out.print(lt2)
