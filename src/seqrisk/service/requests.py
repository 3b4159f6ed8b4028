"""What a client may ask the service to run: one pydantic model per job kind, checked before anything is queued.

The fields are the command line's: a job of kind ``compare`` takes what
``seqrisk compare`` takes (``mitigations`` for ``-m``, ``perspective``, ``sweep``,
``paths``, ``seed``, ``horizon``, ``stress`` for ``--outage``, ``scenario`` for the
contents of a ``--config`` file, ``as_of``), in the same syntax (``1y``, ``100k``,
``grace=1h,q=0.5``) and validated by the same code: the book by the book
loader's models, the scenario by :class:`~seqrisk.engine.Scenario`, levers by the
lever parser, chains by the catalog. A request that would fail on a worker fails
here instead, with the field that is wrong (and the limit, when it is one).

:meth:`JobRequest.argv` is the equivalent command line; the job record keeps it,
so any result can be reproduced with the CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seqrisk.catalog import Catalog
from seqrisk.exceptions import SeqriskError, UsageError, ValidationError
from seqrisk.service.config import ServiceConfig
from seqrisk.service.jobs import LimitError
from seqrisk.units import parse_duration, parse_positive_duration

__all__ = ["KINDS", "AllocateRequest", "BacktestRequest", "CompareRequest", "InsureRequest", "JobBase", "JobRequest",
           "ReportRequest", "ScoreRequest", "SimulateRequest", "book_digest", "validate_book"]

Party = Literal["holder", "venue"]
Spec = Annotated[str, Field(min_length=1, max_length=200)]
ChainId = Annotated[str, Field(min_length=1, max_length=64)]


def book_digest(doc: Mapping[str, Any]) -> str:
    """``bk_`` and 16 hex digits of the SHA-256 of the book's compact JSON (same content, same id).

    Keys keep their order: the order of a book's assets fixes which random numbers drive which asset, so two
    books that differ only in that order give different numbers and must have different ids."""
    canon = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return "bk_" + hashlib.sha256(canon.encode("utf-8")).hexdigest()[:16]


def validate_book(doc: Any, catalog: Catalog, config: ServiceConfig, *, field: str = "book") -> Any:
    """The :class:`~seqrisk.portfolio.Book` of a book document, checked by the CLI's loader and the limits.

    A book sent to the service must list its positions: a reference to a file (``positions: file.csv``)
    would read the server's disk and is refused.
    """
    from seqrisk.portfolio import book_from_dict

    if not isinstance(doc, Mapping):
        raise ValidationError("a book is a mapping with assets and positions", field=field)
    size = len(json.dumps(doc, separators=(",", ":")))
    if size > config.max_book_bytes:
        raise LimitError(f"the book is {size:,} bytes", limit="max_book_bytes", allowed=config.max_book_bytes,
                         field=field)
    pos = doc.get("positions")
    if not isinstance(pos, list):
        raise ValidationError("positions must be listed in the book (a file name would be read from the "
                              "server's disk)", field=f"{field}.positions")
    if len(pos) > config.max_positions:
        raise LimitError(f"the book has {len(pos):,} positions", limit="max_positions",
                         allowed=config.max_positions, field=f"{field}.positions")
    try:
        return book_from_dict(dict(doc), chains=catalog.chain_ids())
    except SeqriskError as exc:  # the loader names the position by id: the request names its path
        ids = [p.get("id") if isinstance(p, Mapping) else None for p in pos]
        where = exc.context.get("position")
        if where in ids:
            inner = exc.context.get("field")
            exc.context["field"] = f"{field}.positions[{ids.index(where)}]" + (f".{inner}" if inner else "")
        raise


class JobBase(BaseModel):
    """What every job kind shares: the seed, the as-of date, the checks and the equivalent command line."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    kind: ClassVar[str]
    command: ClassVar[str]
    #: the kind runs without a book (``insure`` parametric, ``score`` on the reference book) when True
    book_optional: ClassVar[bool] = True
    default_paths: ClassVar[int] = 10_000
    #: the fewest paths the command takes (its ``--paths`` option's minimum)
    min_paths: ClassVar[int] = 1

    seed: int = Field(0, ge=0, le=2**32 - 1, description="the seed: same inputs and seed, same numbers")
    as_of: date | None = Field(None, description="fit the outage model on data up to this date (default: the "
                               "catalog's coverage date)")

    @property
    def n_paths(self) -> int:
        """Monte Carlo paths of the run (0: the kind runs no simulation)."""
        return 0

    @property
    def book_doc(self) -> dict[str, Any] | None:
        """The inline book (None: none, or an uploaded one by id)."""
        return None

    @property
    def book_ref(self) -> str | None:
        """The id of an uploaded book."""
        return None

    def check(self, catalog: Catalog, config: ServiceConfig) -> None:
        """Everything the command would refuse, refused now (with the field), and the service's limits."""

    def check_book(self, book: Any, field: str) -> None:
        """What the command refuses of the book with the other inputs (``field``: where the book is)."""

    def planned_runs(self) -> int:
        """The engine runs (each reporting its own progress) the command makes for this request: what a job's
        fraction done counts (``tests/test_serve_progress.py`` holds every kind to it)."""
        return 1

    def as_of_text(self) -> str | None:
        return self.as_of.isoformat() if self.as_of else None

    def argv(self, book_path: str | None, config_path: str | None) -> list[str]:
        raise NotImplementedError


