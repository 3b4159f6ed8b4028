"""The JSON API (``/api/v1``): catalog, fitted models, live status, books and jobs.

Reads (GET) need a read token only when the server runs with ``auth: all``;
every write (POST) needs a write token. Documents have the CLI's ``--json``
layout: ``schema``, ``kind``, ``provenance``, then the payload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from seqrisk import __version__
from seqrisk.catalog.documents import chain_doc, incident_doc
from seqrisk.exceptions import UsageError
from seqrisk.provenance import Provenance
from seqrisk.service.app import ApiError, Service, _service, require
from seqrisk.service.books import BookUpload, parse_upload
from seqrisk.service.jobs import Job
from seqrisk.service.requests import KINDS, JobBase, book_digest, validate_book
from seqrisk.service.runners import command_line, document
from seqrisk.service.status import ChangeTracker, transitions
from seqrisk.service.tokens import Token
from seqrisk.units import parse_datetime, parse_duration

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
Read = Annotated[Token | None, Depends(require("read"))]
Write = Annotated[Token | None, Depends(require("write"))]
ChainPath = Annotated[str, Path(min_length=1, max_length=64, description="a chain id, e.g. base")]
JobPath = Annotated[str, Path(min_length=1, max_length=64, description="a job id, e.g. job_3f9a...")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no token, or an unknown or revoked one"},
    403: {"description": "a token of too small a scope"},
    404: {"description": "no such resource"},
    413: {"description": "over a size limit (named in error.limit)"},
    422: {"description": "invalid input (error.field names the field)"},
    429: {"description": "over a job limit (named in error.limit)"},
}


class Envelope(BaseModel):
    """Every document: layout version, kind, provenance, then the kind's own fields."""

    model_config = {"extra": "allow"}
    schema_: int = Field(1, alias="schema")
    kind: str
    provenance: dict[str, Any] | None = None


class ResultDocument(BaseModel):
    """A job's result: the layout of the command it stands for (``"schema": "seqrisk.<command>/<version>"``, the
    provenance, then the data; ``seqrisk schema output COMMAND``). A report job's analysis behind its report is
    at ``/api/v1/jobs/{id}/analysis``."""

    model_config = {"extra": "allow"}
    schema_: str | int = Field(alias="schema")
    kind: str | None = None
    provenance: dict[str, Any] | None = None


class JobOut(BaseModel):
    """A job: status, progress, error, the request (without the book) and what reproduces it."""

    model_config = {"extra": "allow"}
    schema_: int = Field(1, alias="schema")
    kind: Literal["seqrisk.job"] = "seqrisk.job"
    job: dict[str, Any]


def _doc(kind: str, prov: Provenance | None, **payload: Any) -> dict[str, Any]:
    return document({"schema": 1, "kind": kind, **payload}, prov) if prov else {"schema": 1, "kind": kind,
                                                                                  "provenance": None, **payload}


def _cat_prov(svc: Service) -> Provenance:
    return Provenance.of_catalog(svc.catalog)


# -- service ---------------------------------------------------------------------------------------------------
@router.get("/health", tags=["service"], summary="Liveness (no token needed, nothing disclosed)")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/info", tags=["service"], responses=ERRORS, summary="Versions, limits, workers and queue")
def info(request: Request, _: Read) -> dict[str, Any]:
    svc = _service(request)
    pool = svc.pool
    return _doc("seqrisk.service", _cat_prov(svc), version=__version__, limits=svc.config.public(),
                workers={"configured": svc.config.workers,
                         "alive": sum(1 for p in (pool.alive() if pool else {}).values() if p)},
                backend={"name": svc.config.backend, "scheduler": svc.dask.address if svc.dask is not None else None},
                jobs=svc.jobs().counts())


# -- catalog ---------------------------------------------------------------------------------------------------
@router.get("/catalog", tags=["catalog"], response_model=Envelope, responses=ERRORS,
            summary="The catalog at a glance: version, coverage, chains and incident counts")
def catalog(request: Request, _: Read) -> dict[str, Any]:
    cat = _service(request).catalog
    cov = cat.coverage
    return _doc("seqrisk.catalog", _cat_prov(_service(request)), chains=len(cat.chains),
                incidents=len(cat.incidents), coverage_date=str(cat.coverage_date) if cat.coverage_date else None,
                coverage_by_chain={c.chain: {"coverage_date": str(c.coverage_date), "reason": c.reason}
                                   for c in (cov.chains if cov else ())},
                chain_ids=cat.chain_ids())


