"""``seqrisk catalog check|import|promote``: keep a team's own catalog directory valid and current.

``check`` lists every problem of a catalog directory (one line each, exit 1)
or prints a short summary (exit 0). ``import`` merges an incidents CSV into the
user catalog directory and ``promote`` turns an event detected from block data
into an incident there; both validate the whole directory merged over the
bundle first and write atomically, so a bad row leaves nothing written.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from seqrisk.catalog import EVENT_TYPES, Catalog, load_catalog
from seqrisk.catalog.check import Problem, check_catalog
from seqrisk.catalog.csvio import INCIDENT_CSV_COLUMNS
from seqrisk.catalog.load import read_records, read_yaml
from seqrisk.cli.app import app, state
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json
from seqrisk.exceptions import DataError, UsageError, ValidationError

__all__: list[str] = []

catalog_app = typer.Typer(help="Check your catalog directory, import incidents, promote detected events.",
                          no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")

DirOpt = Annotated[Path | None, typer.Option("--dir", help="Your catalog directory (default: --catalog-dir or "
                                             "$SEQRISK_CATALOG_DIR).")]
USER_INCIDENTS = "incidents.csv"
#: Incidents promoted from detected events: YAML, so each source keeps its evidence.
PROMOTED = "incidents-promoted.yaml"


def _problem_doc(p: Problem) -> dict[str, Any]:
    return {"file": p.file, "row": p.row, "field": p.field,
            "value": p.value if p.value is None or isinstance(p.value, str | int | float | bool) else str(p.value),
            "message": p.message, "line": str(p)}


def _fail(command: str, problems: Sequence[Problem], as_json: bool) -> None:
    """Every problem (one line each, or the command's JSON object with ``ok`` false), then exit 1."""
    if as_json:
        echo_json(command, {"ok": False, "problems": [_problem_doc(p) for p in problems]}, None)
    else:
        out = console()
        for p in problems:
            out.print(str(p), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@catalog_app.command("check")
def check_cmd(
    directory: Annotated[Path | None, typer.Argument(metavar="[DIR]", help="A user catalog directory, checked "
                                                     "merged over the bundle (default: the bundled catalog).")]
    = None,
    standalone: Annotated[bool, typer.Option("--standalone", help="DIR is a full catalog (chains.yaml, "
                                             "incidents.yaml, coverage.yaml), checked alone.")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Validate a catalog: schema, sources, duplicates, overlaps, tags, coverage dates, registry facts."""
    problems = check_catalog(directory, over_bundle=not standalone)
    if problems:
        _fail("catalog.check", problems, as_json)
    cat = load_catalog(base_dir=directory) if standalone else load_catalog(directory)
    facts = sum(len(c.registry.facts()) for c in cat.chains)
    if as_json:
        echo_json("catalog.check", {
            "ok": True, "problems": [], "version": cat.version, "chains": len(cat.chains),
            "incidents": len(cat.incidents), "registry_facts": facts,
            "coverage_date": str(cat.coverage_date) if cat.coverage_date else None,
            "chain_coverage": {c.chain: str(c.coverage_date) for c in (cat.coverage.chains if cat.coverage else ())}},
            None)
        return
    out = console()
    out.print(f"catalog ok: {len(cat.chains)} chains, {len(cat.incidents)} incidents, {facts} registry facts",
              soft_wrap=True)
    own = cat.coverage.chains if cat.coverage else ()
    differ = ", ".join(f"{c.chain} {c.coverage_date}" for c in own) if len(own) <= 2 else f"{len(own)} chains differ"
    out.print(f"version {cat.version}, complete up to {cat.coverage_date}" + (f" ({differ})" if own else ""),
              soft_wrap=True)


def _user_dir(directory: Path | None) -> Path:
    d = directory or state.settings.catalog_dir
    if d is None:
        raise UsageError("give your catalog directory (--dir, --catalog-dir or $SEQRISK_CATALOG_DIR)", field="--dir")
    if d.exists() and not d.is_dir():
        raise UsageError("not a directory", field="--dir", value=str(d))
    return d


def _existing_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [dict(r) for _, r in read_records(path)]


def _csv_text(rows: list[dict[str, Any]]) -> str:
    cols = list(dict.fromkeys([*INCIDENT_CSV_COLUMNS, *(k for r in rows for k in r)]))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _write_checked(directory: Path, name: str, text: str, command: str, as_json: bool) -> Catalog:
    """Write ``text`` as ``directory/name`` if the directory then checks clean; else one line per problem, exit 1.

    The candidate directory is checked in a temporary copy; the file is replaced atomically (nothing is
    written when a problem is found).
    """
    with tempfile.TemporaryDirectory(prefix="seqrisk-catalog-") as tmp:
        cand = Path(tmp) / "catalog"
        if directory.is_dir():
            shutil.copytree(directory, cand)
        else:
            cand.mkdir()
        (cand / name).write_text(text, encoding="utf-8")
        problems = check_catalog(cand)
        if problems:
            _fail(command, [Problem(p.file.replace(str(cand), str(directory)), p.row, p.field, p.value, p.message)
                            for p in problems], as_json)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, directory / name)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return load_catalog(directory)


def _merge_rows(existing: list[dict[str, Any]], new: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    pos = {r.get("id"): i for i, r in enumerate(existing)}
    out, replaced = list(existing), 0
    for r in new:
        if r.get("id") in pos:
            out[pos[r.get("id")]] = r
            replaced += 1
        else:
            pos[r.get("id")] = len(out)
            out.append(r)
    return out, replaced


@catalog_app.command("import")
def import_cmd(
    csv_file: Annotated[Path, typer.Argument(metavar="FILE", help="Incidents CSV (the layout of `seqrisk "
                                             "incidents --csv`; chain ids or names).")],
    directory: DirOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Import incidents from a CSV into your catalog directory (validated; a row with an existing id replaces it)."""
    d = _user_dir(directory)
    if not csv_file.is_file():
        raise UsageError("no such file", field="FILE", value=str(csv_file))
    if csv_file.suffix.lower() != ".csv":
        raise UsageError("expected a .csv file", field="FILE", value=str(csv_file))
    cat = state.catalog
    names = {c.name.lower(): c.id for c in cat.chains}
    new = []
    for where, rec in read_records(csv_file):
        if None in rec:
            raise ValidationError("more cells than header columns", file=str(csv_file), row=where)
        chain = (rec.get("chain") or "").strip()
        rec["chain"] = names.get(chain.lower(), chain)  # the reference layout writes names
        new.append({k: ("" if v is None else v) for k, v in rec.items()})
    if not new:
        raise DataError("no incident rows", file=str(csv_file))
    rows, replaced = _merge_rows(_existing_rows(d / USER_INCIDENTS), new)
    after = _write_checked(d, USER_INCIDENTS, _csv_text(rows), "catalog.import", as_json)
    if as_json:
        echo_json("catalog.import", {"ok": True, "problems": [], "file": str(d / USER_INCIDENTS),
                                     "imported": len(new), "new": len(new) - replaced, "replaced": replaced,
                                     "ids": [str(r.get("id")) for r in new], "version": after.version}, None)
        return
    console().print(f"{len(new)} incidents imported into {d / USER_INCIDENTS} ({len(new) - replaced} new, "
                    f"{replaced} replaced); catalog {after.version}", soft_wrap=True)


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_SCOPE = {"downtime": "sequencer", "degraded": "sequencer", "reorg": "sequencer", "da_delay": "batch_poster",
          "censorship": "sequencer"}


@catalog_app.command("promote")
def promote_cmd(
    event_id: Annotated[int, typer.Argument(metavar="EVENT", help="Id of a detected event (`seqrisk detect "
                                            "CHAIN --json` lists them).")],
    directory: DirOpt = None,
    incident_id: Annotated[str | None, typer.Option("--id", help="Incident id (default CHAIN-YYYYMMDDTHHMM).")]
    = None,
    cause: Annotated[str | None, typer.Option("--cause", help="Cause, if known (default: what was detected).")]
    = None,
    scope: Annotated[str | None, typer.Option("--scope", help="Failing component(s), joined by + (default by "
                                              "type: sequencer, or batch_poster for DA delays).")] = None,
    confidence: Annotated[str, typer.Option("--confidence", help="high, medium or low.")] = "medium",
    source: Annotated[list[str] | None, typer.Option("--source", help="Another source URL (post-mortem, status "
                                                     "page); repeatable.")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Promote an event detected from block data to an incident in your catalog, with its evidence as source."""
    d = _user_dir(directory)
    home = state.home
    with home.state() as st:
        found = [e for e in st.events() if e.id == event_id]
        meta = dict(st._conn.execute("SELECT key, value FROM meta").fetchall())
    if not found:
        raise UsageError("no detected event with this id in the store", field="EVENT", value=event_id)
    ev = found[0]
    if ev.type not in EVENT_TYPES:
        raise DataError("event type is not an incident type", field="type", value=ev.type)
    chain = state.catalog.chain(ev.chain)
    endpoints = json.loads(meta.get(f"endpoints:{ev.chain}", "[]"))
    if not endpoints and not source:
        raise UsageError("the store records no endpoint for this chain (ingested before seqrisk recorded them): "
                         "give --source URL", field="--source")
    blocks = {k: ev.evidence[k] for k in ("block", "first_block", "last_block", "first_orphaned", "last_orphaned",
                                          "l1_block") if k in ev.evidence}
    stored_id = meta.get(f"chain_id:{ev.chain}")
    evidence: dict[str, Any] = {
        "detector": ev.detector, "event_id": ev.id, "chain_id": int(stored_id) if stored_id else None,
        "start_utc": _iso(ev.start_utc), "end_utc": _iso(ev.end_utc), "confidence": round(ev.confidence, 4),
        **{k: v for k, v in blocks.items() if isinstance(v, int | float | str)}}
    summary = (f"seqrisk detect ({ev.detector}) on {chain.id}: {_iso(ev.start_utc)} to "
               f"{_iso(ev.end_utc) or 'ongoing'}, confidence {ev.confidence:.2f}"
               + "".join(f", {k} {v}" for k, v in blocks.items()))
    start = datetime.fromtimestamp(ev.start_utc, UTC)
    rid = incident_id or f"{chain.id.replace('-', '').upper()}-{start:%Y%m%dT%H%M}"
    dur = None if ev.duration_s is None else ev.duration_s / 60.0
    sources: list[dict[str, Any]] = [{"url": endpoints[0], "ref": summary, "evidence": evidence}] if endpoints \
        else [{"url": source[0] if source else "", "ref": summary, "evidence": evidence}]
    sources += [{"url": u} for u in (source or [])[0 if endpoints else 1:]]
    rec: dict[str, Any] = {
        "id": rid, "chain": chain.id, "type": ev.type, "start_utc": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "start_precision": "minute", "duration_min": None if dur is None else round(max(dur, 1 / 60), 4),
        "tags": [], "funds_lost": "unknown", "scope": (scope or _SCOPE.get(ev.type, "sequencer")).split("+"),
        "confidence": confidence,
        "cause": cause or f"Detected from block data by seqrisk ({ev.detector} detector, confidence "
                          f"{ev.confidence:.2f}); cause not yet known",
        "sources": sources, "ongoing": ev.ongoing,
    }
    path = d / PROMOTED
    rows, replaced = _merge_rows(read_yaml(path) if path.is_file() else [], [rec])
    after = _write_checked(d, PROMOTED, yaml.safe_dump(rows, sort_keys=False, allow_unicode=True, width=100),
                           "catalog.promote", as_json)
    if as_json:
        echo_json("catalog.promote", {"ok": True, "problems": [], "file": str(path), "replaced": bool(replaced),
                                      "incident": rec, "version": after.version}, None)
        return
    console().print(f"{'replaced' if replaced else 'added'} incident {rid} ({ev.type} on {chain.id}, "
                    f"{rec['start_utc']}) in {path}; evidence: {summary}; catalog {after.version}", soft_wrap=True)
