"""The loaded catalog: chains, incidents and coverage dates, cross-checked, with a content version."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from seqrisk.catalog.coverage import Coverage, midnight_utc
from seqrisk.catalog.schema import Chain, Incident
from seqrisk.exceptions import DataError, UnknownChainError

__all__ = ["Catalog"]


def content_digest(chains: Sequence[Chain], incidents: Sequence[Incident], coverage: Coverage | None) -> str:
    """sha256 (first 12 hex digits) of the catalog's content: every record as canonical JSON, sorted by id.

    The same records give the same digest whatever files, formats or order they
    were read from; any changed fact (a source, a date, a user's incident) changes it.
    """
    doc = {"chains": sorted((c.model_dump(mode="json") for c in chains), key=lambda r: r["id"]),
           "incidents": sorted((i.model_dump(mode="json") for i in incidents), key=lambda r: r["id"]),
           "coverage": coverage.model_dump(mode="json") if coverage is not None else None}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Catalog:
    """Chains, incidents and coverage dates, validated and cross-checked.

    ``origin`` maps each id to ``"bundled"`` or the user file it came from;
    ``user_dir`` is the user directory merged over the bundle (None: bundle only).
    ``digest`` is the content digest of the loaded records (computed when not given).
    """

    chains: tuple[Chain, ...]
    incidents: tuple[Incident, ...]
    origin: dict[str, str] = field(default_factory=dict)
    digest: str = ""
    coverage: Coverage | None = None
    user_dir: str | None = None

    def __post_init__(self) -> None:
        ids = {c.id for c in self.chains}
        for inc in self.incidents:
            if inc.chain not in ids:
                raise UnknownChainError(inc.chain, difflib.get_close_matches(inc.chain, sorted(ids), n=3),
                                        file=self.origin.get(inc.id), id=inc.id, field="chain")
        if not self.digest:
            object.__setattr__(self, "digest", content_digest(self.chains, self.incidents, self.coverage))

    # -- version and coverage ---------------------------------------------------------------
    @property
    def coverage_date(self) -> date | None:
        """The date up to which the catalog is complete (incidents before 00:00 UTC of it), None if unstated."""
        return self.coverage.coverage_date if self.coverage is not None else None

    @property
    def version(self) -> str:
        """``COVERAGE_DATE+DIGEST``: names the loaded content (bundle and user files) and its coverage."""
        cov = self.coverage_date.isoformat() if self.coverage_date else "no-coverage"
        return f"{cov}+{self.digest}"

    def coverage_end(self, chain: str) -> datetime | None:
        """End (UTC) of the window in which ``chain``'s incidents are complete; None when unstated."""
        if self.coverage is None:
            return None
        return midnight_utc(self.coverage.date_for(chain))

    def resolve_as_of(self, as_of: datetime | None = None, *,
                      observed_until: datetime | None = None) -> tuple[datetime, str | None]:
        """The as-of date a fit uses, and a one-line note when the requested one was moved.

        Default: the catalog's coverage date (or the end of the block data read,
        ``observed_until``, when later); never the clock. A requested date after
        both the latest coverage date and ``observed_until`` is moved back to the
        later of the two, since nothing is known past it.
        """
        observed = _utc(observed_until) if observed_until is not None else None
        if self.coverage is None:
            if as_of is None:
                raise DataError("the catalog states no coverage date: give an as-of date", field="as_of")
            return _utc(as_of), None
        default = max(midnight_utc(self.coverage.coverage_date), observed or datetime.min.replace(tzinfo=UTC))
        if as_of is None:
            return default, None
        asked = _utc(as_of)
        limit = max(midnight_utc(self.coverage.latest()), observed or datetime.min.replace(tzinfo=UTC))
        if asked <= limit:
            return asked, None
        what = "the end of the block data read" if observed is not None and observed > midnight_utc(
            self.coverage.latest()) else "the catalog's coverage date"
        return limit, (f"as-of {_day(asked)} is past {what} {_day(limit)}: "
                       f"fitted as of {_day(limit)}")

    # -- lookups ------------------------------------------------------------------------------
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
            if since and inc.start_utc < _utc(since):
                continue
            if until and inc.start_utc >= _utc(until):
                continue
            out.append(inc)
        return sorted(out, key=lambda i: (i.start_utc, i.id))

    def __iter__(self) -> Iterator[Chain]:
        return iter(self.chains)


def _utc(d: datetime) -> datetime:
    """A naive datetime is UTC; aware ones are converted."""
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _day(d: datetime) -> str:
    return d.strftime("%Y-%m-%d") if (d.hour, d.minute, d.second) == (0, 0, 0) else d.strftime("%Y-%m-%dT%H:%M:%SZ")