@router.get("/chains", tags=["catalog"], response_model=Envelope, responses=ERRORS,
            summary="Every chain with its design, registry facts and risk entries (as `seqrisk chains --json`)")
def chains(request: Request, _: Read) -> dict[str, Any]:
    cat = _service(request).catalog
    counts: dict[str, int] = {}
    for i in cat.incidents:
        counts[i.chain] = counts.get(i.chain, 0) + 1
    return _doc("seqrisk.chains", _cat_prov(_service(request)),
                chains=[chain_doc(c) | {"incidents": counts.get(c.id, 0)} for c in cat.chains])


@router.get("/chains/{chain_id}", tags=["catalog"], response_model=Envelope, responses=ERRORS,
            summary="One chain and its incidents (as `seqrisk chain ID --json`)")
def chain(request: Request, chain_id: ChainPath, _: Read) -> dict[str, Any]:
    cat = _service(request).catalog
    c = cat.chain(chain_id)
    incs = [incident_doc(i) for i in cat.incidents if i.chain == c.id]
    return _doc("seqrisk.chain", _cat_prov(_service(request)), chain=chain_doc(c), incidents=incs)


IncidentType = Literal["downtime", "degraded", "censorship", "reorg", "da_delay", "other"]


@router.get("/incidents", tags=["catalog"], response_model=Envelope, responses=ERRORS,
            summary="Incidents with their sources, filtered (as `seqrisk incidents --json`)")
def incidents(request: Request, _: Read, chain: Annotated[str | None, Query(max_length=64)] = None,
              type: Annotated[IncidentType | None, Query()] = None,
              since: Annotated[date | None, Query(description="start on or after (UTC date)")] = None,
              until: Annotated[date | None, Query(description="start before (UTC date)")] = None) -> dict[str, Any]:
    cat = _service(request).catalog
    cid = cat.chain(chain).id if chain else None
    s = parse_datetime(since) if since else None
    u = parse_datetime(until) if until else None
    rows = [i for i in cat.incidents if (cid is None or i.chain == cid) and (type is None or i.type == type)
            and (s is None or i.start_utc >= s) and (u is None or i.start_utc < u)]
    return _doc("seqrisk.incidents", _cat_prov(_service(request)), incidents=[incident_doc(i) for i in rows])


@router.get("/registry", tags=["catalog"], response_model=Envelope, responses=ERRORS,
            summary="Registry facts per chain (chain ids, RPCs, batch inbox and posters, uptime feeds), sourced")
def registry(request: Request, _: Read, chain: Annotated[str | None, Query(max_length=64)] = None
             ) -> dict[str, Any]:
    cat = _service(request).catalog
    rows = [cat.chain(chain)] if chain else list(cat.chains)
    return _doc("seqrisk.registry", _cat_prov(_service(request)),
                registry={c.id: c.model_dump(mode="json").get("registry") for c in rows})


# -- fitted models ---------------------------------------------------------------------------------------------
def _fit(request: Request, as_of: date | None, chains: tuple[str, ...] | None, horizon_s: float
         ) -> tuple[Any, dict[str, Any], Provenance]:
    """The fit as of ``as_of`` (moved back to the catalog's coverage), its document and provenance."""
    svc = _service(request)
    cat = svc.catalog
    when, _ = cat.resolve_as_of(parse_datetime(as_of) if as_of else None)
    key = when.strftime("%Y-%m-%d")
    stats = svc.statistics(key)
    if chains is not None and chains[0] not in stats.chains:
        raise ApiError(404, "not_found", "the outage model has no entry for this chain", chain=chains[0])
    return stats, svc.model_doc(key, chains, horizon_s), Provenance.of_model(cat, stats.model.meta)


AsOf = Annotated[date | None, Query(description="fit on data up to this date (default: the catalog's coverage "
                                    "date; later dates are moved back to it)")]
Horizon = Annotated[str, Query(max_length=20, description="horizon of P(at least one outage), e.g. 30d, 1y")]


@router.get("/model", tags=["models"], response_model=Envelope, responses=ERRORS,
            summary="The fitted outage model: rates per chain with intervals, duration laws, shocks, coupling "
                    "(as `seqrisk fit --json`)")