class JobRequest(JobBase):
    """Fields every engine job shares: the book (inline or uploaded), the run's size, seed, horizon and as-of."""

    book_optional: ClassVar[bool] = False

    book: dict[str, Any] | None = Field(None, description="the book document: the fields of a YAML/JSON book file "
                                        "(GET /api/v1/schemas/book); positions listed")
    book_id: str | None = Field(None, pattern=r"^bk_[0-9a-f]{16}$", description="a book uploaded with "
                                "POST /api/v1/books")
    paths: int | None = Field(None, ge=1, description="Monte Carlo paths (default per kind; at least the "
                              "command's own floor, at most the server's max_paths)")
    horizon: str | float | None = Field(None, description="horizon, e.g. 30d or 1y (or seconds)")

    @property
    def book_doc(self) -> dict[str, Any] | None:
        return self.book

    @property
    def book_ref(self) -> str | None:
        return self.book_id

    @model_validator(mode="after")
    def _one_book(self) -> JobRequest:
        if self.book is not None and self.book_id is not None:
            raise ValueError("give book or book_id, not both")
        if self.book is None and self.book_id is None and not self.book_optional:
            raise ValueError("give a book (the document) or a book_id (from POST /api/v1/books)")
        return self

    @property
    def n_paths(self) -> int:
        return self.paths if self.paths is not None else self.default_paths

    def check(self, catalog: Catalog, config: ServiceConfig) -> None:
        """Everything the command would refuse, refused now (with the field), and the service's limits."""
        if self.n_paths < self.min_paths:
            raise UsageError(f"seqrisk {self.command} takes at least {self.min_paths} paths", field="paths",
                             value=self.n_paths)
        if self.n_paths > config.max_paths:
            raise LimitError(f"{self.n_paths:,} paths asked", limit="max_paths", allowed=config.max_paths,
                             field="paths")
        if self.horizon is not None and parse_duration(self.horizon, field="horizon") <= 0:
            raise UsageError("the horizon must be > 0", field="horizon", value=self.horizon)
        scenario = getattr(self, "scenario", None)
        if scenario:
            _check_scenario(scenario)
        for i, s in enumerate(getattr(self, "stress", ())):
            from seqrisk.engine import StressOutage

            with _named(f"stress[{i}]", s):
                catalog.chain(StressOutage.parse(s).chain)

    def argv(self, book_path: str | None, config_path: str | None) -> list[str]:
        """The equivalent ``seqrisk`` command line (the book and scenario as files)."""
        out = [self.command]
        if book_path is not None:
            out.append(book_path)
        if config_path is not None:
            out += ["--config", config_path]
        out += ["--paths", str(self.n_paths), "--seed", str(self.seed)]
        if self.horizon is not None:
            out += ["--horizon", str(self.horizon)]
        for s in getattr(self, "stress", ()):
            out += ["--outage", s]
        if self.as_of is not None:
            out += ["--as-of", self.as_of.isoformat()]
        return out


@contextlib.contextmanager
def _named(field: str, value: Any = None) -> Iterator[None]:
    """A :class:`~seqrisk.exceptions.SeqriskError` raised inside names the request's field (and the value, when
    the error names none): the library names a command's option, a request names its own field."""
    try:
        yield
    except SeqriskError as exc:
        exc.context["field"] = field
        if value is not None:
            exc.context.setdefault("value", value)
        raise


