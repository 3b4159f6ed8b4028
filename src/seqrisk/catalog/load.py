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
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from seqrisk.catalog.schema import Chain, Incident
from seqrisk.exceptions import ConflictError, DataError, UnknownChainError, ValidationError

__all__ = ["Catalog", "load_catalog"]

T = TypeVar("T", Chain, Incident)
_TAG = re.compile(r"\[(\+?[a-z_]+)(?:\([^)]*\))?(?:\s+to\s+[^\]]*)?\]")
_SUFFIXES = (".yaml", ".yml", ".json", ".csv")


def _read_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Records of one file as ``(where, record)``; ``where`` is ``row N`` or ``item N``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read file: {exc}", file=str(path)) from None
    if path.suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        return [(f"row {i}", dict(r)) for i, r in enumerate(reader, start=2)]
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"cannot parse file: {str(exc).splitlines()[0]}", file=str(path)) from None
    if data is None:
        return []
    if isinstance(data, dict):
        data = data.get("chains", data.get("incidents", [data]))
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
        return [{"url": s} if isinstance(s, str) else s for s in items]
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
    tags = rec.get("tags")
    if isinstance(tags, str):
        tags = _split(tags, ";")
    if tags is None and isinstance(rec.get("cause"), str):
        tags = sorted(set(_TAG.findall(rec["cause"])))
    if tags is not None:
        rec["tags"] = tags
    return rec


def _validate(model: type[T], rec: dict[str, Any], *, file: str, where: str) -> T:
    try:
        return model.model_validate(rec)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        fld = ".".join(str(p) for p in err["loc"]) or None
        value = rec.get(str(err["loc"][0])) if err["loc"] else None
        raise ValidationError(err["msg"], file=file, row=where, id=rec.get("id"), field=fld,
                              value=value) from None


def _load_file(path: Path, model: type[T], label: str | None = None) -> list[T]:
    norm = _normalise_chain if model is Chain else _normalise_incident
    return [_validate(model, norm(rec), file=label or str(path), where=where)
            for where, rec in _read_records(path)]


def _bundled(name: str, model: type[T]) -> list[T]:
    ref = resources.files("seqrisk.catalog") / "data" / name
    with resources.as_file(ref) as p:
        return _load_file(Path(p), model, label=f"<bundled>/{name}")


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


@dataclass(frozen=True)
class Catalog:
    """Chains and incidents, validated and cross-checked.

    ``origin`` maps each id to ``"bundled"`` or the user file it came from.
    """

    chains: tuple[Chain, ...]
    incidents: tuple[Incident, ...]
    origin: dict[str, str] = field(default_factory=dict)
    #: sha256 (first 12 hex digits) of the data files read: bundled and user files, in order
    digest: str = ""

    def __post_init__(self) -> None:
        ids = {c.id for c in self.chains}
        for inc in self.incidents:
            if inc.chain not in ids:
                raise UnknownChainError(inc.chain, difflib.get_close_matches(inc.chain, sorted(ids), n=3),
                                        file=self.origin.get(inc.id), id=inc.id, field="chain")

    def chain_ids(self) -> list[str]:
        return [c.id for c in self.chains]

    def chain(self, chain_id: str) -> Chain:
        """The chain with this id; unknown ids raise with the closest known ones."""
        for c in self.chains:
            if c.id == chain_id:
                return c
        names = {c.name.lower(): c.id for c in self.chains}
        if chain_id.lower() in names:
            return self.chain(names[chain_id.lower()])
        close = difflib.get_close_matches(chain_id.lower(), self.chain_ids() + list(names), n=3, cutoff=0.5)
        raise UnknownChainError(chain_id, sorted({names.get(c, c) for c in close}))

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Common-failure group -> member chain ids."""
        out: dict[str, list[str]] = {}
        for c in self.chains:
            for g in c.groups:
                out.setdefault(g, []).append(c.id)
        return {g: tuple(m) for g, m in sorted(out.items())}

    def select(self, *, chain: str | Sequence[str] | None = None, type: str | Sequence[str] | None = None,
               since: datetime | None = None, until: datetime | None = None) -> list[Incident]:
        """Incidents filtered by chain id(s), type(s) and start time (``since`` <= start < ``until``)."""
        chains = {chain} if isinstance(chain, str) else (set(chain) if chain else None)
        if chains:
            chains = {self.chain(c).id for c in chains}
        types = {type} if isinstance(type, str) else (set(type) if type else None)
        out = []
        for inc in self.incidents:
            if chains and inc.chain not in chains:
                continue
            if types and inc.type not in types:
                continue
            if since and inc.start_utc < since:
                continue
            if until and inc.start_utc >= until:
                continue
            out.append(inc)
        return sorted(out, key=lambda i: (i.start_utc, i.id))

    def __iter__(self) -> Iterator[Chain]:
        return iter(self.chains)


def _digest(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def load_catalog(user_dir: Path | str | None = None) -> Catalog:
    """The bundled catalog, with a user's files from ``user_dir`` merged over it."""
    chains: list[Chain] = _bundled("chains.yaml", Chain)
    incidents: list[Incident] = _bundled("incidents.yaml", Incident)
    origin: dict[str, str] = {}
    extra_chains: list[tuple[Path, Chain]] = []
    extra_incidents: list[tuple[Path, Incident]] = []
    read: list[Path] = []
    with resources.as_file(resources.files("seqrisk.catalog") / "data") as data_dir:
        read += [Path(data_dir) / "chains.yaml", Path(data_dir) / "incidents.yaml"]
        if user_dir is not None:
            d = Path(user_dir)
            for p in _user_files(d, "chains"):
                extra_chains += [(p, c) for c in _load_file(p, Chain)]
                read.append(p)
            for p in _user_files(d, "incidents"):
                extra_incidents += [(p, i) for i in _load_file(p, Incident)]
                read.append(p)
        digest = _digest(read)
    chains, o1 = _merge(chains, extra_chains, "chain")
    incidents, o2 = _merge(incidents, extra_incidents, "incident")
    origin.update(o1)
    origin.update(o2)
    return Catalog(tuple(chains), tuple(sorted(incidents, key=lambda i: (i.start_utc, i.id))), origin, digest)
