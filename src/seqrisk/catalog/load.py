"""Load the bundled catalog and merge a user's chain and incident files over it.

User files live in one directory (``--catalog-dir`` or ``SEQRISK_CATALOG_DIR``,
read at the edge and passed here): ``chains*.{yaml,yml,json,csv}`` and
``incidents*.{yaml,yml,json,csv}``. CSV files use the reference layout
(``sources`` joined by `` | ``, ``scope`` by ``+``, ``groups`` by ``;``, tags as
``[deliberate]`` / ``[planned]`` / ``[+reorg]`` in ``cause`` or in a ``tags``
column). A user record with a bundled id replaces the bundled one; the same id
twice among the user's files is a :class:`ConflictError`.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from seqrisk._documents import deep_at, too_deep
from seqrisk.catalog.catalog import Catalog
from seqrisk.catalog.coverage import Coverage
from seqrisk.catalog.registry import MULTI_FIELDS, REGISTRY_FIELDS, ChainRegistry
from seqrisk.catalog.schema import Chain, Incident
from seqrisk.catalog.source import parse_source
from seqrisk.exceptions import ConflictError, DataError, UnknownChainError, ValidationError

__all__ = ["Catalog", "apply_registry", "load_catalog", "parse_registry", "read_records", "read_registry",
           "read_yaml"]

T = TypeVar("T", Chain, Incident)
M = TypeVar("M", bound=pydantic.BaseModel)
TAG_PATTERN = re.compile(r"\[(\+?[a-z_]+)(?:\([^)]*\))?(?:\s+to\s+[^\]]*)?\]")
_SUFFIXES = (".yaml", ".yml", ".json", ".csv")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML without implicit timestamps: dates stay text, so the schema names a bad one's field (LibYAML's
    parser where PyYAML has it: the catalog loads several times faster, which every command's start-up pays)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def read_records(path: Path, *, mapping: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """Records of one file as ``(where, record)``; ``where`` is ``row N`` or ``item N``.

    A YAML/JSON mapping is a list of its ``chains`` or ``incidents``, or one record (``mapping``: always one).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read file: {exc}", file=str(path)) from None
    if path.suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        return [(f"row {i}", dict(r)) for i, r in enumerate(reader, start=2)]
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as exc:
        if isinstance(exc, RecursionError) or deep_at(text) is not None:  # LibYAML stops at its own depth limit
            raise too_deep("the file", text, file=str(path)) from None
        raise DataError(f"cannot parse file: {str(exc).splitlines()[0]}", file=str(path)) from None
    if data is None:
        return []
    if isinstance(data, dict):
        data = [data] if mapping else data.get("chains", data.get("incidents", [data]))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError("expected a list of records (mappings)", file=str(path))
    return [(f"item {i}", r) for i, r in enumerate(data, start=1)]


def _split(value: Any, sep: str) -> Any:
    if isinstance(value, str):
        return [p.strip() for p in value.split(sep) if p.strip()]
    return value


def _sources(value: Any) -> Any:
    items = _split(value, " | ")
    if isinstance(items, list):
        return [parse_source(s) if isinstance(s, str) else s for s in items]
    return items


def _blank_to_none(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in rec.items() if k is not None}


def _normalise_chain(rec: dict[str, Any]) -> dict[str, Any]:
    rec = _blank_to_none(rec)
    if "groups" in rec:
        rec["groups"] = _split(rec["groups"], ";") or []
    if "sources" in rec:
        rec["sources"] = _sources(rec["sources"])
    if isinstance(rec.get("empty_blocks_backfilled"), str):
        rec["empty_blocks_backfilled"] = {"yes": True, "no": False, "true": True, "false": False}.get(
            rec["empty_blocks_backfilled"].lower(), rec["empty_blocks_backfilled"]
            if rec["empty_blocks_backfilled"].lower() != "unknown" else None)
    feed = rec.pop("chainlink_sequencer_uptime_feed", None)
    if feed is not None and "chainlink_uptime_feed" not in rec:
        feed = str(feed)
        rec["chainlink_uptime_feed"] = feed.split(":", 1)[1] if feed.startswith("yes:") else (
            "none" if feed == "no" else None)
    return rec


def _normalise_incident(rec: dict[str, Any]) -> dict[str, Any]:
    rec = _blank_to_none(rec)
    if "sources" in rec:
        rec["sources"] = _sources(rec["sources"])
    if "scope" in rec:
        rec["scope"] = _split(rec["scope"], "+") or []
    ongoing = rec.pop("ongoing", None)
    if ongoing is not None:  # blank: not ongoing; CSV spells booleans as text
        rec["ongoing"] = {"true": True, "yes": True, "false": False, "no": False}.get(
            ongoing.strip().lower(), ongoing) if isinstance(ongoing, str) else ongoing
    tags = rec.get("tags")
    if isinstance(tags, str):
        tags = _split(tags, ";")
    if tags is None and isinstance(rec.get("cause"), str):
        tags = sorted(set(TAG_PATTERN.findall(rec["cause"])))
    if tags is not None:
        rec["tags"] = tags
    return rec