def _chains(catalog: Catalog, chains: list[str], field: str = "chains") -> None:
    for i, c in enumerate(chains):
        with _named(f"{field}[{i}]", c):
            catalog.chain(c)


def _check_scenario(scenario: Mapping[str, Any]) -> None:
    import pydantic

    from seqrisk.engine import Scenario

    if "workers" in scenario or "chunk_paths" in scenario:
        bad = "workers" if "workers" in scenario else "chunk_paths"
        raise UsageError("the service sets how a job is split over processes", field=f"scenario.{bad}",
                         value=scenario[bad])
    if "paths" in scenario or "seed" in scenario:
        bad = "paths" if "paths" in scenario else "seed"
        raise UsageError(f"give {bad} as the request's own field", field=f"scenario.{bad}", value=scenario[bad])
    try:
        Scenario.model_validate(dict(scenario))
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ValidationError(str(err["msg"]).removeprefix("Value error, "),
                              field="scenario" + (f".{loc}" if loc else "")) from None


class _Run(JobRequest):
    """A run of the engine on a book: stress outages and scenario fields as in a ``--config`` file."""

    stress: list[Spec] = Field(default_factory=list, max_length=32, description="given outages, "
                               "CHAIN=DURATION[@TIME] (e.g. arbitrum=2h), as --outage")
    scenario: dict[str, Any] = Field(default_factory=dict, description="scenario fields (the contents of a "
                                     "--config file: regimes, grace_period_s, settlement ...)")

    def check_book(self, book: Any, field: str) -> None:
        """A given outage on a chain the book does not hold is refused, as the command refuses it."""
        from seqrisk.engine import StressOutage
        from seqrisk.engine.scenario import check_stress_chains

        check_stress_chains(book, [StressOutage.parse(s) for s in self.stress], field="stress[]")


class SimulateRequest(_Run):
    """``seqrisk simulate``: EL, VaR, ES with errors, liquidations, bad debt, per chain, component, position."""

    kind: ClassVar[str] = "simulate"
    command: ClassVar[str] = "simulate"
    default_paths: ClassVar[int] = 20_000


class ReportRequest(_Run):
    """``seqrisk report``: the simulation, stress grid, liquidation curves, levers per party, the HTML report."""

    kind: ClassVar[str] = "report"
    command: ClassVar[str] = "report"
    default_paths: ClassVar[int] = 20_000
    min_paths: ClassVar[int] = 100
    mitigations: bool = Field(True, description="compare the standard levers on the same paths")
    parameter_uncertainty: bool = Field(True, description="draw each path's outage parameters from their "
                                        "posterior (seqrisk report's default); false: point estimates")

    def argv(self, book_path: str | None, config_path: str | None) -> list[str]:
        return [*super().argv(book_path, config_path), *([] if self.mitigations else ["--no-mitigations"]),
                *([] if self.parameter_uncertainty else ["--point-estimates"])]


class CompareRequest(_Run):
    """``seqrisk compare``: levers against the baseline on common random numbers, advice to one party."""

    kind: ClassVar[str] = "compare"
    command: ClassVar[str] = "compare"
    default_paths: ClassVar[int] = 5_000
    min_paths: ClassVar[int] = 2
    mitigations: list[Spec] = Field(default_factory=list, max_length=64, description="strategies as -m, e.g. "
                                    "grace=1h,q=0.5 or buffer=0.05")
    perspective: Party | None = None
    sweep: Spec | None = Field(None, description="PARAM=LO:HI:N, e.g. grace=0:4h:9")
    weight: float | None = Field(None, ge=0)
    with_cost: bool = False
    forced_inclusion_baseline: bool = False

    def check(self, catalog: Catalog, config: ServiceConfig) -> None:
        super().check(catalog, config)
        from seqrisk.decide import parse_strategy, parse_sweep

        n = len(self.mitigations)
        if self.sweep:
            _, values = parse_sweep(self.sweep)
            n = len(values)
        elif not self.mitigations:
            raise UsageError("give at least one mitigation (or a sweep)", field="mitigations")
        if n > config.max_strategies:
            raise LimitError(f"{n} strategies asked", limit="max_strategies", allowed=config.max_strategies,
                             field="sweep" if self.sweep else "mitigations")
        for i, m in enumerate(self.mitigations):
            try:
                parse_strategy(m)
            except UsageError as exc:
                exc.context["field"] = f"mitigations[{i}]"
                raise
        if not self.sweep and (self.weight is not None or self.with_cost):
            raise UsageError("weight and with_cost go with a sweep", field="weight")

    def planned_runs(self) -> int:
        from seqrisk.decide import parse_sweep

        return 1 + (len(parse_sweep(self.sweep)[1]) if self.sweep else len(self.mitigations))  # the baseline too

    def argv(self, book_path: str | None, config_path: str | None) -> list[str]:
        out = super().argv(book_path, config_path)
        for m in self.mitigations:
            out += ["-m", m]
        if self.perspective:
            out += ["--perspective", self.perspective]
        if self.sweep:
            out += ["--sweep", self.sweep]
        if self.weight is not None:
            out += ["--weight", repr(self.weight)]
        if self.with_cost:
            out.append("--with-cost")
        if self.forced_inclusion_baseline:
            out.append("--forced-inclusion-baseline")
        return out