def model(request: Request, _: Read, as_of: AsOf = None, horizon: Horizon = "1y") -> dict[str, Any]:
    h = parse_duration(horizon, field="horizon")
    if h <= 0:
        raise UsageError("horizon must be > 0", field="horizon", value=horizon)
    _, doc, prov = _fit(request, as_of, None, h)
    return document(doc, prov)


@router.get("/model/chains/{chain_id}", tags=["models"], response_model=Envelope, responses=ERRORS,
            summary="One chain's fitted rates and durations with intervals, availability and P(outage) over the "
                    "horizon")
def model_chain(request: Request, chain_id: ChainPath, _: Read, as_of: AsOf = None,
                horizon: Horizon = "1y") -> dict[str, Any]:
    h = parse_duration(horizon, field="horizon")
    if h <= 0:
        raise UsageError("horizon must be > 0", field="horizon", value=horizon)
    cid = _service(request).catalog.chain(chain_id).id
    _, full, prov = _fit(request, as_of, (cid,), h)
    return document({**full, "kind": "seqrisk.fit.chain", "chain": cid, "chains": full["chains"]}, prov)


# -- live status -----------------------------------------------------------------------------------------------
@router.get("/status", tags=["status"], response_model=Envelope, responses=ERRORS,
            summary="The monitor's live status of every watched chain (label, probabilities, now-cast)")
def status(request: Request, _: Read) -> dict[str, Any]:
    svc = _service(request)
    st = svc.store()
    return _doc("seqrisk.status", _cat_prov(svc), chains=svc.live(), transitions=transitions(st, limit=50))



@router.get("/status/stream", tags=["status"], responses={**ERRORS, 200: {
    "content": {"text/event-stream": {}}, "description": "server-sent events: `snapshot` once, then `status` "
    "with the chains that changed; a comment line every 15 s keeps the connection open"}},
            summary="Live status changes as server-sent events")
async def status_stream(request: Request, _: Read) -> StreamingResponse:
    svc = _service(request)
    poll = svc.config.status_poll_s

    async def events() -> AsyncIterator[str]:
        tracker = ChangeTracker()
        rows = await asyncio.to_thread(svc.live)
        tracker.changes(rows)
        yield f"event: snapshot\ndata: {json.dumps({'chains': rows}, default=str)}\n\n"
        idle = 0.0
        while not svc.stopping.is_set() and not await request.is_disconnected():
            await asyncio.sleep(poll)
            rows = await asyncio.to_thread(svc.live)
            changed = tracker.changes(rows)
            if changed:
                idle = 0.0
                yield f"event: status\ndata: {json.dumps({'chains': changed}, default=str)}\n\n"
            else:
                idle += poll
                if idle >= 15.0:
                    idle = 0.0
                    yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/status/{chain_id}", tags=["status"], response_model=Envelope, responses=ERRORS,
            summary="One chain's live status, its now-cast while down, and its latest transitions")
def status_chain(request: Request, chain_id: ChainPath, _: Read) -> dict[str, Any]:
    svc = _service(request)
    cid = svc.catalog.chain(chain_id).id
    st = svc.store()
    rows = svc.live(cid)
    return _doc("seqrisk.status.chain", _cat_prov(svc), chain=cid, status=rows[0] if rows else None,
                nowcast=rows[0].get("nowcast") if rows else None, transitions=transitions(st, cid, limit=50))


# -- books -----------------------------------------------------------------------------------------------------
@router.post("/books", tags=["books"], status_code=201, responses=ERRORS,
             summary="Upload a book (YAML, JSON or CSV text, or the document); it is validated and kept by content")
def upload_book(request: Request, up: BookUpload, tok: Write) -> dict[str, Any]:
    svc = _service(request)
    doc, book = parse_upload(up, svc.catalog, svc.config)
    info_ = svc.books().put(doc, book, tok.id if tok else None)
    return {"schema": 1, "kind": "seqrisk.book", "book": info_}


@router.get("/books/{book_id}", tags=["books"], responses=ERRORS, summary="An uploaded book's document")
def get_book(request: Request, book_id: Annotated[str, Path(pattern=r"^bk_[0-9a-f]{16}$")], _: Read
             ) -> dict[str, Any]:
    svc = _service(request)
    info_ = svc.books().info(book_id)
    if info_ is None:
        raise ApiError(404, "not_found", "no such book", id=book_id)
    return {"schema": 1, "kind": "seqrisk.book", "book": info_, "document": svc.books().document(book_id)}