def _at(rec: Any, loc: Sequence[Any]) -> Any:
    """The input value at a pydantic error location (as far as it exists)."""
    for part in loc:
        found = (isinstance(rec, dict) and part in rec) or (
            isinstance(rec, list | tuple) and isinstance(part, int) and part < len(rec))
        if not found:
            break
        rec = rec[part]
    return rec


def _validate(model: type[M], rec: dict[str, Any], *, file: str, where: str) -> M:
    try:
        return model.model_validate(rec)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p[:1].isupper())]  # drop union branches
        fld = ".".join(str(p) for p in loc) or None
        value = _at(rec, loc) if loc else None
        raise ValidationError(err["msg"].removeprefix("Value error, "), file=file, row=where, id=rec.get("id"),
                              field=fld, value=value) from None


def _load_file(path: Path, model: type[T], label: str | None = None) -> list[T]:
    norm = _normalise_chain if model is Chain else _normalise_incident
    return [_validate(model, norm(rec), file=label or str(path), where=where)
            for where, rec in read_records(path)]


def _base_file(base_dir: Path | None, name: str) -> tuple[Path | None, str]:
    """A file of the base catalog (the bundled one, or ``base_dir``) and its label in messages."""
    if base_dir is not None:
        p = base_dir / name
        return (p if p.is_file() else None), str(p)
    ref = resources.files("seqrisk.catalog") / "data" / name
    with resources.as_file(ref) as p:
        return (Path(p) if Path(p).is_file() else None), f"<bundled>/{name}"


def _base(base_dir: Path | None, name: str, model: type[T]) -> list[T]:
    path, label = _base_file(base_dir, name)
    if path is None:
        raise DataError("catalog file missing", file=label)
    return _load_file(path, model, label=label)


def _user_files(directory: Path, stem: str) -> list[Path]:
    if not directory.is_dir():
        raise DataError("catalog directory does not exist", file=str(directory))
    return sorted(p for p in directory.iterdir() if p.name.startswith(stem) and p.suffix in _SUFFIXES)


def _merge(base: Sequence[T], extra: Iterable[tuple[Path, T]], kind: str) -> tuple[list[T], dict[str, str]]:
    merged = {r.id: r for r in base}
    origin = {r.id: "bundled" for r in base}
    seen: dict[str, Path] = {}
    for path, rec in extra:
        if rec.id in seen:
            raise ConflictError(f"{kind} id defined twice in user files (also in {seen[rec.id]})",
                                file=str(path), id=rec.id)
        seen[rec.id] = path
        merged[rec.id] = rec
        origin[rec.id] = str(path)
    return list(merged.values()), origin


def _load_coverage(path: Path, base: Coverage | None, label: str | None = None) -> Coverage:
    """A coverage file; one that gives only ``chains`` keeps ``base``'s overall date."""
    where = label or str(path)
    records = read_records(path, mapping=True)
    if path.suffix == ".csv":  # rows of chain, coverage_date, reason, sources; chain blank or '*' = overall
        overall = [r for _, r in records if (r.get("chain") or "*").strip() in ("", "*")]
        data: dict[str, Any] = dict(overall[-1]) if overall else {}
        data.pop("chain", None)
        data["chains"] = [r for _, r in records if (r.get("chain") or "*").strip() not in ("", "*")]
    else:
        if len(records) != 1:
            raise DataError("expected one mapping (coverage_date, reason, sources, chains)", file=where)
        data = dict(records[0][1])
    data = _blank_to_none(data)
    if "sources" in data:
        data["sources"] = _sources(data["sources"]) or []
    data["chains"] = [_blank_to_none(dict(c)) | ({"sources": _sources(c["sources"]) or []} if c.get("sources")
                                                  else {}) for c in data.get("chains") or []]
    has_overall = data.get("coverage_date") is not None
    if not has_overall:
        if base is None:
            raise ValidationError("no overall coverage_date", file=where, field="coverage_date")
        data = {**base.model_dump(exclude={"chains"}), "chains": data["chains"]}
    cov = _validate(Coverage, data, file=where, where="coverage")
    return base.merged(cov, overall=has_overall) if base is not None else cov


def read_yaml(path: Path) -> list[dict[str, Any]]:
    """The records of a catalog YAML file as plain mappings (dates kept as text)."""
    return [rec for _, rec in read_records(path)]