class InsureRequest(JobRequest):
    """``seqrisk insure``: an indemnity cover on a book's loss, or parametric covers on chains."""

    kind: ClassVar[str] = "insure"
    command: ClassVar[str] = "insure"
    book_optional: ClassVar[bool] = True
    default_paths: ClassVar[int] = 20_000
    min_paths: ClassVar[int] = 100
    chains: list[ChainId] = Field(default_factory=list, max_length=32, description="parametric covers on these "
                                  "chains (with a book: a parametric instead of an indemnity cover)")
    payout: Spec = "100k"
    trigger: Spec = "2h"
    deductible: Spec = "0"
    limit: Spec | None = None
    coinsurance: float = Field(0.0, ge=0, le=0.999)
    period: Spec = "1y"
    loading: float = Field(0.2, ge=0)
    coc: float = Field(0.1, ge=0)
    level: float = Field(0.99, ge=0.5, le=0.9999)
    sampler: Literal["engine", "poisson"] = "engine"
    scenario: dict[str, Any] = Field(default_factory=dict, description="scenario fields (indemnity)")

    def check(self, catalog: Catalog, config: ServiceConfig) -> None:
        super().check(catalog, config)
        from seqrisk.decide.spec import parse_usd

        if self.horizon is not None:
            raise UsageError("an insurance quote runs over its period", field="horizon", value=self.horizon)
        if self.book is None and self.book_id is None and not self.chains:
            raise UsageError("give a book (indemnity cover) or chains (parametric cover)", field="chains")
        _chains(catalog, self.chains)
        parse_usd(self.payout, field="payout")
        parse_usd(self.deductible, field="deductible")
        if self.limit is not None:
            parse_usd(self.limit, field="limit")
        parse_positive_duration(self.period, field="period", what="cover period")
        parse_positive_duration(self.trigger, field="trigger")

    def planned_runs(self) -> int:
        return 1 if self.book_doc is not None else 0  # covers alone are priced without the engine

    def check_book(self, book: Any, field: str) -> None:
        from seqrisk.decide.insurance import check_covered

        check_covered(book, self.chains, field="chains[]")

    def argv(self, book_path: str | None, config_path: str | None) -> list[str]:
        out = ["insure"] + ([book_path] if book_path else [])
        if config_path is not None:
            out += ["--config", config_path]
        for c in self.chains:
            out += ["--chain", c]
        out += ["--payout", self.payout, "--trigger", self.trigger, "--deductible", self.deductible,
                "--coinsurance", repr(self.coinsurance), "--period", self.period, "--loading", repr(self.loading),
                "--coc", repr(self.coc), "--level", repr(self.level), "--sampler", self.sampler,
                "--paths", str(self.n_paths), "--seed", str(self.seed)]
        if self.limit is not None:
            out += ["--limit", self.limit]
        if self.as_of is not None:
            out += ["--as-of", self.as_of.isoformat()]
        return out