@router.get("/schemas/book", tags=["books"], responses=ERRORS, summary="The JSON Schema of a book document")
def book_schema(_: Read) -> dict[str, Any]:
    from seqrisk.portfolio import Book

    return Book.model_json_schema()


@router.get("/limits", tags=["service"], responses=ERRORS, summary="The server's limits on requests and jobs")
def limits(request: Request, _: Read) -> dict[str, Any]:
    return {"schema": 1, "kind": "seqrisk.limits", "limits": _service(request).config.public()}


# -- jobs ------------------------------------------------------------------------------------------------------
def _job_out(job: Job) -> dict[str, Any]:
    d = job.to_dict()
    d["reproducibility"]["command"] = command_line(job.kind, job.request)
    d["links"] = {"self": f"/api/v1/jobs/{job.id}", "result": f"/api/v1/jobs/{job.id}/result",
                  "page": f"/jobs/{job.id}"}
    if job.kind == "report":
        d["links"]["report"] = f"/api/v1/jobs/{job.id}/report"
        d["links"]["analysis"] = f"/api/v1/jobs/{job.id}/analysis"
    return {"schema": 1, "kind": "seqrisk.job", "job": d}


def _submit(request: Request, kind: str, req: JobBase, tok: Token | None, idem: str | None,
            response: Response) -> dict[str, Any]:
    svc = _service(request)
    req.check(svc.catalog, svc.config)
    body = req.model_dump(mode="json", exclude_none=True)
    digest = None
    if req.book_ref is not None:
        doc = svc.books().document(req.book_ref)
        if doc is None:
            raise ApiError(404, "not_found", "no such book (upload it with POST /api/v1/books)", field="book_id")
        req.check_book(validate_book(doc, svc.catalog, svc.config, field="book_id"), "book_id")
        body.pop("book_id")
        body["book"] = doc
    elif req.book_doc is not None:
        req.check_book(validate_book(req.book_doc, svc.catalog, svc.config), "book")
    if "book" in body:
        digest = book_digest(body["book"])
    when, _ = svc.catalog.resolve_as_of(parse_datetime(req.as_of) if req.as_of else None)
    job, created = svc.jobs().submit(
        kind, body, token_id=tok.id if tok else None, catalog_version=svc.catalog.version,
        seqrisk_version=__version__, seed=req.seed, as_of=when.strftime("%Y-%m-%d"), book_digest=digest,
        idempotency_key=idem, max_active_per_token=svc.config.max_active_jobs_per_token,
        max_queued=svc.config.max_queued_jobs)
    if svc.pool is not None:
        svc.pool.notify()
    response.status_code = 202 if created else 200
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return _job_out(job)


IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128, description="the same key from the "
                                       "same token returns the first job instead of queueing another")]


def _submit_route(kind: str, model: type[JobBase]) -> None:
    def handler(request: Request, response: Response, req: JobBase, tok: Write, idem: IdemKey = None
                ) -> dict[str, Any]:
        return _submit(request, kind, req, tok, idem, response)

    handler.__annotations__["req"] = Annotated[model, Body()]  # the kind's own model (a closure variable)
    handler.__name__ = f"submit_{kind}"
    router.add_api_route(f"/jobs/{kind}", handler, methods=["POST"], status_code=202, tags=["jobs"],
                         response_model=JobOut, responses={**ERRORS, 200: {"description": "the job already queued "
                                                                             "with this Idempotency-Key"}},
                         summary=f"Queue a {kind} job", description=(model.__doc__ or "").strip())


for _kind, _model in KINDS.items():
    _submit_route(_kind, _model)


def _job(request: Request, job_id: str) -> Job:
    job = _service(request).jobs().get(job_id, with_runs=True)
    if job is None:
        raise ApiError(404, "not_found", "no such job", id=job_id)
    return job


@router.get("/jobs", tags=["jobs"], responses=ERRORS, summary="Jobs, newest first")
def list_jobs(request: Request, _: Read,
              status: Annotated[Literal["queued", "running", "done", "failed", "cancelled"] | None, Query()] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50,
              before: Annotated[int | None, Query(ge=0, le=2**62, description="jobs submitted before this "
                                                  "sequence number (paging)")] = None) -> dict[str, Any]:
    rows = _service(request).jobs().list(status=status, limit=limit, before_seq=before)
    return {"schema": 1, "kind": "seqrisk.jobs",
            "jobs": [{**j.to_dict(), "seq": j.seq} for j in rows],
            "next_before": rows[-1].seq if len(rows) == limit else None}


