"""Coverage dates: up to which date the incident catalog is complete, overall and per chain.

A coverage date ``D`` means: incidents that started before ``D`` 00:00 UTC have
been searched for and are in the catalog; nothing is known after it. The
statistics therefore end each chain's exposure at its coverage date (block
data read for a later window extend it, see ``seqrisk.stats.events``), and a
fit's default as-of date is the catalog's coverage date, never the clock.

The overall date applies to every chain without a date of its own; a chain's
own date may be earlier (its research lags) or later (a team tracks it more
closely). Each date carries the reason and, where there is one, its sources.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import Field, model_validator

from seqrisk.catalog.source import Frozen, Source

__all__ = ["ChainCoverage", "Coverage", "midnight_utc"]


def midnight_utc(d: date) -> datetime:
    """``d`` at 00:00 UTC."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


class ChainCoverage(Frozen):
    """One chain's coverage date where it differs from the catalog's."""

    chain: str
    coverage_date: date
    reason: str = Field(min_length=1)
    sources: tuple[Source, ...] = ()


class Coverage(Frozen):
    """The catalog's coverage date, its reason and sources, and the chains whose date differs."""

    coverage_date: date
    reason: str = Field(min_length=1)
    sources: tuple[Source, ...] = ()
    chains: tuple[ChainCoverage, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Coverage:
        seen: set[str] = set()
        for c in self.chains:
            if c.chain in seen:
                raise ValueError(f"coverage of chain {c.chain!r} given twice")
            seen.add(c.chain)
        return self

    def date_for(self, chain: str) -> date:
        """The coverage date of ``chain``: its own if stated, else the catalog's."""
        for c in self.chains:
            if c.chain == chain:
                return c.coverage_date
        return self.coverage_date

    def latest(self) -> date:
        """The latest coverage date of any chain (the furthest a fit on catalog data can reach)."""
        return max([self.coverage_date, *(c.coverage_date for c in self.chains)])

    def merged(self, other: Coverage | None, *, overall: bool) -> Coverage:
        """This coverage with ``other``'s chain dates over it, and its overall date when ``overall``."""
        if other is None:
            return self
        chains = {c.chain: c for c in self.chains} | {c.chain: c for c in other.chains}
        top = other if overall else self
        return Coverage(coverage_date=top.coverage_date, reason=top.reason, sources=top.sources,
                        chains=tuple(chains[k] for k in sorted(chains)))