class AllocateRequest(JobRequest):
    """``seqrisk allocate``: the book split across chains to minimise one party's ES, with intervals."""

    kind: ClassVar[str] = "allocate"
    command: ClassVar[str] = "allocate"
    min_paths: ClassVar[int] = 2
    chains: list[ChainId] = Field(min_length=2, max_length=32)
    perspective: Party = "holder"
    method: Literal["averaged", "optimum"] = "averaged"
    replications: int = Field(10, ge=2, le=100)
    min_share: list[Spec] = Field(default_factory=list, max_length=32, description="as --min: 0.1 or CHAIN=0.1")
    max_share: list[Spec] = Field(default_factory=list, max_length=32, description="as --max: 0.5 or CHAIN=0.5")
    cost: list[Spec] = Field(default_factory=list, max_length=32, description="as --cost: CHAIN=USD")
    level: float = Field(0.99, ge=0.5, le=0.9999)
    scenario: dict[str, Any] = Field(default_factory=dict)

    def check(self, catalog: Catalog, config: ServiceConfig) -> None:
        from seqrisk.decide.placement import check_replications

        super().check(catalog, config)
        _chains(catalog, self.chains)
        check_replications(self.n_paths, self.replications)

    def planned_runs(self) -> int:
        return 2  # the book's losses on each chain, then the split found evaluated on fresh paths

    def argv(self, book_path: str | None, config_path: str | None) -> list[str]:
        out = [*super().argv(book_path, config_path), "--chains", ",".join(self.chains), "--perspective",
               self.perspective, "--method", self.method, "--replications", str(self.replications), "--level",
               repr(self.level)]
        for opt, vals in (("--min", self.min_share), ("--max", self.max_share), ("--cost", self.cost)):
            for v in vals:
                out += [opt, v]
        return out


class ScoreRequest(JobRequest):
    """``seqrisk score``: chains ranked by what outages cost a book there (the reference book by default)."""

    kind: ClassVar[str] = "score"
    command: ClassVar[str] = "score"
    book_optional: ClassVar[bool] = True
    min_paths: ClassVar[int] = 100
    chains: list[ChainId] = Field(default_factory=list, max_length=64)
    perspective: Party = "holder"
    by: Literal["es99", "el"] = "es99"

    def check(self, catalog: Catalog, config: ServiceConfig) -> None:
        super().check(catalog, config)
        _chains(catalog, self.chains)

    def argv(self, book_path: str | None, config_path: str | None) -> list[str]:
        out = ["score"] + (["--book", book_path] if book_path else [])
        for c in self.chains:
            out += ["--chain", c]
        out += ["--perspective", self.perspective, "--by", self.by, "--paths", str(self.n_paths), "--seed",
                str(self.seed)]
        if self.horizon is not None:
            out += ["--horizon", str(self.horizon)]
        if self.as_of is not None:
            out += ["--as-of", self.as_of.isoformat()]
        return out


class BacktestRequest(JobBase):
    """``seqrisk backtest``: the outage forecasts scored on later events (rolling origins) against naive ones."""

    kind: ClassVar[str] = "backtest"
    command: ClassVar[str] = "backtest"
    train_until: date = Field(description="the first forecast origin: the model is fitted on data before it")
    test_until: date | None = Field(None, description="end of the evaluation (default: the catalog's coverage "
                                    "date)")
    step: Spec = Field("1y", description="forecast window and distance between origins, e.g. 182d, 1y")
    type: Literal["downtime", "degraded", "censorship", "reorg", "da_delay"] = "downtime"
    include_deliberate: bool = False
    include_planned: bool = False
    detected: bool = Field(False, description="use the events detected from block data in the server's store")

    def check(self, catalog: Catalog, config: ServiceConfig) -> None:
        from seqrisk.stats.backtest import backtest_window

        def midnight(d: date) -> datetime:
            return datetime(d.year, d.month, d.day, tzinfo=UTC)

        step_s = parse_duration(self.step, field="step")
        try:  # the command's own check, its options named as this request's fields
            backtest_window(catalog, midnight(self.train_until),
                            midnight(self.test_until) if self.test_until else None, step_s)
        except UsageError as exc:
            exc.context["field"] = str(exc.context.get("field", "")).lstrip("-").replace("-", "_")
            raise
        if self.as_of is not None:
            raise UsageError("a backtest fits at each origin; it takes no as_of", field="as_of",
                             value=self.as_of.isoformat())

    def argv(self, book_path: str | None, config_path: str | None) -> list[str]:
        out = ["backtest", "--train-until", self.train_until.isoformat(), "--step", self.step, "--type", self.type]
        if self.test_until is not None:
            out += ["--test-until", self.test_until.isoformat()]
        for flag, on in (("--include-deliberate", self.include_deliberate),
                         ("--include-planned", self.include_planned), ("--detected", self.detected)):
            if on:
                out.append(flag)
        return out


#: Job kinds by name.
KINDS: dict[str, type[JobBase]] = {m.kind: m for m in (SimulateRequest, ReportRequest, CompareRequest,
                                                       InsureRequest, AllocateRequest, ScoreRequest,
                                                       BacktestRequest)}