@router.get("/jobs/{job_id}", tags=["jobs"], response_model=JobOut, responses=ERRORS,
            summary="A job: status, progress, attempts, error, and what reproduces it")
def get_job(request: Request, job_id: JobPath, _: Read) -> dict[str, Any]:
    return _job_out(_job(request, job_id))


@router.get("/jobs/{job_id}/result", tags=["jobs"], response_model=ResultDocument, response_model_exclude_unset=True,
            responses={**ERRORS, 409: {"description": "the job has not finished (or failed)"}},
            summary="The result document (the CLI's --json layout)")
def job_result(request: Request, job_id: JobPath, _: Read) -> dict[str, Any]:
    job = _job(request, job_id)
    if job.status != "done":
        raise ApiError(409, "not_ready", f"the job is {job.status}", status_now=job.status, error_doc=job.error)
    res = _service(request).jobs().result(job_id)
    assert res is not None
    return res


def _report_artifact(request: Request, job_id: str, name: str, what: str) -> tuple[str, bytes] | None:
    """The artifact ``name`` of a finished report job (None: it has none); 404 for another kind, 409 unfinished."""
    job = _job(request, job_id)
    if job.kind != "report":
        raise ApiError(404, "not_found", f"only report jobs have {what} (POST /api/v1/jobs/report)", kind=job.kind)
    if job.status != "done":
        raise ApiError(409, "not_ready", f"the job is {job.status}", status_now=job.status)
    return _service(request).jobs().artifact(job_id, name)


@router.get("/jobs/{job_id}/report", tags=["jobs"], responses={**ERRORS, 409: {"description": "not finished"},
                                                              200: {"content": {"text/html": {}}}},
            summary="The HTML report of a report job (a self-contained file, offline)")
def job_report(request: Request, job_id: JobPath, _: Read,
               download: Annotated[bool, Query(description="as an attachment")] = True) -> Response:
    art = _report_artifact(request, job_id, "report.html", "an HTML report")
    if art is None:
        raise ApiError(404, "not_found", "the job has no report")
    media, content = art
    disp = f'attachment; filename="seqrisk-report-{job_id}.html"' if download else "inline"
    return Response(content, media_type=media, headers={"Content-Disposition": disp})


@router.get("/jobs/{job_id}/analysis", tags=["jobs"], response_model=Envelope,
            responses={**ERRORS, 409: {"description": "not finished"}},
            summary="The analysis behind a report job's report: simulation, stress grid, liquidation curves, levers")
def job_analysis(request: Request, job_id: JobPath, _: Read) -> dict[str, Any]:
    art = _report_artifact(request, job_id, "analysis.json", "an analysis")
    if art is None:  # a report job stored before the analysis was kept apart: its result is the analysis
        res = _service(request).jobs().result(job_id)
        if res is None or res.get("kind") != "seqrisk.analysis":
            raise ApiError(404, "not_found", "the job has no analysis")
        return res
    doc: dict[str, Any] = json.loads(art[1])
    return doc


@router.get("/jobs/{job_id}/book", tags=["jobs"], responses=ERRORS, summary="The book a job ran on")
def job_book(request: Request, job_id: JobPath, _: Read) -> dict[str, Any]:
    job = _job(request, job_id)
    if "book" not in job.request:
        raise ApiError(404, "not_found", "the job ran without a book")
    return {"schema": 1, "kind": "seqrisk.book", "digest": job.book_digest, "document": job.request["book"]}


@router.post("/jobs/{job_id}/cancel", tags=["jobs"], response_model=JobOut, responses={
    **ERRORS, 409: {"description": "the job has already finished"}},
             summary="Cancel a job: a queued one at once, a running one at its next progress report or checkpoint")
def cancel_job(request: Request, job_id: JobPath, tok: Write) -> dict[str, Any]:
    svc = _service(request)
    job = _job(request, job_id)
    if job.token_id is not None and (tok is None or tok.id != job.token_id):
        raise ApiError(403, "forbidden", "the job was submitted with another token")
    if job.status not in ("queued", "running"):
        raise ApiError(409, "finished", f"the job is already {job.status}", status_now=job.status)
    svc.jobs().cancel(job_id)
    return _job_out(_job(request, job_id))
