"""``seqrisk catalog check``: every problem of a catalog directory, one line each.

:func:`check_catalog` validates a catalog directory and returns its problems
(an empty list when it is clean): each record against the schema (sources
present, registry facts well formed: integer chain ids, EIP-55 addresses,
endpoint URLs), duplicate ids, incidents that overlap on one chain, types and
tags that contradict each other, coverage dates against incident dates (no
incident on or after its chain's coverage date) and registry facts against each
other (two chains with one chain id, a settlement chain id that is not the
settlement chain's). A user directory is checked merged over the bundle, as
seqrisk reads it; a full catalog directory (``chains.yaml``, ``incidents.yaml``,
``coverage.yaml``) can be checked alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from seqrisk.catalog.catalog import Catalog
from seqrisk.catalog.coverage import Coverage, midnight_utc
from seqrisk.catalog.load import (
    _SUFFIXES,
    TAG_PATTERN,
    _base_coverage,
    _base_file,
    _load_coverage,
    _normalise_chain,
    _normalise_incident,
    _validate,
    apply_registry,
    parse_registry,
    read_records,
)
from seqrisk.catalog.schema import Chain, Incident
from seqrisk.exceptions import SeqriskError

__all__ = ["Problem", "check_catalog"]

#: Ethereum's chain id: what ``settles_on: ethereum`` means for ``settlement_chain_id``.
ETHEREUM_CHAIN_ID = 1
_PRECISION = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
              "month": timedelta(days=31)}


@dataclass(frozen=True)
class Problem:
    """One problem: where (file, row, field), the value, and what is wrong."""

    file: str
    row: str | None
    field: str | None
    value: Any
    message: str

    def __str__(self) -> str:
        where = ", ".join(x for x in (self.file, self.row, f"field {self.field}" if self.field else None) if x)
        val = "" if self.value is None else f" (value {self.value!r})"
        return f"{where}: {self.message}{val}"


def _from_error(exc: SeqriskError, file: str, row: str | None = None) -> Problem:
    c = exc.context
    return Problem(str(c.get("file", file)), c.get("row", row), c.get("field"), c.get("value"), exc.message)


@dataclass
class _Rec:
    file: str
    row: str
    record: Any


def _records(path: Path, label: str, model: type[Chain] | type[Incident],
             problems: list[Problem]) -> list[_Rec]:
    norm = _normalise_chain if model is Chain else _normalise_incident
    try:
        rows = read_records(path)
    except SeqriskError as exc:
        problems.append(_from_error(exc, label))
        return []
    out = []
    for where, rec in rows:
        try:
            out.append(_Rec(label, where, _validate(model, norm(rec), file=label, where=where)))
        except SeqriskError as exc:
            problems.append(_from_error(exc, label, where))
    return out


def _unique(recs: Iterable[_Rec], kind: str, problems: list[Problem]) -> dict[str, _Rec]:
    seen: dict[str, _Rec] = {}
    for r in recs:
        rid = r.record.id
        if rid in seen:
            first = seen[rid]
            problems.append(Problem(r.file, r.row, "id", rid, f"duplicate {kind} id (also {first.file}, {first.row})"))
        else:
            seen[rid] = r
    return seen


def _user_paths(directory: Path, stem: str) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith(stem) and p.suffix in _SUFFIXES)


def check_catalog(directory: Path | str | None = None, *, over_bundle: bool = True) -> list[Problem]:
    """Problems of the catalog in ``directory`` (None: the bundled catalog), one per wrong fact.

    ``over_bundle``: ``directory`` holds a user's files, checked merged over the bundle;
    otherwise it is a full catalog (``chains.yaml``, ``incidents.yaml``, ``coverage.yaml``) checked alone.
    """
    problems: list[Problem] = []
    d = Path(directory) if directory is not None else None
    if d is not None and not d.is_dir():
        return [Problem(str(d), None, None, None, "catalog directory does not exist")]
    standalone = d is None or not over_bundle
    base_dir = d if standalone else None
    chains: dict[str, _Rec] = {}
    incidents: dict[str, _Rec] = {}
    for name, model, into in (("chains.yaml", Chain, chains), ("incidents.yaml", Incident, incidents)):
        path, label = _base_file(base_dir, name)
        if path is None:
            problems.append(Problem(label, None, None, None, "catalog file missing"))
            continue
        kind = "chain" if model is Chain else "incident"
        into.update(_unique(_records(path, label, model, problems), kind, problems))
    try:
        coverage = _base_coverage(base_dir)
    except SeqriskError as exc:
        problems.append(_from_error(exc, "coverage.yaml"))
        coverage = None
    registry_rows: list[tuple[str, list[tuple[str, str, str, dict[str, Any]]]]] = []
    if not standalone and d is not None:
        for stem, model, into in (("chains", Chain, chains), ("incidents", Incident, incidents)):
            kind = stem[:-1]
            user = [r for p in _user_paths(d, stem) for r in _records(p, str(p), model, problems)]
            into.update(_unique(user, kind, problems))
        for p in _user_paths(d, "registry"):
            try:
                registry_rows.append((str(p), parse_registry(read_records(p), file=str(p))))
            except SeqriskError as exc:
                problems.append(_from_error(exc, str(p)))
        for p in _user_paths(d, "coverage"):
            try:
                coverage = _load_coverage(p, coverage)
            except SeqriskError as exc:
                problems.append(_from_error(exc, str(p)))
    if coverage is None:
        problems.append(Problem("coverage.yaml", None, "coverage_date", None, "the catalog states no coverage date"))
    chain_list = [r.record for r in chains.values()]
    for file, rows in registry_rows:
        try:
            chain_list = apply_registry(chain_list, rows, file=file)
        except SeqriskError as exc:
            problems.append(_from_error(exc, file))
    where = {k: (r.file, r.row) for k, r in chains.items()}
    _check_chains(chain_list, where, problems)
    inc_where = {k: (r.file, r.row) for k, r in incidents.items()}
    incs = [r.record for r in incidents.values()]
    _check_incidents(chain_list, incs, inc_where, coverage, problems)
    if not problems:
        try:  # the catalog as seqrisk reads it
            Catalog(tuple(chain_list), tuple(incs), coverage=coverage)
        except SeqriskError as exc:
            problems.append(_from_error(exc, "catalog"))
    return problems


def _check_chains(chains: list[Chain], where: dict[str, tuple[str, str]], problems: list[Problem]) -> None:
    by_evm: dict[int, list[str]] = defaultdict(list)
    ids = {c.id: c for c in chains}
    for c in chains:
        file, row = where.get(c.id, ("catalog", f"chain {c.id}"))
        if c.evm_chain_id is not None:
            by_evm[c.evm_chain_id].append(c.id)
        if c.evm_chain_id is not None and c.registry.network_id is not None:
            problems.append(Problem(file, row, "registry.network_id", c.registry.network_id.value,
                                    "an EVM chain has a chain id, not a network id"))
        settle = c.settlement_chain_id
        if settle is not None:
            expected = ETHEREUM_CHAIN_ID if c.settles_on == "ethereum" else (
                ids[c.settles_on].evm_chain_id if c.settles_on in ids else None)
            if expected is not None and settle != expected:
                problems.append(Problem(file, row, "registry.settlement_chain_id", settle,
                                        f"settles on {c.settles_on}, whose chain id is {expected}"))
        urls = [u for u in c.rpc_endpoints]
        for u in {u for u in urls if urls.count(u) > 1}:
            problems.append(Problem(file, row, "registry.rpc_public", u, "endpoint listed twice"))
        posters = list(c.batch_posters)
        for a in {a for a in posters if posters.count(a) > 1}:
            problems.append(Problem(file, row, "registry.l1_batch_poster", a, "poster listed twice"))
    for evm, members in by_evm.items():
        if len(members) > 1:
            file, row = where.get(members[1], ("catalog", f"chain {members[1]}"))
            problems.append(Problem(file, row, "registry.evm_chain_id", evm,
                                    f"chain id also used by {', '.join(members[:1])}"))


def _end(inc: Incident) -> Any:
    """Latest end of ``inc`` its sources allow (start plus the high duration; its precision when unknown)."""
    mins = [m for m in (inc.duration_min_high, inc.duration_min, inc.duration_min_low) if m is not None]
    return inc.start_utc + (timedelta(minutes=mins[0]) if mins else _PRECISION[inc.start_precision])


def _check_incidents(chains: list[Chain], incs: list[Incident], where: dict[str, tuple[str, str]],
                     coverage: Coverage | None, problems: list[Problem]) -> None:
    ids = {c.id: c for c in chains}
    if coverage is not None:
        for cc in coverage.chains:
            if cc.chain not in ids:
                problems.append(Problem("coverage", f"chain {cc.chain}", "chain", cc.chain,
                                        "coverage date for a chain not in the catalog"))
    by_chain: dict[tuple[str, str], list[Incident]] = defaultdict(list)
    for inc in sorted(incs, key=lambda i: (i.start_utc, i.id)):
        file, row = where.get(inc.id, ("catalog", inc.id))
        chain = ids.get(inc.chain)
        if chain is None:
            problems.append(Problem(file, row, "chain", inc.chain, "no such chain in the catalog"))
            continue
        if coverage is not None:
            cov = coverage.date_for(inc.chain)
            if inc.start_utc >= midnight_utc(cov) and not inc.planned:  # sunsets are announced ahead
                problems.append(Problem(file, row, "start_utc", inc.start_utc.strftime("%Y-%m-%dT%H:%MZ"),
                                        f"incident starts on or after the coverage date {cov} of {inc.chain}"))
        if chain.mainnet_launch_date and (inc.start_utc.date() - chain.mainnet_launch_date).days < -365:
            problems.append(Problem(file, row, "start_utc", inc.start_utc.date().isoformat(),
                                    f"more than a year before {inc.chain}'s launch {chain.mainnet_launch_date}"))
        for tag, typ in (("+reorg", "reorg"), ("+da_delay", "da_delay")):
            if tag in inc.tags and inc.type == typ:
                problems.append(Problem(file, row, "tags", tag, f"'{tag}' means 'also {typ}' but type is {typ}"))
        if "deliberate" in inc.tags and "planned" in inc.tags:
            problems.append(Problem(file, row, "tags", "deliberate;planned", "deliberate and planned together"))
        in_cause = {t for t in TAG_PATTERN.findall(inc.cause) if t in ("deliberate", "planned", "+reorg",
                                                                       "+da_delay")}
        if in_cause and in_cause != set(inc.tags):
            problems.append(Problem(file, row, "tags", ";".join(inc.tags),
                                    f"differ from the tags in the cause ({';'.join(sorted(in_cause))})"))
        t = inc.start_utc
        if inc.start_precision in ("day", "month") and (t.hour, t.minute) != (0, 0):
            problems.append(Problem(file, row, "start_precision", inc.start_precision,
                                    f"a {inc.start_precision}-precision start has a time of day"))
        by_chain[(inc.chain, inc.type)].append(inc)
    for (cid, typ), group in by_chain.items():
        last: Incident | None = None  # the incident reaching furthest so far
        for b in group:
            if last is not None and b.start_utc < _end(last):
                file, row = where.get(b.id, ("catalog", b.id))
                problems.append(Problem(file, row, "start_utc", b.start_utc.strftime("%Y-%m-%dT%H:%MZ"),
                                        f"{typ} on {cid} overlaps {last.id} (same event twice?)"))
            if last is None or _end(b) > _end(last):
                last = b