def read_registry(path: Path) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Registry rows ``(where, chain, field, fact)`` of a file, each validated alone."""
    return parse_registry(read_records(path), file=str(path))


def parse_registry(records: Iterable[tuple[str, dict[str, Any]]], *,
                   file: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Registry records (chain, field, value, sources, as_of, confidence, note) validated one by one.

    A bad row raises :class:`ValidationError` naming file, row, field and value.
    """
    out = []
    for where, rec in records:
        rec = _blank_to_none(rec)
        chain, name = rec.pop("chain", None), rec.pop("field", None)
        if name not in REGISTRY_FIELDS:
            raise ValidationError(f"unknown registry field (known: {', '.join(REGISTRY_FIELDS)})", file=file,
                                  row=where, field="field", value=name)
        if not chain:
            raise ValidationError("chain is missing", file=file, row=where, field="chain", value=chain)
        if "sources" in rec:
            rec["sources"] = _sources(rec["sources"])
        fact = {k: v for k, v in rec.items() if v is not None}
        try:
            ChainRegistry.model_validate({name: [fact] if name in MULTI_FIELDS else fact})
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            sub = [str(p) for p in err["loc"][1:] if not isinstance(p, int)]
            raise ValidationError(err["msg"].removeprefix("Value error, "), file=file, row=where, chain=chain,
                                  field=".".join([name, *sub[:1]]), value=fact.get(sub[0]) if sub else fact) from None
        out.append((where, str(chain), str(name), fact))
    return out


def apply_registry(chains: Sequence[Chain], rows: Iterable[tuple[str, str, str, dict[str, Any]]], *,
                   file: str) -> list[Chain]:
    """``chains`` with the registry ``rows`` over them: the rows of a (chain, field) replace that field's facts."""
    by_chain: dict[str, dict[str, list[dict[str, Any]]]] = {}
    ids = {c.id for c in chains}
    for where, chain, name, fact in rows:
        if chain not in ids:
            raise UnknownChainError(chain, difflib.get_close_matches(chain, sorted(ids), n=3), file=file, row=where,
                                    field="chain")
        by_chain.setdefault(chain, {}).setdefault(name, []).append(fact)
    out = []
    for c in chains:
        new = by_chain.get(c.id)
        if not new:
            out.append(c)
            continue
        data = c.model_dump()
        reg = dict(data["registry"])
        for name, facts in new.items():
            if name not in MULTI_FIELDS and len(facts) > 1:
                raise ConflictError(f"registry field {name} given twice for one chain", file=file, chain=c.id,
                                    field=name)
            reg[name] = facts if name in MULTI_FIELDS else facts[0]
            if name in ("block_time_s", "chainlink_uptime_feed"):
                data[name] = None  # follows the new registry fact
        data["registry"] = reg
        out.append(_validate(Chain, data, file=file, where=f"chain {c.id}"))
    return out


def _base_coverage(base_dir: Path | None) -> Coverage | None:
    path, label = _base_file(base_dir, "coverage.yaml")
    return _load_coverage(path, None, label=label) if path is not None else None


def load_catalog(user_dir: Path | str | None = None, *, base_dir: Path | str | None = None) -> Catalog:
    """The bundled catalog (or the one in ``base_dir``), with a user's files from ``user_dir`` merged over it.

    User files: ``chains*``, ``incidents*``, ``registry*`` (rows of chain, field,
    value, sources, as_of, confidence, note) and ``coverage*`` (see
    :mod:`seqrisk.catalog.coverage`), each ``.yaml``, ``.yml``, ``.json`` or ``.csv``.
    """
    base = Path(base_dir) if base_dir is not None else None
    chains: list[Chain] = _base(base, "chains.yaml", Chain)
    incidents: list[Incident] = _base(base, "incidents.yaml", Incident)
    coverage = _base_coverage(base)
    extra_chains: list[tuple[Path, Chain]] = []
    extra_incidents: list[tuple[Path, Incident]] = []
    registry: list[tuple[Path, list[tuple[str, str, str, dict[str, Any]]]]] = []
    d = Path(user_dir) if user_dir is not None else None
    if d is not None:
        for p in _user_files(d, "chains"):
            extra_chains += [(p, c) for c in _load_file(p, Chain)]
        for p in _user_files(d, "incidents"):
            extra_incidents += [(p, i) for i in _load_file(p, Incident)]
        registry = [(p, read_registry(p)) for p in _user_files(d, "registry")]
        for p in _user_files(d, "coverage"):
            coverage = _load_coverage(p, coverage)
    chains, o1 = _merge(chains, extra_chains, "chain")
    for p, rows in registry:
        chains = apply_registry(chains, rows, file=str(p))
    incidents, o2 = _merge(incidents, extra_incidents, "incident")
    return Catalog(tuple(chains), tuple(sorted(incidents, key=lambda i: (i.start_utc, i.id))), {**o1, **o2},
                   coverage=coverage, user_dir=str(d) if d is not None else None)
